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

// TestTokenPhases: run.sh's token runs are reports of their own, with the
// labels of the registration runs; the chart merges them by label, shows
// the measured phases only, and checks the token targets.
func TestTokenPhases(t *testing.T) {
	dir := t.TempDir()
	tokens := func(label string, rps, p99 [4]float64, flowRPS float64) bench.Report {
		r := bench.Report{Tool: "clientreg-bench", Label: label}
		for i, name := range bench.TokenPhases {
			ph := bench.Phase{Name: name, RPS: rps[i], P99ms: p99[i], Requests: 100, OK: 100}
			if name == bench.PhaseCode {
				ph.Flow = &bench.Flow{Flows: 100, OK: 100, RPS: flowRPS, P99ms: 3 * p99[i]}
			}
			r.Phases = append(r.Phases, ph)
		}
		return r
	}
	writeReport(t, dir, "clientreg-r1.json", report(self, [4]float64{2000, 6000, 3000, 4000}, [4]float64{9, 5, 8, 8}))
	writeReport(t, dir, "op-open-r1.json", report(op, [4]float64{1000, 2000, 1000, 2000}, [4]float64{30, 20, 20, 10}))
	writeReport(t, dir, "clientreg-tokens-r1.json", tokens(self, [4]float64{6000, 9000, 3000, 2500}, [4]float64{4, 3, 5, 12}, 900))
	writeReport(t, dir, "op-open-tokens-r1.json", tokens(op, [4]float64{1500, 2000, 1600, 1000}, [4]float64{30, 20, 25, 30}, 110))

	svgFile, sumFile := filepath.Join(dir, "c.svg"), filepath.Join(dir, "s.json")
	var md strings.Builder
	if err := run(dir, svgFile, sumFile, true, &md); err != nil {
		t.Fatal(err)
	}
	var out Output
	b, _ := os.ReadFile(sumFile)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Servers) != 2 || len(out.Servers[0].Phases) != 8 || len(out.Servers[1].Phases) != 8 {
		t.Fatalf("servers %+v, want clientreg and op with 8 phases each", out.Servers)
	}
	met := map[string]bool{}
	for _, r := range out.Targets {
		met[r.Target] = r.Met
	}
	for target, want := range map[string]bool{
		"token req/s ≥ 3× node-oidc-provider":      true,  // 4×
		"introspect req/s ≥ 3× node-oidc-provider": true,  // 4.5×
		"code req/s ≥ 2× node-oidc-provider":       false, // 1.88×
		"refresh req/s ≥ 2× node-oidc-provider":    true,  // 2.5×
		"refresh p99 ≤ 10 ms":                      false,
		"code p99 ≤ 10 ms":                         true,
	} {
		if got, ok := met[target]; !ok || got != want {
			t.Errorf("target %q: met %v (present %v), want %v", target, got, ok, want)
		}
	}
	for _, w := range []string{"| delete | 4,000 | 8.0 | 2,000 | 10.0 |\n| token | 6,000 | 4.0 | 1,500 | 30.0 |",
		"| code | 3,000 | 5.0 | 1,600 | 25.0 |\n| code, whole flow | 900 | 15.0 | 110 | 75.0 |\n| refresh |"} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("markdown lacks %q:\n%s", w, md.String())
		}
	}
	svg, _ := os.ReadFile(svgFile)
	for _, want := range []string{"OAuth endpoints side by side", ">introspect<", ">refresh<", `width="1500"`} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("chart lacks %q", want)
		}
	}

	// Registration runs only: the four phases, the title as before.
	only := t.TempDir()
	writeReport(t, only, "clientreg-r1.json", report(self, [4]float64{2000, 6000, 3000, 4000}, [4]float64{9, 5, 8, 8}))
	md.Reset()
	if err := run(only, filepath.Join(only, "c.svg"), filepath.Join(only, "s.json"), true, &md); err != nil {
		t.Fatal(err)
	}
	svg, _ = os.ReadFile(filepath.Join(only, "c.svg"))
	if strings.Contains(md.String(), "token") || !strings.Contains(string(svg), "RFC 7591/7592 side by side") || strings.Contains(string(svg), ">token<") {
		t.Errorf("registration-only chart shows token phases:\n%s", md.String())
	}
}
