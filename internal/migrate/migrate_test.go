package migrate

import (
	"fmt"
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
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, true},
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
		if tc.ok && (len(ms) != 2 || ms[0].Name != "0001_a.sql" || ms[1].Version < 2 || ms[0].SQL != "SELECT 1;") {
			t.Errorf("%s: %+v", tc.name, ms)
		}
	}
}

func TestPending(t *testing.T) {
	ms := []Migration{{Version: 1}, {Version: 2}, {Version: 4}, {Version: 5}}
	for _, tc := range []struct {
		name    string
		applied []int64
		want    []int64
		ok      bool
	}{
		{"empty database", nil, []int64{1, 2, 4, 5}, true},
		{"up to date", []int64{1, 2, 4, 5}, nil, true},
		{"one behind", []int64{1, 2, 4}, []int64{5}, true},
		{"a gap filled later", []int64{1, 2, 5}, []int64{4}, true},
		{"newer", []int64{1, 2, 4, 5, 6}, nil, false},
		{"another branch's", []int64{1, 2, 3}, nil, false},
	} {
		got, err := Pending(ms, tc.applied)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var vs []int64
		for _, m := range got {
			vs = append(vs, m.Version)
		}
		if fmt.Sprint(vs) != fmt.Sprint(tc.want) {
			t.Errorf("%s: pending %v, want %v", tc.name, vs, tc.want)
		}
	}
}
