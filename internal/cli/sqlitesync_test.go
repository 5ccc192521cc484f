package cli

import (
	"strings"
	"testing"
)

// TestSQLiteSynchronousFlag checks --sqlite-synchronous: normal and full
// serve, anything else is a usage error, and the level reaches the store.
func TestSQLiteSynchronousFlag(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--sqlite-synchronous", "full"},
		{"--sqlite-synchronous", "normal"},
	} {
		s := startServer(t, nil, append([]string{"--db", dbIn(t)}, args...)...)
		register(t, s.issuer, "")
	}
	s := startServer(t, map[string]string{"CLIENTREG_SQLITE_SYNCHRONOUS": "full"}, "--db", dbIn(t))
	register(t, s.issuer, "")

	for _, v := range []string{"off", "FULLY", ""} {
		code, _, stderr := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", dbIn(t), "--sqlite-synchronous", v)
		if code != ExitUsage || !strings.Contains(stderr, "sqlite-synchronous") {
			t.Errorf("--sqlite-synchronous %q: exit %d, stderr %q; want a usage error", v, code, stderr)
		}
	}

	// The level is passed to the store, which refuses one it does not know.
	if st, err := openStore(t.Context(), database{path: dbIn(t)}, "sometimes"); err == nil {
		st.Close()
		t.Error("openStore with synchronous \"sometimes\" succeeded; the level is not passed on")
	}
	st, err := openStore(t.Context(), database{path: dbIn(t)}, "full")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}
