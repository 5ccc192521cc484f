package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/bench"
	"github.com/clientreg/clientreg/internal/cli"
	"github.com/clientreg/clientreg/store/memory"
)

// startServer runs clientreg with the memory store on 127.0.0.1.
func startServer(t *testing.T, requireIAT bool) (*httptest.Server, *clientreg.Handler) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	h, err := clientreg.New(clientreg.Config{
		Issuer:              "http://" + ts.Listener.Addr().String(),
		Store:               memory.New(),
		SecretKey:           bytes.Repeat([]byte{1}, 32),
		RequireInitialToken: requireIAT,
		TokenGrace:          -1, // a stale token fails at once
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = h
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, h
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestJSONReport(t *testing.T) {
	ts, _ := startServer(t, false)
	file := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runCmd(t, "-base", ts.URL, "-c", "3", "-n", "20", "-d", "20s", "-json", "-o", file, "-label", "clientreg")
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout)
	}
	if rep.Tool != "clientreg-bench" || rep.Label != "clientreg" || rep.Settings.Concurrency != 3 || rep.Settings.Requests != 20 {
		t.Errorf("report header %+v %+v", rep, rep.Settings)
	}
	if len(rep.Phases) != 4 {
		t.Fatalf("%d phases, want 4", len(rep.Phases))
	}
	for _, ph := range rep.Phases {
		if ph.Requests != 20 || ph.OK != 20 || ph.RPS <= 0 || ph.P99ms <= 0 {
			t.Errorf("%s: %+v", ph.Name, ph)
		}
	}
	if u := rep.Phases[2]; u.Counters["rat_rotated"] != 20 {
		t.Errorf("update counters %v, want 20 rotations followed", u.Counters)
	}
	saved, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(saved, []byte(stdout)) {
		t.Errorf("-o file differs from the -json output (err %v)", err)
	}
	// The text table and the progress lines go to stderr with -json.
	for _, want := range []string{"register done: 20 requests", "p99 ms", "update counters: rat_rotated=20"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestTextReport(t *testing.T) {
	ts, _ := startServer(t, false)
	code, stdout, stderr := runCmd(t, "-base", ts.URL, "-c", "2", "-n", "10", "-phases", "register,read", "-q")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q with -q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var phases []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 10 && f[1] == "10" && f[2] == "10" && f[3] == "0" {
			phases = append(phases, f[0])
		}
	}
	if strings.Join(phases, ",") != "register,read" {
		t.Errorf("table rows for %v, want register and read with 10 requests, 10 ok, 0 errors:\n%s", phases, stdout)
	}
}

func TestErrorsExitOne(t *testing.T) {
	ts, h := startServer(t, true)
	code, stdout, _ := runCmd(t, "-base", ts.URL, "-c", "2", "-n", "8", "-q")
	if code != 1 {
		t.Errorf("exit %d for a run whose registrations all failed, want 1", code)
	}
	if !strings.Contains(stdout, "register errors: http_401=8") || !strings.Contains(stdout, "WWW-Authenticate: Bearer") {
		t.Errorf("the errors are not reported:\n%s", stdout)
	}

	iat, _, err := h.CreateInitialToken(t.Context(), clientreg.InitialTokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := runCmd(t, "-base", ts.URL, "-c", "2", "-n", "8", "-q", "-iat", iat); code != 0 {
		t.Errorf("with -iat: exit %d\n%s", code, stdout)
	}
}

func TestBodyFile(t *testing.T) {
	ts, _ := startServer(t, false)
	file := filepath.Join(t.TempDir(), "body.json")
	body := `{"redirect_uris":["http://127.0.0.1:7/cb"],"client_name":"from file","token_endpoint_auth_method":"none"}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, "-base", ts.URL, "-n", "4", "-c", "2", "-body", file, "-json", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, rep.Settings.Body); err != nil || compact.String() != body {
		t.Errorf("report body %s, want the file's", rep.Settings.Body)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(notJSON, []byte("not json"), 0o600)
	for _, args := range [][]string{
		{},
		{"-base", "http://127.0.0.1:1", "extra"},
		{"-base", "http://127.0.0.1:1", "-c", "0"},
		{"-base", "http://127.0.0.1:1", "-n", "0"},
		{"-base", "http://127.0.0.1:1", "-d", "0s"},
		{"-base", "http://127.0.0.1:1", "-phases", "register,patch"},
		{"-base", "http://127.0.0.1:1", "-body", filepath.Join(dir, "missing.json")},
		{"-base", "http://127.0.0.1:1", "-body", notJSON},
		{"-base", "http://198.51.100.7:8080"},
		{"-no-such-flag"},
	} {
		if code, _, stderr := runCmd(t, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
	if code, _, stderr := runCmd(t, "-help"); code != 0 || !strings.Contains(stderr, "-iat") {
		t.Errorf("-help: exit %d, stderr %q", code, stderr)
	}
}

func TestUnreachableServerExitsOne(t *testing.T) {
	ts := httptest.NewServer(nil)
	url := ts.URL
	ts.Close()
	if code, _, stderr := runCmd(t, "-base", url, "-q"); code != 1 || !strings.Contains(stderr, "no registration_endpoint") {
		t.Errorf("exit %d, stderr %q; want 1 and the discovery failure", code, stderr)
	}
}

func TestClientsFilesAndBases(t *testing.T) {
	ts, h := startServer(t, false)
	ts2 := httptest.NewServer(h) // a second instance: same handler, same issuer
	t.Cleanup(ts2.Close)
	dir := t.TempDir()
	pop := filepath.Join(dir, "pop.jsonl")
	if code, _, stderr := runCmd(t, "-base", ts.URL, "-phases", "register", "-n", "10", "-c", "2", "-clients-out", pop, "-q"); code != 0 {
		t.Fatalf("register: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(pop)
	if err != nil || strings.Count(string(b), "\n") != 10 || !strings.Contains(string(b), `"registration_access_token"`) {
		t.Fatalf("-clients-out wrote %q (%v)", b, err)
	}
	after := filepath.Join(dir, "after.jsonl")
	code, stdout, stderr := runCmd(t, "-base", ts.URL, "-base", ts2.URL, "-phases", "read,update,delete", "-n", "10", "-c", "2",
		"-clients-in", pop, "-clients-out", after, "-json", "-q")
	if code != 0 {
		t.Fatalf("read/update/delete of saved clients over two bases: exit %d: %s\n%s", code, stderr, stdout)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Bases) != 2 || len(rep.Phases) != 3 || rep.Phases[2].OK != 10 {
		t.Errorf("report: bases %v, phases %+v", rep.Bases, rep.Phases)
	}
	if b, err := os.ReadFile(after); err != nil || len(b) != 0 {
		t.Errorf("after deleting every client -clients-out wrote %q (%v)", b, err)
	}
	if code, _, stderr := runCmd(t, "-base", ts.URL, "-clients-in", filepath.Join(dir, "missing.jsonl")); code != 2 || stderr == "" {
		t.Errorf("missing -clients-in file: exit %d, stderr %q", code, stderr)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use: the server writes
// its log while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs "clientreg serve" in-process on 127.0.0.1:0 with a
// SQLite database in a temporary directory and the extra flags, and
// returns its URL once it listens. The server stops at the end of the
// test.
func startServe(t *testing.T, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	stderr := &syncBuffer{}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "clientreg.db")}, flags...)
	go func() { done <- cli.Main(ctx, args, io.Discard, stderr, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop within 30s")
		}
	})
	re := regexp.MustCompile(`(?m)^listening on (\S+)`)
	deadline := time.After(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, stderr)
		case <-deadline:
			t.Fatalf("serve did not listen within 30s:\n%s", stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestTokenPhasesAgainstServe: the token phases against clientreg serve
// with the sign-in proxy's header (--login header) and its real consent
// page, asked every time (--consent-ttl 0), as tools/perf/run.sh runs it.
func TestTokenPhasesAgainstServe(t *testing.T) {
	base := startServe(t, "--login", "header", "--trusted-proxy", "127.0.0.1/32", "--consent-ttl", "0", "--rate-limits=false")
	code, stdout, stderr := runCmd(t, "-base", base, "-phases", "token,introspect,code,refresh", "-c", "3", "-n", "24",
		"-login-header", "X-Forwarded-User", "-user", "ada", "-scope", "read", "-resource", "https://mcp.example/", "-json", "-label", "clientreg")
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) != 4 || rep.Label != "clientreg" || rep.Settings.LoginHeader != "X-Forwarded-User" || rep.Settings.Scope != "read" {
		t.Fatalf("report %+v %+v", rep.Phases, rep.Settings)
	}
	for i, ph := range rep.Phases {
		if ph.Name != bench.TokenPhases[i] || ph.OK != 24 || ph.Errors != 0 || ph.P99ms <= 0 {
			t.Errorf("%s: %+v", ph.Name, ph)
		}
	}
	// The consent page is a form to submit: two requests per flow.
	if f := rep.Phases[2].Flow; f == nil || f.OK != 24 || f.RequestsPerFlow != 2 {
		t.Errorf("code flow %+v", f)
	}
	for _, want := range []string{"code done: 24 requests, 0 errors", "code: the table has the exchanges; whole flows: 24, 24 ok", "refresh counters: rt_rotated=24"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	// Without the header the sign-in fails: counted, exit status 1.
	code, stdout, _ = runCmd(t, "-base", base, "-phases", "code", "-c", "2", "-n", "4", "-q")
	if code != 1 || !strings.Contains(stdout, "code errors: authorize_http_403=4") {
		t.Errorf("exit %d without the login header:\n%s", code, stdout)
	}
}

func TestTokenUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-token-clients", "0"},
		{"-introspector", "no-secret"},
		{"-token-auth", "private_key_jwt"},
		{"-resource", "https://mcp.example/#frag"},
		{"-resource", "not-absolute"},
		{"-login-header", "Bad Header"},
		{"-redirect-uri", "/relative"},
		{"-phases", "token,authorize"},
	} {
		args = append([]string{"-base", "http://127.0.0.1:1"}, args...)
		if code, _, stderr := runCmd(t, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
	if code, _, stderr := runCmd(t, "-help"); code != 0 || !strings.Contains(stderr, "-login-header") || !strings.Contains(stderr, "introspect") {
		t.Errorf("-help: exit %d, stderr %q", code, stderr)
	}
}
