package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report is the result of a run, as written by clientreg-bench -json.
type Report struct {
	// Tool is "clientreg-bench".
	Tool string `json:"tool"`
	// Label is Config.Label.
	Label string `json:"label,omitempty"`
	// Started is when the run began (UTC).
	Started time.Time `json:"started"`
	// Host describes the machine the load generator ran on.
	Host Host `json:"host"`
	// Base is the server's base URL.
	Base string `json:"base,omitempty"`
	// Bases lists the base URLs the requests were spread over, when there
	// were several (Config.Bases).
	Bases []string `json:"bases,omitempty"`
	// Discovery tells where the registration endpoint came from.
	Discovery Discovery `json:"discovery"`
	// Settings are the run's parameters.
	Settings Settings `json:"settings"`
	// Phases are the measured phases, in run order.
	Phases []Phase `json:"phases"`
	// Aborted says why the run stopped early, if it did.
	Aborted string `json:"aborted,omitempty"`
	// WallS is the run's wall time in seconds, discovery and warm-up
	// included.
	WallS float64 `json:"wall_s"`
	// LoadgenCPUS is the CPU time in seconds the load generator's process
	// used during the run (0 where the platform does not tell): on a
	// machine shared with the server, what the load itself cost.
	LoadgenCPUS float64 `json:"loadgen_cpu_s"`
	// Clients are the clients registered and not deleted when the run
	// ended (Config.Clients included), with their latest registration
	// access tokens; see WriteClients. Not part of the JSON report.
	Clients []Client `json:"-"`
}

// Host describes a machine.
type Host struct {
	NumCPU    int    `json:"num_cpu"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// Settings are the parameters of a run that its numbers depend on.
type Settings struct {
	Concurrency        int             `json:"concurrency"`
	Requests           int             `json:"requests_per_phase"`
	DurationS          float64         `json:"duration_limit_s"`
	TimeoutS           float64         `json:"timeout_s"`
	Phases             []string        `json:"phases"`
	Warmup             int             `json:"warmup"`
	InitialAccessToken bool            `json:"initial_access_token"`
	SendSecret         bool            `json:"send_secret"`
	Body               json.RawMessage `json:"body"`
	// The settings of the token phases, set when a run has any;
	// TokenAuth is the method the confidential clients used.
	TokenClients int      `json:"token_clients,omitempty"`
	TokenAuth    string   `json:"token_auth,omitempty"`
	Introspector string   `json:"introspector,omitempty"`
	Scope        string   `json:"scope,omitempty"`
	Resources    []string `json:"resources,omitempty"`
	LoginHeader  string   `json:"login_header,omitempty"`
	User         string   `json:"user,omitempty"`
	RedirectURI  string   `json:"redirect_uri,omitempty"`
}

// newReport starts the report of a run of cfg (which has its defaults).
func newReport(cfg Config) *Report {
	body := json.RawMessage(cfg.Body)
	if !json.Valid(body) {
		body = nil
	}
	rep := &Report{
		Tool:    "clientreg-bench",
		Label:   cfg.Label,
		Started: time.Now().UTC(),
		Host:    ThisHost(),
		Base:    cfg.Base,
		Settings: Settings{
			Concurrency:        cfg.Concurrency,
			Requests:           cfg.Requests,
			DurationS:          cfg.Duration.Seconds(),
			TimeoutS:           cfg.Timeout.Seconds(),
			Phases:             slices.Clone(cfg.Phases),
			Warmup:             cfg.Warmup,
			InitialAccessToken: cfg.InitialAccessToken != "",
			SendSecret:         cfg.SendSecret,
			Body:               body,
		},
	}
	for _, p := range cfg.Phases {
		if !slices.Contains(TokenPhases, p) {
			continue
		}
		st := &rep.Settings
		st.TokenClients, st.TokenAuth, st.Introspector, st.Scope = cfg.TokenClients, cfg.TokenAuth, cfg.Introspector.ID, cfg.Scope
		st.Resources, st.LoginHeader, st.User, st.RedirectURI = slices.Clone(cfg.Resources), cfg.LoginHeader, cfg.User, cfg.RedirectURI
		break
	}
	return rep
}

// ThisHost describes the machine the program runs on. CPUModel comes from
// /proc/cpuinfo and is empty where that file does not exist.
func ThisHost() Host {
	return Host{
		NumCPU:    runtime.NumCPU(),
		CPUModel:  cpuModel(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// OK reports whether every phase ran and every request of it succeeded.
func (r *Report) OK() bool {
	if r.Aborted != "" {
		return false
	}
	for _, ph := range r.Phases {
		if ph.Errors > 0 || ph.Note != "" {
			return false
		}
	}
	return true
}

// WriteText writes the report as a table, one line per phase, followed by
// the errors and counters of each phase.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	label := ""
	if r.Label != "" {
		label = " [" + r.Label + "]"
	}
	fmt.Fprintf(bw, "clientreg-bench%s: %s (from %s)\n", label, r.Discovery.RegistrationEndpoint, r.Discovery.Source)
	if r.Settings.TokenClients > 0 {
		d := r.Discovery
		fmt.Fprintf(bw, "token %s, introspection %s, authorization %s\n", orNone(d.TokenEndpoint), orNone(d.IntrospectionEndpoint), orNone(d.AuthorizationEndpoint))
	}
	fmt.Fprintf(bw, "concurrency %d, at most %d requests or %gs per phase, warm-up %d cycles\n",
		r.Settings.Concurrency, r.Settings.Requests, r.Settings.DurationS, r.Settings.Warmup)
	fmt.Fprintf(bw, "%-10s %8s %8s %7s %10s %8s %8s %8s %8s  %s\n",
		"phase", "requests", "ok", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "stopped by")
	for _, ph := range r.Phases {
		if ph.Note != "" {
			fmt.Fprintf(bw, "%-10s %s\n", ph.Name, ph.Note)
			continue
		}
		fmt.Fprintf(bw, "%-10s %8d %8d %7d %10.1f %8.2f %8.2f %8.2f %8.2f  %s\n",
			ph.Name, ph.Requests, ph.OK, ph.Errors, ph.RPS, ph.P50ms, ph.P90ms, ph.P99ms, ph.MaxMs, ph.StoppedBy)
	}
	for _, ph := range r.Phases {
		if f := ph.Flow; f != nil {
			fmt.Fprintf(bw, "%s: the table has the exchanges; whole flows: %d, %d ok, %.1f flows/s, p50 %.2f p90 %.2f p99 %.2f max %.2f ms, %.2f requests per authorization\n",
				ph.Name, f.Flows, f.OK, f.RPS, f.P50ms, f.P90ms, f.P99ms, f.MaxMs, f.RequestsPerFlow)
		}
	}
	for _, ph := range r.Phases {
		if ph.Errors > 0 {
			fmt.Fprintf(bw, "%s errors: %s\n", ph.Name, formatCounts(ph.ErrorKinds))
			for _, k := range sortedKeys(ph.ErrorSamples) {
				fmt.Fprintf(bw, "  first %s: %s\n", k, oneLine(ph.ErrorSamples[k]))
			}
		}
		if len(ph.Counters) > 0 {
			fmt.Fprintf(bw, "%s counters: %s\n", ph.Name, formatCounts(ph.Counters))
		}
	}
	if r.Aborted != "" {
		fmt.Fprintf(bw, "aborted: %s\n", r.Aborted)
	}
	fmt.Fprintf(bw, "wall %.1fs, load generator CPU %.1fs\n", r.WallS, r.LoadgenCPUS)
	return bw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func formatCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Summary is the median of several runs against one server.
type Summary struct {
	// Label is the runs' label.
	Label string `json:"label"`
	// Runs is the number of reports summarized.
	Runs int `json:"runs"`
	// Phases has one entry per phase name, in the first report's order.
	Phases []PhaseSummary `json:"phases"`
}

// PhaseSummary is the median of one phase over several runs. Each figure is
// the median of that figure over the runs (for an even number of runs, the
// mean of the two middle values), taken separately.
type PhaseSummary struct {
	Name  string  `json:"phase"`
	Runs  int     `json:"runs"`
	RPS   float64 `json:"rps"`
	P50ms float64 `json:"p50_ms"`
	P90ms float64 `json:"p90_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// Requests and Errors are summed over the runs.
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
	// FlowRPS and FlowP99ms are the medians of the whole flows' figures
	// (Phase.Flow) of the code phase.
	FlowRPS   float64 `json:"flow_rps,omitempty"`
	FlowP99ms float64 `json:"flow_p99_ms,omitempty"`
}

// Summarize returns the per-phase medians of reps, which should be runs
// with the same settings against the same server. Phases that did not run
// (a Note) are left out.
func Summarize(label string, reps []*Report) Summary {
	s := Summary{Label: label, Runs: len(reps)}
	byName := map[string][]Phase{}
	var order []string
	for _, r := range reps {
		for _, ph := range r.Phases {
			if ph.Note != "" {
				continue
			}
			if _, seen := byName[ph.Name]; !seen {
				order = append(order, ph.Name)
			}
			byName[ph.Name] = append(byName[ph.Name], ph)
		}
	}
	for _, name := range order {
		phs := byName[name]
		ps := PhaseSummary{Name: name, Runs: len(phs)}
		pick := func(f func(Phase) float64) float64 {
			v := make([]float64, len(phs))
			for i, ph := range phs {
				v[i] = f(ph)
			}
			return Median(v)
		}
		ps.RPS = pick(func(p Phase) float64 { return p.RPS })
		ps.P50ms = pick(func(p Phase) float64 { return p.P50ms })
		ps.P90ms = pick(func(p Phase) float64 { return p.P90ms })
		ps.P99ms = pick(func(p Phase) float64 { return p.P99ms })
		ps.MaxMs = pick(func(p Phase) float64 { return p.MaxMs })
		var flowRPS, flowP99 []float64
		for _, ph := range phs {
			ps.Requests += ph.Requests
			ps.Errors += ph.Errors
			if ph.Flow != nil {
				flowRPS, flowP99 = append(flowRPS, ph.Flow.RPS), append(flowP99, ph.Flow.P99ms)
			}
		}
		ps.FlowRPS, ps.FlowP99ms = Median(flowRPS), Median(flowP99)
		s.Phases = append(s.Phases, ps)
	}
	return s
}

// Phase returns the summary of the named phase, or false.
func (s Summary) Phase(name string) (PhaseSummary, bool) {
	for _, p := range s.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return PhaseSummary{}, false
}

// Median returns the median of v (the mean of the two middle values for an
// even count), or 0 for none. It does not modify v.
func Median(v []float64) float64 {
	n := len(v)
	if n == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ReadReports reads the clientreg-bench JSON reports in dir, in file name
// order. Other files, another tool's JSON included, are skipped. A report
// without a label is labelled with its file name, less ".json".
func ReadReports(dir string) ([]*Report, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var reps []*Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil || r.Tool != "clientreg-bench" {
			continue
		}
		if r.Label == "" {
			r.Label = strings.TrimSuffix(filepath.Base(f), ".json")
		}
		reps = append(reps, &r)
	}
	return reps, nil
}

// Thousands formats v rounded to an integer, with comma separators.
func Thousands(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	start := 0
	if s[0] == '-' {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
