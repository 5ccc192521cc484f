// Command summarize prints the medians of the clientreg-bench reports in a
// results directory (perf-results/scale, sync or pg, as scale.sh, sync.sh and
// pg.sh write them) as Markdown tables, with the ratios between labels that
// docs/performance.md quotes, and writes them as JSON.
//
// From the repository root:
//
//	go run ./tools/perf/summarize -dir perf-results/scale -ratio 1m-sample/1k-sample,1m-fresh/1k-fresh
//
// Reports are grouped by their label; each figure is the median over a
// label's runs (bench.Summarize). A ratio A/B gives, per phase, A's median
// req/s, p50 and p99 divided by B's. Reports labelled pop-* (the population
// chunks of scale.sh) are listed in a table of their own, one row each.
package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clientreg/clientreg/internal/bench"
)

func main() {
	dir := flag.String("dir", filepath.Join("perf-results", "scale"), "`directory` of clientreg-bench JSON reports")
	ratios := flag.String("ratio", "", "comma-separated `A/B` label pairs: A's figures divided by B's, per phase")
	out := flag.String("o", "", "write the summary as JSON to `file` (default DIR/summary.json)")
	flag.Parse()
	if *out == "" {
		*out = filepath.Join(*dir, "summary.json")
	}
	if err := run(*dir, *ratios, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "summarize:", err)
		os.Exit(1)
	}
}

// Ratio is A's median figures over B's for one phase.
type Ratio struct {
	A     string  `json:"a"`
	B     string  `json:"b"`
	Phase string  `json:"phase"`
	RPS   float64 `json:"rps"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
}

// Chunk is one population report (a single register phase).
type Chunk struct {
	Label string  `json:"label"`
	OK    int     `json:"ok"`
	RPS   float64 `json:"rps"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
}

// Output is what -o writes.
type Output struct {
	Summaries  []bench.Summary `json:"summaries"`
	Ratios     []Ratio         `json:"ratios,omitempty"`
	Population []Chunk         `json:"population,omitempty"`
}

func run(dir, ratios, outFile string, w io.Writer) error {
	reps, err := bench.ReadReports(dir)
	if err != nil {
		return err
	}
	byLabel := map[string][]*bench.Report{}
	var order []string
	var o Output
	for _, r := range reps {
		if strings.HasPrefix(r.Label, "pop-") && len(r.Phases) == 1 {
			ph := r.Phases[0]
			o.Population = append(o.Population, Chunk{Label: r.Label, OK: ph.OK, RPS: ph.RPS, P50ms: ph.P50ms, P99ms: ph.P99ms})
			continue
		}
		if _, seen := byLabel[r.Label]; !seen {
			order = append(order, r.Label)
		}
		byLabel[r.Label] = append(byLabel[r.Label], r)
	}
	if len(order) == 0 && len(o.Population) == 0 {
		return errors.New("no clientreg-bench reports in " + dir)
	}
	slices.Sort(order)
	sums := map[string]bench.Summary{}
	for _, l := range order {
		s := bench.Summarize(l, byLabel[l])
		sums[l] = s
		o.Summaries = append(o.Summaries, s)
	}

	if len(o.Summaries) > 0 {
		fmt.Fprintln(w, "| label | phase | runs | req/s | p50 ms | p90 ms | p99 ms | errors |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|")
		for _, s := range o.Summaries {
			for _, p := range s.Phases {
				fmt.Fprintf(w, "| %s | %s | %d | %s | %.1f | %.1f | %.1f | %d |\n",
					s.Label, p.Name, p.Runs, bench.Thousands(p.RPS), p.P50ms, p.P90ms, p.P99ms, p.Errors)
			}
		}
	}

	if ratios != "" {
		fmt.Fprintln(w, "\n| A / B | phase | req/s | p50 | p99 |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|")
	}
	for pair := range strings.SplitSeq(ratios, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		a, b, ok := strings.Cut(pair, "/")
		sa, okA := sums[a]
		sb, okB := sums[b]
		if !ok || !okA || !okB {
			return fmt.Errorf("-ratio %q: want A/B with two labels of %s (%s)", pair, dir, strings.Join(order, ", "))
		}
		for _, pa := range sa.Phases {
			pb, ok := sb.Phase(pa.Name)
			if !ok {
				continue
			}
			r := Ratio{A: a, B: b, Phase: pa.Name, RPS: div(pa.RPS, pb.RPS), P50: div(pa.P50ms, pb.P50ms), P99: div(pa.P99ms, pb.P99ms)}
			o.Ratios = append(o.Ratios, r)
			fmt.Fprintf(w, "| %s / %s | %s | %.2f× | %.2f× | %.2f× |\n", a, b, r.Phase, r.RPS, r.P50, r.P99)
		}
	}

	if len(o.Population) > 0 {
		slices.SortFunc(o.Population, func(x, y Chunk) int {
			return cmp.Or(cmp.Compare(prefix(x.Label), prefix(y.Label)), cmp.Compare(chunkNo(x.Label), chunkNo(y.Label)))
		})
		fmt.Fprintln(w, "\n| population chunk | clients | req/s | p50 ms | p99 ms |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		for _, c := range o.Population {
			fmt.Fprintf(w, "| %s | %s | %s | %.1f | %.1f |\n", c.Label, bench.Thousands(float64(c.OK)), bench.Thousands(c.RPS), c.P50ms, c.P99ms)
		}
	}

	js, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(outFile, append(js, '\n'), 0o644)
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return float64(int64(a/b*100+0.5)) / 100
}

// prefix and chunkNo split a label pop-NAME-K.
func prefix(label string) string {
	i := strings.LastIndexByte(label, '-')
	return label[:max(i, 0)]
}

func chunkNo(label string) int {
	n, _ := strconv.Atoi(label[strings.LastIndexByte(label, '-')+1:])
	return n
}
