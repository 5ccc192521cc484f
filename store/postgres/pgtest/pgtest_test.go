package pgtest

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// schemaExists reports whether the schema that dsn's search_path names
// exists on the server of dsn.
func schemaExists(t *testing.T, dsn string) (string, bool) {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := cfg.RuntimeParams["search_path"]
	if !strings.HasPrefix(schema, SchemaPrefix) {
		t.Fatalf("search_path %q does not start with %s", schema, SchemaPrefix)
	}
	delete(cfg.RuntimeParams, "search_path")
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return schema, exists
}

func TestDSN(t *testing.T) {
	var dsns []string
	t.Run("use", func(t *testing.T) {
		for range 2 {
			dsn := DSN(t)
			dsns = append(dsns, dsn)
			if _, ok := schemaExists(t, dsn); !ok {
				t.Fatalf("the schema of %s does not exist", dsn)
			}
			// Tables are created in the schema, not in public.
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var current string
			if _, err := conn.Exec(ctx, `CREATE TABLE t (x int)`); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, `SELECT table_schema FROM information_schema.tables WHERE table_name = 't'`).Scan(&current); err != nil || !strings.HasPrefix(current, SchemaPrefix) {
				t.Fatalf("table t is in schema %q (%v)", current, err)
			}
		}
	})
	if len(dsns) != 2 || dsns[0] == dsns[1] {
		t.Fatalf("DSN returned %q", dsns)
	}
	for _, dsn := range dsns {
		if schema, ok := schemaExists(t, dsn); ok {
			t.Errorf("schema %s still exists after its test ended", schema)
		}
	}
}

func TestWithSearchPath(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://u@h:5/db?sslmode=disable", "postgres://u@h:5/db?sslmode=disable&search_path=s"},
		{"postgresql://u@h/db?search_path=other&a=b", "postgresql://u@h/db?a=b&search_path=s"},
		{"postgres://u@h1,h2/db", "postgres://u@h1,h2/db?search_path=s"},
		{"postgres://u@h/db?options=-c%20a%3Db+c", "postgres://u@h/db?options=-c%20a%3Db+c&search_path=s"},
		{"host=h dbname=db", "host=h dbname=db search_path=s"},
	} {
		got := withSearchPath(tc.dsn, "s")
		if got != tc.want {
			t.Errorf("withSearchPath(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil || cfg.RuntimeParams["search_path"] != "s" {
			t.Errorf("%q: search_path %q, %v", got, cfg.RuntimeParams["search_path"], err)
		}
	}
	cfg, err := pgx.ParseConfig(withSearchPath("postgres://u@h/db?options=-c%20a%3Db+c", "s"))
	if err != nil || cfg.RuntimeParams["options"] != "-c a=b+c" {
		t.Errorf("options: %q, %v", cfg.RuntimeParams["options"], err)
	}
}

// fakeTB records how DSN ends a test: Skipf and Fatalf stop the goroutine,
// as the testing package's do.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	skipped string
	failed  string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Cleanup(func()) { panic("DSN registered a cleanup for an unreachable server") }

// callDSN calls DSN with a fakeTB and returns how it ended.
func callDSN(t *testing.T) (dsn, skipped, failed string) {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dsn = DSN(f)
	}()
	<-done
	return dsn, f.skipped, f.failed
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Setenv(EnvDSN, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable&connect_timeout=1", port))

	for _, ci := range []string{"", "true", ""} { // the last one hits the remembered reason
		t.Setenv("CI", ci)
		dsn, skipped, failed := callDSN(t)
		switch {
		case dsn != "":
			t.Errorf("CI=%q: DSN returned %q", ci, dsn)
		case ci == "" && (skipped == "" || failed != ""):
			t.Errorf("CI=%q: DSN did not skip: skipped %q, failed %q", ci, skipped, failed)
		case ci != "" && (failed == "" || skipped != ""):
			t.Errorf("CI=%q: DSN did not fail: skipped %q, failed %q", ci, skipped, failed)
		}
		if reason := skipped + failed; !strings.Contains(reason, "unreachable") || !strings.Contains(reason, EnvDSN) {
			t.Errorf("CI=%q: the reason does not say what is wrong: %q", ci, reason)
		}
	}
}
