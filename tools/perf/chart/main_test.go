package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clientreg/clientreg/internal/bench"
)

func writeReport(t *testing.T, dir, file string, r bench.Report) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func report(label string, rps, p99 [4]float64) bench.Report {
	r := bench.Report{Tool: "clientreg-bench", Label: label}
	for i, name := range bench.RegistrationPhases {
		r.Phases = append(r.Phases, bench.Phase{Name: name, RPS: rps[i], P99ms: p99[i], Requests: 100, OK: 100})
	}
	return r
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for i, f := range []float64{1, 2, 3} {
		writeReport(t, dir, "clientreg-r"+string(rune('1'+i))+".json",
			report(self, [4]float64{2000 * f, 6000, 3000, 4000}, [4]float64{9, 5, 12, 8}))
	}
	writeReport(t, dir, "op-r1.json", report(op, [4]float64{1000, 2000, 1000, 2000}, [4]float64{30, 20, 20, 10}))
	writeReport(t, dir, "hydra-r1.json", report(hydra, [4]float64{300, 1500, 800, 1000}, [4]float64{200, 30, 30, 30}))
	// Another tool's report is skipped.
	if err := os.WriteFile(filepath.Join(dir, "dcrload.json"), []byte(`{"tool":"dcrload","phases":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}

	svgFile, sumFile := filepath.Join(dir, "c.svg"), filepath.Join(dir, "s.json")
	var md strings.Builder
	if err := run(dir, svgFile, sumFile, true, &md); err != nil {
		t.Fatal(err)
	}

	svg, err := os.ReadFile(svgFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("chart is not well-formed XML: %v", err)
			}
			break
		}
	}
	for _, want := range []string{"node-oidc-provider", "Ory Hydra", "target 10 ms", ">4,000<"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("chart lacks %q", want)
		}
	}

	var out Output
	b, _ := os.ReadFile(sumFile)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Servers) != 3 || out.Servers[0].Label != self || out.Servers[1].Label != op || out.Servers[2].Label != hydra {
		t.Fatalf("servers %+v, want clientreg, op, hydra", out.Servers)
	}
	want := map[string]struct {
		measured float64
		met      bool
	}{
		"register req/s ≥ 2× node-oidc-provider": {4, true}, // median 4000 vs 1000
		"register req/s ≥ 10× Ory Hydra":         {13.33, true},
		"read req/s ≥ 3× node-oidc-provider":     {3, true},
		"update req/s ≥ 3× node-oidc-provider":   {3, true},
		"delete req/s ≥ 2× node-oidc-provider":   {2, true},
		"register p99 ≤ 10 ms":                   {9, true},
		"update p99 ≤ 10 ms":                     {12, false},
	}
	found := 0
	for _, r := range out.Targets {
		if w, ok := want[r.Target]; ok {
			found++
			if r.Measured != w.measured || r.Met != w.met {
				t.Errorf("%s: measured %v met %v, want %v %v", r.Target, r.Measured, r.Met, w.measured, w.met)
			}
		}
	}
	if found != len(want) {
		t.Errorf("targets %+v, want all of %v", out.Targets, want)
	}
	for _, w := range []string{"| register | 4,000 | 9.0 | 1,000 | 30.0 | 300 | 200.0 |", "| update p99 ≤ 10 ms | 12.0 ms | **missed** |"} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("markdown lacks %q:\n%s", w, md.String())
		}
	}
}

func TestRunNoReports(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir, filepath.Join(dir, "c.svg"), filepath.Join(dir, "s.json"), false, nil); err == nil {
		t.Error("no error for a directory without reports")
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 7: 10, 10: 10, 11: 20, 2100: 2500, 4700: 5000, 9000: 10000, 0.3: 0.5} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
