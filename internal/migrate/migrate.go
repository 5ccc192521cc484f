// Package migrate reads the embedded SQL migrations that each store backend
// keeps beside its own code (one dialect per backend); applying them is the
// backend's job, under its own locking.
package migrate

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Migration is one schema change, from a file named NNNN_name.sql.
type Migration struct {
	Version int64
	Name    string
	SQL     string
}

// Parse returns the migrations in dir of fsys in order. Every .sql file's
// name must start with its version number and an underscore, and the
// versions must be positive and distinct. Gaps are allowed, so that work on
// separate branches can reserve version numbers: Pending applies the ones
// a database lacks, whatever their order.
func Parse(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name does not start with a version number and '_'", name)
		}
		b, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return int(a.Version - b.Version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s: same version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// Pending returns the migrations of ms, in order, whose versions applied
// (the versions a database records) lacks. It returns an error when applied
// holds a version that ms does not: the database was migrated by a newer
// program, or by another branch's.
func Pending(ms []Migration, applied []int64) ([]Migration, error) {
	known := make(map[int64]bool, len(ms))
	for _, m := range ms {
		known[m.Version] = true
	}
	done := make(map[int64]bool, len(applied))
	for _, v := range applied {
		if !known[v] {
			var latest int64
			if len(ms) > 0 {
				latest = ms[len(ms)-1].Version
			}
			return nil, fmt.Errorf("database schema version %d is unknown to this program, whose latest is %d (is the database newer?)", v, latest)
		}
		done[v] = true
	}
	var pending []Migration
	for _, m := range ms {
		if !done[m.Version] {
			pending = append(pending, m)
		}
	}
	return pending, nil
}
