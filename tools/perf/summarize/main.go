// Command summarize prints the medians of the clientreg-bench reports in a
// results directory (perf-results/scale, sync or pg, as scale.sh, sync.sh and
// pg.sh write them) as Markdown tables, with the ratios between labels that
// docs/performance.md quotes, and writes them as JSON.
//
// From the repository root:
//
//	go run ./tools/perf/summarize -dir perf-results/scale \
//	  -ratio 1m-sample/1k-sample,1m-fresh/1k-fresh,1m-tokens/1k-tokens -p99-limit 1.5 -hwm-limit-mb 100
//
// Reports are grouped by their label; each figure is the median over a
// label's runs (bench.Summarize). A ratio A/B gives, per phase, A's median
// req/s, p50 and p99 divided by B's, and B's and A's p99 (for the code
// phase also a row of its whole flows). Reports labelled pop-NAME-SEEDED
// (scale.sh's registration probes, with SEEDED clients seeded) are listed
// in a table of their own, one row each.
//
// When the directory has a memory.tsv (scale.sh: a row per server and step,
// with the columns server, vmhwm_mb, vmrss_mb and db_mb), a table gives
// each server's peak resident memory (the highest VmHWM of its rows), and
// the ratio table the peak of the servers of A and B: a label's server is
// the one named as the label, or as the label's part before its first "-"
// (1m-sample: 1m). -p99-limit and -hwm-limit-mb check the targets: every
// ratio's p99 at most the limit, every server's peak under it.
package main

import (
	"bufio"
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
	var c config
	flag.StringVar(&c.dir, "dir", filepath.Join("perf-results", "scale"), "`directory` of clientreg-bench JSON reports")
	flag.StringVar(&c.ratios, "ratio", "", "comma-separated `A/B` label pairs: A's figures divided by B's, per phase")
	flag.StringVar(&c.out, "o", "", "write the summary as JSON to `file` (default DIR/summary.json)")
	flag.Float64Var(&c.p99Limit, "p99-limit", 0, "check that every ratio's p99 is at most this `factor` (0: no check)")
	flag.Float64Var(&c.hwmLimitMB, "hwm-limit-mb", 0, "check that every server's peak resident memory (memory.tsv) is under this many `MB` (0: no check)")
	flag.Parse()
	if c.out == "" {
		c.out = filepath.Join(c.dir, "summary.json")
	}
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "summarize:", err)
		os.Exit(1)
	}
}

// config is the command's flags.
type config struct {
	dir, ratios, out     string
	p99Limit, hwmLimitMB float64
}

// Ratio is A's median figures over B's for one phase.
type Ratio struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Phase string `json:"phase"`
	// RPS, P50 and P99 are A's figure divided by B's (0 when unknown).
	RPS float64 `json:"rps"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	// AP99ms and BP99ms are A's and B's median p99.
	AP99ms float64 `json:"a_p99_ms"`
	BP99ms float64 `json:"b_p99_ms"`
	// AVmHWMMB and BVmHWMMB are the peak resident memory of A's and B's
	// servers (Memory), when memory.tsv names them.
	AVmHWMMB float64 `json:"a_vmhwm_mb,omitempty"`
	BVmHWMMB float64 `json:"b_vmhwm_mb,omitempty"`
	// P99Met is whether P99 is at most -p99-limit, when that is set.
	P99Met *bool `json:"p99_met,omitempty"`
}

// Chunk is one population report (a single register phase).
type Chunk struct {
	Label string `json:"label"`
	// Seeded is the number at the end of the label: the clients (and
	// grants) seeded when the report was made.
	Seeded int     `json:"seeded"`
	OK     int     `json:"ok"`
	RPS    float64 `json:"rps"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
}

// Memory is one server's resident memory, from the rows of memory.tsv.
type Memory struct {
	Server string `json:"server"`
	// Steps is the number of rows of the server.
	Steps int `json:"steps"`
	// VmHWMMB is the highest VmHWM of the rows: the peak resident memory
	// of the server's processes.
	VmHWMMB float64 `json:"vmhwm_mb"`
	// VmRSSMB and DBMB are the resident memory and the database's size at
	// the last row.
	VmRSSMB float64 `json:"vmrss_mb"`
	DBMB    float64 `json:"db_mb"`
	// HWMMet is whether VmHWMMB is under -hwm-limit-mb, when that is set.
	HWMMet *bool `json:"hwm_met,omitempty"`
}

// Output is what -o writes.
type Output struct {
	Summaries  []bench.Summary `json:"summaries"`
	Ratios     []Ratio         `json:"ratios,omitempty"`
	Memory     []Memory        `json:"memory,omitempty"`
	Population []Chunk         `json:"population,omitempty"`
	// P99Limit and HWMLimitMB are the limits checked (0: none); Met is
	// whether every ratio and server checked was within them.
	P99Limit   float64 `json:"p99_limit,omitempty"`
	HWMLimitMB float64 `json:"hwm_limit_mb,omitempty"`
	Met        *bool   `json:"met,omitempty"`
}

func run(c config, w io.Writer) error {
	dir := c.dir
	reps, err := bench.ReadReports(dir)
	if err != nil {
		return err
	}
	mem, err := readMemory(filepath.Join(dir, "memory.tsv"))
	if err != nil {
		return err
	}
	byLabel := map[string][]*bench.Report{}
	var order []string
	o := Output{Memory: mem, P99Limit: c.p99Limit, HWMLimitMB: c.hwmLimitMB}
	for _, r := range reps {
		if strings.HasPrefix(r.Label, "pop-") && len(r.Phases) == 1 {
			ph := r.Phases[0]
			o.Population = append(o.Population, Chunk{Label: r.Label, Seeded: chunkNo(r.Label), OK: ph.OK, RPS: ph.RPS, P50ms: ph.P50ms, P99ms: ph.P99ms})
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
	met := true
	check := func(ok bool) *bool {
		met = met && ok
		return &ok
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

	for pair := range strings.SplitSeq(c.ratios, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		a, b, ok := strings.Cut(pair, "/")
		sa, okA := sums[a]
		sb, okB := sums[b]
		if !ok || !okA || !okB {
			return fmt.Errorf("-ratio %q: want A/B with two labels of %s (%s)", pair, dir, strings.Join(order, ", "))
		}
		hwmA, hwmB := peakOf(mem, a), peakOf(mem, b)
		for _, pa := range sa.Phases {
			pb, ok := sb.Phase(pa.Name)
			if !ok {
				continue
			}
			rows := []Ratio{{Phase: pa.Name, RPS: div(pa.RPS, pb.RPS), P50: div(pa.P50ms, pb.P50ms), P99: div(pa.P99ms, pb.P99ms), AP99ms: pa.P99ms, BP99ms: pb.P99ms}}
			if pa.FlowP99ms > 0 && pb.FlowP99ms > 0 {
				rows = append(rows, Ratio{Phase: pa.Name + ", whole flow", RPS: div(pa.FlowRPS, pb.FlowRPS), P99: div(pa.FlowP99ms, pb.FlowP99ms), AP99ms: pa.FlowP99ms, BP99ms: pb.FlowP99ms})
			}
			for _, r := range rows {
				r.A, r.B, r.AVmHWMMB, r.BVmHWMMB = a, b, hwmA, hwmB
				if c.p99Limit > 0 {
					r.P99Met = check(r.P99 > 0 && r.P99 <= c.p99Limit) // 0: unknown, not met
				}
				o.Ratios = append(o.Ratios, r)
			}
		}
	}
	if len(o.Ratios) > 0 {
		head, rule := "| A / B | phase | req/s | p50 | p99 | B p99 ms | A p99 ms |", "|---|---|---:|---:|---:|---:|---:|"
		if len(mem) > 0 {
			head, rule = head+" B peak RSS MB | A peak RSS MB |", rule+"---:|---:|"
		}
		if c.p99Limit > 0 {
			head, rule = head+fmt.Sprintf(" p99 ≤ %g× |", c.p99Limit), rule+"---|"
		}
		fmt.Fprintln(w, "\n"+head)
		fmt.Fprintln(w, rule)
		for _, r := range o.Ratios {
			fmt.Fprintf(w, "| %s / %s | %s | %s | %s | %s | %.1f | %.1f |", r.A, r.B, r.Phase, times(r.RPS), times(r.P50), times(r.P99), r.BP99ms, r.AP99ms)
			if len(mem) > 0 {
				fmt.Fprintf(w, " %s | %s |", mb(r.BVmHWMMB), mb(r.AVmHWMMB))
			}
			if r.P99Met != nil {
				fmt.Fprintf(w, " %s |", yesNo(*r.P99Met))
			}
			fmt.Fprintln(w)
		}
	}

	if len(mem) > 0 {
		head, rule := "| server | peak RSS (VmHWM) MB | RSS at the end (VmRSS) MB | database MB | steps |", "|---|---:|---:|---:|---:|"
		if c.hwmLimitMB > 0 {
			head, rule = head+fmt.Sprintf(" peak < %g MB |", c.hwmLimitMB), rule+"---|"
		}
		fmt.Fprintln(w, "\n"+head)
		fmt.Fprintln(w, rule)
		for i := range o.Memory {
			m := &o.Memory[i]
			fmt.Fprintf(w, "| %s | %.1f | %.1f | %s | %d |", m.Server, m.VmHWMMB, m.VmRSSMB, bench.Thousands(m.DBMB), m.Steps)
			if c.hwmLimitMB > 0 {
				m.HWMMet = check(m.VmHWMMB < c.hwmLimitMB)
				fmt.Fprintf(w, " %s |", yesNo(*m.HWMMet))
			}
			fmt.Fprintln(w)
		}
	}

	if len(o.Population) > 0 {
		slices.SortFunc(o.Population, func(x, y Chunk) int {
			return cmp.Or(cmp.Compare(prefix(x.Label), prefix(y.Label)), cmp.Compare(x.Seeded, y.Seeded))
		})
		fmt.Fprintln(w, "\n| registration probe | seeded | registered | req/s | p50 ms | p99 ms |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
		for _, c := range o.Population {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %.1f | %.1f |\n", c.Label, bench.Thousands(float64(c.Seeded)), bench.Thousands(float64(c.OK)), bench.Thousands(c.RPS), c.P50ms, c.P99ms)
		}
	}

	if c.p99Limit > 0 || c.hwmLimitMB > 0 {
		o.Met = &met
		verdict := "**every target met**"
		if !met {
			verdict = "**not every target met** (the rows marked no)"
		}
		var limits []string
		if c.p99Limit > 0 {
			limits = append(limits, fmt.Sprintf("every p99 ratio at most %g×", c.p99Limit))
		}
		if c.hwmLimitMB > 0 {
			limits = append(limits, fmt.Sprintf("every peak RSS under %g MB", c.hwmLimitMB))
		}
		fmt.Fprintf(w, "\nTargets (%s): %s\n", strings.Join(limits, "; "), verdict)
	}

	js, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(c.out, append(js, '\n'), 0o644)
}

// readMemory reads scale.sh's memory.tsv (a header row, then a row per
// server and step), one Memory per server in the order they first appear;
// nil if there is no such file.
func readMemory(path string) ([]Memory, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	col := map[string]int{}
	var ms []Memory
	at := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(sc.Text(), "\t")
		if n == 1 {
			for i, name := range fields {
				col[name] = i
			}
			for _, name := range []string{"server", "vmhwm_mb", "vmrss_mb", "db_mb"} {
				if _, ok := col[name]; !ok {
					return nil, fmt.Errorf("%s: no column %s in its first line", path, name)
				}
			}
			continue
		}
		if len(fields) < len(col) {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			return nil, fmt.Errorf("%s:%d: %d columns, want %d", path, n, len(fields), len(col))
		}
		var v [3]float64
		for i, name := range []string{"vmhwm_mb", "vmrss_mb", "db_mb"} {
			if v[i], err = strconv.ParseFloat(fields[col[name]], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %w", path, n, name, err)
			}
		}
		server := fields[col["server"]]
		i, ok := at[server]
		if !ok {
			i = len(ms)
			at[server] = i
			ms = append(ms, Memory{Server: server})
		}
		m := &ms[i]
		m.Steps++
		m.VmHWMMB = max(m.VmHWMMB, v[0])
		m.VmRSSMB, m.DBMB = v[1], v[2]
	}
	return ms, sc.Err()
}

// peakOf returns the peak resident memory of label's server in ms: the
// one named label, or as label's part before its first "-"; 0 if none.
func peakOf(ms []Memory, label string) float64 {
	first, _, _ := strings.Cut(label, "-")
	for _, name := range []string{label, first} {
		for _, m := range ms {
			if m.Server == name {
				return m.VmHWMMB
			}
		}
	}
	return 0
}

func times(r float64) string {
	if r == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

func mb(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", v)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return float64(int64(a/b*100+0.5)) / 100
}

// prefix and chunkNo split a label pop-NAME-SEEDED.
func prefix(label string) string {
	i := strings.LastIndexByte(label, '-')
	return label[:max(i, 0)]
}

func chunkNo(label string) int {
	n, _ := strconv.Atoi(label[strings.LastIndexByte(label, '-')+1:])
	return n
}
