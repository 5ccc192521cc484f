package bench

import (
	"math"
	"testing"
	"time"
)

func msList(vals ...int) []time.Duration {
	d := make([]time.Duration, len(vals))
	for i, v := range vals {
		d[i] = time.Duration(v) * time.Millisecond
	}
	return d
}

func seq(n int) []time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	return d
}

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value is every percentile", msList(7), 1, 7 * time.Millisecond},
		{"one value p99", msList(7), 99, 7 * time.Millisecond},
		{"1..100 p50", seq(100), 50, 50 * time.Millisecond},
		{"1..100 p90", seq(100), 90, 90 * time.Millisecond},
		{"1..100 p99", seq(100), 99, 99 * time.Millisecond},
		{"1..100 p100", seq(100), 100, 100 * time.Millisecond},
		// Nearest rank: ceil(p/100*n). 10 values: p50 is the 5th, p90 the
		// 9th, p99 rounds up to the 10th (the maximum).
		{"1..10 p50", seq(10), 50, 5 * time.Millisecond},
		{"1..10 p90", seq(10), 90, 9 * time.Millisecond},
		{"1..10 p99", seq(10), 99, 10 * time.Millisecond},
		// 2000 values (one phase of the default run): p99 is the 1980th.
		{"1..2000 p99", seq(2000), 99, 1980 * time.Millisecond},
		{"1..2000 p50", seq(2000), 50, 1000 * time.Millisecond},
		{"1..3 p50 rounds up", seq(3), 50, 2 * time.Millisecond},
		{"tiny p never below the minimum", seq(10), 0.001, 1 * time.Millisecond},
	} {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p=%g) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	var outs []outcome
	// 100 successes of 1..100 ms, given out of order.
	for i := 100; i >= 1; i-- {
		outs = append(outs, outcome{lat: time.Duration(i) * time.Millisecond, status: 201,
			counters: []string{"rat_rotated"}})
	}
	// Failures are counted, but their (huge) latencies are not in the
	// percentiles.
	outs = append(outs,
		outcome{lat: time.Hour, status: 500, errKind: "http_500", sample: `{"error":"server_error"}`},
		outcome{lat: time.Hour, status: 500, errKind: "http_500", sample: "second sample is not kept"},
		outcome{lat: time.Hour, status: 0, errKind: "timeout", sample: "context deadline exceeded"},
		outcome{lat: time.Hour, status: 201, errKind: "bad_body", sample: "not json"},
	)
	ph := summarize("register", outs, 2*time.Second)

	if ph.Name != "register" || ph.Requests != 104 || ph.OK != 100 || ph.Errors != 4 {
		t.Errorf("counts: name=%q requests=%d ok=%d errors=%d, want register 104 100 4", ph.Name, ph.Requests, ph.OK, ph.Errors)
	}
	if ph.RPS != 50 {
		t.Errorf("RPS = %v, want 50 (100 successes in 2 s)", ph.RPS)
	}
	for name, got := range map[string][2]float64{
		"p50":  {ph.P50ms, 50},
		"p90":  {ph.P90ms, 90},
		"p99":  {ph.P99ms, 99},
		"max":  {ph.MaxMs, 100},
		"mean": {ph.MeanMs, 50.5},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %v ms, want %v", name, got[0], got[1])
		}
	}
	wantStatus := map[string]int{"201": 101, "500": 2, "none": 1}
	if len(ph.Status) != len(wantStatus) {
		t.Errorf("Status = %v, want %v", ph.Status, wantStatus)
	}
	for k, v := range wantStatus {
		if ph.Status[k] != v {
			t.Errorf("Status[%s] = %d, want %d", k, ph.Status[k], v)
		}
	}
	wantKinds := map[string]int{"http_500": 2, "timeout": 1, "bad_body": 1}
	for k, v := range wantKinds {
		if ph.ErrorKinds[k] != v {
			t.Errorf("ErrorKinds[%s] = %d, want %d", k, ph.ErrorKinds[k], v)
		}
	}
	if got := ph.ErrorSamples["http_500"]; got != `{"error":"server_error"}` {
		t.Errorf("ErrorSamples[http_500] = %q, want the first sample", got)
	}
	if ph.Counters["rat_rotated"] != 100 {
		t.Errorf("Counters = %v, want rat_rotated=100", ph.Counters)
	}
}

func TestSummarizeSubMillisecond(t *testing.T) {
	ph := summarize("read", []outcome{{lat: 1234567 * time.Nanosecond, status: 200}}, time.Millisecond)
	if ph.P99ms != 1.235 || ph.MaxMs != 1.235 {
		t.Errorf("p99=%v max=%v, want 1.235 ms (rounded to the microsecond)", ph.P99ms, ph.MaxMs)
	}
	if ph.RPS != 1000 {
		t.Errorf("RPS = %v, want 1000", ph.RPS)
	}
}

func TestSummarizeNoSuccess(t *testing.T) {
	ph := summarize("read", []outcome{{status: 401, errKind: "http_401"}}, time.Second)
	if ph.OK != 0 || ph.Errors != 1 || ph.RPS != 0 || ph.P99ms != 0 {
		t.Errorf("got %+v, want no successes, one error, zero rates and latencies", ph)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{1000, 1, 2}, 2},
	} {
		in := append([]float64(nil), tc.in...)
		if got := Median(tc.in); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("Median modified its input: %v", tc.in)
			}
		}
	}
}

func TestSummarizeReports(t *testing.T) {
	rep := func(rps ...float64) *Report {
		r := &Report{}
		for i, v := range rps {
			r.Phases = append(r.Phases, Phase{Name: AllPhases[i], RPS: v, P99ms: v / 100, Requests: 10, Errors: 1})
		}
		return r
	}
	noted := rep(1)
	noted.Phases = append(noted.Phases, Phase{Name: PhaseRead, Note: "no clients"})
	s := Summarize("x", []*Report{rep(100, 10), rep(300, 30), rep(200, 20), noted})
	if s.Label != "x" || s.Runs != 4 || len(s.Phases) != 2 {
		t.Fatalf("summary %+v, want label x, 4 runs, 2 phases", s)
	}
	reg, _ := s.Phase(PhaseRegister)
	if reg.Runs != 4 || reg.RPS != 150 || reg.P99ms != 1.5 || reg.Requests != 40 || reg.Errors != 4 {
		t.Errorf("register summary %+v, want 4 runs, median rps 150, p99 1.5, 40 requests, 4 errors", reg)
	}
	read, _ := s.Phase(PhaseRead)
	if read.Runs != 3 || read.RPS != 20 {
		t.Errorf("read summary %+v, want 3 runs (the noted phase left out), median rps 20", read)
	}
	if _, ok := s.Phase(PhaseDelete); ok {
		t.Error("Phase(delete) found a phase that never ran")
	}
}

func TestSummarizeFlows(t *testing.T) {
	rep := func(rps, flowRPS, flowP99 float64) *Report {
		return &Report{Phases: []Phase{{Name: PhaseCode, RPS: rps, OK: 1, Requests: 1,
			Flow: &Flow{Flows: 1, OK: 1, RPS: flowRPS, P99ms: flowP99}}}}
	}
	s := Summarize("x", []*Report{rep(1000, 300, 9), rep(3000, 100, 30), rep(2000, 200, 12)})
	code, ok := s.Phase(PhaseCode)
	if !ok || code.RPS != 2000 || code.FlowRPS != 200 || code.FlowP99ms != 12 {
		t.Errorf("code summary %+v, want the medians 2000 req/s, 200 flows/s, flow p99 12 ms", code)
	}
}

func TestFlowSummary(t *testing.T) {
	lats := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}
	f := flowSummary(4, lats, 9, 2*time.Second)
	if f.Flows != 4 || f.OK != 3 || f.RPS != 1.5 || f.P50ms != 2 || f.MaxMs != 3 || f.MeanMs != 2 || f.RequestsPerFlow != 2.25 || f.ElapsedS != 2 {
		t.Errorf("flowSummary = %+v", f)
	}
}
