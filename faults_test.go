package clientreg_test

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
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

// faultInternals are the fragments of the injected errors that must never
// reach a response.
var faultInternals = []string{"10.9.8.7", "relation", "dial", "stalled", "deadline", "context", "sql"}

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
					var logs syncBuffer
					e := newDeadlineEnv(t, b.open(t), &logs, func(c *clientreg.Config) { c.RequireInitialToken = op.iat })
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
						s.client.Token = before.mustStr(t, "registration_access_token")
					}
					creates, updates, deletes := e.store.writes()
					calls := e.store.called(op.method)

					e.store.set(op.method, fc.f)
					e.deadline.set(faultDeadline)
					start := time.Now()
					r := op.call(e, s)
					elapsed := time.Since(start)
					e.deadline.set(0)
					e.store.set(op.method, faultNone)

					if e.store.called(op.method) == calls {
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
	var logs syncBuffer
	e := newDeadlineEnv(t, st, &logs, nil)
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
	e.deadline.set(faultDeadline)
	start := time.Now()
	r := e.post(body(nil), "")
	elapsed := time.Since(start)
	e.deadline.set(0)
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
