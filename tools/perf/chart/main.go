// Command chart turns the JSON reports of clientreg-bench that run.sh writes
// (perf-results/run by default) into the side-by-side figures of
// docs/performance.md: an SVG chart of throughput and p99 latency per phase
// and server, a JSON summary of the medians, and (with -md) the Markdown
// tables, ratios against the targets included. The chart and the summary go
// beside the reports unless -svg and -summary say otherwise.
//
// From the repository root, after tools/perf/run.sh:
//
//	go run ./tools/perf/chart -md                           # perf-results/run/chart.svg, summary.json
//	go run ./tools/perf/chart -md -svg docs/perf-chart.svg  # the chart docs/performance.md shows
//
// Reports of other tools (such as the dcrload cross-check) are skipped.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/clientreg/clientreg/internal/bench"
)

// The servers of the side-by-side run, by the label run.sh gives them.
const (
	self  = "clientreg"
	op    = "op-open"
	hydra = "hydra-shm"
)

// displayNames are what the chart and the tables call each label.
var displayNames = map[string]string{
	self:  "clientreg",
	op:    "node-oidc-provider",
	hydra: "Ory Hydra",
}

// colors of the bars, by label; other labels get grey.
var colors = map[string]string{
	self:  "#1f77b4",
	op:    "#ff7f0e",
	hydra: "#2ca02c",
}

// p99Target is the latency target, in milliseconds, of every phase.
const p99Target = 10.0

// Target is one throughput target: clientreg's req/s in Phase at least
// Factor times Peer's.
type Target struct {
	Phase  string
	Peer   string
	Factor float64
}

// targets are the throughput targets of the performance issues. The token
// phases of node-oidc-provider come from tools/perf/peers/oidc-provider.mjs,
// labelled op-open too by run.sh; code compares the exchanges.
var targets = []Target{
	{bench.PhaseRegister, op, 2},
	{bench.PhaseRegister, hydra, 10},
	{bench.PhaseRead, op, 3},
	{bench.PhaseUpdate, op, 3},
	{bench.PhaseDelete, op, 2},
	{bench.PhaseToken, op, 3},
	{bench.PhaseIntrospect, op, 3},
	{bench.PhaseCode, op, 2},
	{bench.PhaseRefresh, op, 2},
}

// Result is the outcome of one target.
type Result struct {
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Wanted   float64 `json:"wanted"`
	Met      bool    `json:"met"`
}

// Output is the JSON summary written next to the chart.
type Output struct {
	// Concurrency is the runs' number of concurrent clients (0 if they
	// differ).
	Concurrency int             `json:"concurrency"`
	Servers     []bench.Summary `json:"servers"`
	Targets     []Result        `json:"targets"`
}

func main() {
	dir := flag.String("dir", filepath.Join("perf-results", "run"), "`directory` of the JSON reports")
	svg := flag.String("svg", "", "SVG `file` to write (default DIR/chart.svg)")
	summary := flag.String("summary", "", "JSON summary `file` to write (default DIR/summary.json)")
	md := flag.Bool("md", false, "print the Markdown tables on stdout")
	flag.Parse()
	if *svg == "" {
		*svg = filepath.Join(*dir, "chart.svg")
	}
	if *summary == "" {
		*summary = filepath.Join(*dir, "summary.json")
	}
	if err := run(*dir, *svg, *summary, *md, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(dir, svgFile, summaryFile string, md bool, stdout io.Writer) error {
	sums, conc, err := load(dir)
	if err != nil {
		return err
	}
	out := Output{Concurrency: conc, Servers: sums, Targets: evaluate(sums)}
	js, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(summaryFile, append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(svgFile, []byte(renderSVG(sums, conc)), 0o644); err != nil {
		return err
	}
	if md {
		writeMarkdown(stdout, out)
	}
	return nil
}

// load reads the clientreg-bench reports in dir and summarizes them by
// label, clientreg first, then the peers, then any other label. It also
// returns the runs' concurrency, or 0 if they differ.
func load(dir string) ([]bench.Summary, int, error) {
	reps, err := bench.ReadReports(dir)
	if err != nil {
		return nil, 0, err
	}
	byLabel := map[string][]*bench.Report{}
	conc := -1
	for _, r := range reps {
		switch conc {
		case -1:
			conc = r.Settings.Concurrency
		case r.Settings.Concurrency:
		default:
			conc = 0
		}
		byLabel[r.Label] = append(byLabel[r.Label], r)
	}
	if len(byLabel) == 0 {
		return nil, 0, errors.New("no clientreg-bench reports in " + dir)
	}
	labels := make([]string, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	order := []string{self, op, hydra}
	sort.Slice(labels, func(i, j int) bool {
		ri, rj := slices.Index(order, labels[i]), slices.Index(order, labels[j])
		if ri < 0 {
			ri = len(order)
		}
		if rj < 0 {
			rj = len(order)
		}
		if ri != rj {
			return ri < rj
		}
		return labels[i] < labels[j]
	})
	sums := make([]bench.Summary, len(labels))
	for i, l := range labels {
		sums[i] = bench.Summarize(l, byLabel[l])
	}
	return sums, conc, nil
}

// measuredPhases returns the phases of bench.AllPhases that some summary
// has, in that order.
func measuredPhases(sums []bench.Summary) []string {
	var out []string
	for _, p := range bench.AllPhases {
		for _, s := range sums {
			if _, ok := s.Phase(p); ok {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func find(sums []bench.Summary, label string) (bench.Summary, bool) {
	for _, s := range sums {
		if s.Label == label {
			return s, true
		}
	}
	return bench.Summary{}, false
}

// evaluate checks the targets against the medians. A target whose servers
// were not both measured is left out.
func evaluate(sums []bench.Summary) []Result {
	me, ok := find(sums, self)
	if !ok {
		return nil
	}
	var res []Result
	for _, t := range targets {
		peer, ok := find(sums, t.Peer)
		if !ok {
			continue
		}
		a, ok1 := me.Phase(t.Phase)
		b, ok2 := peer.Phase(t.Phase)
		if !ok1 || !ok2 || b.RPS == 0 {
			continue
		}
		ratio := math.Round(a.RPS/b.RPS*100) / 100
		res = append(res, Result{
			Target:   fmt.Sprintf("%s req/s ≥ %g× %s", t.Phase, t.Factor, name(t.Peer)),
			Measured: ratio, Wanted: t.Factor, Met: ratio >= t.Factor,
		})
	}
	for _, ph := range me.Phases {
		res = append(res, Result{
			Target:   fmt.Sprintf("%s p99 ≤ %g ms", ph.Name, p99Target),
			Measured: ph.P99ms, Wanted: p99Target, Met: ph.P99ms <= p99Target,
		})
	}
	return res
}

func name(label string) string {
	if n, ok := displayNames[label]; ok {
		return n
	}
	return label
}

// writeMarkdown prints the side-by-side table and the targets.
func writeMarkdown(w io.Writer, out Output) {
	fmt.Fprint(w, "| phase |")
	for _, s := range out.Servers {
		fmt.Fprintf(w, " %s req/s | %s p99 ms |", name(s.Label), name(s.Label))
	}
	fmt.Fprint(w, "\n|---|")
	for range out.Servers {
		fmt.Fprint(w, "---:|---:|")
	}
	fmt.Fprintln(w)
	for _, phase := range measuredPhases(out.Servers) {
		fmt.Fprintf(w, "| %s |", phase)
		for _, s := range out.Servers {
			if ph, ok := s.Phase(phase); ok {
				fmt.Fprintf(w, " %s | %.1f |", bench.Thousands(ph.RPS), ph.P99ms)
			} else {
				fmt.Fprint(w, " – | – |")
			}
		}
		fmt.Fprintln(w)
		if phase != bench.PhaseCode {
			continue
		}
		// The whole flows of the code phase, authorization included.
		fmt.Fprint(w, "| code, whole flow |")
		for _, s := range out.Servers {
			if ph, ok := s.Phase(phase); ok && ph.FlowRPS > 0 {
				fmt.Fprintf(w, " %s | %.1f |", bench.Thousands(ph.FlowRPS), ph.FlowP99ms)
			} else {
				fmt.Fprint(w, " – | – |")
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | met |")
	fmt.Fprintln(w, "|---|---:|---|")
	for _, r := range out.Targets {
		m := fmt.Sprintf("%.2f×", r.Measured)
		if strings.Contains(r.Target, "p99") {
			m = fmt.Sprintf("%.1f ms", r.Measured)
		}
		met := "**missed**"
		if r.Met {
			met = "met"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", r.Target, m, met)
	}
}

// renderSVG draws two grouped bar charts, one group per phase and one bar
// per server: throughput on a linear scale, and p99 latency on a
// logarithmic one (the peers' latencies span two orders of magnitude) with
// the target as a dashed line.
func renderSVG(sums []bench.Summary, conc int) string {
	const (
		panelH      = 280
		left, right = 70, 20
		top, gap    = 90, 90
		bottom      = 40
	)
	phases := measuredPhases(sums)
	// 860 pixels for the four registration phases, wider for more.
	width := 860 + 160*max(len(phases)-4, 0)
	height := top + 2*panelH + gap + bottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	what := "RFC 7591/7592"
	if slices.ContainsFunc(phases, func(p string) bool { return slices.Contains(bench.TokenPhases, p) }) {
		what = "OAuth endpoints"
	}
	title := what + " side by side, medians of runs"
	if conc > 0 {
		title = fmt.Sprintf("%s side by side: %d concurrent clients, medians of runs", what, conc)
	}
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", left, title)
	x := left
	for _, s := range sums {
		fmt.Fprintf(&b, `<rect x="%d" y="37" width="14" height="14" fill="%s"/>`, x, color(s.Label))
		fmt.Fprintf(&b, `<text x="%d" y="48">%s</text>`+"\n", x+20, name(s.Label))
		x += 40 + 8*len(name(s.Label))
	}

	plotW := width - left - right
	groupW := float64(plotW) / float64(max(len(phases), 1))
	barW := groupW * 0.8 / float64(max(len(sums), 1))
	// panel draws one chart; scale maps a value to its height in pixels.
	panel := func(y0 int, title, unit string, value func(bench.PhaseSummary) float64, scale func(float64) float64, ticks []float64, target float64) {
		base := float64(y0 + panelH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", left, y0-14, title)
		for _, v := range ticks {
			y := base - scale(v)
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, width-right, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, tick(v))
		}
		fmt.Fprintf(&b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s</text>`+"\n", y0+panelH/2, y0+panelH/2, unit)
		for gi, phase := range phases {
			gx := float64(left) + groupW*float64(gi) + groupW*0.1
			for si, s := range sums {
				ph, ok := s.Phase(phase)
				if !ok {
					continue
				}
				v := value(ph)
				h := max(scale(v), 0)
				bx := gx + barW*float64(si)
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s %s</title></rect>`+"\n",
					bx, base-h, barW-2, h, color(s.Label), name(s.Label), phase, label(v), unit)
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", bx+(barW-2)/2, base-h-3, label(v))
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="13">%s</text>`+"\n", gx+groupW*0.4, base+18, phase)
		}
		if target > 0 {
			y := base - scale(target)
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#d62728" stroke-dasharray="6 4" stroke-width="1.5"/>`+"\n", left, y, width-right, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#d62728">dashed: target %g %s</text>`+"\n", width-right, float64(y0)-14, target, unit)
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%.0f" x2="%d" y2="%.0f" stroke="#333"/>`+"\n", left, base, width-right, base)
	}

	rps := func(p bench.PhaseSummary) float64 { return p.RPS }
	p99 := func(p bench.PhaseSummary) float64 { return p.P99ms }
	maxRPS, maxP99 := 0.0, p99Target
	for _, s := range sums {
		for _, ph := range s.Phases {
			maxRPS, maxP99 = math.Max(maxRPS, rps(ph)), math.Max(maxP99, p99(ph))
		}
	}
	// About five round steps up to the first one at or above the largest.
	step := niceCeil(maxRPS / 5)
	maxRPS = math.Max(step, math.Ceil(maxRPS/step)*step)
	var linTicks []float64
	for v := 0.0; v <= maxRPS+step/2; v += step {
		linTicks = append(linTicks, v)
	}
	panel(top, "Throughput: successful requests per second (higher is better)", "req/s", rps,
		func(v float64) float64 { return float64(panelH) * v / maxRPS }, linTicks, 0)

	// Logarithmic from 1 ms to the next power of ten above the largest p99.
	decades := math.Max(1, math.Ceil(math.Log10(maxP99)))
	var logTicks []float64
	for d := 0.0; d <= decades; d++ {
		logTicks = append(logTicks, math.Pow(10, d))
	}
	panel(top+panelH+gap, "p99 latency in milliseconds, log scale (lower is better)", "ms", p99,
		func(v float64) float64 {
			if v <= 1 {
				return 0
			}
			return float64(panelH) * math.Log10(v) / decades
		}, logTicks, p99Target)
	b.WriteString("</svg>\n")
	return b.String()
}

func color(label string) string {
	if c, ok := colors[label]; ok {
		return c
	}
	return "#7f7f7f"
}

// label formats a bar's value: whole numbers from 100 up, one decimal below.
func label(v float64) string {
	if v >= 100 {
		return bench.Thousands(v)
	}
	return fmt.Sprintf("%.1f", v)
}

// tick formats an axis value: whole numbers without decimals.
func tick(v float64) string {
	if v == math.Trunc(v) {
		return bench.Thousands(v)
	}
	return fmt.Sprintf("%g", v)
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
