package migrate

import (
	"testing"
	"testing/fstest"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		ok    bool
	}{
		{"in order", []string{"0002_b.sql", "0001_a.sql", "README"}, true},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, false},
		{"duplicate", []string{"0001_a.sql", "1_b.sql"}, false},
		{"no version", []string{"init.sql"}, false},
		{"zero", []string{"0000_a.sql"}, false},
	} {
		fsys := fstest.MapFS{}
		for _, f := range tc.files {
			fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		ms, err := Parse(fsys, "m")
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.ok && (len(ms) != 2 || ms[0].Name != "0001_a.sql" || ms[1].Version != 2 || ms[0].SQL != "SELECT 1;") {
			t.Errorf("%s: %+v", tc.name, ms)
		}
	}
}
