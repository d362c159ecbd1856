package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is everything one bench run measured; it is what --json writes.
type Report struct {
	RunID     string    `json:"run_id"`
	Scenario  string    `json:"scenario,omitempty"`
	Target    string    `json:"target"`
	Store     string    `json:"store"`
	StartedAt time.Time `json:"started_at"`
	Settings  Settings  `json:"settings"`
	// Complete is true when every event was processed and every expected award reached a
	// credential and every receiver before the drain timeout, with nothing lost,
	// duplicated or unexpected.
	Complete bool     `json:"complete"`
	Problems []string `json:"problems,omitempty"`
	// Mismatches names some of the lost and unexpected awards.
	Mismatches []string           `json:"mismatches,omitempty"`
	Counts     Counts             `json:"counts"`
	Elapsed    Elapsed            `json:"elapsed"`
	Throughput Throughput         `json:"throughput"`
	Latency    map[string]Latency `json:"latency_ms"`
	Baseline   Baseline           `json:"baseline"`
	Ratio      float64            `json:"ratio"`
	Processes  []ProcessReport    `json:"processes"`
	Series     []SecondSample     `json:"series"`
}

// Settings are the run's parameters, as resolved (automatic values filled in).
type Settings struct {
	Rate             float64    `json:"rate"`
	Events           int        `json:"events"`
	DurationS        float64    `json:"duration_s,omitempty"`
	Tenants          int        `json:"tenants"`
	RecipientsPer    int        `json:"recipients_per_tenant"`
	RulesPerTenant   int        `json:"rules_per_tenant"`
	Mix              []MixEntry `json:"mix"`
	Rules            []ruleSpec `json:"rules"`
	AwardRatio       float64    `json:"award_ratio"`
	EveryEventAwards bool       `json:"every_event_awards"`
	Webhooks         int        `json:"webhooks"`
	Partitions       int        `json:"partitions"`
}

// Counts are what was published and what came out of each stage.
type Counts struct {
	EventsPublished int `json:"events_published"`
	PublishErrors   int `json:"publish_errors"`
	EventsProcessed int `json:"events_processed"`
	AwardsExpected  int `json:"awards_expected"`
	AwardsRequested int `json:"awards_requested"`
	// AwardRepublished counts AwardRequested copies beyond the first (re-published on
	// redelivery; JetStream drops them, core subscribers still see them).
	AwardRepublished int `json:"award_republished"`
	Credentials      int `json:"credentials"`
	// DuplicateCredentials counts awards that got more than one credential id.
	DuplicateCredentials int `json:"duplicate_credentials"`
	WebhooksExpected     int `json:"webhooks_expected"`
	WebhooksDelivered    int `json:"webhooks_delivered"`
	WebhookRedeliveries  int `json:"webhook_redeliveries"`
	BadSignatures        int `json:"webhook_bad_signatures"`
	Lost                 int `json:"lost_awards"`
	Unexpected           int `json:"unexpected_awards"`
	WithoutCredential    int `json:"awards_without_credential"`
	WithoutWebhook       int `json:"credentials_without_webhook"`
	Orphans              int `json:"orphan_badges_or_webhooks"`
	Undecodable          int `json:"undecodable_messages"`
}

// Elapsed are the run's phases, from the first event's publication.
type Elapsed struct {
	PublishS   float64 `json:"publish_s"`
	RulesS     float64 `json:"rules_s"`
	AwardsS    float64 `json:"awards_s"`
	IssuedS    float64 `json:"credentials_s"`
	WebhooksS  float64 `json:"webhooks_s"`
	EndToEndS  float64 `json:"end_to_end_s"`
	SetupS     float64 `json:"setup_s"`
	BaselineS  float64 `json:"baseline_s"`
	DrainTimed bool    `json:"drain_timed_out"`
}

// Throughput divides each stage's count by the time from the first event's publication
// to that stage's last item; EndToEndEventsPerS divides the events by the time until the
// whole pipeline was drained, and is what the ratio compares with raw JetStream.
type Throughput struct {
	PublishedPerS      float64 `json:"published_per_s"`
	EventsPerS         float64 `json:"events_per_s"`
	EndToEndEventsPerS float64 `json:"end_to_end_events_per_s"`
	AwardsPerS         float64 `json:"awards_per_s"`
	CredentialsPerS    float64 `json:"credentials_per_s"`
	WebhooksPerS       float64 `json:"webhooks_per_s"`
}

// Latency summarises one stage's latencies, from each event's publication.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// SecondSample is one second of the run (T is seconds since the first publication).
type SecondSample struct {
	T               int     `json:"t"`
	Published       int     `json:"published"`
	Processed       int     `json:"processed"`
	Awards          int     `json:"awards"`
	Credentials     int     `json:"credentials"`
	Webhooks        int     `json:"webhooks"`
	IssuedP50Ms     float64 `json:"issued_p50_ms"`
	IssuedP99Ms     float64 `json:"issued_p99_ms"`
	WebhookP99Ms    float64 `json:"webhook_p99_ms"`
	AwardP99Ms      float64 `json:"award_p99_ms"`
	BacklogAtSecond int     `json:"backlog"`
}

// Latency stage names.
const (
	StageAward   = "event_to_award_requested"
	StageIssued  = "event_to_badge_issued"
	StageWebhook = "event_to_webhook_delivered"
)

// summarize sorts the samples' latencies (milliseconds) and reads the percentiles by the
// nearest-rank method; no histogram library is needed at these sample counts.
func summarize(samples []sample) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	ms := make([]float64, len(samples))
	sum := 0.0
	for i, s := range samples {
		ms[i] = float64(s.latency) / 1e6
		sum += ms[i]
	}
	slices.Sort(ms)
	return Latency{Count: len(ms), P50: rank(ms, 0.50), P95: rank(ms, 0.95), P99: rank(ms, 0.99), Max: ms[len(ms)-1], Mean: sum / float64(len(ms))}
}

func rank(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func perSecond(n int, seconds float64) float64 {
	if seconds <= 0 || n == 0 {
		return 0
	}
	return round(float64(n)/seconds, 1)
}

// WriteSummary prints the human-readable summary, ending with the `ratio:` line.
func (r *Report) WriteSummary(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	title := "laurel bench"
	if r.Scenario != "" {
		title += " — " + r.Scenario
	}
	p("%s (target %s, store %s, run %s)\n", title, r.Target, r.Store, r.RunID)
	s := r.Settings
	mode := fmt.Sprintf("few awards (ratio %.3g)", s.AwardRatio)
	if s.EveryEventAwards {
		mode = "every event earns a credential"
	}
	rate := "as fast as possible"
	if s.Rate > 0 {
		rate = fmt.Sprintf("%.0f/s", s.Rate)
	}
	p("  load:        %d events, %s, %d tenants × %d recipients, %d rules per tenant, %s, %d webhook receiver(s)\n",
		r.Counts.EventsPublished, rate, s.Tenants, s.RecipientsPer, s.RulesPerTenant, mode, s.Webhooks)
	c := r.Counts
	p("  counts:      published %d, processed %d, awards %d/%d expected, credentials %d, webhooks %d/%d\n",
		c.EventsPublished, c.EventsProcessed, c.AwardsRequested, c.AwardsExpected, c.Credentials, c.WebhooksDelivered, c.WebhooksExpected)
	p("  integrity:   lost %d, unexpected %d, duplicate credentials %d, awards without credential %d, credentials without webhook %d, bad signatures %d\n",
		c.Lost, c.Unexpected, c.DuplicateCredentials, c.WithoutCredential, c.WithoutWebhook, c.BadSignatures)
	t := r.Throughput
	p("  throughput:  events %.0f/s (rules), %.0f/s end to end; awards %.0f/s; signed credentials %.0f/s; webhooks %.0f/s (publish %.0f/s)\n",
		t.EventsPerS, t.EndToEndEventsPerS, t.AwardsPerS, t.CredentialsPerS, t.WebhooksPerS, t.PublishedPerS)
	for _, stage := range []string{StageAward, StageIssued, StageWebhook} {
		l := r.Latency[stage]
		p("  latency %-28s p50 %7.1f ms  p95 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (n=%d)\n", stage+":", l.P50, l.P95, l.P99, l.Max, l.Count)
	}
	for _, pr := range r.Processes {
		if pr.Error != "" {
			p("  process %-22s pid %d: %s\n", pr.Name, pr.PID, pr.Error)
			continue
		}
		p("  process %-22s pid %-7d cpu %6.1f s  peak RSS %6.1f MiB\n", pr.Name, pr.PID, pr.CPUSeconds, float64(pr.PeakRSSBytes)/(1<<20))
	}
	b := r.Baseline
	p("  raw JetStream: %d msgs of %d B published+consumed with ack in %.2f s = %.0f msgs/s\n", b.Messages, b.MessageBytes, b.ElapsedS, b.MsgsPerS)
	for _, prob := range r.Problems {
		p("  PROBLEM: %s\n", prob)
	}
	for _, m := range r.Mismatches {
		p("    %s\n", m)
	}
	p("ratio: %.2f\n", r.Ratio)
}

// WriteSVG draws throughput per second (top) and event → BadgeIssued latency per second
// (bottom) over the run, as a small self-contained SVG.
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		width, height = 900, 560
		left, right   = 70, 20
		plotW         = width - left - right
		topY, topH    = 40, 200
		botY, botH    = 320, 180
	)
	n := max(len(r.Series), 1)
	x := func(t int) float64 { return left + float64(t)*float64(plotW)/float64(max(n-1, 1)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, height)
	title := "laurel bench " + r.RunID
	if r.Scenario != "" {
		title += " — " + r.Scenario
	}
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">%s (ratio %.2f)</text>`+"\n", left, xmlEscape(title), r.Ratio)

	panel := func(y0, h int, label string, maxV float64, gaps bool, lines []struct {
		name, color string
		v           func(SecondSample) float64
	}) {
		maxV = niceCeil(maxV)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, y0, plotW, h)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left, y0-6, xmlEscape(label))
		for i := 0; i <= 4; i++ {
			v := maxV * float64(i) / 4
			yy := float64(y0+h) - float64(h)*float64(i)/4
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
				left, left+plotW, yy, yy, left-4, yy+4, shortNum(v))
		}
		for li, l := range lines {
			// A second without samples has no latency: the line breaks there.
			var segments [][]string
			var pts []string
			for _, s := range r.Series {
				v := l.v(s)
				if gaps && v == 0 {
					if len(pts) > 0 {
						segments, pts = append(segments, pts), nil
					}
					continue
				}
				yy := float64(y0+h) - float64(h)*min(v/maxV, 1)
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.T), yy))
			}
			segments = append(segments, pts)
			for _, seg := range segments {
				if len(seg) == 1 { // a lone second: draw it as a short tick
					seg = append(seg, seg[0])
				}
				if len(seg) > 0 {
					fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-linecap="round" points="%s"/>`+"\n", l.color, strings.Join(seg, " "))
				}
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", left+10+li*150, y0+h+16, l.color, xmlEscape(l.name))
		}
	}
	type line = struct {
		name, color string
		v           func(SecondSample) float64
	}
	maxT, maxL := 1.0, 1.0
	for _, s := range r.Series {
		maxT = max(maxT, float64(s.Published), float64(s.Processed), float64(s.Credentials), float64(s.Webhooks), float64(s.Awards))
		maxL = max(maxL, s.IssuedP99Ms, s.AwardP99Ms)
	}
	panel(topY, topH, "per second", maxT, false, []line{
		{"events published", "#999999", func(s SecondSample) float64 { return float64(s.Published) }},
		{"events processed", "#1d3557", func(s SecondSample) float64 { return float64(s.Processed) }},
		{"awards", "#e76f51", func(s SecondSample) float64 { return float64(s.Awards) }},
		{"signed credentials", "#2a9d8f", func(s SecondSample) float64 { return float64(s.Credentials) }},
		{"webhooks", "#e9c46a", func(s SecondSample) float64 { return float64(s.Webhooks) }},
	})
	panel(botY, botH, "latency from publication, ms (by second observed)", maxL, true, []line{
		{"→ award p99", "#e76f51", func(s SecondSample) float64 { return s.AwardP99Ms }},
		{"→ credential p50", "#8ab17d", func(s SecondSample) float64 { return s.IssuedP50Ms }},
		{"→ credential p99", "#2a9d8f", func(s SecondSample) float64 { return s.IssuedP99Ms }},
	})
	for t := 0; t < n; t += max(1, n/10) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%ds</text>`+"\n", x(t), botY+botH+34, t)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func shortNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
