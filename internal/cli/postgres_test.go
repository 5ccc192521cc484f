package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store/postgres/pgtest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// These tests need PostgreSQL: see the pgtest package. Each gets a schema of
// its own; they skip when the server is unreachable, and fail under CI=true.

// pgURL returns the DSN of a new, empty schema on the test server (see
// pgtest.DSN), which must be a postgres:// URL: --db takes no other form.
func pgURL(t *testing.T) string {
	t.Helper()
	dsn := pgtest.DSN(t)
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		msg := fmt.Sprintf("%s must be a postgres:// URL to test the clientreg command, which takes no other form", pgtest.EnvDSN)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// countClients returns the number of clients stored in the schema of dsn.
func countClients(t *testing.T, dsn string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to count clients: %v", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&n); err != nil {
		t.Fatalf("count clients: %v", err)
	}
	return n
}

// instance is a "clientreg serve" process.
type instance struct {
	base   string // http:// and the address it listens on
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited
	once   sync.Once
}

// servingRE finds the address an instance listens on in its log (which its
// "listening on" line shows too, before the issuer).
var servingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)

// launchInstance starts "clientreg serve --addr 127.0.0.1:0 ARGS..." from the
// binary bin, with the environment of the test minus every CLIENTREG_
// variable. Call ready before sending it requests. The process is stopped
// with SIGTERM at the end of the test, and must then exit with code 0.
func launchInstance(t *testing.T, bin string, args ...string) *instance {
	t.Helper()
	return launch(t, exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...))
}

// launch starts cmd, a "clientreg serve" or a shell that execs one, as
// launchInstance does.
func launch(t *testing.T, cmd *exec.Cmd) *instance {
	t.Helper()
	in := &instance{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	in.cmd.Env = environWithout(EnvPrefix)
	in.cmd.Stderr = in.stderr
	if err := in.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		_ = in.cmd.Wait() // the exit code is checked by stop
		close(in.exited)
	}()
	t.Cleanup(func() { in.stop(t) })
	return in
}

// ready waits until the instance logs the address it serves on.
func (in *instance) ready(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		logs := in.stderr.String()
		if m := servingRE.FindStringSubmatch(logs); m != nil && strings.Contains(logs, "listening on ") {
			in.base = "http://" + m[1]
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("clientreg serve did not start serving within 30s; stderr:\n%s", logs)
		}
		select {
		case <-in.exited:
			t.Fatalf("clientreg serve exited before serving: %v; stderr:\n%s", in.cmd.ProcessState, in.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits for a graceful exit with code 0.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.once.Do(func() {
		select {
		case <-in.exited:
		default:
			if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				_ = in.cmd.Process.Kill() // no SIGTERM on this platform
			}
			select {
			case <-in.exited:
			case <-time.After(30 * time.Second):
				_ = in.cmd.Process.Kill()
				<-in.exited
				t.Errorf("clientreg serve did not stop within 30s of SIGTERM; stderr:\n%s", in.stderr)
				return
			}
		}
		if code := in.cmd.ProcessState.ExitCode(); code != ExitOK {
			t.Errorf("clientreg serve exited with code %d, want %d; stderr:\n%s", code, ExitOK, in.stderr)
		}
	})
}

// environWithout returns the environment without the variables whose names
// start with prefix.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// runBinary runs the clientreg binary with args and returns its stdout; it
// fails the test unless the command exits with code 0.
func runBinary(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = environWithout(EnvPrefix)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clientreg %s: %v; stderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestMultiInstance runs two "clientreg serve" processes on one PostgreSQL
// schema with the same key file and the same issuer, as behind a load
// balancer, and checks that whatever one instance does, the other sees at
// once.
func TestMultiInstance(t *testing.T) {
	t.Parallel()
	dsn := pgURL(t)
	bin := clientregBinary(t)
	keyFile := filepath.Join(t.TempDir(), "server.key")
	// The public URL of the load balancer in front of both instances. The
	// test talks to each instance directly, at the same paths.
	const issuer = "https://auth.example.test"
	const maxClients = 12
	cfg := writeConfig(t, fmt.Sprintf("policies:\n  capped:\n    max_clients: %d\n", maxClients))
	args := []string{"--db", dsn, "--secret-key-file", keyFile, "--issuer", issuer, "--registration", "token", "--config", cfg}

	// Both start at once on an empty schema, without a key file: the
	// schema is migrated once and the key created once, and both use it.
	a, b := launchInstance(t, bin, args...), launchInstance(t, bin, args...)
	a.ready(t)
	b.ready(t)
	if n := strings.Count(a.stderr.String()+b.stderr.String(), "created a new server key"); n != 1 {
		t.Errorf("%d instances report creating the key file, want 1:\n%s\n%s", n, a.stderr, b.stderr)
	}
	instances := []*instance{a, b}
	for _, in := range instances {
		r := do(t, http.MethodGet, in.base+"/.well-known/oauth-authorization-server", "", "")
		if got := r.str(t, "registration_endpoint"); got != issuer+"/register" {
			t.Errorf("%s: registration_endpoint %q, want %q", in.base, got, issuer+"/register")
		}
		wantStatus(t, "readyz", do(t, http.MethodGet, in.base+readyzPath, "", ""), http.StatusOK)
	}
	// at returns the URL of uri, which is under the issuer, at instance in.
	at := func(in *instance, uri string) string {
		t.Helper()
		rest, ok := strings.CutPrefix(uri, issuer)
		if !ok {
			t.Fatalf("URI %q is not under the issuer %s", uri, issuer)
		}
		return in.base + rest
	}
	// iatCreate runs "clientreg iat create" on the database while both
	// instances run; uses 0 means no limit.
	iatCreate := func(uses int) string {
		t.Helper()
		out := runBinary(t, bin, "iat", "create", "--db", dsn, "--secret-key-file", keyFile, "--uses", fmt.Sprint(uses))
		return strings.TrimSpace(out)
	}
	unlimited := iatCreate(0)

	t.Run("client managed through either instance", func(t *testing.T) {
		reg := register(t, a.base, unlimited)
		id, uri, token := reg.str(t, "client_id"), reg.str(t, "registration_client_uri"), reg.str(t, "registration_access_token")

		// Read on B what A registered; both give the same ETag.
		r := do(t, http.MethodGet, at(b, uri), token, "")
		wantStatus(t, "read on B", r, http.StatusOK)
		etag := r.header.Get("ETag")
		if r.str(t, "client_id") != id || etag == "" || etag != reg.header.Get("ETag") {
			t.Fatalf("read on B: client_id %q, ETag %q; want %q and the registration's ETag %q", r.str(t, "client_id"), etag, id, reg.header.Get("ETag"))
		}

		// Update on B, conditionally on that ETag.
		update := fmt.Sprintf(`{"client_id":%q,"client_name":"Renamed","redirect_uris":["http://127.0.0.1:9000/cb"]}`, id)
		r = doWith(t, http.MethodPut, at(b, uri), token, update, http.Header{"If-Match": {etag}})
		wantStatus(t, "update on B", r, http.StatusOK)
		newToken, newETag := r.str(t, "registration_access_token"), r.header.Get("ETag")
		if newToken == "" || newToken == token || newETag == "" || newETag == etag {
			t.Fatalf("update on B: want a rotated token and a new ETag: ETag %q, body %s", newETag, r.body)
		}

		// A refuses an update based on the stale ETag, and reads B's
		// update.
		r = doWith(t, http.MethodPut, at(a, uri), newToken, update, http.Header{"If-Match": {etag}})
		wantStatus(t, "update on A with the ETag from before B's update", r, http.StatusPreconditionFailed)
		r = do(t, http.MethodGet, at(a, uri), newToken, "")
		wantStatus(t, "read on A", r, http.StatusOK)
		if r.str(t, "client_name") != "Renamed" || r.header.Get("ETag") != newETag {
			t.Errorf("read on A after the update on B: ETag %q (want %q), body %s", r.header.Get("ETag"), newETag, r.body)
		}

		// Deleted on A: every instance refuses the client at once.
		wantStatus(t, "delete on A", do(t, http.MethodDelete, at(a, uri), newToken, ""), http.StatusNoContent)
		for _, in := range instances {
			wantStatus(t, "read after the delete on "+in.base, do(t, http.MethodGet, at(in, uri), newToken, ""), http.StatusUnauthorized)
			wantStatus(t, "update after the delete on "+in.base, do(t, http.MethodPut, at(in, uri), newToken, update), http.StatusUnauthorized)
			wantStatus(t, "delete after the delete on "+in.base, do(t, http.MethodDelete, at(in, uri), newToken, ""), http.StatusUnauthorized)
		}
	})

	t.Run("token rotation across instances", func(t *testing.T) {
		reg := register(t, b.base, unlimited)
		id, uri, oldToken := reg.str(t, "client_id"), reg.str(t, "registration_client_uri"), reg.str(t, "registration_access_token")
		r := do(t, http.MethodPut, at(a, uri), oldToken, fmt.Sprintf(`{"client_id":%q,"redirect_uris":["http://127.0.0.1:9000/cb"]}`, id))
		wantStatus(t, "update on A", r, http.StatusOK)
		newToken := r.str(t, "registration_access_token")
		if newToken == "" || newToken == oldToken {
			t.Fatalf("update on A did not rotate the token: %s", r.body)
		}

		// Until the new token is used, the old one works on both
		// instances (--rat-grace, 10 minutes by default).
		wantStatus(t, "old token on B, in the grace window", do(t, http.MethodGet, at(b, uri), oldToken, ""), http.StatusOK)
		wantStatus(t, "old token on A, in the grace window", do(t, http.MethodGet, at(a, uri), oldToken, ""), http.StatusOK)

		// The first use of the new token, on B, ends the grace of the
		// old one on both instances.
		wantStatus(t, "new token on B", do(t, http.MethodGet, at(b, uri), newToken, ""), http.StatusOK)
		wantStatus(t, "old token on A after the new one was used on B", do(t, http.MethodGet, at(a, uri), oldToken, ""), http.StatusUnauthorized)
		wantStatus(t, "old token on B after the new one was used on B", do(t, http.MethodGet, at(b, uri), oldToken, ""), http.StatusUnauthorized)
		wantStatus(t, "new token on A", do(t, http.MethodGet, at(a, uri), newToken, ""), http.StatusOK)
	})

	t.Run("policy client limit across instances", func(t *testing.T) {
		// 3M registrations at once, alternating between the instances,
		// under a policy that allows M clients: exactly M are created.
		out := runBinary(t, bin, "iat", "create", "--db", dsn, "--secret-key-file", keyFile, "--uses", "0", "--config", cfg, "--policy", "capped")
		token := strings.TrimSpace(out)
		statuses, bodies, errs := registerAtOnce(t, instances, token, 3*maxClients)
		created := 0
		for i := range statuses {
			switch {
			case errs[i] != nil:
				t.Errorf("registration %d: %v", i, errs[i])
			case statuses[i] == http.StatusCreated:
				created++
			case statuses[i] != http.StatusForbidden || !strings.Contains(string(bodies[i]), `"error":"access_denied"`):
				t.Errorf("registration %d: %d %s, want 201, or 403 access_denied past the limit", i, statuses[i], bodies[i])
			}
		}
		if created != maxClients {
			t.Errorf("%d registrations succeeded under a policy allowing %d clients", created, maxClients)
		}
	})

	t.Run("initial access token uses across instances", func(t *testing.T) {
		// 3N registrations at once, alternating between the instances,
		// with a token good for N: exactly N clients are created.
		const n = 16
		token := iatCreate(n)
		before := countClients(t, dsn)
		statuses, bodies, errs := registerAtOnce(t, instances, token, 3*n)
		created := [2]int{}
		for i := range statuses {
			switch {
			case errs[i] != nil:
				t.Errorf("registration %d: %v", i, errs[i])
			case statuses[i] == http.StatusCreated:
				created[i%2]++
			case statuses[i] != http.StatusUnauthorized || !strings.Contains(string(bodies[i]), `"error":"invalid_token"`):
				t.Errorf("registration %d: %d %s, want 201, or 401 invalid_token once the token is used up", i, statuses[i], bodies[i])
			}
		}
		if created[0]+created[1] != n {
			t.Errorf("%d registrations succeeded (%d on A, %d on B), want exactly %d", created[0]+created[1], created[0], created[1], n)
		}
		if got := countClients(t, dsn) - before; got != n {
			t.Errorf("%d clients were stored, want exactly %d", got, n)
		}
		t.Logf("%d registrations at once with a %d-use token: %d created on A, %d on B", 3*n, n, created[0], created[1])
		for _, in := range instances {
			wantStatus(t, "registration with the used-up token on "+in.base, do(t, http.MethodPost, in.base+"/register", token, clientBody), http.StatusUnauthorized)
		}
	})

	for _, in := range instances {
		in.stop(t)
		if logs := in.stderr.String(); strings.Contains(logs, unlimited) {
			t.Errorf("an initial access token reached the log:\n%s", logs)
		}
	}
}

// registerAtOnce sends n registrations with token at the same moment,
// alternating between the instances (registration i goes to instance
// i%len(instances)), and returns each one's status, body and error.
func registerAtOnce(t *testing.T, instances []*instance, token string, n int) (statuses []int, bodies [][]byte, errs []error) {
	t.Helper()
	statuses, bodies, errs = make([]int, n), make([][]byte, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		in := instances[i%len(instances)]
		wg.Go(func() {
			<-start
			r, err := send(t.Context(), httpClient, http.MethodPost, in.base+"/register", token, clientBody, nil)
			statuses[i], bodies[i], errs[i] = r.status, r.body, err
		})
	}
	close(start)
	wg.Wait()
	return statuses, bodies, errs
}

// tcpProxy forwards TCP connections from a fixed local address to the
// PostgreSQL server, and can be taken down (closing every connection) and
// brought back on the same address, or made to accept connections and never
// answer, as a hung server or a dead network path would.
type tcpProxy struct {
	t       *testing.T
	target  string // host:port of the server
	addr    string // the proxy's address, fixed after the first up
	mu      sync.Mutex
	ln      net.Listener // nil while down
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
	silence bool // accept connections but forward nothing
}

// newPGProxy starts a proxy to the server of dsn and returns it with dsn
// pointing at the proxy. The proxy is taken down at the end of the test.
func newPGProxy(t *testing.T, dsn string) (*tcpProxy, string) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		t.Fatalf("the test server is reached through a Unix socket (%s); the outage test needs TCP", cfg.Host)
	}
	p := &tcpProxy{t: t, target: net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), addr: "127.0.0.1:0", conns: map[net.Conn]bool{}}
	p.up(false)
	t.Cleanup(p.down)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.addr
	return p, u.String()
}

// up starts listening on the proxy's address. When silent, connections are
// accepted and held, but nothing is forwarded and nothing answered.
func (p *tcpProxy) up(silent bool) {
	p.t.Helper()
	var (
		ln  net.Listener
		err error
	)
	// The port was just released; the listener sets SO_REUSEADDR, so this
	// normally succeeds at once.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ln, err = net.Listen("tcp", p.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen on %s again: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr, p.silence = ln, ln.Addr().String(), silent
	p.mu.Unlock()
	p.wg.Go(func() { p.accept(ln) })
}

func (p *tcpProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by down
		}
		p.mu.Lock()
		if p.ln != ln {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns[c] = true
		silent := p.silence
		p.mu.Unlock()
		if silent {
			continue // held open until down
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

// forward copies between c and a new connection to the server until either
// side closes.
func (p *tcpProxy) forward(c net.Conn) {
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.conns[c] {
		p.conns[s] = true
	} else {
		s.Close() // taken down meanwhile
	}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done
	p.drop(c)
	p.drop(s)
	<-done
}

func (p *tcpProxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// resume makes the proxy forward the connections it accepts from now on.
// The connections it accepted while silent stay open and unanswered, as
// connection attempts lost in a network outage do: a client waiting on one
// gives up only at its own timeout.
func (p *tcpProxy) resume() {
	p.mu.Lock()
	p.silence = false
	p.mu.Unlock()
}

// down closes the listener and every connection, both sides, as a crashed
// database host would, and waits for the proxy's goroutines.
func (p *tcpProxy) down() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset, not a polite close
		}
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestPostgresOutage points a server at PostgreSQL through a proxy, takes
// the proxy down and makes it hang, and checks that requests get 503
// temporarily_unavailable within --request-timeout and /readyz reports 503,
// and that service resumes by itself when the database is back.
//
// The pool is limited to two connections, so that the connection attempts
// left hanging by the silent proxy fill it: service can then resume only
// because every attempt ends at the connect_timeout that the server adds to
// the URL (the pool makes them in the background, where the request's
// deadline does not reach).
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	dsn := pgURL(t)
	proxy, proxied := newPGProxy(t, dsn)
	if strings.Contains(proxied, "?") {
		proxied += "&pool_max_conns=2"
	} else {
		proxied += "?pool_max_conns=2"
	}
	// Short, since every request of the outage waits for all of it.
	const requestTimeout = time.Second
	// bound is the longest a request may take during the outage: the
	// request timeout and a margin for a slow (-race) machine.
	const bound = requestTimeout + 3*time.Second
	keyFile := filepath.Join(t.TempDir(), "server.key")
	s := startServer(t, nil, "--db", proxied, "--secret-key-file", keyFile, "--request-timeout", requestTimeout.String())

	reg := register(t, s.issuer, "")
	id, uri, token := reg.str(t, "client_id"), reg.str(t, "registration_client_uri"), reg.str(t, "registration_access_token")
	wantStatus(t, "readyz", do(t, http.MethodGet, s.issuer+readyzPath, "", ""), http.StatusOK)
	update := fmt.Sprintf(`{"client_id":%q,"client_name":"Renamed","redirect_uris":["http://127.0.0.1:9000/cb"]}`, id)

	// unavailable checks that every kind of request gets 503
	// temporarily_unavailable within bound, /readyz 503 and /healthz 200.
	unavailable := func(t *testing.T) {
		t.Helper()
		for _, req := range []struct{ method, url, token, body string }{
			{http.MethodGet, uri, token, ""},
			{http.MethodPut, uri, token, update},
			{http.MethodDelete, uri, token, ""},
			{http.MethodPost, s.issuer + "/register", "", clientBody},
		} {
			start := time.Now()
			r := do(t, req.method, req.url, req.token, req.body)
			elapsed := time.Since(start)
			if r.status != http.StatusServiceUnavailable || r.str(t, "error") != "temporarily_unavailable" {
				t.Errorf("%s %s: %d %s, want 503 temporarily_unavailable", req.method, req.url, r.status, r.body)
			}
			if elapsed > bound {
				t.Errorf("%s %s took %v, want at most %v", req.method, req.url, elapsed.Round(time.Millisecond), bound)
			}
		}
		start := time.Now()
		r := do(t, http.MethodGet, s.issuer+readyzPath, "", "")
		if r.status != http.StatusServiceUnavailable || string(r.body) != `{"status":"unavailable"}` || time.Since(start) > bound {
			t.Errorf("readyz: %d %s after %v, want 503 {\"status\":\"unavailable\"} within %v", r.status, r.body, time.Since(start).Round(time.Millisecond), bound)
		}
		wantStatus(t, "healthz while the database is away", do(t, http.MethodGet, s.issuer+healthzPath, "", ""), http.StatusOK)
	}

	t.Run("connections reset and refused", func(t *testing.T) {
		proxy.down()
		unavailable(t)
	})
	t.Run("connections accepted but never answered", func(t *testing.T) {
		proxy.up(true)
		unavailable(t)
		if logs := s.stderr.String(); !strings.Contains(logs, "request timed out waiting for the database") {
			t.Errorf("the log does not report the requests that timed out:\n%s", logs)
		}
	})

	// The database is back: service resumes without a restart, although
	// the connection attempts made while the proxy was silent still hang.
	proxy.resume()
	start := time.Now()
	for deadline := start.Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := do(t, http.MethodGet, uri, token, "")
		if r.status == http.StatusOK {
			break
		}
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("read after the database came back: %d %s after %v, want 200 within 30s", r.status, r.body, time.Since(start).Round(time.Millisecond))
		}
	}
	t.Logf("service resumed %v after the database came back", time.Since(start).Round(time.Millisecond))
	wantStatus(t, "readyz after the outage", do(t, http.MethodGet, s.issuer+readyzPath, "", ""), http.StatusOK)
	r := do(t, http.MethodPut, uri, token, update)
	wantStatus(t, "update after the outage", r, http.StatusOK)
	if r.str(t, "client_name") != "Renamed" {
		t.Errorf("update after the outage: %s", r.body)
	}
	wantStatus(t, "delete after the outage", do(t, http.MethodDelete, uri, r.str(t, "registration_access_token"), ""), http.StatusNoContent)
	register(t, s.issuer, "")

	if code := s.stop(t); code != ExitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, s.stderr)
	}
	logs := s.stderr.String()
	for _, want := range []string{"not ready: the database is unreachable", "ready: the database is reachable again", "status=503"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}
