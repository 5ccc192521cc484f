package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/bench"
	"github.com/clientreg/clientreg/store/memory"
)

// server is an in-process clientreg server on a loopback port.
type server struct {
	*httptest.Server
	h *clientreg.Handler

	mu       sync.Mutex
	requests map[string]int // by method
	// lastToken maps a client ID to the registration access token the
	// latest response for it carried.
	lastToken map[string]string
	// staleTokens counts configuration requests that presented a token
	// other than the latest one issued for the client.
	staleTokens int
	conns       atomic.Int64 // new TCP connections
}

// newServer starts clientreg with the memory store on 127.0.0.1. configure
// may change the Config; wrap may put middleware in front of the handler.
func newServer(t *testing.T, configure func(*clientreg.Config), wrap func(http.Handler) http.Handler) *server {
	t.Helper()
	s := &server{requests: map[string]int{}, lastToken: map[string]string{}}
	ts := httptest.NewUnstartedServer(nil)
	cfg := clientreg.Config{
		Issuer:    "http://" + ts.Listener.Addr().String(),
		Store:     memory.New(),
		SecretKey: bytes.Repeat([]byte{7}, 32),
	}
	if configure != nil {
		configure(&cfg)
	}
	h, err := clientreg.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.h = h
	var next http.Handler = h
	if wrap != nil {
		next = wrap(h)
	}
	ts.Config.Handler = s.track(next)
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	s.Server = ts
	return s
}

// track counts requests and checks that every configuration request uses
// the latest registration access token the server issued for its client.
func (s *server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var info struct {
			ID    string `json:"client_id"`
			Token string `json:"registration_access_token"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &info)
		s.mu.Lock()
		s.requests[r.Method]++
		if id, ok := strings.CutPrefix(r.URL.Path, "/register/"); ok {
			if got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); got != s.lastToken[id] {
				s.staleTokens++
			}
		}
		if info.ID != "" && info.Token != "" {
			s.lastToken[info.ID] = info.Token
		}
		s.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func (s *server) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method]
}

func run(t *testing.T, cfg bench.Config) *bench.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func phase(t *testing.T, rep *bench.Report, name string) bench.Phase {
	t.Helper()
	for _, ph := range rep.Phases {
		if ph.Name == name {
			return ph
		}
	}
	t.Fatalf("report has no %s phase: %+v", name, rep.Phases)
	return bench.Phase{}
}

func TestRunCountsEveryPhase(t *testing.T) {
	s := newServer(t, nil, nil)
	const n, c = 60, 4
	rep := run(t, bench.Config{Base: s.URL, Concurrency: c, Requests: n, Duration: 30 * time.Second})

	if rep.Discovery.RegistrationEndpoint != s.URL+"/register" ||
		rep.Discovery.Source != s.URL+"/.well-known/oauth-authorization-server" {
		t.Errorf("discovery = %+v, want %s/register from the RFC 8414 document", rep.Discovery, s.URL)
	}
	if len(rep.Phases) != 4 {
		t.Fatalf("%d phases, want 4", len(rep.Phases))
	}
	wantStatus := map[string]string{"register": "201", "read": "200", "update": "200", "delete": "204"}
	for i, ph := range rep.Phases {
		if ph.Name != bench.RegistrationPhases[i] {
			t.Errorf("phase %d is %s, want %s", i, ph.Name, bench.RegistrationPhases[i])
		}
		if ph.Requests != n || ph.OK != n || ph.Errors != 0 || ph.Status[wantStatus[ph.Name]] != n {
			t.Errorf("%s: requests=%d ok=%d errors=%d status=%v, want %d requests, all %s",
				ph.Name, ph.Requests, ph.OK, ph.Errors, ph.Status, n, wantStatus[ph.Name])
		}
		if ph.StoppedBy != "count" {
			t.Errorf("%s stopped by %q, want count", ph.Name, ph.StoppedBy)
		}
		if ph.RPS <= 0 || ph.ElapsedS <= 0 {
			t.Errorf("%s: rps=%v elapsed=%v, want positive", ph.Name, ph.RPS, ph.ElapsedS)
		}
		if !(0 < ph.P50ms && ph.P50ms <= ph.P90ms && ph.P90ms <= ph.P99ms && ph.P99ms <= ph.MaxMs) {
			t.Errorf("%s: percentiles out of order: p50=%v p90=%v p99=%v max=%v", ph.Name, ph.P50ms, ph.P90ms, ph.P99ms, ph.MaxMs)
		}
	}
	// What the server saw: exactly n requests per phase (GET: n reads and
	// the one metadata document discovery needed).
	for method, want := range map[string]int{"POST": n, "GET": n + 1, "PUT": n, "DELETE": n} {
		if got := s.count(method); got != want {
			t.Errorf("server got %d %s requests, want %d", got, method, want)
		}
	}
	if !rep.OK() {
		t.Error("Report.OK() = false for a run without errors")
	}
	if rep.Settings.Concurrency != c || rep.Settings.Requests != n || rep.Host.NumCPU < 1 {
		t.Errorf("settings/host not recorded: %+v %+v", rep.Settings, rep.Host)
	}
	if got := phase(t, rep, "update").Counters["rat_rotated"]; got != n {
		t.Errorf("update rat_rotated = %d, want %d (clientreg rotates on every update)", got, n)
	}
}

func TestRunKeepsConnectionsAlive(t *testing.T) {
	s := newServer(t, nil, nil)
	const c = 4
	run(t, bench.Config{Base: s.URL, Concurrency: c, Requests: 200})
	// One connection per worker (discovery's is reused); a few more may be
	// opened when a worker's request races another's connection release,
	// but never one per request.
	if got := s.conns.Load(); got > 2*c {
		t.Errorf("%d TCP connections for 800 requests with %d workers; keep-alive is not working", got, c)
	}
}

// TestRunFollowsRotation: with no grace window, a rotated registration
// access token stops working at once, so every update after a client's
// first one succeeds only if the tool uses the token of the latest
// response. Each client is updated several times, read and deleted
// afterwards.
func TestRunFollowsRotation(t *testing.T) {
	s := newServer(t, func(c *clientreg.Config) { c.TokenGrace = -1 }, nil)
	const clients, updates = 5, 40
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 4, Requests: clients, Phases: []string{"register"}})
	if ph := phase(t, rep, "register"); ph.OK != clients {
		t.Fatalf("register: %+v", ph)
	}

	rep = run(t, bench.Config{Base: s.URL, Concurrency: 4, Requests: updates,
		Phases: []string{"register", "update", "read", "update", "delete"}})
	up := rep.Phases[1]
	if up.Name != "update" || up.Requests != updates || up.OK != updates || up.Errors != 0 {
		t.Fatalf("update: requests=%d ok=%d errors=%v %v, want %d successful updates", up.Requests, up.OK, up.ErrorKinds, up.ErrorSamples, updates)
	}
	if up.Counters["rat_rotated"] != updates {
		t.Errorf("update counters %v, want rat_rotated=%d", up.Counters, updates)
	}
	for _, ph := range rep.Phases[2:] {
		if ph.Errors != 0 || ph.OK != ph.Requests {
			t.Errorf("%s after rotation: ok=%d errors=%v %v", ph.Name, ph.OK, ph.ErrorKinds, ph.ErrorSamples)
		}
	}
	if del := rep.Phases[4]; del.OK != updates {
		t.Errorf("delete: ok=%d, want all %d clients of this run deleted", del.OK, updates)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staleTokens != 0 {
		t.Errorf("%d configuration requests presented a token other than the latest one", s.staleTokens)
	}
}

// rotatingServer is a minimal RFC 7591/7592 server that issues a new
// registration access token and a new client secret with every update, and
// refuses an update whose client_secret is not the latest one.
type rotatingServer struct {
	mu      sync.Mutex
	n       int
	clients map[string]*[2]string // id -> token, secret
}

func (s *rotatingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	base := "http://" + r.Host
	fresh := func(kind string) string { s.n++; return kind + "-" + strconv.Itoa(s.n) }
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.URL.Path == "/.well-known/oauth-authorization-server":
		http.NotFound(w, r) // discovery must fall back
	case r.URL.Path == "/.well-known/openid-configuration":
		reply(200, map[string]string{"issuer": base, "registration_endpoint": base + "/reg"})
	case r.URL.Path == "/reg" && r.Method == http.MethodPost:
		id := fresh("id")
		c := &[2]string{fresh("rat"), fresh("secret")}
		s.clients[id] = c
		reply(201, map[string]string{"client_id": id, "registration_access_token": c[0], "client_secret": c[1],
			"registration_client_uri": base + "/reg/" + id})
	case strings.HasPrefix(r.URL.Path, "/reg/"):
		id := strings.TrimPrefix(r.URL.Path, "/reg/")
		c := s.clients[id]
		if c == nil || r.Header.Get("Authorization") != "Bearer "+c[0] {
			reply(401, map[string]string{"error": "invalid_token"})
			return
		}
		switch r.Method {
		case http.MethodPut:
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			if body["client_secret"] != c[1] || body["client_id"] != id {
				reply(400, map[string]string{"error": "invalid_request"})
				return
			}
			c[0], c[1] = fresh("rat"), fresh("secret")
			reply(200, map[string]string{"client_id": id, "registration_access_token": c[0], "client_secret": c[1],
				"registration_client_uri": base + "/reg/" + id})
		case http.MethodDelete:
			delete(s.clients, id)
			w.WriteHeader(204)
		default:
			reply(200, map[string]string{"client_id": id})
		}
	default:
		http.NotFound(w, r)
	}
}

func TestRunFollowsSecretRotation(t *testing.T) {
	ts := httptest.NewServer(&rotatingServer{clients: map[string]*[2]string{}})
	t.Cleanup(ts.Close)
	rep := run(t, bench.Config{Base: ts.URL, Concurrency: 3, Requests: 30, SendSecret: true,
		Phases: []string{"register", "update", "update", "read", "delete"}})
	if rep.Discovery.Source != ts.URL+"/.well-known/openid-configuration" {
		t.Errorf("discovery source %q, want the openid-configuration fallback", rep.Discovery.Source)
	}
	for _, ph := range rep.Phases {
		if ph.Errors != 0 || ph.OK != 30 {
			t.Errorf("%s: ok=%d errors=%v %v, want 30 successes", ph.Name, ph.OK, ph.ErrorKinds, ph.ErrorSamples)
		}
		if ph.Name == "update" && (ph.Counters["secret_rotated"] != 30 || ph.Counters["rat_rotated"] != 30) {
			t.Errorf("update counters %v, want 30 rotated secrets and tokens", ph.Counters)
		}
	}
}

func TestRunCountsHTTPErrors(t *testing.T) {
	// Registration needs an initial access token that the run does not
	// have: every registration is a 401, and nothing is left to read.
	s := newServer(t, func(c *clientreg.Config) { c.RequireInitialToken = true }, nil)
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 4, Requests: 25})
	reg := phase(t, rep, "register")
	if reg.Requests != 25 || reg.OK != 0 || reg.Errors != 25 || reg.ErrorKinds["http_401"] != 25 || reg.Status["401"] != 25 {
		t.Errorf("register: requests=%d ok=%d errors=%d kinds=%v status=%v, want 25 errors, all http_401",
			reg.Requests, reg.OK, reg.Errors, reg.ErrorKinds, reg.Status)
	}
	if reg.RPS != 0 || reg.P99ms != 0 {
		t.Errorf("register: rps=%v p99=%v, want 0 without successes", reg.RPS, reg.P99ms)
	}
	if reg.ErrorSamples["http_401"] == "" {
		t.Errorf("no sample of the 401 body: %v", reg.ErrorSamples)
	}
	for _, name := range []string{"read", "update", "delete"} {
		if ph := phase(t, rep, name); ph.Note == "" || ph.Requests != 0 {
			t.Errorf("%s: %+v, want a note and no requests", name, ph)
		}
	}
	if rep.OK() {
		t.Error("Report.OK() = true for a run with errors")
	}
	var text strings.Builder
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "register errors: http_401=25") {
		t.Errorf("text report does not report the errors:\n%s", text.String())
	}

	// With the token, the same server registers.
	iat, _, err := s.h.CreateInitialToken(t.Context(), clientreg.InitialTokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep = run(t, bench.Config{Base: s.URL, Concurrency: 4, Requests: 25, InitialAccessToken: iat})
	if !rep.OK() {
		t.Errorf("with the initial access token: %+v", rep.Phases)
	}
}

func TestRunCountsSomeErrors(t *testing.T) {
	// Every third read fails with a 500; the others succeed.
	var reads atomic.Int64
	s := newServer(t, nil, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/register/") && reads.Add(1)%3 == 0 {
				http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	const n = 30
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 3, Requests: n, Phases: []string{"register", "read", "delete"}})
	read := phase(t, rep, "read")
	if read.Requests != n || read.Errors != n/3 || read.OK != n-n/3 ||
		read.ErrorKinds["http_500"] != n/3 || read.Status["500"] != n/3 || read.Status["200"] != n-n/3 {
		t.Errorf("read: requests=%d ok=%d errors=%d kinds=%v status=%v, want %d of %d failed with 500",
			read.Requests, read.OK, read.Errors, read.ErrorKinds, read.Status, n/3, n)
	}
	if read.ErrorSamples["http_500"] == "" {
		t.Error("no sample of the 500 body")
	}
	if del := phase(t, rep, "delete"); del.OK != n {
		t.Errorf("delete: ok=%d, want %d", del.OK, n)
	}
}

func TestRunTransportErrors(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	endpoint := ts.URL + "/register"
	ts.Close() // nothing listens there any more
	rep := run(t, bench.Config{RegistrationEndpoint: endpoint, Concurrency: 2, Requests: 6, Phases: []string{"register"}})
	reg := phase(t, rep, "register")
	if reg.Errors != 6 || reg.ErrorKinds["conn_refused"] != 6 || reg.Status["none"] != 6 {
		t.Errorf("register: errors=%d kinds=%v status=%v, want 6 conn_refused", reg.Errors, reg.ErrorKinds, reg.Status)
	}
	if rep.Discovery.Source != "configured" {
		t.Errorf("discovery source %q, want configured", rep.Discovery.Source)
	}
}

func TestRunBadBody(t *testing.T) {
	// A 201 without client_id is not a registration.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"hello":"world"}`))
	}))
	t.Cleanup(ts.Close)
	rep := run(t, bench.Config{RegistrationEndpoint: ts.URL + "/r", Concurrency: 1, Requests: 3, Phases: []string{"register"}})
	if reg := phase(t, rep, "register"); reg.Errors != 3 || reg.ErrorKinds["bad_body"] != 3 {
		t.Errorf("register: %+v, want 3 bad_body errors", reg)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	s := newServer(t, nil, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(10 * time.Millisecond)
			next.ServeHTTP(w, r)
		})
	})
	start := time.Now()
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 2, Requests: 100000, Duration: 200 * time.Millisecond,
		Phases: []string{"register"}})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("run took %v with a 200ms phase bound", took)
	}
	reg := phase(t, rep, "register")
	if reg.StoppedBy != "duration" || reg.Requests == 0 || reg.Requests > 100 {
		t.Errorf("register: stopped by %q after %d requests, want duration after 1..100", reg.StoppedBy, reg.Requests)
	}
}

func TestRunCanceled(t *testing.T) {
	s := newServer(t, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := bench.Run(ctx, bench.Config{Base: s.URL, Requests: 10})
	if err == nil && (rep.Aborted == "" || rep.OK()) {
		t.Errorf("canceled run: err=%v report=%+v, want an error or an aborted report", err, rep)
	}
}

func TestRunCustomBody(t *testing.T) {
	s := newServer(t, nil, nil)
	body := []byte(`{"redirect_uris":["http://127.0.0.1:9000/cb"],"client_name":"custom","token_endpoint_auth_method":"none"}`)
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 2, Requests: 4, Body: body, SendSecret: true})
	if !rep.OK() {
		t.Fatalf("custom body: %+v", rep.Phases)
	}
	if got := phase(t, rep, "update").Counters["secret_returned"]; got != 0 {
		t.Errorf("a public client got %d secrets back from updates", got)
	}
	if !bytes.Equal(rep.Settings.Body, body) {
		t.Errorf("report body %s, want %s", rep.Settings.Body, body)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  bench.Config
	}{
		{"no target", bench.Config{}},
		{"remote base", bench.Config{Base: "http://192.0.2.1:8080"}},
		{"remote name", bench.Config{Base: "https://auth.example.com"}},
		{"remote endpoint", bench.Config{RegistrationEndpoint: "http://10.0.0.1/register"}},
		{"not a URL", bench.Config{Base: "127.0.0.1:8080"}},
		{"unknown phase", bench.Config{Base: "http://127.0.0.1:1", Phases: []string{"patch"}}},
		{"body not an object", bench.Config{Base: "http://127.0.0.1:1", Body: []byte(`[1]`)}},
		{"negative concurrency", bench.Config{Base: "http://127.0.0.1:1", Concurrency: -1}},
		{"too many requests", bench.Config{Base: "http://127.0.0.1:1", Requests: bench.MaxRequests + 1}},
		{"too long", bench.Config{Base: "http://127.0.0.1:1", Duration: time.Hour}},
	} {
		_, err := bench.Run(t.Context(), tc.cfg)
		if _, ok := errors.AsType[*bench.ConfigError](err); !ok {
			t.Errorf("%s: err = %v, want a *ConfigError", tc.name, err)
		}
	}
}

func TestDiscoveryRefusesRemoteEndpoint(t *testing.T) {
	// A metadata document pointing elsewhere must not make the tool send
	// load there.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"x","registration_endpoint":"https://auth.example.com/register"}`))
	}))
	t.Cleanup(ts.Close)
	_, err := bench.Run(t.Context(), bench.Config{Base: ts.URL, Requests: 1})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("err = %v, want a refusal of the non-loopback endpoint", err)
	}
}

func TestDiscoveryFailure(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "openid-configuration") {
			w.Write([]byte(`{"issuer":"x"}`))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(ts.Close)
	_, err := bench.Discover(t.Context(), http.DefaultClient, ts.URL+"/", false)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "no registration_endpoint") {
		t.Errorf("err = %v, want both documents' problems named", err)
	}
}

func TestLoopbackDialGuardsServerURIs(t *testing.T) {
	// A registration_client_uri on a remote host is never contacted: the
	// client is not managed (counted as uri_refused), and the default
	// client's dialer would refuse it anyway.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		w.Write([]byte(`{"client_id":"a","registration_access_token":"t","registration_client_uri":"http://192.0.2.1/r/a"}`))
	}))
	t.Cleanup(ts.Close)
	rep := run(t, bench.Config{RegistrationEndpoint: ts.URL + "/r", Concurrency: 1, Requests: 2})
	if reg := phase(t, rep, "register"); reg.OK != 2 || reg.Counters["uri_refused"] != 2 {
		t.Errorf("register: %+v, want 2 successes counted uri_refused", reg)
	}
	if read := phase(t, rep, "read"); read.Requests != 0 {
		t.Errorf("read sent %d requests to a remote URI", read.Requests)
	}

	c := bench.NewHTTPClient(1, time.Second, false)
	resp, err := c.Get("http://192.0.2.1:9/")
	if err == nil {
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Errorf("default client dialed a remote address: %v", err)
	}
}

func TestWarmup(t *testing.T) {
	s := newServer(t, nil, nil)
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 2, Requests: 5, Warmup: 7, Phases: []string{}})
	if len(rep.Phases) != 0 || rep.Settings.Warmup != 7 {
		t.Errorf("phases %+v settings %+v, want none measured, warm-up 7", rep.Phases, rep.Settings)
	}
	for method, want := range map[string]int{"POST": 7, "PUT": 7, "DELETE": 7, "GET": 8} {
		if got := s.count(method); got != want {
			t.Errorf("warm-up sent %d %s, want %d", got, method, want)
		}
	}
}
