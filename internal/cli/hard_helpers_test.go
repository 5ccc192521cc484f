package cli

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers of the hardening tests (crash_test.go, serverhygiene_test.go),
// which run the real clientreg binary as a separate process: it is the only
// way to kill it with SIGKILL, to stop it with a real SIGTERM and to see the
// net/http server exactly as it is configured for production.

// hardBuild returns the path of cmd/clientreg built without -race, once
// per test run (see TestMain), so that the processes behave as in
// production, at production speed.
func hardBuild(t *testing.T) string {
	t.Helper()
	hardBinary.once.Do(func() { buildClientreg(&hardBinary, false) })
	if hardBinary.err != nil {
		t.Fatal(hardBinary.err)
	}
	return hardBinary.path
}

// hardEnv is the environment of the processes the tests start: the test's
// own, without any CLIENTREG_ variable that would change a flag.
func hardEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvPrefix) {
			env = append(env, kv)
		}
	}
	return env
}

// hardLog is a buffer that a process writes while the test reads it.
type hardLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *hardLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *hardLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hardProc is a running "clientreg serve" process.
type hardProc struct {
	cmd    *exec.Cmd
	stderr *hardLog
	issuer string        // from its "listening on" line
	exited chan struct{} // closed once the process has exited
}

var hardListeningRE = regexp.MustCompile(`(?m)^listening on (\S+)(?: \(issuer \S+\))?$`)

// hardServe starts "clientreg serve --addr 127.0.0.1:0 ARGS..." and waits
// until it is listening. A process still running at the end of the test is
// killed. ok is false when the process exited before listening; its stderr
// then tells why.
func hardServe(t *testing.T, bin string, args ...string) (p *hardProc, ok bool) {
	t.Helper()
	p = &hardProc{stderr: &hardLog{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = hardEnv()
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start clientreg serve: %v", err)
	}
	go func() {
		_ = p.cmd.Wait() // inspected through ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		if m := hardListeningRE.FindStringSubmatch(p.stderr.String()); m != nil {
			p.issuer = m[1]
			return p, true
		}
		select {
		case <-p.exited:
			return p, false
		case <-deadline:
			t.Fatalf("clientreg serve did not listen within 60s; stderr:\n%s", p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// mustServe is hardServe for a process that must start.
func mustServe(t *testing.T, bin string, args ...string) *hardProc {
	t.Helper()
	p, ok := hardServe(t, bin, args...)
	if !ok {
		t.Fatalf("clientreg serve exited before listening (%v); stderr:\n%s", p.cmd.ProcessState, p.stderr)
	}
	return p
}

// wait waits up to d for the process to exit and returns its state.
func (p *hardProc) wait(t *testing.T, d time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState
	case <-time.After(d):
		t.Fatalf("clientreg serve still runs %v later; stderr:\n%s", d, p.stderr)
		return nil
	}
}

// terminate sends SIGTERM and fails the test unless the process then exits
// with code 0 within 30 seconds.
func (p *hardProc) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if st := p.wait(t, 30*time.Second); st.ExitCode() != ExitOK {
		t.Fatalf("clientreg serve exited with %v after SIGTERM, want code 0; stderr:\n%s", st, p.stderr)
	}
}

// hardClient is the HTTP client of the hardening tests: its own
// connections, a bound on every request.
func hardClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
}

// mustDo is send for the test goroutine; it also checks the status.
func mustDo(t *testing.T, c *http.Client, method, url, token, body string, want int) response {
	t.Helper()
	r, err := send(t.Context(), c, method, url, token, body, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, r.status, want, r.body)
	}
	return r
}
