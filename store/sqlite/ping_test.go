package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/sqlite"
)

func TestPing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clientreg.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping on an open store: %v", err)
	}

	// A write lock held by another process does not delay Ping, which
	// reads through a read-only connection (WAL mode).
	conn, err := rawDB(t, path).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := s.Ping(quick); err != nil {
		t.Errorf("Ping while another connection holds the write lock: %v", err)
	}
	cancel()
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Ping(canceled); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Ping with a canceled context: %v, want ErrUnavailable and context.Canceled", err)
	}
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if err := s.Ping(expired); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping past its deadline: %v, want ErrUnavailable and context.DeadlineExceeded", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after a canceled Ping: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping on a closed store: %v, want ErrUnavailable", err)
	}
}
