package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that the server goroutine writes while the
// test reads.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	onWrite func(*bytes.Buffer) // called after each write, with mu held
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.onWrite != nil {
		s.onWrite(&s.b)
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envMap returns a getenv function that reads m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// run runs Main to completion and returns its exit code, stdout and stderr.
// Should a serve command that the test expects to fail start a server after
// all, the server is stopped at once (exit code 0), so the test fails
// instead of hanging.
//
// So that the tests can run beside a server on the default address, and
// leave nothing in the working directory, a serve or iat create command
// must name its address (serve only) and its database, by flag or
// environment variable; run fails the test otherwise.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	checkIsolated(t, env, args)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	errb := &syncBuffer{onWrite: func(b *bytes.Buffer) {
		if strings.Contains(b.String(), "listening on ") {
			cancel()
		}
	}}
	code = Main(ctx, args, &out, errb, envMap(env))
	return code, out.String(), errb.String()
}

// server is a "clientreg serve" running in-process.
type server struct {
	issuer string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int

	once sync.Once
	code int
}

// listeningRE matches serve's ready line: the URL of the address bound,
// then the issuer when it differs.
var listeningRE = regexp.MustCompile(`(?m)^listening on (\S+)(?: \(issuer \S+\))?\n`)

// startServer runs "clientreg serve --addr 127.0.0.1:0 ARGS..." with the
// environment env and waits until it prints its "listening on" line. The
// server is stopped at the end of the test.
func startServer(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args = append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)
	go func() { s.done <- Main(ctx, args, io.Discard, s.stderr, envMap(env)) }()
	t.Cleanup(func() { s.stop(t) })

	deadline := time.After(30 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.issuer = m[1]
			return s
		}
		select {
		case code := <-s.done:
			s.once.Do(func() { s.code = code })
			t.Fatalf("serve exited with code %d before listening; stderr:\n%s", code, s.stderr)
		case <-deadline:
			t.Fatalf("serve did not print \"listening on\" within 30s; stderr:\n%s", s.stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stop cancels the server's context, as SIGTERM does, and returns its exit
// code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case s.code = <-s.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not stop within 30s of cancellation; stderr:\n%s", s.stderr)
		}
	})
	return s.code
}

// response is an HTTP response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as a JSON object.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// need returns the string member name of the JSON body, and fails the
// test when it is missing or empty.
func (r response) need(t *testing.T, name string) string {
	t.Helper()
	s := r.str(t, name)
	if s == "" {
		t.Fatalf("no string member %s in %s", name, r.body)
	}
	return s
}

// str returns the string member name of the JSON body.
func (r response) str(t *testing.T, name string) string {
	t.Helper()
	s, _ := r.json(t)[name].(string)
	return s
}

// httpClient sends the tests' requests; its timeout keeps a hung server from
// hanging a test.
var httpClient = &http.Client{Timeout: time.Minute}

// do sends a request with an optional Bearer token and JSON body.
func do(t *testing.T, method, url, token, body string) response {
	t.Helper()
	return doWith(t, method, url, token, body, nil)
}

// doWith is do with extra request headers.
func doWith(t *testing.T, method, url, token, body string, header http.Header) response {
	t.Helper()
	r, err := send(t.Context(), httpClient, method, url, token, body, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// send sends a request with an optional Bearer token, JSON body and extra
// headers through c, and reads the whole response. It returns an error
// instead of failing the test, so that goroutines may use it.
func send(ctx context.Context, c *http.Client, method, url, token, body string, header http.Header) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return response{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// wantStatus fails the test unless r has status want.
func wantStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d; body: %s", what, r.status, want, r.body)
	}
}

const clientBody = `{"client_name":"Test","redirect_uris":["http://127.0.0.1:9000/cb"]}`

// register registers a client and returns its response.
func register(t *testing.T, issuer, iat string) response {
	t.Helper()
	r := do(t, http.MethodPost, issuer+"/register", iat, clientBody)
	wantStatus(t, "register", r, http.StatusCreated)
	return r
}

// dbIn returns a database path in a new temporary directory.
func dbIn(t *testing.T) string {
	return filepath.Join(t.TempDir(), "clientreg.db")
}

// checkIsolated fails the test when args run serve without an address or
// serve or iat create without a database (see run). Help and arguments
// that are refused before anything is opened need neither.
func checkIsolated(t *testing.T, env map[string]string, args []string) {
	t.Helper()
	if len(args) == 0 || slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		return
	}
	has := func(flag string) bool {
		return env[envName(flag)] != "" || slices.ContainsFunc(args, func(a string) bool {
			return a == "--"+flag || a == "-"+flag || strings.HasPrefix(a, "--"+flag+"=") || strings.HasPrefix(a, "-"+flag+"=")
		})
	}
	serve := args[0] == "serve"
	iatCreate := len(args) > 1 && args[0] == "iat" && args[1] == "create"
	if serve && !has("addr") {
		t.Fatalf("%v: a test must run serve with --addr 127.0.0.1:0, not on the default address", args)
	}
	if (serve || iatCreate) && !has("db") {
		t.Fatalf("%v: a test must name its database (--db), not use ./%s", args, DefaultDB)
	}
}
