package bench_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/bench"
)

// TestRunSpreadsOverBases: two instances of one server (here two listeners
// of one handler, whose issuer is the first's URL) get every other request
// of each phase, although every URL the server hands out names the first.
func TestRunSpreadsOverBases(t *testing.T) {
	s := newServer(t, func(c *clientreg.Config) { c.TokenGrace = -1 }, nil)
	var second atomic.Int64
	s2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		second.Add(1)
		s.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(s2.Close)

	const n = 40
	rep := run(t, bench.Config{Bases: []string{s.URL, s2.URL}, Concurrency: 4, Requests: n, Duration: 30 * time.Second})
	if !rep.OK() {
		t.Fatalf("run failed: %+v", rep.Phases)
	}
	for _, ph := range rep.Phases {
		if ph.OK != n {
			t.Errorf("%s: %d ok, want %d", ph.Name, ph.OK, n)
		}
	}
	// Discovery goes to the first base; then half of each phase's n
	// requests to each.
	if got := second.Load(); got != 4*n/2 {
		t.Errorf("second base got %d requests, want %d", got, 4*n/2)
	}
	if got := s.count("GET") + s.count("POST") + s.count("PUT") + s.count("DELETE"); got != 4*n+1 {
		t.Errorf("the server got %d requests in all, want %d", got, 4*n+1)
	}
	if s.staleTokens != 0 {
		t.Errorf("%d requests with a stale token", s.staleTokens)
	}
	if !slices.Equal(rep.Bases, []string{s.URL, s2.URL}) || rep.Base != s.URL {
		t.Errorf("report base %q, bases %q", rep.Base, rep.Bases)
	}
}

// TestRunWithSavedClients: a population registered in one run is read,
// updated (tokens rotating, no grace) and deleted in later runs.
func TestRunWithSavedClients(t *testing.T) {
	s := newServer(t, func(c *clientreg.Config) { c.TokenGrace = -1 }, nil)
	const n = 12
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 3, Requests: n, Phases: []string{bench.PhaseRegister}})
	if len(rep.Clients) != n {
		t.Fatalf("%d clients left registered, want %d", len(rep.Clients), n)
	}
	var buf bytes.Buffer
	if err := bench.WriteClients(&buf, rep.Clients); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != n {
		t.Errorf("%d lines written, want %d", lines, n)
	}
	cs, err := bench.ReadClients(&buf)
	if err != nil || !slices.Equal(cs, rep.Clients) {
		t.Fatalf("ReadClients = %v, %v; want what was written", cs, err)
	}

	rep2 := run(t, bench.Config{Base: s.URL, Concurrency: 3, Requests: 2 * n,
		Phases: []string{bench.PhaseRead, bench.PhaseUpdate}, Clients: cs})
	if !rep2.OK() || phase(t, rep2, "read").OK != 2*n || phase(t, rep2, "update").Counters["rat_rotated"] != 2*n {
		t.Fatalf("read/update of saved clients: %+v", rep2.Phases)
	}
	if len(rep2.Clients) != n || rep2.Clients[0].ID != cs[0].ID || rep2.Clients[0].Token == cs[0].Token {
		t.Errorf("clients after the updates: %+v; want the same clients with new tokens", rep2.Clients)
	}

	rep3 := run(t, bench.Config{Base: s.URL, Concurrency: 3, Phases: []string{bench.PhaseDelete}, Clients: rep2.Clients})
	if !rep3.OK() || phase(t, rep3, "delete").OK != n || len(rep3.Clients) != 0 {
		t.Errorf("delete of saved clients: %+v, %d left", rep3.Phases, len(rep3.Clients))
	}
	if s.staleTokens != 0 {
		t.Errorf("%d requests with a stale token", s.staleTokens)
	}
}

func TestReadClientsErrors(t *testing.T) {
	for _, in := range []string{
		"not json\n",
		`{"client_id":"a","registration_client_uri":"http://127.0.0.1/register/a"}` + "\n",
	} {
		if _, err := bench.ReadClients(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ReadClients(%q) error %v, want one naming line 1", in, err)
		}
	}
	cs, err := bench.ReadClients(strings.NewReader("\n" + `{"client_id":"a","registration_client_uri":"http://127.0.0.1/register/a","registration_access_token":"t"}` + "\n\n"))
	if err != nil || len(cs) != 1 {
		t.Errorf("blank lines: %v, %v", cs, err)
	}
	_, err = bench.Run(t.Context(), bench.Config{Base: "http://127.0.0.1:1",
		Clients: []bench.Client{{ID: "a", URI: "http://198.51.100.7/register/a", Token: "t"}}})
	if _, ok := errors.AsType[*bench.ConfigError](err); !ok {
		t.Errorf("a saved client on a remote host: error %v, want a ConfigError", err)
	}
	_, err = bench.Run(t.Context(), bench.Config{Bases: []string{"http://127.0.0.1:1", "http://198.51.100.7:1"}})
	if _, ok := errors.AsType[*bench.ConfigError](err); !ok {
		t.Errorf("a remote second base: error %v, want a ConfigError", err)
	}
}
