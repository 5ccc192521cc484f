package bench

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Phase is the result of one measured phase.
type Phase struct {
	// Name is the phase: one of AllPhases.
	Name string `json:"phase"`
	// Requests is the number of requests sent; OK of them succeeded and
	// Errors did not (Requests = OK + Errors).
	Requests int `json:"requests"`
	OK       int `json:"ok"`
	Errors   int `json:"errors"`
	// ElapsedS is the phase's wall time in seconds, from its first request
	// to the end of its last; for the code phase, the time spent
	// exchanging codes (see Flow).
	ElapsedS float64 `json:"elapsed_s"`
	// RPS is successful requests per second: OK / ElapsedS.
	RPS float64 `json:"rps"`
	// Latencies of the successful requests in milliseconds: nearest-rank
	// percentiles (see Percentile), the maximum and the mean.
	P50ms  float64 `json:"p50_ms"`
	P90ms  float64 `json:"p90_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
	// Status counts every response by HTTP status code ("201", "401");
	// requests that got no response are counted under "none", and so are
	// the code phase's flows that failed before the exchange (their
	// ErrorKinds say where).
	Status map[string]int `json:"status,omitempty"`
	// ErrorKinds counts the failed requests by reason: "http_NNN" for an
	// unexpected status, "timeout", "conn_refused", "conn_reset", "eof",
	// "transport" for other transport errors, "bad_body" for a success
	// status whose body is not the expected JSON object (a client
	// information response without client_id, a token response without
	// access_token or whose token_type is not Bearer), "inactive" for an
	// introspection response with active false. The code phase adds the
	// failures of the authorization before the exchange, prefixed
	// "authorize_": "authorize_http_NNN" (a page answered NNN),
	// "authorize_error_CODE" (the server redirected to the client with
	// error=CODE), "authorize_no_form" (a page with no form to submit),
	// "authorize_offsite" (a redirect to another origin than the
	// server's), "authorize_state", "authorize_iss", "authorize_no_code"
	// (a redirect to the client without the expected state, iss or code),
	// "authorize_loop" (too many steps) and the transport errors.
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	// ErrorSamples holds the start of the first failed response body (or
	// the transport error) of each error kind.
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	// Counters count what the responses changed: "rat_rotated" (a new
	// registration access token, used from then on), "secret_rotated",
	// "secret_returned", "uri_changed"; in the code phase
	// "refresh_token_issued"; in the refresh phase "rt_rotated" (a new
	// refresh token, used from then on) and "rt_kept" (none, or the same),
	// and "grants_missing" (workers whose code flow before the phase
	// failed, so that fewer grants were refreshed).
	Counters map[string]int `json:"counters,omitempty"`
	// StoppedBy says what ended the phase: "count", "duration" or
	// "canceled".
	StoppedBy string `json:"stopped_by,omitempty"`
	// Note explains a phase that could not run (e.g. no clients to read).
	Note string `json:"note,omitempty"`
	// Flow, for the code phase, has the figures of the whole flows.
	Flow *Flow `json:"flow,omitempty"`
}

// Flow is the figures of the whole authorization code flows of the code
// phase: from the first request to the authorization endpoint to the end of
// the token response, the server's sign-in and consent pages included, but
// not the wait between the authorization and the exchange (the phase
// authorizes a batch of flows, then exchanges their codes).
type Flow struct {
	// Flows were started; OK of them ended with a token.
	Flows int `json:"flows"`
	OK    int `json:"ok"`
	// ElapsedS is the phase's whole wall time, authorizations and
	// exchanges; RPS is OK / ElapsedS.
	ElapsedS float64 `json:"elapsed_s"`
	RPS      float64 `json:"rps"`
	// Latencies of the successful flows in milliseconds.
	P50ms  float64 `json:"p50_ms"`
	P90ms  float64 `json:"p90_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
	// RequestsPerFlow is the mean number of HTTP requests of an
	// authorization, the exchange not included.
	RequestsPerFlow float64 `json:"requests_per_flow"`
}

// flowSummary returns the Flow of flows started flows, of which lats are
// the latencies of the successful ones, that made steps HTTP requests in
// their authorizations, in a phase of elapsed wall time.
func flowSummary(flows int, lats []time.Duration, steps int, elapsed time.Duration) *Flow {
	f := &Flow{Flows: flows, OK: len(lats), ElapsedS: math.Round(elapsed.Seconds()*1e4) / 1e4}
	if elapsed > 0 {
		f.RPS = math.Round(float64(f.OK)/elapsed.Seconds()*10) / 10
	}
	if flows > 0 {
		f.RequestsPerFlow = math.Round(float64(steps)/float64(flows)*100) / 100
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		var sum time.Duration
		for _, l := range lats {
			sum += l
		}
		f.P50ms = ms(Percentile(lats, 50))
		f.P90ms = ms(Percentile(lats, 90))
		f.P99ms = ms(Percentile(lats, 99))
		f.MaxMs = ms(lats[len(lats)-1])
		f.MeanMs = ms(sum / time.Duration(len(lats)))
	}
	return f
}

// outcome is the record of one measured request.
type outcome struct {
	lat      time.Duration
	status   int    // 0 when no response arrived
	errKind  string // "" on success
	sample   string // start of the failed body or the transport error
	counters []string
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, which must be in ascending order: the smallest value such that at
// least p percent of the values are less than or equal to it, i.e. the
// value at rank ceil(p/100 * n). It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// summarize turns the outcomes of a phase into its result.
func summarize(name string, outs []outcome, elapsed time.Duration) Phase {
	ph := Phase{Name: name, Requests: len(outs), ElapsedS: math.Round(elapsed.Seconds()*1e4) / 1e4}
	lats := make([]time.Duration, 0, len(outs))
	var sum time.Duration
	for _, o := range outs {
		code := "none"
		if o.status != 0 {
			code = strconv.Itoa(o.status)
		}
		ph.Status = inc(ph.Status, code)
		for _, c := range o.counters {
			ph.Counters = inc(ph.Counters, c)
		}
		if o.errKind != "" {
			ph.ErrorKinds = inc(ph.ErrorKinds, o.errKind)
			if _, seen := ph.ErrorSamples[o.errKind]; !seen && o.sample != "" {
				if ph.ErrorSamples == nil {
					ph.ErrorSamples = map[string]string{}
				}
				ph.ErrorSamples[o.errKind] = o.sample
			}
			continue
		}
		ph.OK++
		lats = append(lats, o.lat)
		sum += o.lat
	}
	ph.Errors = ph.Requests - ph.OK
	if elapsed > 0 {
		ph.RPS = math.Round(float64(ph.OK)/elapsed.Seconds()*10) / 10
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		ph.P50ms = ms(Percentile(lats, 50))
		ph.P90ms = ms(Percentile(lats, 90))
		ph.P99ms = ms(Percentile(lats, 99))
		ph.MaxMs = ms(lats[len(lats)-1])
		ph.MeanMs = ms(sum / time.Duration(len(lats)))
	}
	return ph
}

func inc(m map[string]int, k string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	return m
}

// sampleOf returns the start of b, for error samples.
func sampleOf(b []byte) string {
	const limit = 300
	if len(b) > limit {
		b = b[:limit]
	}
	return string(b)
}
