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
	if err := run(dir, "large/small", sum, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| large | read | 3 | 1,000 | 1.5 |",
		"| small | read | 3 | 2,000 | 1.0 |",
		"| large / small | read | 0.50× | 1.50× | 1.50× |",
		"| pop-large-2 | 100,000 | 3,100 |",
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
	if err := run(dir, "", sum, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := run(dir, "large/missing", sum, &bytes.Buffer{}); err == nil {
		t.Error("a ratio with an unknown label: no error")
	}
	if err := run(t.TempDir(), "", filepath.Join(t.TempDir(), "s.json"), &bytes.Buffer{}); err == nil {
		t.Error("an empty directory: no error")
	}
}
