package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/memory"
)

func TestServeHealth(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--db", dbIn(t))
	for _, path := range []string{healthzPath, readyzPath} {
		r := do(t, http.MethodGet, s.issuer+path, "", "")
		wantStatus(t, path, r, http.StatusOK)
		if string(r.body) != `{"status":"ok"}` || r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: body %s, headers %v; want {\"status\":\"ok\"} as uncached JSON", path, r.body, r.header)
		}
	}
	// Only GET (and HEAD) are health checks; anything else is the
	// handler's business, which serves no such path.
	if r := do(t, http.MethodPost, s.issuer+healthzPath, "", "{}"); r.status == http.StatusOK {
		t.Errorf("POST %s: status 200", healthzPath)
	}
	register(t, s.issuer, "")
	s.stop(t)

	// Successful health checks stay out of the access log; other
	// requests do not.
	logs := s.stderr.String()
	for _, path := range []string{healthzPath, readyzPath} {
		if strings.Contains(logs, "method=GET path="+path) {
			t.Errorf("a successful GET %s was logged:\n%s", path, logs)
		}
	}
	if !strings.Contains(logs, "method=POST path=/register status=201") {
		t.Errorf("the registration was not logged:\n%s", logs)
	}
}

// fakePinger is a store whose Ping fails while err is set; nothing else of
// it is called.
type fakePinger struct {
	store.Store
	err error
}

func (p *fakePinger) Ping(context.Context) error { return p.err }

func TestReadyz(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	p := &fakePinger{Store: memory.New()}
	h := readyz(p, slog.New(slog.NewTextHandler(&logs, nil)))
	probe := func(want int, wantBody string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, readyzPath, nil))
		if rec.Code != want || rec.Body.String() != wantBody {
			t.Errorf("readyz with Ping error %v: %d %s, want %d %s", p.err, rec.Code, rec.Body, want, wantBody)
		}
	}
	probe(http.StatusOK, `{"status":"ok"}`)
	p.err = fmt.Errorf("ping: %w: connection refused", store.ErrUnavailable)
	probe(http.StatusServiceUnavailable, `{"status":"unavailable"}`)
	probe(http.StatusServiceUnavailable, `{"status":"unavailable"}`)
	p.err = nil
	probe(http.StatusOK, `{"status":"ok"}`)
	probe(http.StatusOK, `{"status":"ok"}`)

	// A change of readiness is logged once, not every probe.
	out := logs.String()
	if n := strings.Count(out, "not ready"); n != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("want one \"not ready\" line with the cause, got %d:\n%s", n, out)
	}
	if n := strings.Count(out, "reachable again"); n != 1 {
		t.Errorf("want one \"reachable again\" line, got %d:\n%s", n, out)
	}
}

// blockingStore is a memory store whose client lookups and writes wait until
// the context ends and then fail with its error, as the database backends
// do when the database does not answer.
type blockingStore struct{ store.Store }

func (blockingStore) CreateClient(ctx context.Context, _ *store.Client, _ store.CreateOptions) error {
	<-ctx.Done()
	return fmt.Errorf("blocked: %w", ctx.Err())
}

func (blockingStore) GetClientByTokenHash(ctx context.Context, _ []byte) (*store.Client, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("blocked: %w", ctx.Err())
}

// TestRequestDeadline checks that a request whose database does not answer
// gets 503 temporarily_unavailable once --request-timeout has passed,
// rather than hanging or 500 server_error.
func TestRequestDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h, err := clientreg.New(clientreg.Config{
		Issuer:    "http://as.test",
		Store:     blockingStore{memory.New()},
		SecretKey: bytes.Repeat([]byte{7}, KeySize),
		Logger:    log,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(withDeadline(timeout, log, h))
	defer srv.Close()

	for _, req := range []struct{ method, path, token, body string }{
		{http.MethodPost, "/register", "", clientBody},
		{http.MethodGet, "/register/some-client", "some-token", ""},
	} {
		start := time.Now()
		r := do(t, req.method, srv.URL+req.path, req.token, req.body)
		elapsed := time.Since(start)
		if r.status != http.StatusServiceUnavailable || r.str(t, "error") != "temporarily_unavailable" {
			t.Errorf("%s %s with a database that does not answer: %d %s, want 503 temporarily_unavailable", req.method, req.path, r.status, r.body)
		}
		if elapsed < timeout || elapsed > timeout+5*time.Second {
			t.Errorf("%s %s answered after %v, want just after the %v request timeout", req.method, req.path, elapsed, timeout)
		}
	}
	if n := strings.Count(logs.String(), "request timed out waiting for the database"); n != 2 {
		t.Errorf("want 2 timed-out requests logged, got %d:\n%s", n, logs.String())
	}
}
