package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// TestCLIPolishAgainstDev drives the CLI's output formats, its error hints and the documented
// metrics through one `laurel dev --demo`, so every resource has something to show.
func TestCLIPolishAgainstDev(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dev := startDev(t, dir, "--demo", "--demo-pace", "20ms")
	// Which badges the demo awards is TestDevDemoAwardsTheExpectedBadges's business; here the
	// feed must be done and each badge so far delivered, so every resource has content.
	deadline := time.Now().Add(90 * time.Second) // hang guard only
	for out := dev.stdout.String(); !strings.Contains(out, "Demo feed done") || strings.Count(out, "🏅") == 0 ||
		strings.Count(out, "↪ webhook") < strings.Count(out, "🏅"); out = dev.stdout.String() {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not finish:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("output formats", func(t *testing.T) { testOutputFormats(t, dev, dir) })
	t.Run("invalid output", func(t *testing.T) { testInvalidOutput(t, dev, dir) })
	t.Run("error hints", func(t *testing.T) { testErrorHints(t, dev) })
	t.Run("documented metrics", func(t *testing.T) { testDocumentedMetrics(t, dev) })
}

// firstID returns the id of the first item a list command printed as json: its id, or
// the last segment of its resource name.
func firstID(t *testing.T, dev *devInstance, args ...string) string {
	t.Helper()
	code, out, errOut := dev.cli(t, dev.key, append(args, "--output", "json")...)
	if code != exitOK {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v printed invalid json: %v\n%s", args, err, out)
	}
	for _, v := range doc {
		items, ok := v.([]any)
		if !ok || len(items) == 0 {
			continue
		}
		item := items[0].(map[string]any)
		if id, ok := item["id"].(string); ok {
			return id
		}
		name := item["name"].(string)
		return name[strings.LastIndex(name, "/")+1:]
	}
	t.Fatalf("%v listed nothing:\n%s", args, out)
	return ""
}

func testOutputFormats(t *testing.T, dev *devInstance, dataDir string) {
	profile := firstID(t, dev, "profiles", "list")
	achievement := firstID(t, dev, "achievements", "list")
	rule := firstID(t, dev, "rules", "list")
	webhook := firstID(t, dev, "webhooks", "list")
	// The demo sets neither an xAPI mapping nor an e-mail template: give both something to show.
	files := t.TempDir()
	for name, content := range map[string]string{"mapping.yaml": xapiMappingYAML, "mail.html": "<p>{{.AchievementName}}</p>", "mail.txt": "{{.AchievementName}}"} {
		if err := os.WriteFile(filepath.Join(files, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"xapi", "mapping", "set", "-f", filepath.Join(files, "mapping.yaml")},
		{"email", "templates", "set", "-", "--subject", "You earned {{.AchievementName}}",
			"--html", filepath.Join(files, "mail.html"), "--text", filepath.Join(files, "mail.txt")},
	} {
		if code, _, errOut := dev.cli(t, dev.key, args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	cases := []struct {
		args        []string
		tableHeader string // first line of the table
		jsonHas     string // a field the json must carry
	}{
		{[]string{"profiles", "list"}, "ID", `"profiles"`},
		{[]string{"profiles", "get", profile}, "ID", `"displayName"`},
		{[]string{"achievements", "list"}, "ID", `"achievements"`},
		{[]string{"achievements", "get", achievement}, "ID", `"criteria"`},
		{[]string{"rules", "list"}, "ID", `"rules"`},
		{[]string{"rules", "get", rule}, "ID", `"aggregate"`},
		{[]string{"rules", "progress", "ada@example.org"}, "RULE", `"progress"`},
		{[]string{"webhooks", "list"}, "ID", `"subscriptions"`},
		{[]string{"webhooks", "get", webhook}, "ID", `"url"`},
		{[]string{"webhooks", "deliveries", webhook}, "WEBHOOK ID", `"deliveries"`},
		{[]string{"keys", "list"}, "ID", `"apiKeys"`},
		{[]string{"xapi", "mapping", "get"}, "source:", `"verbTypes"`},
		{[]string{"email", "templates", "list"}, "ACHIEVEMENT", `"subject"`},
		{[]string{"email", "templates", "get", "-"}, "Subject:", `"htmlBody"`},
		{[]string{"health"}, "SERVICE", `"SERVING"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			outputs := map[string]string{}
			for _, format := range outputFormats {
				code, out, errOut := dev.cli(t, dev.key, append(slices.Clone(tc.args), "--output", format)...)
				if code != exitOK {
					t.Fatalf("--output %s: exit %d: %s", format, code, errOut)
				}
				outputs[format] = out
			}
			if first, _, _ := strings.Cut(outputs["table"], "\n"); !strings.HasPrefix(first, tc.tableHeader) {
				t.Errorf("table starts %q, want %q", first, tc.tableHeader)
			}
			if !strings.Contains(outputs["json"], tc.jsonHas) {
				t.Errorf("json lacks %s:\n%s", tc.jsonHas, outputs["json"])
			}
			sameDocument(t, outputs["json"], outputs["yaml"])
		})
	}

	// email list reads laurel dev's mailbox, not the API: it has no --api-addr.
	outputs := map[string]string{}
	for _, format := range outputFormats {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"email", "list", "--data", dataDir, "--output", format}, &stdout, &stderr); code != exitOK {
			t.Fatalf("email list --output %s: exit %d: %s", format, code, stderr.String())
		}
		outputs[format] = stdout.String()
	}
	mails := strings.Count(outputs["json"], `"subject"`)
	if mails == 0 || strings.Count(outputs["table"], "\n") != mails+1 {
		t.Errorf("email list: table and json disagree or are empty:\n%s\njson:\n%s", outputs["table"], outputs["json"])
	}
	sameDocument(t, outputs["json"], outputs["yaml"])
}

// sameDocument checks the yaml output is the json output, value for value.
func sameDocument(t *testing.T, jsonOut, yamlOut string) {
	t.Helper()
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(jsonOut), &fromJSON); err != nil {
		t.Fatalf("invalid json: %v\n%s", err, jsonOut)
	}
	if err := yaml.Unmarshal([]byte(yamlOut), &fromYAML); err != nil {
		t.Fatalf("invalid yaml: %v\n%s", err, yamlOut)
	}
	// Round-trip the yaml through json so numbers compare as json numbers.
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	var normalized any
	if err := json.Unmarshal(b, &normalized); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, normalized) {
		t.Errorf("yaml differs from json:\njson:\n%s\nyaml:\n%s", jsonOut, yamlOut)
	}
	if strings.HasPrefix(strings.TrimSpace(yamlOut), "{") {
		t.Errorf("yaml is in flow style (json-like), want block style:\n%s", yamlOut)
	}
}

func testInvalidOutput(t *testing.T, dev *devInstance, dataDir string) {
	for _, args := range [][]string{
		{"profiles", "list"}, {"achievements", "get", "x"}, {"keys", "list"}, {"webhooks", "list"}, {"health"},
	} {
		code, out, errOut := dev.cli(t, dev.key, append(args, "--output", "xml")...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, `--output must be table, json, yaml, got "xml"`) {
			t.Errorf("%v --output xml: exit %d, stdout %q, stderr %q; want a usage error (2)", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"email", "list", "--data", dataDir, "--output", "xml"},
		{"verify", "no-such-badge.png", "--output", "xml"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitUsage || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want a usage error (2)", args, code, stdout.String(), stderr.String())
		}
	}
}

func testErrorHints(t *testing.T, dev *devInstance) {
	emptyData := t.TempDir()
	code, out, errOut := dev.cli(t, dev.key, "keys", "create", "--role", "issuer", "--name", "hint test", "--output", "json")
	if code != exitOK {
		t.Fatalf("keys create: exit %d: %s", code, errOut)
	}
	var created struct{ Secret string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Secret == "" {
		t.Fatalf("keys create printed no secret (%v):\n%s", err, out)
	}
	cases := []struct {
		name, key string
		args      []string
		want      []string
	}{
		{"no key", "", []string{"profiles", "list", "--data", emptyData},
			[]string{"laurel: Unauthenticated:", "hint: pass --api-key or set LAUREL_API_KEY (laurel dev writes one to " + filepath.Join(emptyData, devKeyFile) + ")"}},
		{"wrong key", "not-a-key", []string{"keys", "list"},
			[]string{"laurel: Unauthenticated:", "hint: pass --api-key or set LAUREL_API_KEY"}},
		{"unknown profile", dev.key, []string{"profiles", "get", "no-such-profile"},
			[]string{"laurel: NotFound:", "hint: see what exists with: laurel profiles list\n"}},
		{"unknown achievement", dev.key, []string{"achievements", "get", "no-such-achievement"},
			[]string{"laurel: NotFound:", "hint: see what exists with: laurel achievements list\n"}},
		{"unknown webhook", dev.key, []string{"webhooks", "get", "no-such-webhook"},
			[]string{"laurel: NotFound:", "hint: see what exists with: laurel webhooks list\n"}},
		{"unknown rule", dev.key, []string{"rules", "get", "no-such-rule"},
			[]string{"laurel: NotFound:", "hint: see what exists with: laurel rules list\n"}},
		{"role too weak", created.Secret, []string{"keys", "list"},
			[]string{"laurel: PermissionDenied:", "hint: this needs a key with a stronger role; an admin can create one with: laurel keys create --role admin --name NAME"}},
		{"invalid fields", dev.key, []string{"profiles", "create", "--id", "-bad-", "--display-name", "", "--url", "nope"},
			[]string{"laurel: InvalidArgument:", "\n  profile.url: ", "\n  profile.display_name: ", "\n  profile_id: "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := dev.cli(t, tc.key, tc.args...)
			if code != exitError || out != "" {
				t.Errorf("exit %d, stdout %q; want exit 1 and nothing printed", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.name == "invalid fields" && strings.Contains(errOut, "hint:") {
				t.Errorf("field violations need no hint beyond the fields:\n%s", errOut)
			}
		})
	}

	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"profiles", "list", "--api-addr", addr, "--api-key", "k", "--timeout", "20s"}, &stdout, &stderr)
		want := "hint: is laurel running? (--api-addr " + addr + "; start it with: laurel dev)"
		if code != exitError || !strings.Contains(stderr.String(), "laurel: Unavailable:") || !strings.Contains(stderr.String(), want) {
			t.Errorf("exit %d, stderr:\n%s\nwant Unavailable and %q", code, stderr.String(), want)
		}
	})
}

// TestListCommandHintNamesOnlyRealCommands: the NotFound hint is looked up in the command
// tree, so a command without a list sibling gets no hint rather than a wrong one.
func TestListCommandHintNamesOnlyRealCommands(t *testing.T) {
	for command, want := range map[string]string{
		"laurel profiles get":           "laurel profiles list",
		"laurel email templates get":    "laurel email templates list",
		"laurel webhooks deliveries":    "laurel webhooks list",
		"laurel health":                 "",
		"laurel xapi mapping get":       "",
		"laurel credentials get":        "laurel credentials list",
		"laurel no-such-thing get":      "",
		"laurel":                        "",
		"laurel email templates nope x": "",
	} {
		if got := (&clientFlags{command: command}).listCommand(); got != want {
			t.Errorf("listCommand(%q) = %q, want %q", command, got, want)
		}
	}
}

// metricRow is a metric name in the first column of a table of the Metrics section of
// docs/observability.md.
var metricRow = regexp.MustCompile("(?m)^\\| `([a-z][a-z0-9_]*)` \\|")

// testDocumentedMetrics checks docs/observability.md against the real /metrics of laurel dev
// after the demo, one poisoned event and one revocation: every documented metric is served, and every Laurel,
// RPC and bus metric served is documented — so the document cannot drift either way.
func testDocumentedMetrics(t *testing.T, dev *devInstance) {
	// An event that is not a CloudEvent is poisoned by the rules engine and dead-lettered,
	// which is the only way laurel_eventbus_dead_lettered_total appears.
	nc, err := nats.Connect(dev.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("laurel.activity.dev.0", []byte("not a cloudevent")); err != nil {
		t.Fatalf("publish poison: %v", err)
	}

	// A revocation is the only way laurel_issuer_credentials_revoked_total appears.
	credential := firstID(t, dev, "credentials", "list")
	if code, _, errOut := dev.cli(t, dev.key, "credentials", "revoke", credential, "--reason", "metrics test"); code != exitOK {
		t.Fatalf("revoke %s: exit %d: %s", credential, code, errOut)
	}

	raw, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	_, doc, _ := strings.Cut(string(raw), "\n## Metrics\n")
	doc, _, _ = strings.Cut(doc, "\n## ")
	var documented []string
	for _, m := range metricRow.FindAllStringSubmatch(doc, -1) {
		documented = append(documented, m[1])
	}
	if len(documented) < 10 {
		t.Fatalf("docs/observability.md documents %d metrics; its table rows must start with | `name` |", len(documented))
	}

	metricsURL := regexp.MustCompile(`Metrics and health:\s+(\S+)`).FindStringSubmatch(dev.stdout.String())[1]
	deadline := time.Now().Add(60 * time.Second) // hang guard only
	var served map[string]bool
	for {
		served = scrapeMetricNames(t, metricsURL)
		if served["laurel_eventbus_dead_lettered_total"] && served["laurel_issuer_credentials_revoked_total"] || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, name := range documented {
		if !served[name] {
			t.Errorf("docs/observability.md documents %s, which /metrics does not serve", name)
		}
	}
	for name := range served {
		ours := strings.HasPrefix(name, "laurel_") || strings.HasPrefix(name, "rpc_") || name == "target_info"
		if ours && !slices.Contains(documented, name) {
			t.Errorf("/metrics serves %s, which docs/observability.md does not document", name)
		}
	}
}

// scrapeMetricNames returns the metric families /metrics serves (their # HELP lines).
func scrapeMetricNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# HELP (\S+) `).FindAllStringSubmatch(string(body), -1) {
		names[m[1]] = true
	}
	return names
}

// TestCompletionCoversEveryCommandAndFlag generates each shell's script and checks it names
// every command and flag of the real tree, and that bash and (when installed) zsh and fish
// accept it.
func TestCompletionCoversEveryCommandAndFlag(t *testing.T) {
	t.Parallel()
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"completion", shell}, &stdout, &stderr); code != exitOK {
			t.Fatalf("completion %s: exit %d: %s", shell, code, stderr.String())
		}
		scripts[shell] = stdout.String()
	}
	var walk func(path string, c *ffcli.Command)
	walk = func(path string, c *ffcli.Command) {
		for shell, script := range scripts {
			if !strings.Contains(script, c.Name) {
				t.Errorf("%s completion lacks command %q", shell, path)
			}
			if c.FlagSet != nil {
				c.FlagSet.VisitAll(func(f *flag.Flag) {
					if !strings.Contains(script, f.Name) {
						t.Errorf("%s completion lacks flag --%s of %q", shell, f.Name, path)
					}
				})
			}
		}
		for _, s := range c.Subcommands {
			walk(path+" "+s.Name, s)
		}
	}
	walk("laurel", newRoot(io.Discard, io.Discard))

	path := filepath.Join(t.TempDir(), "laurel.bash")
	if err := os.WriteFile(path, []byte(scripts["bash"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n rejects the script: %v\n%s", err, out)
	}
	// Source it for real, then ask bash for completions the way it would at a prompt: every
	// command's subcommands after "PATH " and its flags after "PATH -", plus flag values.
	want := map[string][]string{
		"laurel prof":                    {"profiles"},
		"laurel profiles list --out":     {"--output"},
		"laurel profiles list --output ": {"table", "json", "yaml"},
		"laurel completion ":             {"bash", "zsh", "fish"},
	}
	for _, n := range completionTree(newRoot(io.Discard, io.Discard)) {
		if len(n.subs) > 0 {
			want[n.path+" "] = n.subs
		}
		if len(n.flags) > 0 {
			for _, f := range n.flags {
				want[n.path+" -"] = append(want[n.path+" -"], dashed(f.Name))
			}
		}
	}
	var lines []string
	for line := range want {
		lines = append(lines, line)
	}
	const script = `source "$1" || exit 3
complete -p laurel || exit 4
while IFS= read -r COMP_LINE; do
	read -ra COMP_WORDS <<<"$COMP_LINE"
	[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
	COMPREPLY=()
	_laurel_complete laurel "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	printf '### %s\n' "$COMP_LINE"
	printf '%s\n' "${COMPREPLY[@]}"
done`
	cmd := exec.Command("bash", "-c", script, "bash", path)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion: %v\n%s", err, out)
	}
	first, rest, _ := strings.Cut(string(out), "\n")
	if first != "complete -F _laurel_complete laurel" {
		t.Errorf("complete -p laurel after sourcing = %q", first)
	}
	offered := map[string][]string{}
	for _, block := range strings.Split(rest, "### ")[1:] {
		line, words, _ := strings.Cut(block, "\n")
		offered[line] = strings.Fields(words)
	}
	for line, words := range want {
		for _, w := range words {
			if !slices.Contains(offered[line], w) {
				t.Errorf("completing %q offers %v, want %s among them", line, offered[line], w)
			}
		}
	}
	for shell, check := range map[string][]string{"zsh": {"zsh", "-n"}, "fish": {"fish", "--no-execute"}} {
		if _, err := exec.LookPath(check[0]); err != nil {
			continue
		}
		p := filepath.Join(t.TempDir(), "laurel."+shell)
		if err := os.WriteFile(p, []byte(scripts[shell]), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(check[0], append(check[1:], p)...).CombinedOutput(); err != nil {
			t.Errorf("%s rejects its script: %v\n%s", shell, err, out)
		}
	}
	// Where the shells are installed, complete for real: zsh runs the bash function in sh
	// emulation, as bashcompinit does; fish through its own `complete -C`.
	if _, err := exec.LookPath("zsh"); err == nil {
		p := filepath.Join(t.TempDir(), "laurel.zsh")
		if err := os.WriteFile(p, []byte(scripts["zsh"]), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("zsh", "-f", "-c", `source "$1" || exit 3
emulate -L sh; setopt kshglob noshglob braceexpand
COMP_WORDS=(laurel profiles list --output ""); COMP_CWORD=4
_laurel_complete laurel "" --output; echo "${COMPREPLY[@]}"`, "zsh", p).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "table json yaml" {
			t.Errorf("zsh completion of --output: %v\n%s", err, out)
		}
	}
	if _, err := exec.LookPath("fish"); err == nil {
		p := filepath.Join(t.TempDir(), "laurel.fish")
		if err := os.WriteFile(p, []byte(scripts["fish"]), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("fish", "--no-config", "-c", `source $argv[1]; complete -C"laurel profiles "; complete -C"laurel profiles list --output "`, p).CombinedOutput()
		got := string(out)
		for _, w := range []string{"create\t", "list\t", "update\t", "yaml\t"} {
			if err != nil || !strings.Contains(got, w) {
				t.Errorf("fish completion lacks %q: %v\n%s", w, err, got)
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"completion", "powershell"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("completion powershell: exit %d, want 2", code)
	}
}

// BenchmarkPrintMessage compares the output formats on a page of 100 achievements: yaml is
// derived from the json, so it costs the json plus a re-encode.
func BenchmarkPrintMessage(b *testing.B) {
	resp := &issuerv1.ListAchievementsResponse{}
	for i := range 100 {
		resp.Achievements = append(resp.Achievements, &issuerv1.Achievement{
			Name: fmt.Sprintf("achievements/a-%d", i), Profile: "profiles/academy", DisplayName: "Course complete",
			Description: "Passed five different lessons with at least 60 points.",
			CreateTime:  timestamppb.New(time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)),
		})
	}
	for _, format := range []string{"json", "yaml"} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				if err := printMessage(io.Discard, format, resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
