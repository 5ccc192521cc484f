package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/sqlite"
)

// DefaultDB is the database used when --db is not set: a SQLite file in the
// working directory.
const DefaultDB = "clientreg.db"

// dbValue is the --db flag: a SQLite file path, optionally written
// sqlite:PATH. Any other URL scheme is refused when the flag is set, so a
// mistake is reported as a usage error before anything is opened.
type dbValue struct{ spec, path *string }

func newDB(fs *flagSet) (spec, path *string) {
	s, p := DefaultDB, DefaultDB
	fs.Var(dbValue{&s, &p}, "db", "the database: a SQLite file `path` or sqlite:PATH")
	return &s, &p
}

func (d dbValue) String() string {
	if d.spec == nil {
		return ""
	}
	return *d.spec
}

func (d dbValue) Set(s string) error {
	p, err := dbPath(s)
	if err != nil {
		return err
	}
	*d.spec, *d.path = s, p
	return nil
}

// schemeRE matches a URL scheme of two or more characters, so that a
// Windows drive letter (C:\...) is taken for a path.
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):`)

// dbPath returns the SQLite file path that spec names.
func dbPath(spec string) (string, error) {
	if rest, ok := strings.CutPrefix(spec, "sqlite:"); ok {
		if rest == "" || strings.HasPrefix(rest, "//") {
			return "", errors.New("write sqlite:PATH, e.g. sqlite:clientreg.db or sqlite:/var/lib/clientreg/clientreg.db")
		}
		return rest, nil
	}
	if m := schemeRE.FindStringSubmatch(spec); m != nil {
		return "", fmt.Errorf("%s databases are not supported yet; use a SQLite file path or sqlite:PATH", m[1])
	}
	if spec == "" {
		return "", errors.New("must not be empty")
	}
	return spec, nil
}

// storeCloser is an opened Store and how to close it.
type storeCloser interface {
	clientreg.Store
	Close() error
}

// openStore opens the SQLite database at path, creating it if needed.
func openStore(ctx context.Context, path string) (storeCloser, error) {
	return sqlite.Open(ctx, path) // its errors name the path
}
