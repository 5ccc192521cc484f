package bench

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadReports(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"a-r1.json":    `{"tool":"clientreg-bench","label":"a"}`,
		"b-r1.json":    `{"tool":"clientreg-bench"}`,
		"dcrload.json": `{"tool":"dcrload","label":"x"}`,
		"broken.json":  `{`,
		"notes.txt":    `{"tool":"clientreg-bench","label":"txt"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reps, err := ReadReports(dir)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, r := range reps {
		labels = append(labels, r.Label)
	}
	if len(labels) != 2 || labels[0] != "a" || labels[1] != "b-r1" {
		t.Errorf("ReadReports read the labels %q, want [a b-r1]", labels)
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 4203.4: "4,203", 1234567: "1,234,567", -1234: "-1,234", 230.5: "230"} {
		if got := Thousands(v); got != want {
			t.Errorf("Thousands(%v) = %q, want %q", v, got, want)
		}
	}
}
