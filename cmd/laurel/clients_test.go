package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// clientsDir holds the snippet sources that docs/clients.md includes, relative to this package.
var clientsDir = filepath.Join("..", "..", "examples", "clients")

// TestClientSnippetsAgainstDev runs the client snippets exactly as docs/clients.md shows
// them against a real `laurel dev`: events published from Go and JavaScript on NATS and with
// curl over HTTP are turned into badges, and the badges' webhooks reach the Go, JavaScript
// and Python receivers, which verify each signature — and refuse a forged one.
func TestClientSnippetsAgainstDev(t *testing.T) {
	t.Parallel()
	node := requireTool(t, "node")
	nodeModules := filepath.Join(clientsDir, "js", "node_modules")
	if _, err := os.Stat(nodeModules); err != nil {
		t.Fatalf("%s is missing: run `make node-deps`", nodeModules)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "./publish-event", "./webhook-receiver")
	build.Dir, build.Env = filepath.Join(clientsDir, "go"), append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Go snippets: %v\n%s", err, out)
	}

	dev := startDev(t, t.TempDir())
	setup := [][]string{
		{"profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example"},
		{"signing-keys", "create", "academy"},
		{"achievements", "create", "--id", "go-101", "--profile", "academy", "--display-name", "Go 101",
			"--description", "Finished the Go course.", "--criteria", "Complete the course.", "--image", writePNG(t)},
	}
	for _, args := range setup {
		if code, out, errOut := dev.cli(t, dev.key, args...); code != exitOK {
			t.Fatalf("%v = %d:\n%s%s", args, code, out, errOut)
		}
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(`
- id: go-101
  trigger: {event_types: [com.example.course.completed]}
  condition: event.data.course == "go-101"
  aggregate: {count: {}}
  threshold: 1
  award: {achievement_id: go-101}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := dev.cli(t, dev.key, "rules", "apply", "-f", rules); code != exitOK {
		t.Fatalf("rules apply = %d:\n%s%s", code, out, errOut)
	}

	receivers := map[string]*snippetProcess{}
	startReceiver := func(name string, cmd func(addr string) *exec.Cmd) {
		addr := freeAddr(t)
		code, out, errOut := dev.cli(t, dev.key, "webhooks", "create", "--url", "http://"+addr+"/laurel", "--description", name)
		m := secretLine.FindStringSubmatch(out)
		if code != exitOK || m == nil {
			t.Fatalf("webhooks create = %d:\n%s%s", code, out, errOut)
		}
		c := cmd(addr)
		c.Env = append(os.Environ(), "LAUREL_WEBHOOK_SECRET="+m[1])
		receivers[name] = startSnippet(t, name, c)
		waitListening(t, addr)
		receivers[name].addr = addr
	}
	startReceiver("go", func(addr string) *exec.Cmd {
		return exec.Command(filepath.Join(bin, "webhook-receiver"), "-listen", addr)
	})
	startReceiver("js", func(addr string) *exec.Cmd {
		return exec.Command(node, filepath.Join(clientsDir, "js", "webhook-receiver.mjs"), "--listen", addr)
	})
	if python, err := exec.LookPath("python3"); err == nil {
		startReceiver("python", func(addr string) *exec.Cmd {
			return exec.Command(python, filepath.Join(clientsDir, "python", "webhook_receiver.py"), "--listen", addr)
		})
	} else {
		t.Log("python3 not found: the Python webhook receiver is not run")
	}

	goPublish := func() *exec.Cmd {
		return exec.Command(filepath.Join(bin, "publish-event"), "-nats", dev.nats, "-subject", "alice@example.org",
			"-id", "alice-go-101", "-data", `{"course":"go-101","score":97}`)
	}
	runSnippet(t, goPublish(), `published alice-go-101 to laurel\.activity\.dev\.\d+ \(stream ACTIVITY, sequence \d+, duplicate false\)`)
	// A retried publish (same source and id) is stored once: Nats-Msg-Id at work.
	runSnippet(t, goPublish(), `published alice-go-101 to laurel\.activity\.dev\.\d+ \(stream ACTIVITY, sequence \d+, duplicate true\)`)
	runSnippet(t, exec.Command(node, filepath.Join(clientsDir, "js", "publish-event.mjs"), "--nats", dev.nats, "--subject", "bob@example.org",
		"--data", `{"course":"go-101","score":88}`), `published \S+ to laurel\.activity\.dev\.\d+ \(stream ACTIVITY`)
	requireTool(t, "curl")
	curl := exec.Command(filepath.Join(clientsDir, "shell", "publish-event.sh"), "carol@example.org")
	curl.Env = append(os.Environ(), "LAUREL_API_KEY="+dev.key, "LAUREL_URL=http://"+dev.api)
	runSnippet(t, curl, `"streamSequence"`)
	want := []string{"alice@example.org", "bob@example.org", "carol@example.org"}

	for _, person := range want {
		eventually(t, "a credential for "+person, func() bool {
			code, out, _ := dev.cli(t, dev.key, "credentials", "list", "--recipient", person, "--output", "json")
			return code == exitOK && strings.Contains(out, "achievements/go-101")
		})
	}
	for name, r := range receivers {
		for _, person := range want {
			line := regexp.MustCompile(`(?m)^verified msg_[0-9a-f]+ laurel\.badge\.issued\.v1 ` + regexp.QuoteMeta(person) + ` go-101$`)
			eventually(t, name+" receiver verifying "+person+"'s webhook", func() bool { return line.MatchString(r.stdout.String()) })
		}
		// A delivery whose signature does not match its body is refused.
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/laurel", strings.NewReader(`{"type":"laurel.badge.issued.v1","subject":"mallory"}`))
		req.Header.Set("webhook-id", "msg_forged")
		req.Header.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
		req.Header.Set("webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s receiver: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(r.stdout.String(), "mallory") {
			t.Errorf("%s receiver accepted a forged delivery: %d", name, resp.StatusCode)
		}
	}
}

// TestClientsDocEmbedsSnippets: docs/clients.md shows every snippet source verbatim, so
// what readers copy is what TestClientSnippetsAgainstDev runs. -update-docs rewrites the
// included blocks from the files.
func TestClientsDocEmbedsSnippets(t *testing.T) {
	t.Parallel()
	page := filepath.Join("..", "..", "docs", "clients.md")
	doc, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	included := map[string]bool{}
	var stale []string
	updated := includeBlock.ReplaceAllStringFunc(string(doc), func(block string) string {
		m := includeBlock.FindStringSubmatch(block)
		src, err := os.ReadFile(filepath.Join("..", "..", m[1]))
		if err != nil {
			t.Errorf("docs/clients.md includes %s: %v", m[1], err)
			return block
		}
		included[m[1]] = true
		want := "```" + fenceLanguage(m[1]) + "\n" + string(src) + "```\n"
		if m[2] != want {
			stale = append(stale, m[1])
		}
		return "<!-- include: " + m[1] + " -->\n" + want + "<!-- end include -->"
	})
	if *updateDocs {
		if err := os.WriteFile(page, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if len(stale) > 0 {
		t.Errorf("docs/clients.md shows an old version of %v; run `make generate-docs`", stale)
	}
	err = filepath.WalkDir(clientsDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() == "node_modules" {
			if err == nil {
				err = filepath.SkipDir
			}
			return err
		}
		switch filepath.Ext(path) {
		case ".go", ".mjs", ".py", ".sh":
			rel := filepath.ToSlash(strings.TrimPrefix(path, filepath.Join("..", "..")+string(filepath.Separator)))
			if !included[rel] {
				t.Errorf("docs/clients.md does not include the snippet %s", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var includeBlock = regexp.MustCompile("(?s)<!-- include: (\\S+) -->\n(.*?)<!-- end include -->")

func fenceLanguage(path string) string {
	switch filepath.Ext(path) {
	case ".go":
		return "go"
	case ".mjs", ".js":
		return "js"
	case ".py":
		return "python"
	case ".sh":
		return "sh"
	}
	return ""
}

// snippetProcess is a long-running snippet (a webhook receiver) whose output the test reads.
type snippetProcess struct {
	addr   string
	stdout *syncBuffer
}

func startSnippet(t *testing.T, name string, c *exec.Cmd) *snippetProcess {
	t.Helper()
	var stdout, stderr syncBuffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = c.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s snippet output:\n%s%s", name, stdout.String(), stderr.String())
		}
	})
	return &snippetProcess{stdout: &stdout}
}

// runSnippet runs a snippet to completion and checks its output.
func runSnippet(t *testing.T, c *exec.Cmd, wantOut string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard only
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Path, c.Args[1:]...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	out, err := cmd.CombinedOutput()
	if err != nil || !regexp.MustCompile(wantOut).Match(out) {
		t.Fatalf("%v: %v\n%s", c.Args, err, out)
	}
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for this test: %v", name, err)
	}
	return path
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	eventually(t, "a listener on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}
