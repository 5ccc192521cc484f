// Package sqlite implements store.Store on an SQLite database file, with
// the pure-Go driver modernc.org/sqlite (no cgo).
//
// # Concurrency
//
// A Store holds two connection pools on the same file: a single writer
// connection, through which every write runs, and a pool of read-only
// connections, so reads run in parallel with each other and with the
// writer. Several processes may open the same file at once, for example a
// server and the command that creates initial access tokens; a connection
// waits up to Options.BusyTimeout for a lock another process holds, and then
// fails with store.ErrUnavailable.
//
// Writes are group-committed. Every write method hands its operation to the
// Store's writer goroutine and waits. The goroutine takes the operations
// that are waiting (at most 64; it never waits for more to arrive, so a lone
// write runs at once), runs them one after the other in one transaction
// (BEGIN IMMEDIATE, which takes the write lock up front instead of failing
// midway with SQLITE_BUSY), each inside a SAVEPOINT of its own, and commits
// once. An operation that fails (a constraint violation,
// store.ErrConflict, store.ErrLimitReached, store.ErrNotFound)
// is rolled back to its savepoint, so it undoes only its own statements and
// its caller gets its own error; the others are unaffected. Only after the
// commit are the callers answered, so a write is reported done only once it
// is committed; a commit that fails fails every operation of the batch. The
// operations of a batch run in the order they were queued, each seeing the
// ones before it, so the outcome is that of running them one at a time:
// checks such as the uses of an initial access token and a policy's client
// limit stay exact.
//
// A caller whose context ends while its operation waits gets the context's
// error, and the operation never runs. Once the operation has started it is
// not interrupted: it completes with its batch, and its caller waits for
// the batch's commit.
//
// # Durability
//
// The database runs in write-ahead-log mode (journal_mode=WAL) with
// synchronous=NORMAL. A committed write survives a crash of the process,
// SIGKILL included; group commit changes nothing there, since no caller is
// answered before the commit that holds its write. A write does not
// necessarily survive a crash of the operating system or a power loss: the
// last transactions before it may be rolled back, though the database stays
// consistent. Open the store with Options{Synchronous: "FULL"} to make every
// commit durable against power loss, at the cost of a sync to disk per
// commit (per batch of writes, not per write).
//
// Checkpoints, which copy the pages of the write-ahead log back into the
// database file, run in the background on a connection of their own, at
// most every 100 ms while writes come in, so that writes do not wait for
// them. Once the log holds 8,000 pages (32 MiB), the writer runs a short
// checkpoint between two batches and the log starts over from its
// beginning; the -wal file therefore stays at about that size.
//
// The file, and the -wal and -shm files SQLite keeps beside it, must be on a
// local file system: WAL mode does not work over a network file system.
// Open creates a new database file with mode 0600, whatever the umask, and
// SQLite gives the -wal, -shm and -journal files the database file's mode,
// so none is readable by group or others; an existing database keeps its
// mode.
//
// # Schema
//
// The schema is created and upgraded at Open by the migrations embedded in the
// package, recorded in the table schema_migrations. Open refuses a database
// whose schema is newer than the package knows.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientreg/clientreg/internal/migrate"

	"github.com/clientreg/clientreg/store"

	sqlitedrv "modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

var _ store.Store = (*Store)(nil)

// maxReaders bounds the pool of read-only connections.
const maxReaders = 8

// Store is a store.Store kept in an SQLite database file. It is safe for
// concurrent use. Create one with Open or OpenWithOptions and release it with
// Close.
type Store struct {
	writer *sql.DB // one connection; every write goes through it
	reader *sql.DB // query-only connections
	// Checkpoints (see checkpoint.go): checkpointer is the connection of
	// the checkpointer goroutine (runCheckpointer), which the writer wakes
	// on committed after each commit and which closes checkpointerDone
	// when it has returned. Once the log holds restartPages pages, it asks
	// the writer goroutine on restart to run the checkpoint that lets the
	// log start over. It syncs the database file through dbFile, nil if
	// the file could not be opened.
	checkpointer     *sql.DB
	committed        chan struct{}
	restart          chan struct{}
	checkpointerDone chan struct{}
	restartPages     int
	dbFile           *os.File
	closed           atomic.Bool

	// prepared holds the write statements, prepared on the writer.
	prepared map[string]*sql.Stmt
	// reads holds the statements of readRow, by query, prepared on the
	// reader pool when first used (database/sql keeps one prepared copy
	// per connection), so that SQLite does not parse the SQL of a hot read
	// on every request.
	reads sync.Map

	// Group commit: write hands its operations to the writer goroutine
	// (runWriter) on queue; closing quit stops the goroutine, which closes
	// writerDone when it has.
	queue      chan *writeOp
	quit       chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
	// testHookBatch, when set, is called by the writer goroutine when it
	// has taken a batch, before it begins its transaction.
	testHookBatch func()
}

// Options tunes OpenWithOptions. The zero value gives the defaults that Open
// uses.
type Options struct {
	// Synchronous is the SQLite synchronous level: "NORMAL" (the default)
	// survives a crash of the process; "FULL" or "EXTRA" also survive a power
	// loss, at the cost of a sync to disk per commit.
	Synchronous string
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection or process before it fails with store.ErrUnavailable.
	// Zero means 10 seconds.
	BusyTimeout time.Duration
}

// Open opens the SQLite database at path, creating the file if it does not
// exist, and brings its schema up to date. It uses the default Options. path
// is a file path, not a "file:" URI; ":memory:" is not supported, since the
// store opens several connections to the same database.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWithOptions(ctx, path, Options{})
}

// OpenWithOptions is like Open, with the settings of opts.
func OpenWithOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	return open(ctx, path, opts, restartPages)
}

// open is OpenWithOptions with the log restarted at restartAt pages (tests
// use fewer than restartPages).
func open(ctx context.Context, path string, opts Options, restartAt int) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want the path of a database file", path)
	}
	syncMode := strings.ToUpper(opts.Synchronous)
	switch syncMode {
	case "":
		syncMode = "NORMAL"
	case "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite: open %q: Synchronous %q is not NORMAL, FULL or EXTRA", path, opts.Synchronous)
	}
	busy := opts.BusyTimeout
	switch {
	case busy == 0:
		busy = 10 * time.Second
	case busy < time.Millisecond:
		return nil, fmt.Errorf("sqlite: open %q: BusyTimeout %v is less than a millisecond", path, opts.BusyTimeout)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	if err := createOwnerOnly(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	common := []string{
		fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()),
		"foreign_keys(1)",
		"synchronous(" + syncMode + ")",
	}
	writer, err := sql.Open("sqlite", dsn(abs, slices.Concat(common, []string{"journal_mode(WAL)", fmt.Sprintf("wal_autocheckpoint(%d)", writerAutocheckpoint)}), "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxIdleTime(0)
	writer.SetConnMaxLifetime(0)
	reader, err := sql.Open("sqlite", dsn(abs, slices.Concat(common, []string{"query_only(1)"})))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	reader.SetMaxOpenConns(maxReaders)
	reader.SetMaxIdleConns(maxReaders)
	checkpointer, err := sql.Open("sqlite", dsn(abs, common))
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	checkpointer.SetMaxOpenConns(1)
	checkpointer.SetMaxIdleConns(1)
	s := &Store{writer: writer, reader: reader, checkpointer: checkpointer, restartPages: restartAt}

	if err := s.initRetrying(ctx, busy); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	s.prepared = make(map[string]*sql.Stmt, len(writeQueries))
	for _, q := range writeQueries {
		if err != nil {
			break
		}
		s.prepared[q], err = writer.PrepareContext(ctx, q)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %q: prepare statements: %w", path, err)
	}
	s.queue = make(chan *writeOp) // unbuffered: see runWriter
	s.quit = make(chan struct{})
	s.writerDone = make(chan struct{})
	s.committed = make(chan struct{}, 1)
	s.restart = make(chan struct{}, 1)
	// Read-only is enough for fsync. Without the file, the checkpointer
	// leaves the sync to the writer's checkpoints, which then take longer.
	if f, err := os.Open(abs); err == nil {
		s.dbFile = f
	}
	s.checkpointerDone = make(chan struct{})
	go s.runWriter()
	go s.runCheckpointer()
	return s, nil
}

// createOwnerOnly creates the database file path, empty, with mode 0600 if
// it does not exist, so that SQLite opens it rather than creating it with
// 0644 under the usual umask: it holds credential hashes and every client's
// metadata. SQLite gives the files it creates beside it (-wal, -shm,
// -journal) the database file's permissions, whatever the umask, so they are
// 0600 too. An existing file keeps its mode: the operator chose it.
func createOwnerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // a umask cannot widen, but be exact
		f.Close()
		return err
	}
	return f.Close()
}

// initRetrying calls init until it succeeds, fails with an error other than
// SQLITE_BUSY, or has been busy for longer than busy. The retries cover the
// first connections to a new file: switching it to WAL mode upgrades a shared
// lock to an exclusive one, and SQLite answers a connection that would wait
// for that with SQLITE_BUSY at once, without waiting out busy_timeout.
func (s *Store) initRetrying(ctx context.Context, busy time.Duration) error {
	deadline := time.Now().Add(busy)
	for {
		err := s.init(ctx)
		var se *sqlitedrv.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(time.Duration(5+rand.IntN(20)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// dsn returns the modernc.org/sqlite data source name of the file at the
// absolute path abs, with the given pragmas and extra query parameters.
func dsn(abs string, pragmas []string, extra ...string) string {
	// SQLite decodes %XX in a URI path and ends the path at '?' or '#'.
	path := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(filepath.ToSlash(abs))
	if !strings.HasPrefix(path, "/") {
		path = "/" + path // a Windows volume: file:/C:/dir/db
	}
	q := make([]string, 0, len(pragmas)+len(extra))
	for _, p := range pragmas {
		q = append(q, "_pragma="+url.QueryEscape(p))
	}
	q = append(q, extra...)
	return "file:" + path + "?" + strings.Join(q, "&")
}

// init checks the connections' settings and migrates the schema.
func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.mapErr(ctx, "connect writer", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, not wal (is the file on a network file system?)", mode)
	}
	if err := applyMigrations(ctx, s.writer); err != nil {
		return s.mapErr(ctx, "migrate", err)
	}
	if err := s.reader.PingContext(ctx); err != nil {
		return s.mapErr(ctx, "connect reader", err)
	}
	return nil
}

// Close closes the database. Writes under way complete (their batch
// commits) before it returns; calls that are under way otherwise may fail,
// and later calls fail with store.ErrUnavailable.
func (s *Store) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.quit != nil {
			close(s.quit)
			<-s.writerDone
			<-s.checkpointerDone
		}
		for _, st := range s.prepared {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		s.reads.Range(func(_, st any) bool {
			errs = append(errs, st.(*sql.Stmt).Close())
			return true
		})
		errs = append(errs, s.writer.Close(), s.reader.Close(), s.checkpointer.Close())
		if s.dbFile != nil {
			errs = append(errs, s.dbFile.Close())
		}
	})
	return errors.Join(errs...)
}

// readRow runs the single-row query q, a constant, on the reader pool
// through a statement prepared once (database/sql prepares it again on
// each connection that lacks it), so that SQLite does not parse the SQL of
// a read on every request. When the statement cannot be prepared, q runs
// unprepared, and fails there as it would.
func (s *Store) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st, ok := s.reads.Load(q); ok {
		return st.(*sql.Stmt).QueryRowContext(ctx, args...)
	}
	st, err := s.reader.PrepareContext(ctx, q)
	if err != nil {
		return s.reader.QueryRowContext(ctx, q, args...)
	}
	if prev, loaded := s.reads.LoadOrStore(q, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return st.QueryRowContext(ctx, args...)
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in order.
func migrations() ([]migrate.Migration, error) {
	return migrate.Parse(migrationFiles, "migrations")
}

// migrate applies the migrations that db lacks. It applies them in one
// immediate transaction that first reads the current version, so that
// processes opening the same file at once apply each migration exactly once.
func applyMigrations(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	// The common case, an up-to-date schema, needs no write lock.
	if vs, err := appliedVersions(ctx, db); err == nil {
		if pending, err := migrate.Pending(ms, vs); err == nil && len(pending) == 0 {
			return nil
		}
	}

	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see _txlock
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT`); err != nil {
		return err
	}
	vs, err := appliedVersions(ctx, tx)
	if err != nil {
		return err
	}
	pending, err := migrate.Pending(ms, vs)
	if err != nil {
		return err
	}
	for _, m := range pending {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.Version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return tx.Commit()
}

// appliedVersions returns the versions of the applied migrations, none
// when there is no schema_migrations table.
func appliedVersions(ctx context.Context, q queryer) ([]int64, error) {
	var exists bool
	if err := q.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`,
	).Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
