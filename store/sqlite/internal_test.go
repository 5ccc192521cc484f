package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts     Options
		wantSync int
		wantBusy int
	}{
		{Options{}, 1, 10000},
		{Options{Synchronous: "FULL"}, 2, 10000},
		{Options{Synchronous: "EXTRA", BusyTimeout: 1500 * time.Millisecond}, 3, 1500},
	} {
		s, err := OpenWithOptions(ctx, filepath.Join(t.TempDir(), "x.db"), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for name, db := range map[string]*sql.DB{"writer": s.writer, "reader": s.reader} {
			var mode string
			var sync, busy, fk int
			for pragma, dest := range map[string]any{
				"journal_mode": &mode, "synchronous": &sync, "busy_timeout": &busy, "foreign_keys": &fk,
			} {
				if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(dest); err != nil {
					t.Fatalf("%s: PRAGMA %s: %v", name, pragma, err)
				}
			}
			if mode != "wal" || sync != tc.wantSync || busy != tc.wantBusy || fk != 1 {
				t.Errorf("%+v: %s: journal_mode %s, synchronous %d, busy_timeout %d, foreign_keys %d; want wal, %d, %d, 1",
					tc.opts, name, mode, sync, busy, fk, tc.wantSync, tc.wantBusy)
			}
		}
		if s.writer.Stats().MaxOpenConnections != 1 {
			t.Errorf("writer pool allows %d connections", s.writer.Stats().MaxOpenConnections)
		}
		if _, err := s.reader.ExecContext(ctx, `DELETE FROM clients`); err == nil {
			t.Error("a reader connection can write")
		}
	}
}

// TestWriterBeginsImmediate checks that write transactions take the write
// lock when they begin, so that they never fail midway with SQLITE_BUSY.
func TestWriterBeginsImmediate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := OpenWithOptions(ctx, path, Options{BusyTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(20)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `DELETE FROM initial_tokens`); err == nil {
		t.Error("another connection wrote while a transaction of the writer was open, before its first statement")
	}
}

// TestQueryPlans checks that token hash lookups search the indexes and
// never scan the clients table.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, q := range map[string]string{
		"queryClientByTokenHash": queryClientByTokenHash,
		"queryTokenHashTaken":    queryTokenHashTaken,
	} {
		rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, []byte("a"), []byte("b"), "id")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		if strings.Contains(all, "SCAN clients") || !strings.Contains(all, "clients_token_hash") || !strings.Contains(all, "clients_prev_token_hash") {
			t.Errorf("%s: plan does not search both token hash indexes:\n%s", name, all)
		}
	}
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
	interrupted := errors.New("interrupted (9)")
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		closed bool
		err    error
		want   []error
	}{
		{"interrupted by a canceled context", canceled, false, interrupted, []error{context.Canceled, interrupted}},
		{"context error", bg, false, context.DeadlineExceeded, []error{context.DeadlineExceeded}},
		{"bad connection", bg, false, driver.ErrBadConn, []error{clientreg.ErrUnavailable, driver.ErrBadConn}},
		{"connection done", bg, false, sql.ErrConnDone, []error{clientreg.ErrUnavailable, sql.ErrConnDone}},
		{"closed store", bg, true, errors.New("sql: database is closed"), []error{clientreg.ErrUnavailable}},
		{"sentinel", bg, false, clientreg.ErrNotFound, []error{clientreg.ErrNotFound}},
	} {
		s := &Store{}
		s.closed.Store(tc.closed)
		got := s.mapErr(tc.ctx, "op", tc.err)
		for _, w := range tc.want {
			if !errors.Is(got, w) {
				t.Errorf("%s: %v is not %v", tc.name, got, w)
			}
		}
	}
	if err := (&Store{}).mapErr(bg, "op", interrupted); errors.Is(err, clientreg.ErrUnavailable) || errors.Is(err, context.Canceled) {
		t.Errorf("an unclassified error became %v", err)
	}
}
