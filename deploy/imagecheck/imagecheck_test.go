package imagecheck_test

import (
	"bufio"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const repo = "../.."

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(path.Join(repo, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// workspaceModules returns the directories go.work's use directives name, without "./".
func workspaceModules(t *testing.T) []string {
	t.Helper()
	var dirs []string
	inBlock := false
	sc := bufio.NewScanner(strings.NewReader(read(t, "go.work")))
	for sc.Scan() {
		line := strings.TrimSpace(strings.SplitN(sc.Text(), "//", 2)[0])
		switch {
		case line == "use (":
			inBlock = true
		case inBlock && line == ")":
			inBlock = false
		case inBlock && line != "":
			dirs = append(dirs, path.Clean(line))
		case strings.HasPrefix(line, "use "):
			dirs = append(dirs, path.Clean(strings.TrimSpace(strings.TrimPrefix(line, "use "))))
		}
	}
	if len(dirs) == 0 {
		t.Fatal("go.work names no modules")
	}
	return dirs
}

// goBuild returns the fields of the first line of s that runs `go build`, from CGO_ENABLED
// on, with the -o value and shell line continuations dropped.
func goBuild(t *testing.T, s, where string) []string {
	t.Helper()
	s = strings.ReplaceAll(s, "\\\n", " ")
	for _, line := range strings.Split(s, "\n") {
		if !strings.Contains(line, "go build") {
			continue
		}
		fields := strings.Fields(line)
		start := slices.IndexFunc(fields, func(f string) bool { return strings.HasPrefix(f, "CGO_ENABLED=") })
		if start < 0 {
			t.Fatalf("%s: the go build line does not set CGO_ENABLED: %q", where, line)
		}
		var out []string
		for i := start; i < len(fields); i++ {
			switch {
			case fields[i] == "-o":
				i++ // the output path differs by design
			case strings.HasPrefix(fields[i], "GOOS=") || strings.HasPrefix(fields[i], "GOARCH="):
				// Cross-compiling for the image's platform.
			default:
				out = append(out, fields[i])
			}
		}
		return out
	}
	t.Fatalf("%s: no go build line", where)
	return nil
}

func TestDockerfileBuildsWhatMakeBuilds(t *testing.T) {
	t.Parallel()
	makefile := read(t, "Makefile")
	i := strings.Index(makefile, "\nbuild:")
	if i < 0 {
		t.Fatal("Makefile has no build target")
	}
	want := goBuild(t, makefile[i:], "Makefile build target")
	got := goBuild(t, read(t, "Dockerfile"), "Dockerfile")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Dockerfile's go build differs from make build's (-make +Dockerfile):\n%s", diff)
	}
	if !slices.Contains(got, "CGO_ENABLED=0") || !slices.Contains(got, "-trimpath") {
		t.Errorf("the image's binary must be static and reproducible (CGO_ENABLED=0, -trimpath), got %q", got)
	}
}

func TestDockerfileCopiesEveryWorkspaceModule(t *testing.T) {
	t.Parallel()
	dockerfile := read(t, "Dockerfile")
	var copies [][]string
	for _, line := range strings.Split(dockerfile, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "COPY" && !strings.HasPrefix(f[1], "--from") {
			copies = append(copies, f[1:len(f)-1])
		}
	}
	copied := func(p string) bool {
		for _, srcs := range copies {
			for _, src := range srcs {
				src = strings.TrimSuffix(src, "/")
				if p == src || strings.HasPrefix(p, src+"/") {
					return true
				}
			}
		}
		return false
	}
	var ignored []string
	for _, line := range strings.Split(read(t, ".dockerignore"), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			ignored = append(ignored, strings.TrimPrefix(line, "/"))
		}
	}
	for _, f := range []string{"go.work", "go.work.sum"} {
		if !copied(f) {
			t.Errorf("Dockerfile does not copy %s", f)
		}
	}
	for _, dir := range workspaceModules(t) {
		for _, f := range []string{dir + "/go.mod", dir + "/go.sum", dir + "/x.go"} {
			if !copied(f) {
				t.Errorf("Dockerfile does not copy %s (go.work uses %s)", f, dir)
			}
		}
		for _, pat := range ignored {
			if m, _ := path.Match(pat, dir); m || strings.HasPrefix(dir+"/", pat+"/") {
				t.Errorf(".dockerignore pattern %q excludes workspace module %s", pat, dir)
			}
		}
	}
}
