package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// Process is one OS process of the system under test.
type Process struct {
	Name string
	PID  int
}

// ProcessReport is a process's CPU time during the measured load and its peak memory.
type ProcessReport struct {
	Name         string  `json:"name"`
	PID          int     `json:"pid"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	Error        string  `json:"error,omitempty"`
}

// cpuSeconds reads utime+stime of pid from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its closing ')' do not.
	end := bytes.LastIndexByte(raw, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(raw[end+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unreadable CPU times", pid)
	}
	return float64(utime+stime) / clockTicks, nil
}

// peakRSS reads VmHWM (the resident set's high-water mark) of pid.
func peakRSS(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmHWM %q", pid, rest)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// cpuMeter measures processes' CPU time between begin and end.
type cpuMeter struct {
	procs []Process
	start []float64
}

func beginCPU(procs []Process) *cpuMeter {
	m := &cpuMeter{procs: procs, start: make([]float64, len(procs))}
	for i, p := range procs {
		m.start[i], _ = cpuSeconds(p.PID) // an unreadable start shows up as an error at end
	}
	return m
}

func (m *cpuMeter) end() []ProcessReport {
	var out []ProcessReport
	for i, p := range m.procs {
		r := ProcessReport{Name: p.Name, PID: p.PID}
		cpu, err := cpuSeconds(p.PID)
		if err == nil {
			r.CPUSeconds = cpu - m.start[i]
			r.PeakRSSBytes, err = peakRSS(p.PID)
		}
		if err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out
}
