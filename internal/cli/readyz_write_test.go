package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/sqlite"
)

// fullDisk is a store that reads but whose every write fails, as SQLite's
// do when the disk is full.
type fullDisk struct{ store.Store }

var errFull = fmt.Errorf("sqlite: write: %w: database or disk is full (13)", store.ErrUnavailable)

func (fullDisk) CreateClient(context.Context, *store.Client, store.CreateOptions) error {
	return errFull
}
func (fullDisk) UpdateClient(context.Context, *store.Client) error { return errFull }
func (fullDisk) UseAssertionID(context.Context, string, string, time.Time, time.Time) error {
	return errFull
}

// /readyz reports a store that reads but takes no writes as not ready.
// (issue 12, extra A)
func TestReadyzNeedsWrites(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "clients.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name string
		st   store.Store
		want int
	}{
		{"healthy", st, http.StatusOK},
		{"writes fail", fullDisk{st}, http.StatusServiceUnavailable},
	} {
		h := readyz(tc.st, log)
		for range 2 { // the second answer comes from the probe's cache
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, readyzPath, nil))
			if rec.Code != tc.want {
				t.Errorf("%s: readyz %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
			}
		}
	}
}
