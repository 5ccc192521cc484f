package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres/pgtest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func openTest(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testClient(id string) *store.Client {
	return &store.Client{
		ID:        id,
		IssuedAt:  time.Now(),
		UpdatedAt: time.Now(),
		Revision:  1,
		Metadata:  []byte("{}"),
		TokenHash: []byte("token " + id),
	}
}

// TestQueryPlans checks that token hash lookups search the indexes and never
// scan the clients table. Sequential scans are disabled, as the planner
// prefers them on a table this small.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query string
		args        []any
	}{
		{"queryClientByTokenHash", queryClientByTokenHash, []any{[]byte("a")}},
		{"queryTokenHashTaken", queryTokenHashTaken, []any{[]byte("a"), []byte("b"), "id"}},
		{"queryTokenHashTaken without a previous hash", queryTokenHashTaken, []any{[]byte("a"), nil, "id"}},
	} {
		rows, err := tx.Query(ctx, "EXPLAIN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		all := strings.Join(plan, "\n")
		if strings.Contains(all, "Seq Scan") || !strings.Contains(all, "clients_token_hash_key") || !strings.Contains(all, "clients_prev_token_hash_key") {
			t.Errorf("%s: plan does not search both token hash indexes:\n%s", tc.name, all)
		}
	}
}

// TestTokenHashLock checks the locking protocol of token hashes: while a
// transaction holds the lock of a hash, a write that stores the hash in
// either column waits, and one that does not store it does not.
func TestTokenHashLock(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.DSN(t))
	holder := testClient("holder")
	holder.PreviousTokenHash = []byte("held previous")
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := lockTokenHashes(ctx, tx, holder); err != nil {
		t.Fatal(err)
	}

	waits := func(what string, c *store.Client, wantWait bool) {
		t.Helper()
		// A waiter is expected to run into the short deadline; a
		// non-waiter gets a generous one, so a loaded machine does not
		// make it look like it waited.
		timeout := 5 * time.Second
		if wantWait {
			timeout = 300 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := s.CreateClient(ctx, c, store.CreateOptions{})
		switch {
		case wantWait && !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("%s: CreateClient did not wait for the lock: %v", what, err)
		case !wantWait && err != nil:
			t.Errorf("%s: CreateClient: %v", what, err)
		}
	}
	c := testClient("a")
	c.TokenHash = holder.TokenHash
	waits("TokenHash locked as a TokenHash", c, true)
	c = testClient("b")
	c.PreviousTokenHash = holder.TokenHash
	waits("PreviousTokenHash locked as a TokenHash", c, true)
	c = testClient("c")
	c.TokenHash = holder.PreviousTokenHash
	waits("TokenHash locked as a PreviousTokenHash", c, true)
	waits("other hashes", testClient("d"), false)
}

// TestTokenHashLockOrder checks that a write takes the locks of its two
// hashes in ascending order of key, whatever their columns, so that two
// writes storing the same two hashes cannot deadlock: while another
// transaction holds the lower key, a write of both hashes waits for it
// holding neither.
func TestTokenHashLockOrder(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := openTest(t, dsn)
	lo, hi := []byte("hash x"), []byte("hash y")
	if hashLockKey(lo) > hashLockKey(hi) {
		lo, hi = hi, lo
	}
	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, hashLockKey(lo)); err != nil {
		t.Fatal(err)
	}

	c := testClient("c")
	c.TokenHash, c.PreviousTokenHash = hi, lo // the higher key in the first column
	done := make(chan error, 1)
	go func() { done <- s.CreateClient(ctx, c, store.CreateOptions{}) }()

	// Wait until the write waits for the lower key.
	key := uint64(hashLockKey(lo))
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
WHERE locktype = 'advisory' AND NOT granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1)`,
			int64(key>>32), int64(key&0xffffffff)).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the write does not wait for the lock of the lower key")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var free bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, hashLockKey(hi)).Scan(&free); err != nil {
		t.Fatal(err)
	}
	if !free {
		t.Error("the write holds the lock of the higher key while it waits for the lower one")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("CreateClient after the lock is released: %v", err)
	}
}

// TestMigrationLock checks that Open migrates under the advisory lock: while
// another session holds it, Open waits.
func TestMigrationLock(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if s, err := Open(tctx, dsn); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open while the migration lock is held: got %v, want it to wait", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrateLockKey); err != nil {
		t.Fatal(err)
	}
	openTest(t, dsn)
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_init.sql" {
		t.Errorf("embedded migrations: %+v", ms)
	}
}

func TestMapErr(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	pgErr := func(code string) error {
		return fmt.Errorf("wrapped: %w", &pgconn.PgError{Severity: "ERROR", Code: code})
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	other := errors.New("something else")
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		closed bool
		err    error
		want   []error
		not    []error
	}{
		{"canceled context", canceled, false, other, []error{context.Canceled, other}, []error{store.ErrUnavailable}},
		{"canceled context, connection error", canceled, false, refused, []error{context.Canceled}, []error{store.ErrUnavailable}},
		{"driver timeout", bg, false, fmt.Errorf("timeout: %w", context.DeadlineExceeded), []error{store.ErrUnavailable}, []error{context.DeadlineExceeded}},
		{"driver cancellation", bg, false, fmt.Errorf("x: %w", context.Canceled), []error{store.ErrUnavailable}, []error{context.Canceled}},
		{"no rows", bg, false, pgx.ErrNoRows, []error{store.ErrNotFound, pgx.ErrNoRows}, nil},
		{"unique_violation", bg, false, pgErr("23505"), []error{store.ErrAlreadyExists}, []error{store.ErrUnavailable}},
		{"admin_shutdown", bg, false, pgErr("57P01"), []error{store.ErrUnavailable}, nil},
		{"cannot_connect_now", bg, false, pgErr("57P03"), []error{store.ErrUnavailable}, nil},
		{"too_many_connections", bg, false, pgErr("53300"), []error{store.ErrUnavailable}, nil},
		{"connection_failure", bg, false, pgErr("08006"), []error{store.ErrUnavailable}, nil},
		{"statement_timeout", bg, false, pgErr("57014"), []error{store.ErrUnavailable}, nil},
		{"read_only_sql_transaction", bg, false, pgErr("25006"), []error{store.ErrUnavailable}, nil},
		{"undefined_table", bg, false, pgErr("42P01"), nil, []error{store.ErrUnavailable, store.ErrAlreadyExists}},
		{"not_null_violation", bg, false, pgErr("23502"), nil, []error{store.ErrUnavailable, store.ErrAlreadyExists}},
		{"connect error", bg, false, &pgconn.ConnectError{Config: &pgconn.Config{}}, []error{store.ErrUnavailable}, nil},
		{"connect error of the server", bg, false, fmt.Errorf("%w", &pgconn.ConnectError{Config: &pgconn.Config{}}), []error{store.ErrUnavailable}, nil},
		{"dial error", bg, false, refused, []error{store.ErrUnavailable, syscall.ECONNREFUSED}, nil},
		{"connection closed", bg, false, fmt.Errorf("x: %w", pgconn.ErrConnClosed), []error{store.ErrUnavailable}, nil},
		{"unexpected EOF", bg, false, io.ErrUnexpectedEOF, []error{store.ErrUnavailable}, nil},
		{"closed store", bg, true, other, []error{store.ErrUnavailable, other}, nil},
		{"sentinel", bg, false, fmt.Errorf("x: %w", store.ErrConflict), []error{store.ErrConflict}, []error{store.ErrUnavailable}},
		{"sentinel with a canceled context", canceled, false, store.ErrNotFound, []error{store.ErrNotFound}, []error{context.Canceled}},
		{"unclassified", bg, false, other, []error{other}, []error{store.ErrUnavailable, store.ErrNotFound, store.ErrAlreadyExists, context.Canceled}},
	} {
		s := &Store{}
		s.closed.Store(tc.closed)
		got := s.mapErr(tc.ctx, "op", tc.err)
		if !strings.HasPrefix(got.Error(), "postgres: op: ") {
			t.Errorf("%s: %q lacks the prefix", tc.name, got)
		}
		for _, w := range tc.want {
			if !errors.Is(got, w) {
				t.Errorf("%s: %v is not %v", tc.name, got, w)
			}
		}
		for _, n := range tc.not {
			if errors.Is(got, n) {
				t.Errorf("%s: %v is %v", tc.name, got, n)
			}
		}
	}
}

func TestHashLockKey(t *testing.T) {
	a, b := hashLockKey([]byte("a")), hashLockKey([]byte("b"))
	if a == b || a != hashLockKey([]byte("a")) {
		t.Errorf("hashLockKey: a %d, b %d", a, b)
	}
	// The key is part of the protocol between processes: it must not change.
	if got, want := hashLockKey([]byte("token")), int64(0x3c469e9d6c5875d3); got != want {
		t.Errorf("hashLockKey(\"token\") = %#x, want %#x", got, want)
	}
}
