package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres"
	"github.com/clientreg/clientreg/store/sqlite"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultDB is the database used when --db is not set: a SQLite file in the
// working directory.
const DefaultDB = "clientreg.db"

// pgConnectTimeout is the connect_timeout given to a PostgreSQL DSN that sets
// none. The connection pool dials in the background, beyond the reach of the
// request's context, so without it a dial to a host that does not answer
// would hold a pool slot for minutes.
const pgConnectTimeout = 5 * time.Second

// database is what --db names: a SQLite file or a PostgreSQL database.
type database struct {
	// path is the SQLite file; empty for PostgreSQL.
	path string
	// dsn is the postgres:// or postgresql:// URL; empty for SQLite. It may
	// hold a password: never print it.
	dsn string
}

// postgres reports whether d is a PostgreSQL database.
func (d database) postgres() bool { return d.dsn != "" }

// dbValue is the --db flag. Every value but a postgres:// or postgresql://
// URL, a SQLite file path or sqlite:PATH is refused as soon as the flag is
// set, so that a mistake is a usage error before anything is opened.
type dbValue struct{ db *database }

func newDB(fs *flagSet) *database {
	db := &database{path: DefaultDB}
	fs.Var(dbValue{db}, "db",
		"the database: a SQLite file `path` or sqlite:PATH, or a PostgreSQL URL\n"+
			"postgres://USER@HOST:PORT/DB?sslmode=... (or postgresql://), which several\n"+
			"instances may share; it then needs --secret-key-file. Prefer PGPASSWORD\n"+
			"or ~/.pgpass to a password in the URL")
	return db
}

// String returns the flag's value for the help text; a PostgreSQL URL is
// reduced to its scheme so that no password is ever printed.
func (d dbValue) String() string {
	switch {
	case d.db == nil:
		return ""
	case d.db.postgres():
		return "postgres://..."
	}
	return d.db.path
}

func (d dbValue) Set(s string) error {
	db, err := parseDB(s)
	if err != nil {
		return err
	}
	*d.db = db
	return nil
}

// schemeRE matches a URL scheme of two or more characters, so that a
// Windows drive letter (C:\...) is taken for a path.
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):`)

// parseDB returns the database that spec names. Its errors never quote spec,
// which may hold a password.
func parseDB(spec string) (database, error) {
	if strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://") {
		return database{dsn: spec}, nil
	}
	if rest, ok := strings.CutPrefix(spec, "sqlite:"); ok {
		if rest == "" || strings.HasPrefix(rest, "//") {
			return database{}, errors.New("write sqlite:PATH, e.g. sqlite:clientreg.db or sqlite:/var/lib/clientreg/clientreg.db")
		}
		return database{path: rest}, nil
	}
	if m := schemeRE.FindStringSubmatch(spec); m != nil {
		switch strings.ToLower(m[1]) {
		case "postgres", "postgresql":
			return database{}, errors.New("write a PostgreSQL database as a URL, postgres://USER@HOST:PORT/DATABASE")
		}
		return database{}, fmt.Errorf("%s databases are not supported; use a SQLite file path, sqlite:PATH or a postgres:// URL", m[1])
	}
	if spec == "" {
		return database{}, errors.New("must not be empty")
	}
	return database{path: spec}, nil
}

// describe names d for logs: the SQLite path, or PostgreSQL's host, port and
// database without user or password.
func (d database) describe() string {
	if !d.postgres() {
		return "sqlite:" + d.path
	}
	cfg, err := pgconn.ParseConfig(d.dsn)
	if err != nil {
		return "postgres"
	}
	return fmt.Sprintf("postgres://%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}

// check reports a PostgreSQL URL that cannot be parsed, before anything is
// opened. The parser's error masks the password.
func (d database) check() error {
	if !d.postgres() {
		return nil
	}
	if _, err := pgconn.ParseConfig(d.dsn); err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	return nil
}

// withConnectTimeout returns dsn with connect_timeout set to
// pgConnectTimeout, unless the URL or the environment (PGCONNECT_TIMEOUT)
// sets one already.
func withConnectTimeout(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil || cfg.ConnectTimeout != 0 {
		return dsn // Open reports the error
	}
	base, frag, hasFrag := strings.Cut(dsn, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
		sep = ""
	}
	out := base + sep + "connect_timeout=" + strconv.Itoa(int(pgConnectTimeout/time.Second))
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// openStore opens the database d: a SQLite file, created if needed, with
// the synchronous level sync (--sqlite-synchronous; empty is the store's
// default), or a PostgreSQL database, whose schema is created or migrated.
func openStore(ctx context.Context, d database, sync string) (store.Store, error) {
	if d.postgres() {
		return postgres.Open(ctx, withConnectTimeout(d.dsn)) // its errors mask the password
	}
	return sqlite.OpenWithOptions(ctx, d.path, sqlite.Options{Synchronous: strings.ToUpper(sync)}) // its errors name the path
}
