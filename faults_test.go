package clientreg_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/sqlite"
)

// Storage faults (docs/behaviour.md §6): a Store that fails or stalls makes the handler
// answer 500 server_error or 503 temporarily_unavailable, with nothing of
// the failure in the response, nothing half-written in the store, and, when
// the request context has a deadline, no later than that deadline.

// faultDeadline is the deadline of a request sent while a fault is injected.
const faultDeadline = 300 * time.Millisecond

// faultSlack bounds how long after the deadline a stalled request may take
// to be answered (scheduling, the race detector, a loaded CI machine).
const faultSlack = 2 * time.Second

type fault int

const (
	faultNone   fault = iota
	faultError        // an internal error, its text full of internals
	faultOutage       // an error wrapping store.ErrUnavailable
	faultStall        // block until the context ends, then return its error
)

func (f fault) String() string {
	return [...]string{"none", "internal error", "outage", "stall"}[f]
}

// faultInternals are the fragments of the injected errors that must never
// reach a response.
var faultInternals = []string{"10.9.8.7", "relation", "dial", "stalled", "deadline", "context", "sql"}

// faultStore is a Store whose methods can be made to fail or stall. A
// faulted method does not reach the wrapped store, so a fault is never a
// half-done write of the store itself.
type faultStore struct {
	store.Store
	mu     sync.Mutex
	faults map[string]fault
	calls  map[string]int
}

func (s *faultStore) set(method string, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[string]fault{}
	}
	s.faults[method] = f
}

func (s *faultStore) called(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (s *faultStore) hit(ctx context.Context, method string) error {
	s.mu.Lock()
	f := s.faults[method]
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[method]++
	s.mu.Unlock()
	switch f {
	case faultError:
		return fmt.Errorf("sql: relation \"clients\" at 10.9.8.7:5432 is corrupt (%s)", method)
	case faultOutage:
		return fmt.Errorf("%s: dial tcp 10.9.8.7:5432: connection refused: %w", method, store.ErrUnavailable)
	case faultStall:
		<-ctx.Done()
		return fmt.Errorf("store stalled in %s: %w", method, ctx.Err())
	}
	return nil
}

func (s *faultStore) CreateClient(ctx context.Context, c *store.Client, opts store.CreateOptions) error {
	if err := s.hit(ctx, "CreateClient"); err != nil {
		return err
	}
	return s.Store.CreateClient(ctx, c, opts)
}

func (s *faultStore) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if err := s.hit(ctx, "GetClient"); err != nil {
		return nil, err
	}
	return s.Store.GetClient(ctx, id)
}

func (s *faultStore) GetClientByTokenHash(ctx context.Context, hash []byte) (*store.Client, error) {
	if err := s.hit(ctx, "GetClientByTokenHash"); err != nil {
		return nil, err
	}
	return s.Store.GetClientByTokenHash(ctx, hash)
}

func (s *faultStore) UpdateClient(ctx context.Context, c *store.Client) error {
	if err := s.hit(ctx, "UpdateClient"); err != nil {
		return err
	}
	return s.Store.UpdateClient(ctx, c)
}

func (s *faultStore) DeleteClient(ctx context.Context, id string) error {
	if err := s.hit(ctx, "DeleteClient"); err != nil {
		return err
	}
	return s.Store.DeleteClient(ctx, id)
}

func (s *faultStore) GetInitialToken(ctx context.Context, hash []byte) (*store.InitialToken, error) {
	if err := s.hit(ctx, "GetInitialToken"); err != nil {
		return nil, err
	}
	return s.Store.GetInitialToken(ctx, hash)
}

func (s *faultStore) UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*store.InitialToken, error) {
	if err := s.hit(ctx, "UseInitialToken"); err != nil {
		return nil, err
	}
	return s.Store.UseInitialToken(ctx, hash, now)
}

// deadlineMiddleware gives every request's context a deadline: d while a
// fault is injected, a generous one otherwise, so that a loaded machine
// never turns a healthy request into a timeout.
type deadlineMiddleware struct {
	d    atomic.Int64 // time.Duration
	next http.Handler
}

// relaxedDeadline is the deadline of the requests that set a test up.
const relaxedDeadline = time.Minute

func (m *deadlineMiddleware) set(d time.Duration) { m.d.Store(int64(d)) }

func (m *deadlineMiddleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := time.Duration(m.d.Load())
	if d == 0 {
		d = relaxedDeadline
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	m.next.ServeHTTP(w, r.WithContext(ctx))
}

// faultLog is a log buffer safe for concurrent use.
type faultLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *faultLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *faultLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newDeadlineEnv serves a handler over st behind a deadlineMiddleware, with
// a debug logger writing to logs.
func newDeadlineEnv(t *testing.T, st store.Store, logs *faultLog, mod func(*clientreg.Config)) (*testEnv, *deadlineMiddleware) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	clock := newClock()
	spy := &spyStore{Store: st}
	cfg := clientreg.Config{
		Issuer:    "http://" + srv.Listener.Addr().String(),
		Store:     spy,
		SecretKey: testKey,
		Now:       clock.Now,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := clientreg.New(cfg)
	if err != nil {
		srv.Close()
		t.Fatalf("clientreg.New: %v", err)
	}
	mw := &deadlineMiddleware{next: h}
	srv.Config.Handler = mw
	srv.Start()
	t.Cleanup(srv.Close)
	return &testEnv{t: t, h: h, srv: srv, client: srv.Client(), store: spy, clock: clock, issuer: cfg.Issuer}, mw
}

// TestStorageFaults fails or stalls each Store method an operation needs and
// proves: a 500 server_error for an internal error, a 503
// temporarily_unavailable for an outage or a store that outlives the
// request deadline; no internals in the response; the failure logged at
// error level; an answer no later than the deadline; nothing written; and
// the operation working again once the fault is gone.
func TestStorageFaults(t *testing.T) {
	type state struct {
		client, other *registered
		iat           string
	}
	ops := []struct {
		name, method string
		iat          bool // RequireInitialToken
		rotated      bool // the client's token was rotated before the fault
		call         func(e *testEnv, s *state) *response
		want         int // the status once the fault is gone
	}{
		{"register", "CreateClient", false, false, func(e *testEnv, _ *state) *response { return e.post(body(nil), "") }, http.StatusCreated},
		{"register: check initial token", "GetInitialToken", true, false, func(e *testEnv, s *state) *response { return e.post(body(nil), "Bearer "+s.iat) }, http.StatusCreated},
		{"register: use initial token and store", "CreateClient", true, false, func(e *testEnv, s *state) *response { return e.post(body(nil), "Bearer "+s.iat) }, http.StatusCreated},
		{"read", "GetClientByTokenHash", false, false, func(e *testEnv, s *state) *response { return e.get(s.client.URI, s.client.Token) }, http.StatusOK},
		{"read another client", "GetClient", false, false, func(e *testEnv, s *state) *response { return e.get(s.other.URI, s.client.Token) }, http.StatusUnauthorized},
		{"read retiring a rotated token", "UpdateClient", false, true, func(e *testEnv, s *state) *response { return e.get(s.client.URI, s.client.Token) }, http.StatusOK},
		{"update", "UpdateClient", false, false, func(e *testEnv, s *state) *response {
			return e.put(s.client.URI, s.client.Token, updateBody(s.client, obj{"client_name": "changed"}))
		}, http.StatusOK},
		{"delete", "DeleteClient", false, false, func(e *testEnv, s *state) *response { return e.del(s.client.URI, s.client.Token) }, http.StatusNoContent},
	}
	faults := []struct {
		f      fault
		status int
		code   string
	}{
		{faultError, http.StatusInternalServerError, "server_error"},
		{faultOutage, http.StatusServiceUnavailable, "temporarily_unavailable"},
		{faultStall, http.StatusServiceUnavailable, "temporarily_unavailable"},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, op := range ops {
			for _, fc := range faults {
				t.Run(op.name+"/"+fc.f.String(), func(t *testing.T) {
					var logs faultLog
					fs := &faultStore{Store: b.open(t)}
					e, mw := newDeadlineEnv(t, fs, &logs, func(c *clientreg.Config) { c.RequireInitialToken = op.iat })
					s := &state{}
					if op.iat {
						s.iat = e.initialToken(clientreg.InitialTokenOptions{MaxUses: 1})
					} else {
						s.client = e.register(body(obj{"client_name": "victim"}))
						s.other = e.register(body(obj{"client_name": "other"}))
					}
					var before *response
					if s.client != nil {
						before = e.mustGet(s.client, s.client.Token)
					}
					if op.rotated {
						before = e.put(s.client.URI, s.client.Token, updateBody(s.client, obj{"client_name": "victim"}))
						if before.status != http.StatusOK {
							t.Fatalf("PUT: %d %s", before.status, before.body)
						}
						// The first use of the new token retires the
						// rotated one, with a write: the one that fails.
						s.client.Token = before.str(t, "registration_access_token")
					}
					creates, updates, deletes := e.store.writes()
					calls := fs.called(op.method)

					fs.set(op.method, fc.f)
					mw.set(faultDeadline)
					start := time.Now()
					r := op.call(e, s)
					elapsed := time.Since(start)
					mw.set(0)
					fs.set(op.method, faultNone)

					if fs.called(op.method) == calls {
						t.Fatalf("the operation never called %s; the test is wrong", op.method)
					}
					wantError(t, r, fc.status, fc.code)
					for _, leak := range faultInternals {
						if bytes.Contains(bytes.ToLower(r.body), []byte(leak)) {
							t.Errorf("the response carries %q: %s", leak, r.body)
						}
					}
					if fc.f == faultError {
						if want := `{"error":"server_error","error_description":"internal error"}`; string(r.body) != want {
							t.Errorf("body %s, want %s", r.body, want)
						}
					}
					if fc.f == faultStall && elapsed < faultDeadline {
						t.Errorf("a stalled store was answered after %v, before the %v deadline: did it stall?", elapsed, faultDeadline)
					}
					if elapsed > faultDeadline+faultSlack {
						t.Errorf("answered after %v; the request deadline was %v", elapsed, faultDeadline)
					}
					if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), op.method) {
						t.Errorf("the failure of %s was not logged at level ERROR:\n%s", op.method, logs.String())
					}

					// Nothing was written.
					if c, u, d := e.store.writes(); c != creates || u != updates || d != deletes {
						t.Errorf("a failed %s wrote: %d creates, %d updates, %d deletes", op.name, c-creates, u-updates, d-deletes)
					}
					if s.client != nil {
						sameMembers(t, "the client after the failure", before.members(t), e.mustGet(s.client, s.client.Token).members(t))
					}
					if op.iat {
						// The one use of the token is still there.
						e.registerWith(body(nil), "Bearer "+s.iat)
						return
					}
					// Once the fault is gone, the operation works.
					if r := op.call(e, s); r.status != op.want {
						t.Errorf("after the fault: %d %s, want %d", r.status, r.body, op.want)
					}
				})
			}
		}
	})
}

// TestSQLiteLockedAnswersWithinDeadline holds the write lock of a real
// SQLite database from another connection, as a stuck process would, and
// proves that a registration waiting for it is answered 503 when its
// request deadline ends, long before SQLite's busy timeout, writes nothing,
// and that reads go on meanwhile (WAL).
func TestSQLiteLockedAnswersWithinDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs faultLog
	e, mw := newDeadlineEnv(t, st, &logs, nil)
	c := e.register(body(nil))

	locker, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { locker.Close() })
	tx, err := locker.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatalf("BEGIN IMMEDIATE: %v", err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE clients SET revision = revision WHERE 0`); err != nil {
		t.Fatal(err)
	}

	creates := e.store.created()
	mw.set(faultDeadline)
	start := time.Now()
	r := e.post(body(nil), "")
	elapsed := time.Since(start)
	mw.set(0)
	wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if elapsed > faultDeadline+faultSlack {
		t.Errorf("answered after %v with the database locked; the request deadline was %v", elapsed, faultDeadline)
	}
	if e.store.created() != creates {
		t.Errorf("a registration that timed out was stored")
	}
	e.mustGet(c, c.Token) // reads do not wait for the writer

	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	e.register(body(nil))
}
