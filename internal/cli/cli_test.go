package cli

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, nil, "version")
	if code != ExitOK || !strings.HasPrefix(out, "clientreg ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("version: exit %d, output %q", code, out)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}} {
		code, out, _ := run(t, nil, args...)
		if code != ExitOK || !strings.Contains(out, "clientreg serve") || !strings.Contains(out, "CLIENTREG_") {
			t.Errorf("%v: exit %d, output:\n%s", args, code, out)
		}
	}
	// Every flag's help names its environment variable and says the flag
	// wins.
	for _, args := range [][]string{{"serve", "-help"}, {"iat", "create", "--help"}} {
		code, out, stderr := run(t, nil, args...)
		if code != ExitOK {
			t.Errorf("%v: exit %d; stderr:\n%s", args, code, stderr)
		}
		for _, want := range []string{"--db path", "environment: CLIENTREG_DB", "environment: CLIENTREG_SECRET_KEY_FILE", "a flag given\non the command line wins"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, out)
			}
		}
	}
	if _, out, _ := run(t, nil, "serve", "-h"); !strings.Contains(out, "--addr address") || !strings.Contains(out, "environment: CLIENTREG_RAT_GRACE") {
		t.Errorf("serve -h lacks flags:\n%s", out)
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"addr":                   "CLIENTREG_ADDR",
		"secret-key-file":        "CLIENTREG_SECRET_KEY_FILE",
		"authorization-endpoint": "CLIENTREG_AUTHORIZATION_ENDPOINT",
	} {
		if got := envName(in); got != want {
			t.Errorf("envName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDB(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec      string
		path, dsn string
		ok        bool
	}{
		{"clientreg.db", "clientreg.db", "", true},
		{"/var/lib/clientreg/c.db", "/var/lib/clientreg/c.db", "", true},
		{"sqlite:c.db", "c.db", "", true},
		{"sqlite:/abs/c.db", "/abs/c.db", "", true},
		{`C:\data\c.db`, `C:\data\c.db`, "", true},
		{"postgres://h/db", "", "postgres://h/db", true},
		{"postgresql://u:pw@h:5433/db?sslmode=require", "", "postgresql://u:pw@h:5433/db?sslmode=require", true},
		{"", "", "", false},
		{"sqlite:", "", "", false},
		{"sqlite:///abs/c.db", "", "", false},
		{"postgresql:db", "", "", false},
		{"POSTGRES:db", "", "", false},
		{"mysql://h/db", "", "", false},
	} {
		got, err := parseDB(tc.spec)
		if (err == nil) != tc.ok || got.path != tc.path || got.dsn != tc.dsn {
			t.Errorf("parseDB(%q) = %+v, %v; want path %q, dsn %q, ok=%v", tc.spec, got, err, tc.path, tc.dsn, tc.ok)
		}
		if err != nil && strings.Contains(tc.spec, "//") && strings.Contains(err.Error(), tc.spec) {
			t.Errorf("parseDB(%q): the error quotes the value, which may hold a password: %v", tc.spec, err)
		}
	}
}

func TestPostgresDSN(t *testing.T) {
	// Not parallel: t.Setenv.
	t.Setenv("PGCONNECT_TIMEOUT", "")
	for _, tc := range []struct{ in, want string }{
		{"postgres://h/db", "postgres://h/db?connect_timeout=5"},
		{"postgres://h/db?sslmode=disable", "postgres://h/db?sslmode=disable&connect_timeout=5"},
		{"postgres://h/db?", "postgres://h/db?connect_timeout=5"},
		{"postgresql://h/db?connect_timeout=2", "postgresql://h/db?connect_timeout=2"},
		{"postgres://h:99999999/db", "postgres://h:99999999/db"}, // unparsable: Open reports it
	} {
		got := withConnectTimeout(tc.in)
		if got != tc.want {
			t.Errorf("withConnectTimeout(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	cfg, err := pgconn.ParseConfig(withConnectTimeout("postgres://u:pw@h/db?sslmode=disable&search_path=s"))
	if err != nil || cfg.ConnectTimeout != pgConnectTimeout || cfg.RuntimeParams["search_path"] != "s" || cfg.Password != "pw" {
		t.Errorf("withConnectTimeout: parsed %+v, %v", cfg, err)
	}
	// The environment's connect timeout is kept.
	t.Setenv("PGCONNECT_TIMEOUT", "1")
	if got := withConnectTimeout("postgres://h/db"); got != "postgres://h/db" {
		t.Errorf("with PGCONNECT_TIMEOUT set: %q, want the DSN unchanged", got)
	}

	// Logs name the database without the user or password.
	d := database{dsn: "postgres://alice:s3cret@db.example.com:6543/reg?sslmode=require"}
	if got, want := d.describe(), "postgres://db.example.com:6543/reg"; got != want {
		t.Errorf("describe() = %q, want %q", got, want)
	}
	if got := (dbValue{&d}).String(); strings.Contains(got, "s3cret") || strings.Contains(got, "alice") {
		t.Errorf("dbValue.String() = %q reveals the user or password", got)
	}
}

func TestDeriveIssuer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr, bound, want string
		wildcard          bool
	}{
		{"127.0.0.1:0", "127.0.0.1:41234", "http://127.0.0.1:41234", false},
		{"127.0.0.1:8080", "127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"localhost:0", "127.0.0.1:5000", "http://localhost:5000", false},
		{"[::1]:0", "[::1]:5000", "http://[::1]:5000", false},
		{":8080", "[::]:8080", "http://localhost:8080", true},
		{"0.0.0.0:8080", "0.0.0.0:8080", "http://localhost:8080", true},
	} {
		bound, err := net.ResolveTCPAddr("tcp", tc.bound)
		if err != nil {
			t.Fatal(err)
		}
		got, wildcard := deriveIssuer(tc.addr, bound)
		if got != tc.want || wildcard != tc.wildcard {
			t.Errorf("deriveIssuer(%q, %s) = %q, %v; want %q, %v", tc.addr, tc.bound, got, wildcard, tc.want, tc.wildcard)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "server.key")

	// Processes that start together agree on one key, created once.
	const n = 8
	var (
		wg      sync.WaitGroup
		keys    [n][]byte
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { keys[i], created[i], errs[i] = LoadOrCreateKey(path) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreateKey: %v", errs[i])
		}
		if len(keys[i]) != KeySize || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("LoadOrCreateKey returned different keys: %x and %x", keys[i], keys[0])
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d calls report creating the key, want 1", creators)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	// The key survives a reload.
	again, created2, err := LoadOrCreateKey(path)
	if err != nil || created2 || !bytes.Equal(again, keys[0]) {
		t.Errorf("reload: %x, created=%v, %v; want the same key", again, created2, err)
	}

	// Refusals.
	for name, tc := range map[string]struct {
		content string
		mode    os.FileMode
		want    string
	}{
		"group readable": {strings.Repeat("ab", KeySize) + "\n", 0o640, "chmod 600"},
		"world readable": {strings.Repeat("ab", KeySize) + "\n", 0o604, "chmod 600"},
		"too short":      {strings.Repeat("ab", KeySize-1) + "\n", 0o600, "exactly 32 bytes"},
		"too long":       {strings.Repeat("ab", KeySize+1) + "\n", 0o600, "exactly 32 bytes"},
		"not hex":        {strings.Repeat("zz", KeySize) + "\n", 0o600, "exactly 32 bytes"},
		"empty":          {"", 0o600, "exactly 32 bytes"},
	} {
		p := filepath.Join(t.TempDir(), "k")
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreateKey(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, tc.want)
		}
		if b, _ := os.ReadFile(p); string(b) != tc.content {
			t.Errorf("%s: the refused key file was modified", name)
		}
	}

	// A CRLF line ending (a file edited on Windows) is accepted.
	p := filepath.Join(t.TempDir(), "crlf.key")
	if err := os.WriteFile(p, []byte(strings.Repeat("0f", KeySize)+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, _, err := LoadOrCreateKey(p); err != nil || k[0] != 0x0f {
		t.Errorf("CRLF key file: %x, %v", k, err)
	}

	// A key file in a directory that does not exist is an error, not a
	// panic or a silent fallback.
	if _, _, err := LoadOrCreateKey(filepath.Join(dir, "missing", "k")); err == nil {
		t.Errorf("key file in a missing directory: no error")
	}
}
