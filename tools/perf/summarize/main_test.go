package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clientreg/clientreg/internal/bench"
)

func writeReport(t *testing.T, dir, file, label string, phases ...bench.Phase) {
	t.Helper()
	b, err := json.Marshal(bench.Report{Tool: "clientreg-bench", Label: label, Phases: phases})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for i, rps := range []float64{1000, 3000, 2000} {
		writeReport(t, dir, "small-r"+string(rune('1'+i))+".json", "small",
			bench.Phase{Name: "read", OK: 10, Requests: 10, RPS: rps, P50ms: 1, P99ms: 4})
		writeReport(t, dir, "large-r"+string(rune('1'+i))+".json", "large",
			bench.Phase{Name: "read", OK: 10, Requests: 10, RPS: rps / 2, P50ms: 1.5, P99ms: 6})
	}
	writeReport(t, dir, "pop-large-10.json", "pop-large-10", bench.Phase{Name: "register", OK: 100000, RPS: 2500.4})
	writeReport(t, dir, "pop-large-2.json", "pop-large-2", bench.Phase{Name: "register", OK: 100000, RPS: 3100})
	os.WriteFile(filepath.Join(dir, "other.json"), []byte(`{"tool":"dcrload"}`), 0o644)

	var out bytes.Buffer
	sum := filepath.Join(dir, "summary.json")
	if err := run(config{dir: dir, ratios: "large/small", out: sum}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| large | read | 3 | 1,000 | 1.5 |",
		"| small | read | 3 | 2,000 | 1.0 |",
		"| large / small | read | 0.50× | 1.50× | 1.50× | 4.0 | 6.0 |\n",
		"| pop-large-2 | 2 | 100,000 | 3,100 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if i, j := strings.Index(out.String(), "pop-large-2 "), strings.Index(out.String(), "pop-large-10 "); i > j {
		t.Errorf("chunks out of numeric order:\n%s", out.String())
	}
	var o Output
	b, _ := os.ReadFile(sum)
	if err := json.Unmarshal(b, &o); err != nil || len(o.Summaries) != 2 || len(o.Ratios) != 1 || len(o.Population) != 2 {
		t.Errorf("summary.json: %v %+v", err, o)
	}
	// The summary is not read back as a report.
	if err := run(config{dir: dir, out: sum}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := run(config{dir: dir, ratios: "large/missing", out: sum}, &bytes.Buffer{}); err == nil {
		t.Error("a ratio with an unknown label: no error")
	}
	if err := run(config{dir: t.TempDir(), out: filepath.Join(t.TempDir(), "s.json")}, &bytes.Buffer{}); err == nil {
		t.Error("an empty directory: no error")
	}
	// Without memory.tsv and limits: no memory columns, no verdict.
	for _, unwanted := range []string{"RSS", "Targets"} {
		if strings.Contains(out.String(), unwanted) {
			t.Errorf("output has %q without memory.tsv or limits:\n%s", unwanted, out.String())
		}
	}
}

// TestScale is scale.sh's directory: three label pairs, the code phase's
// whole flows, memory.tsv, and the targets checked.
func TestScale(t *testing.T) {
	dir := t.TempDir()
	for r := range 3 {
		f := "-r" + string(rune('1'+r)) + ".json"
		writeReport(t, dir, "1k-sample"+f, "1k-sample",
			bench.Phase{Name: "read", RPS: 5000, P50ms: 2, P99ms: 10}, bench.Phase{Name: "update", RPS: 2000, P50ms: 5, P99ms: 20})
		writeReport(t, dir, "1m-sample"+f, "1m-sample",
			bench.Phase{Name: "read", RPS: 5000, P50ms: 2, P99ms: 11}, bench.Phase{Name: "update", RPS: 1500, P50ms: 6, P99ms: 40})
		writeReport(t, dir, "1k-tokens"+f, "1k-tokens",
			bench.Phase{Name: "token", RPS: 8000, P50ms: 1, P99ms: 4},
			bench.Phase{Name: "code", RPS: 3000, P50ms: 2, P99ms: 8, Flow: &bench.Flow{RPS: 1000, P99ms: 20}})
		writeReport(t, dir, "1m-tokens"+f, "1m-tokens",
			bench.Phase{Name: "token", RPS: 8000, P50ms: 1, P99ms: 5},
			bench.Phase{Name: "code", RPS: 2900, P50ms: 2, P99ms: 10, Flow: &bench.Flow{RPS: 900, P99ms: 24}})
	}
	writeReport(t, dir, "pop-1m-100000.json", "pop-1m-100000", bench.Phase{Name: "register", OK: 2000, RPS: 3000, P99ms: 12})
	writeReport(t, dir, "pop-1m-20000.json", "pop-1m-20000", bench.Phase{Name: "register", OK: 2000, RPS: 3500, P99ms: 9})
	os.WriteFile(filepath.Join(dir, "memory.tsv"), []byte("server\tstep\tseeded\tvmhwm_mb\tvmrss_mb\tdb_mb\n"+
		"1k\tprobe\t1000\t20.0\t19.0\t2\n"+
		"1m\tprobe\t1000000\t45.5\t40.0\t1400\n"+
		"1k\tstarted\t1000\t18.0\t18.0\t2\n"+
		"1m\tstarted\t1000000\t30.0\t30.0\t1400\n"+
		"1k\tafter the runs\t1000\t33.3\t30.1\t9\n"+
		"1m\tafter the runs\t1000000\t120.5\t60.2\t1450\n"), 0o644)

	var out bytes.Buffer
	sum := filepath.Join(dir, "summary.json")
	err := run(config{dir: dir, ratios: "1m-sample/1k-sample, 1m-tokens/1k-tokens", out: sum, p99Limit: 1.5, hwmLimitMB: 100}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| A / B | phase | req/s | p50 | p99 | B p99 ms | A p99 ms | B peak RSS MB | A peak RSS MB | p99 ≤ 1.5× |",
		"| 1m-sample / 1k-sample | read | 1.00× | 1.00× | 1.10× | 10.0 | 11.0 | 33.3 | 120.5 | yes |",
		"| 1m-sample / 1k-sample | update | 0.75× | 1.20× | 2.00× | 20.0 | 40.0 | 33.3 | 120.5 | **no** |",
		"| 1m-tokens / 1k-tokens | token | 1.00× | 1.00× | 1.25× | 4.0 | 5.0 | 33.3 | 120.5 | yes |",
		"| 1m-tokens / 1k-tokens | code | 0.97× | 1.00× | 1.25× | 8.0 | 10.0 |",
		"| 1m-tokens / 1k-tokens | code, whole flow | 0.90× | – | 1.20× | 20.0 | 24.0 |",
		"| 1k | 33.3 | 30.1 | 9 | 3 | yes |",
		"| 1m | 120.5 | 60.2 | 1,450 | 3 | **no** |",
		"| pop-1m-20000 | 20,000 | 2,000 | 3,500 |",
		"**not every target met**",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if i, j := strings.Index(out.String(), "pop-1m-20000 "), strings.Index(out.String(), "pop-1m-100000 "); i > j {
		t.Errorf("probes out of numeric order:\n%s", out.String())
	}
	var o Output
	b, _ := os.ReadFile(sum)
	if err := json.Unmarshal(b, &o); err != nil || len(o.Ratios) != 5 || len(o.Memory) != 2 || o.Met == nil || *o.Met {
		t.Fatalf("summary.json: %v %+v", err, o)
	}
	if r := o.Ratios[0]; r.BP99ms != 10 || r.AP99ms != 11 || r.BVmHWMMB != 33.3 || r.AVmHWMMB != 120.5 || r.P99Met == nil || !*r.P99Met {
		t.Errorf("first ratio: %+v", r)
	}

	// Within the limits: met.
	out.Reset()
	if err := run(config{dir: dir, ratios: "1m-tokens/1k-tokens", out: sum, p99Limit: 1.3, hwmLimitMB: 200}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "**every target met**") {
		t.Errorf("targets within the limits not met:\n%s", out.String())
	}

	// A memory.tsv that is not one.
	for _, bad := range []string{"server\tvmhwm_mb\n", "server\tstep\tseeded\tvmhwm_mb\tvmrss_mb\tdb_mb\n1k\tx\t1\tmany\t1\t1\n",
		"server\tstep\tseeded\tvmhwm_mb\tvmrss_mb\tdb_mb\n1k\tx\n"} {
		os.WriteFile(filepath.Join(dir, "memory.tsv"), []byte(bad), 0o644)
		if err := run(config{dir: dir, out: sum}, &bytes.Buffer{}); err == nil {
			t.Errorf("memory.tsv %q: no error", bad)
		}
	}
}
