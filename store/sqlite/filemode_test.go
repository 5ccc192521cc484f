//go:build unix

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/sqlite"
)

// A new database, its write-ahead log and its shared-memory index are
// readable by their owner only (0600), whatever the umask: they hold
// credential hashes and every client's metadata. (issue 12, finding 9)
func TestNewDatabaseFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "clients.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := &store.Client{ID: "a", IssuedAt: now, UpdatedAt: now, Revision: 1, Metadata: []byte(`{}`), TokenHash: []byte("t")}
	if err := s.CreateClient(context.Background(), c, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", filepath.Base(f), m)
		}
	}
}
