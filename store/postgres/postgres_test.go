package postgres_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/migrate"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres"
	"github.com/clientreg/clientreg/store/postgres/pgtest"
	"github.com/clientreg/clientreg/store/storetest"

	"github.com/jackc/pgx/v5"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, pgtest.DSN(t), postgres.Options{})
	})
}

// TestStoreOneConnection runs the suite on a pool of a single connection, so
// that a transaction left open, or a connection not returned, would hang it.
func TestStoreOneConnection(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, pgtest.DSN(t), postgres.Options{MaxConns: 1})
	})
}

// TestDurability runs the life-cycle suite on schemas of their own: the
// schema versions are the rows of schema_migrations, and the first schema is
// that of migrations/0001_init.sql.
func TestDurability(t *testing.T) {
	storetest.RunDurability(t, storetest.Durable{
		Open: func(_ *testing.T, dsn string) (store.Store, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return postgres.Open(ctx, dsn)
		},
		Database: func(t *testing.T) string { return pgtest.DSN(t) },
		Migrated: func(t *testing.T, dsn string) { checkMigrated(t, rawConn(t, dsn)) },
		RecordNewerSchema: func(t *testing.T, dsn string) {
			t.Helper()
			if _, err := rawConn(t, dsn).Exec(context.Background(), `INSERT INTO schema_migrations (version, name) SELECT MAX(version) + 1, 'future' FROM schema_migrations`); err != nil {
				t.Fatal(err)
			}
		},
		CreateFirstSchema: func(t *testing.T, dsn string) {
			t.Helper()
			init, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
			if err != nil {
				t.Fatal(err)
			}
			conn := rawConn(t, dsn)
			for _, q := range []string{
				`CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
				string(init),
				`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init.sql')`,
				`INSERT INTO clients (id, issued_at, updated_at, revision, metadata, secret_hash, token_hash)
VALUES ('old', now(), now(), 3, convert_to('{"client_name":"old"}', 'UTF8'), '\x01', '\x02')`,
			} {
				if _, err := conn.Exec(context.Background(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		},
	})
}

// TestSharing runs the sharing suite on two stores of one schema, as two
// server instances would have, one of them on a pool of two connections.
// It runs again with the server's default isolation level set to
// REPEATABLE READ and SERIALIZABLE: the store must not depend on it. After
// every subtest no token hash is in two rows, whichever column holds it:
// the per-column UNIQUE indexes do not ensure that, only the store's locked
// check does.
func TestSharing(t *testing.T) {
	for _, isolation := range []string{"", "repeatable read", "serializable"} {
		t.Run(strings.ReplaceAll(cmp.Or(isolation, "default"), " ", "_"), func(t *testing.T) {
			storetest.RunSharing(t, func(t *testing.T) (a, b store.Store) {
				dsn := pgtest.DSN(t)
				if isolation != "" {
					dsn = addParams(dsn, "default_transaction_isolation", isolation)
				}
				conn := rawConn(t, dsn)
				t.Cleanup(func() {
					n := queryInt(t, conn, `SELECT count(*) FROM clients x JOIN clients y
ON x.id <> y.id AND (x.token_hash IN (y.token_hash, y.prev_token_hash) OR x.prev_token_hash IN (y.token_hash, y.prev_token_hash))`)
					if n != 0 {
						t.Errorf("%d pairs of clients share a token hash", n)
					}
				})
				return open(t, dsn, postgres.Options{}), open(t, dsn, postgres.Options{MaxConns: 2})
			})
		})
	}
}

// open opens the store at dsn and closes it when the test ends.
func open(t *testing.T, dsn string, opts postgres.Options) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.OpenWithOptions(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("OpenWithOptions: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawConn connects to dsn with the driver alone, for looking behind the
// store.
func rawConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// queryInt runs a query that returns one integer.
func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// migrationVersions are the versions of the package's migrations, in
// order; numMigrations is how many there are.
var (
	migrationVersions = func() []int64 {
		ms, err := migrate.Parse(os.DirFS("."), "migrations")
		if err != nil {
			panic(err)
		}
		var vs []int64
		for _, m := range ms {
			vs = append(vs, m.Version)
		}
		return vs
	}()
	numMigrations = len(migrationVersions)
)

func testClient(id string) *store.Client {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &store.Client{
		ID:         id,
		IssuedAt:   now,
		UpdatedAt:  now,
		Revision:   1,
		Metadata:   []byte(`{"redirect_uris":["https://app.example/cb"],"client_name":"Client ` + id + `","client_name#ja-Jpan-JP":"クライアント"}`),
		SecretHash: []byte("secret " + id),
		TokenHash:  []byte("token " + id),
	}
}

// checkMigrated fails the test unless the schema of conn records every
// migration exactly once.
func checkMigrated(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, migrationVersions) {
		t.Fatalf("schema_migrations holds %v, want versions %v once each", versions, migrationVersions)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	const rounds, openers = 5, 6
	for round := range rounds {
		dsn := pgtest.DSN(t)
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [openers]error
		)
		for i := range openers {
			wg.Go(func() {
				<-start
				s, err := postgres.Open(context.Background(), dsn)
				if err != nil {
					errs[i] = err
					return
				}
				// Each opener can write at once.
				errs[i] = s.CreateClient(context.Background(), testClient(fmt.Sprintf("c%d", i)), store.CreateOptions{})
				s.Close()
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: opener %d: %v", round, i, err)
			}
		}
		conn := rawConn(t, dsn)
		checkMigrated(t, conn)
		if n := queryInt(t, conn, `SELECT count(*) FROM clients`); n != openers {
			t.Fatalf("round %d: %d clients, want %d", round, n, openers)
		}
	}
}

// TestOptionsSchema opens stores with Options.Schema naming a schema that does
// not exist yet, concurrently: one creates it, all of them use it.
func TestOptionsSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t) // a schema of the test's own, which Options.Schema overrides
	schema := "Opt \"quoted\" " + strconv.FormatInt(time.Now().UnixNano(), 36)
	conn := rawConn(t, dsn)
	t.Cleanup(func() {
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})

	const openers = 6
	var (
		start  = make(chan struct{})
		wg     sync.WaitGroup
		errs   [openers]error
		stores [openers]*postgres.Store
	)
	for i := range openers {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.OpenWithOptions(ctx, dsn, postgres.Options{Schema: schema})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("opener %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if err := stores[0].CreateClient(ctx, testClient("c"), store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[openers-1].GetClient(ctx, "c"); err != nil {
		t.Fatalf("GetClient through another store: %v", err)
	}

	const tables = `SELECT count(*) FROM information_schema.tables
WHERE table_schema = $1 AND table_name IN ('clients', 'initial_tokens', 'schema_migrations')`
	if n := queryInt(t, conn, tables, schema); n != 3 {
		t.Errorf("schema %q holds %d of the store's 3 tables", schema, n)
	}
	if n := queryInt(t, conn, tables, conn.Config().RuntimeParams["search_path"]); n != 0 {
		t.Errorf("the schema of the DSN holds %d of the store's tables, want none", n)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()); n != int64(numMigrations) {
		t.Errorf("%d migrations recorded, want %d", n, numMigrations)
	}
}

// TestLeastPrivilege opens a schema that is up to date as a role that may
// only read and write the tables: Open creates nothing, so it needs no more.
func TestLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	conn := rawConn(t, dsn)
	schema := conn.Config().RuntimeParams["search_path"]
	role := pgx.Identifier{"clientreg_test_role_" + strconv.FormatInt(time.Now().UnixNano(), 36)}.Sanitize()
	for _, sql := range []string{
		`CREATE ROLE ` + role + ` NOLOGIN`,
		`GRANT USAGE ON SCHEMA ` + pgx.Identifier{schema}.Sanitize() + ` TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + pgx.Identifier{schema}.Sanitize() + ` TO ` + role,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		for _, sql := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
		}
	})

	// The session runs as the role (SET ROLE at connection start).
	limited := addParams(dsn, "options", "-c role="+strings.Trim(role, `"`))
	s = open(t, limited, postgres.Options{})
	c := testClient("c")
	if err := s.CreateClient(ctx, c, store.CreateOptions{}); err != nil {
		t.Fatalf("CreateClient as the limited role: %v", err)
	}
	u := c.Clone()
	if err := s.UpdateClient(ctx, u); err != nil {
		t.Errorf("UpdateClient as the limited role: %v", err)
	}
	tok := &store.AccessToken{Hash: []byte("at"), ClientID: "c", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(-time.Second)}
	if err := s.CreateAccessToken(ctx, tok); err != nil {
		t.Errorf("CreateAccessToken as the limited role: %v", err)
	}
	if err := s.UseAssertionID(ctx, "c", "jti", time.Now().Add(-time.Second), time.Now().Add(-time.Hour)); err != nil {
		t.Errorf("UseAssertionID as the limited role: %v", err)
	}
	if n, err := s.DeleteExpired(ctx, time.Now()); err != nil || n != 2 {
		t.Errorf("DeleteExpired as the limited role: %d, %v; want 2 rows", n, err)
	}
	if err := s.CreateAccessToken(ctx, tok); err != nil {
		t.Errorf("CreateAccessToken as the limited role: %v", err)
	}
	if err := s.DeleteClient(ctx, "c"); err != nil {
		t.Errorf("DeleteClient as the limited role, with an access token: %v", err)
	}
	lc := rawConn(t, limited)
	if _, err := lc.Exec(ctx, `CREATE TABLE t (x int)`); err == nil {
		t.Error("the limited role may create tables: the test proves nothing")
	}
}

// allOps calls every method of s once and returns the errors by name. c is
// a stored client.
func allOps(ctx context.Context, s *postgres.Store, c *store.Client) map[string]error {
	errs := make(map[string]error)
	errs["CreateClient"] = s.CreateClient(ctx, testClient("new"), store.CreateOptions{})
	_, errs["GetClient"] = s.GetClient(ctx, c.ID)
	_, errs["GetClientByTokenHash"] = s.GetClientByTokenHash(ctx, c.TokenHash)
	u := c.Clone()
	errs["UpdateClient"] = s.UpdateClient(ctx, u)
	errs["DeleteClient"] = s.DeleteClient(ctx, c.ID)
	errs["CreateInitialToken"] = s.CreateInitialToken(ctx, &store.InitialToken{Hash: []byte("new")})
	_, errs["GetInitialToken"] = s.GetInitialToken(ctx, []byte("iat"))
	_, errs["UseInitialToken"] = s.UseInitialToken(ctx, []byte("iat"), time.Now())
	errs["CreateAccessToken"] = s.CreateAccessToken(ctx, &store.AccessToken{
		Hash: []byte("at"), ClientID: c.ID, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	_, errs["GetAccessToken"] = s.GetAccessToken(ctx, []byte("at"))
	errs["DeleteAccessToken"] = s.DeleteAccessToken(ctx, []byte("at"))
	errs["UseAssertionID"] = s.UseAssertionID(ctx, c.ID, "jti", time.Now().Add(time.Hour), time.Now())
	_, errs["DeleteExpired"] = s.DeleteExpired(ctx, time.Now())
	return errs
}

// TestCanceledMidQuery cancels a query while the server runs it: the call
// returns the context's error promptly, and the store stays usable.
func TestCanceledMidQuery(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn, postgres.Options{MaxConns: 1})
	c := testClient("c")
	if err := s.CreateClient(context.Background(), c, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Hold the client's row lock from another connection, so that an update
	// of the client waits for it.
	conn := rawConn(t, dsn)
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM clients WHERE id = 'c' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = s.UpdateClient(ctx, c.Clone())
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateClient canceled while waiting: got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("UpdateClient returned %v after its deadline", d)
	}
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := c.Clone()
	if err := s.UpdateClient(context.Background(), u); err != nil || u.Revision != 2 {
		t.Errorf("UpdateClient afterwards: %v, revision %d; want nil, 2", err, u.Revision)
	}
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestUnreachableServer(t *testing.T) {
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable&connect_timeout=1", freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	s, err := postgres.Open(ctx, dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open of an unreachable server succeeded")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open of an unreachable server: got %v, want ErrUnavailable", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Open of an unreachable server took %v", d)
	}
	t.Logf("Open: %v", err)
}

// TestConnectTimeout opens a store on a server that accepts connections and
// never answers: Open gives up after connect_timeout with ErrUnavailable,
// which does not claim to be the caller's context deadline.
func TestConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, silent
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	dsn := fmt.Sprintf("postgres://postgres@%s/test?sslmode=disable&connect_timeout=1", ln.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	s, err := postgres.Open(ctx, dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open of a silent server succeeded")
	}
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open of a silent server: got %v, want ErrUnavailable and not context.DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("Open of a silent server took %v", d)
	}
	t.Logf("Open: %v", err)
}

// proxy forwards TCP connections to a PostgreSQL server, and can be stopped,
// breaking every connection, and started again on the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, addr: "127.0.0.1:0", conns: make(map[net.Conn]bool)}
	p.start()
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *proxy) forward(c net.Conn) {
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[d] = true, true
	p.mu.Unlock()
	go func() { io.Copy(d, c); d.Close(); c.Close() }()
	io.Copy(c, d)
	c.Close()
	d.Close()
}

// stop closes the listener and every connection.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// addParams returns dsn, a URL or a keyword/value string, with the given
// key/value pairs added; they override the same keys in dsn.
func addParams(dsn string, kv ...string) string {
	isURL := strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
	for i := 0; i+1 < len(kv); i += 2 {
		key, value := kv[i], kv[i+1]
		switch {
		case !isURL:
			dsn += " " + key + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value) + "'"
		case strings.Contains(dsn, "?"):
			// pgx, like libpq, reads '+' as itself, not as a space.
			dsn += "&" + key + "=" + strings.ReplaceAll(url.QueryEscape(value), "+", "%20")
		default:
			dsn += "?" + key + "=" + strings.ReplaceAll(url.QueryEscape(value), "+", "%20")
		}
	}
	return dsn
}

// TestOutage breaks every connection of a store and refuses new ones, as a
// server that goes away does: every call fails with ErrUnavailable, and the
// store recovers when the server is back.
func TestOutage(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		t.Skip("the test server is on a Unix socket")
	}
	p := newProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	host, port, _ := net.SplitHostPort(p.addr)
	s := open(t, addParams(dsn, "host", host, "port", port, "connect_timeout", "2"), postgres.Options{})
	c := testClient("c")
	if err := s.CreateClient(ctx, c, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInitialToken(ctx, &store.InitialToken{Hash: []byte("iat"), CreatedAt: c.IssuedAt}); err != nil {
		t.Fatal(err)
	}

	p.stop()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for range 2 { // first on the pool's broken connections, then on new ones
		for name, err := range allOps(tctx, s, c) {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s during the outage: got %v, want ErrUnavailable", name, err)
			}
		}
		if err := s.Ping(tctx); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Ping during the outage: got %v, want ErrUnavailable", err)
		}
	}

	p.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping after the outage: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := s.GetClient(ctx, "c")
	if err != nil || got.Revision != 1 {
		t.Errorf("GetClient after the outage: %+v, %v", got, err)
	}
	if _, err := s.UseInitialToken(ctx, []byte("iat"), time.Now()); err != nil {
		t.Errorf("UseInitialToken after the outage: %v", err)
	}
}

// TestTerminatedConnection has an administrator terminate the store's
// connection (SQLSTATE 57P01): the next call fails with ErrUnavailable, and
// the one after succeeds on a new connection.
func TestTerminatedConnection(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	app := "clientreg-terminate-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	s := open(t, addParams(dsn, "application_name", app), postgres.Options{MaxConns: 1})
	c := testClient("c")
	if err := s.CreateClient(ctx, c, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, dsn)
	if n := queryInt(t, conn, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app); n != 1 {
		t.Fatalf("terminated %d connections, want 1", n)
	}
	for queryInt(t, conn, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	_, err := s.GetClient(ctx, "c")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetClient on a terminated connection: got %v, want ErrUnavailable", err)
	}
	t.Logf("GetClient on a terminated connection: %v", err)
	if _, err := s.GetClient(ctx, "c"); err != nil {
		t.Errorf("GetClient on a new connection: %v", err)
	}
}

func TestOpenArguments(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	for _, tc := range []struct {
		name string
		dsn  string
		opts postgres.Options
	}{
		{"malformed DSN", "postgres://a b@:port", postgres.Options{}},
		{"unknown sslmode", "postgres://postgres@127.0.0.1/test?sslmode=sometimes", postgres.Options{}},
		{"long schema", dsn, postgres.Options{Schema: strings.Repeat("s", 64)}},
		{"NUL in schema", dsn, postgres.Options{Schema: "a\x00b"}},
		{"invalid UTF-8 in schema", dsn, postgres.Options{Schema: "a\xffb"}},
		{"negative MaxConns", dsn, postgres.Options{MaxConns: -1}},
	} {
		s, err := postgres.OpenWithOptions(ctx, tc.dsn, tc.opts)
		if err == nil {
			s.Close()
			t.Errorf("%s: OpenWithOptions succeeded", tc.name)
			continue
		}
		if errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: %v is ErrUnavailable", tc.name, err)
		}
	}
	// The password does not show in errors.
	_, err := postgres.Open(ctx, "postgres://user:hunter2@127.0.0.1:1/test?sslmode=nonsense")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open with a password in a bad DSN: %v", err)
	}
}

// TestStoredForm looks at the rows: metadata is kept as the exact bytes the
// store was given (bytea, not jsonb, which would reorder members and
// normalize numbers), and times as timestamptz, NULL when zero.
func TestStoredForm(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn, postgres.Options{})
	c := testClient("c")
	c.Metadata = []byte(`{"client_name":"c","zz":{"b":1.50e+2,"a":"<&>"},"aa":[3,1,2]}`)
	c.SecretExpiresAt = time.Date(2030, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", 3600))
	if err := s.CreateClient(ctx, c, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := c.Metadata
	var (
		meta          []byte
		secretExp     time.Time
		prevExpIsNull bool
		metaType      string
	)
	if err := rawConn(t, dsn).QueryRow(ctx, `SELECT metadata, pg_typeof(metadata)::text, secret_expires_at, prev_token_expires_at IS NULL
FROM clients WHERE id = 'c'`).Scan(&meta, &metaType, &secretExp, &prevExpIsNull); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(meta, want) || metaType != "bytea" {
		t.Errorf("stored metadata is %s %s, want bytea %s", metaType, meta, want)
	}
	if wantExp := c.SecretExpiresAt.Truncate(time.Microsecond); !secretExp.Equal(wantExp) {
		t.Errorf("stored secret_expires_at %v, want %v", secretExp, wantExp)
	}
	if !prevExpIsNull {
		t.Error("a zero PreviousTokenExpiresAt is not stored as NULL")
	}
	got, err := s.GetClient(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2030, 1, 2, 2, 4, 5, 6000, time.UTC); !got.SecretExpiresAt.Equal(want) || got.SecretExpiresAt.Location() != time.UTC {
		t.Errorf("SecretExpiresAt = %#v, want %#v", got.SecretExpiresAt, want)
	}
}

// TestUnstorableID looks up client IDs that PostgreSQL cannot store in a text
// column: they are not found, rather than failing with an encoding error.
func TestUnstorableID(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.DSN(t), postgres.Options{})
	for _, id := range []string{"nul\x00id", "bad\xffutf8"} {
		if _, err := s.GetClient(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetClient(%q): got %v, want ErrNotFound", id, err)
		}
		if err := s.DeleteClient(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteClient(%q): got %v, want ErrNotFound", id, err)
		}
		if err := s.UpdateClient(ctx, testClient(id)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateClient(%q): got %v, want ErrNotFound", id, err)
		}
		err := s.CreateClient(ctx, testClient(id), store.CreateOptions{})
		if err == nil || errors.Is(err, store.ErrAlreadyExists) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("CreateClient(%q): got %v, want an error of its own", id, err)
		}
		tok := &store.AccessToken{Hash: []byte("at"), ClientID: id, ExpiresAt: time.Now()}
		if err := s.CreateAccessToken(ctx, tok); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CreateAccessToken for client %q: got %v, want ErrNotFound", id, err)
		}
		if err := s.UseAssertionID(ctx, id, "jti", time.Now(), time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UseAssertionID(%q): got %v, want ErrNotFound", id, err)
		}
	}
	// A JWT ID is any string: it is stored as bytes.
	for _, jti := range []string{"nul\x00jti", "bad\xffutf8"} {
		for i, want := range []error{nil, store.ErrAlreadyExists} {
			if err := s.UseAssertionID(ctx, "ok", jti, time.Now().Add(time.Hour), time.Now()); !errors.Is(err, want) {
				t.Errorf("UseAssertionID(%q), use %d: got %v, want %v", jti, i+1, err, want)
			}
		}
	}
	if err := s.CreateClient(ctx, testClient("ok"), store.CreateOptions{}); err != nil {
		t.Errorf("CreateClient afterwards: %v", err)
	}
}
