// Package pgtest gives tests a PostgreSQL schema of their own.
//
// The server is named by the environment variable CLIENTREG_TEST_POSTGRES, a
// DSN that postgres.Open accepts; it defaults to DefaultDSN, a local server
// with trust authentication. Each call of DSN creates a schema with a fresh,
// random name on that server, returns a DSN whose search_path is that schema,
// and drops the schema (CASCADE) when the test ends. Tests, and test runs of
// different packages, thus share one database without seeing each other's
// rows; several stores opened with the same DSN, as several server instances
// would be, share one schema.
//
// When the server cannot be reached, DSN skips the test with the reason, so
// that "go test ./..." passes on a machine without PostgreSQL; when the
// environment variable CI is set (as CI=true), it fails the test instead, so
// that a CI job cannot pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the environment variable that names the test server.
const EnvDSN = "CLIENTREG_TEST_POSTGRES"

// DefaultDSN is the test server used when EnvDSN is empty.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// SchemaPrefix starts the name of every schema DSN creates, so that schemas
// left behind by a killed test run can be found and dropped.
const SchemaPrefix = "clientreg_test_"

// setupTimeout bounds connecting to the server and creating or dropping a
// schema.
const setupTimeout = 30 * time.Second

// connectTimeout is the connect_timeout used when the DSN sets none.
const connectTimeout = 5 * time.Second

// unreachable remembers, by DSN, why a server could not be reached, so that
// the tests after the first skip (or fail) at once instead of waiting for a
// connection timeout each.
var unreachable struct {
	sync.Mutex
	reasons map[string]string
}

// DSN returns a DSN for a new, empty schema on the test server, and drops the
// schema when t and its subtests end. Register cleanups that need the schema,
// such as closing a store, after calling DSN: they then run before the drop.
//
// The DSN is the server's DSN with the search_path parameter set to the
// schema; it must be a postgres:// URL or a keyword/value string without a
// search_path of its own. DSN skips t, or fails it when CI is set, if the
// server cannot be reached.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		base = DefaultDSN
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvDSN, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	where := fmt.Sprintf("PostgreSQL at %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)

	unreachable.Lock()
	reason := unreachable.reasons[base]
	unreachable.Unlock()
	if reason != "" {
		skipOrFail(t, reason)
	}

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		reason := fmt.Sprintf("%s is unreachable (set %s to the DSN of a test server): %v", where, EnvDSN, err)
		unreachable.Lock()
		if unreachable.reasons == nil {
			unreachable.reasons = make(map[string]string)
		}
		unreachable.reasons[base] = reason
		unreachable.Unlock()
		skipOrFail(t, reason)
	}
	defer conn.Close(ctx)

	schema := SchemaPrefix + randomHex(8)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+ident); err != nil {
		t.Fatalf("pgtest: %s: create schema %s: %v", where, schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("pgtest: %s: drop schema %s: %v", where, schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+ident+` CASCADE`); err != nil {
			t.Errorf("pgtest: %s: drop schema %s: %v", where, schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// skipOrFail skips t with reason, or fails it when the environment variable
// CI is set.
func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("pgtest: %s (CI is set, so this fails rather than skips)", reason)
	}
	t.Skipf("pgtest: %s", reason)
}

// withSearchPath returns dsn with the search_path parameter set to schema,
// which is a plain lower-case identifier. It edits a URL's query as text: pgx,
// like libpq, reads '+' as itself, not as a space, so re-encoding the query
// with net/url could change other parameters.
func withSearchPath(dsn, schema string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	base, query, _ := strings.Cut(dsn, "?")
	var params []string
	for p := range strings.SplitSeq(query, "&") {
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.PathUnescape(key); p == "" || err == nil && k == "search_path" {
			continue
		}
		params = append(params, p)
	}
	params = append(params, "search_path="+schema)
	return base + "?" + strings.Join(params, "&")
}

// randomHex returns n random bytes in hexadecimal.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
