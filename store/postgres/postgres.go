// Package postgres implements store.Store on PostgreSQL, with the driver
// github.com/jackc/pgx/v5 and its connection pool, pgxpool.
//
// # Schema and migrations
//
// The schema is created and upgraded at Open by the migrations embedded in the
// package (migrations/NNNN_name.sql), recorded in the table schema_migrations.
// Open applies the missing ones in a single transaction that first takes a
// transaction-scoped advisory lock, pg_advisory_xact_lock, with a constant
// key. Several instances starting at once against the same database therefore
// migrate it exactly once: the others wait for the lock, then find the schema
// up to date. Open refuses a database whose schema is newer than the package
// knows. Opening a schema that is up to date creates nothing, so the server
// may run as a role that may only read and write the store's tables (USAGE on
// the schema; SELECT, INSERT, UPDATE, DELETE on clients, initial_tokens,
// access_tokens, assertion_ids, client_token_siblings,
// pending_authorizations, authorization_codes, grants, refresh_tokens,
// consents, signing_keys and schema_migrations), once a role that may
// create them has opened the database.
//
// The tables live in the first schema of the connections' search_path: the
// one the DSN sets (for example with the search_path parameter of a
// postgres:// URL), or Options.Schema, which Open creates if needed. Tests give
// each test a schema of its own, so that tests running in parallel, and runs
// of different packages at once, share one database without ever seeing each
// other's rows; see the pgtest package.
//
// Tests take the server from the environment variable CLIENTREG_TEST_POSTGRES
// (by default a local server with trust authentication), create a schema per
// test and drop it when the test ends. They skip when the server cannot be
// reached, unless the environment variable CI is set: then they fail.
//
// # Concurrency
//
// A Store is safe for concurrent use, and any number of Stores, in any number
// of processes, may use the same schema at once. Updates are compare-and-swap
// on the revision column, in one UPDATE statement. An initial access token is
// used by one UPDATE statement that checks and counts, so it never exceeds
// its MaxUses. A registration access token hash must be unique across both
// token columns of all clients, which the two UNIQUE indexes (one per column)
// cannot enforce; every write transaction that stores token hashes therefore
// first takes a transaction-scoped advisory lock per hash it stores, in a
// fixed order, and then checks the other clients' hashes. Two transactions that
// would store the same hash run one after the other, and the second sees the
// first's commit; see CreateClient. CreateClient with CreateOptions.MaxClients
// counts the policy's clients under a transaction-scoped advisory lock on the
// policy's name, so that the creations in one policy run one after the other
// and each counts the clients of those before it; with
// CreateOptions.InitialTokenHash it uses the token by UseInitialToken's
// UPDATE in the same transaction, so that a refused or failed creation
// spends no use.
//
// An access token is inserted by a statement that locks its client's row
// (FOR KEY SHARE), and DeleteClient deletes the client's row before its
// tokens, so no token outlives its client, whatever the interleaving; see
// CreateAccessToken. The same statement selects only a client that is not
// disabled, and SetClientDisabled locks the client's row FOR UPDATE (which,
// unlike the UPDATE of a column that is no key, conflicts with FOR KEY
// SHARE) before it sets disabled_at and deletes the client's tokens, so no
// token outlives a disabling either. SetClientDisabled, RevokeClientTokens
// and DeleteClient lock a client's row before its codes, grants and tokens;
// RedeemCode and UpdateGrant, which lock a code or a grant and then insert
// an access token, lock the client's row first too, so that none of them
// can deadlock with another. The JWT ID of a client assertion is recorded by one
// INSERT ... ON CONFLICT DO UPDATE that replaces only an expired record, so of
// concurrent uses of one JWT ID exactly one succeeds. A signing key is
// created by one INSERT ... ON CONFLICT (generation) DO UPDATE that replaces
// only an expired key, so of concurrent creations of one generation exactly
// one succeeds. These single statements run in the server's default
// isolation level: under REPEATABLE READ or
// SERIALIZABLE, the loser of such a race may instead fail with a
// serialization failure, reported as store.ErrUnavailable.
//
// # Durability
//
// A write is reported as done only once PostgreSQL has committed it. With the
// server's defaults (fsync and synchronous_commit on) a committed transaction
// survives a crash of the server, of its operating system and a power loss.
// A server configured with synchronous_commit=off may lose the last commits
// in such a crash, and asynchronous replication may lose them in a failover.
// When the connection breaks while a commit is under way, its outcome is
// unknown: the store reports store.ErrUnavailable and the write may or
// may not have happened.
//
// # Errors
//
// Lookups that find nothing return store.ErrNotFound, a taken client ID
// or token hash store.ErrAlreadyExists, a lost update
// store.ErrConflict. A server that cannot be reached, refuses connections,
// shuts down or is out of resources, a broken connection and a closed Store
// give store.ErrUnavailable. When the caller's context is done, methods
// return its error. Errors wrap the driver's error, for errors.As, except
// that a timeout of the driver's own (connect_timeout) is not exposed as
// context.DeadlineExceeded, which callers would take for their context's.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/clientreg/clientreg/internal/migrate"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var _ store.Store = (*Store)(nil)

// migrateLockKey is the key of the advisory lock that serializes migrations:
// the ASCII bytes of "clientrg" as a big-endian int64.
const migrateLockKey int64 = 0x636c69656e747267

// maxIdentifier is PostgreSQL's limit on the length of an identifier in
// bytes (NAMEDATALEN-1); longer names are silently truncated.
const maxIdentifier = 63

// Store is a store.Store kept in a PostgreSQL database. It is safe for
// concurrent use. Create one with Open or OpenWithOptions and release it with
// Close.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
}

// Options tunes OpenWithOptions. The zero value gives the defaults that Open
// uses.
type Options struct {
	// Schema, when set, is the schema that holds the store's tables: Open
	// creates it if it does not exist and makes it the connections' only
	// search_path, overriding any search_path of the DSN. It is an
	// identifier, taken as is (no case folding) and quoted as needed; at most
	// 63 bytes. Empty means the DSN's search_path, by default the schema
	// named after the user, or else public. Tests use it, or the pgtest
	// package, to give each test a schema of its own.
	Schema string
	// MaxConns bounds the connection pool. Zero means the DSN's
	// pool_max_conns or, without it, pgxpool's default: the greater of 4 and
	// the number of CPUs.
	MaxConns int32
}

// Open connects to the PostgreSQL database that dsn names and brings its
// schema up to date. It uses the default Options.
//
// dsn is a postgres:// URL or a keyword/value connection string, as
// pgxpool.ParseConfig reads it, pool settings such as pool_max_conns
// included. Set connect_timeout: without it, a connection attempt to a host
// that does not answer waits as long as the context allows. Open fails with
// store.ErrUnavailable when the server cannot be reached.
//
// Statements are prepared and cached per connection (pgx's default). Behind a
// connection pooler in transaction mode that does not track prepared
// statements, add default_query_exec_mode=exec to the DSN.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenWithOptions(ctx, dsn, Options{})
}

// OpenWithOptions is like Open, with the settings of opts.
func OpenWithOptions(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The ParseConfigError masks a password in its message.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if opts.Schema != "" {
		if err := checkIdentifier(opts.Schema); err != nil {
			return nil, fmt.Errorf("postgres: open %s: Schema: %w", where, err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	// Every transaction runs at READ COMMITTED whatever the server's
	// default, so that the losers of a race get the sentinel the contract
	// names (ErrAlreadyExists, ErrNotFound) rather than a serialization
	// failure.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	switch {
	case opts.MaxConns < 0:
		return nil, fmt.Errorf("postgres: open %s: MaxConns %d is negative", where, opts.MaxConns)
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx, "open "+where, opts.Schema); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// checkIdentifier reports why name cannot name a schema, or nil.
func checkIdentifier(name string) error {
	switch {
	case len(name) > maxIdentifier:
		return fmt.Errorf("%q is longer than %d bytes", name, maxIdentifier)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return fmt.Errorf("%q is not valid UTF-8 without NUL", name)
	}
	return nil
}

// Close closes the connection pool, waiting for the connections in use to be
// returned to it. Later calls fail with store.ErrUnavailable. It always
// returns nil; the error result makes Store an io.Closer, as the other
// backends are.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.pool.Close()
	return nil
}

// Ping checks that the database can be reached, for readiness checks. Any
// failure, including ctx ending before the server answered, wraps
// store.ErrUnavailable (and the cause, a context error included).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: ping: %w: store is closed", store.ErrUnavailable)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in order.
func migrations() ([]migrate.Migration, error) {
	return migrate.Parse(migrationFiles, "migrations")
}

// migrate creates schema, when it is set and missing, and applies the
// migrations that the database lacks, all in one transaction that first takes
// the advisory lock migrateLockKey: concurrent calls, from any process, run
// one after the other, and each finds the work of those before it committed
// (the transaction is READ COMMITTED, so every statement after the lock sees
// the latest commits). Errors are mapped by mapErr for the operation op.
func (s *Store) migrate(ctx context.Context, op, schema string) error {
	op += ": migrate"
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return err
		}
		// Nothing is created that exists already, so that a role without
		// the CREATE privilege can open a schema that is up to date.
		if schema != "" {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
					return err
				}
			}
		}
		var tracked bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&tracked); err != nil {
			return err
		}
		if !tracked {
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
	version    bigint      NOT NULL PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			return err
		}
		vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		pending, err := migrate.Pending(ms, vs)
		if err != nil {
			return err
		}
		for _, m := range pending {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx,
				`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		return nil
	})
}

// rollbackTimeout bounds the rollback of a failed transaction, which runs
// even when the caller's context is done, so that the connection goes back to
// the pool clean rather than being discarded.
const rollbackTimeout = 5 * time.Second

// inTx runs fn in a READ COMMITTED transaction and commits it if fn returns
// nil. Any error, of fn or of the commit, rolls the transaction back and is
// returned as mapErr maps it for operation op.
//
// The isolation level is set explicitly, whatever the server's
// default_transaction_isolation: the token hash check must see the commits of
// the transactions whose advisory locks it waited for, which needs a fresh
// snapshot per statement.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if err := fn(tx); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = tx.Rollback(rctx) // on failure pgx closes the connection
		return s.mapErr(ctx, op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return s.mapErr(ctx, op, err)
	}
	return nil
}
