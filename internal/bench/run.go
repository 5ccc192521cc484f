package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// regClient is a registered client as last described by the server.
type regClient struct {
	id, secret, uri, token string
}

// runner holds the state of one run.
type runner struct {
	cfg         Config
	regEndpoint string
	// disc is the discovered (or configured) endpoints.
	disc Discovery
	// bodyMeta is cfg.Body decoded, the base of every update request.
	bodyMeta map[string]json.RawMessage

	// origin is the scheme://host:port of the server's URLs, and origins
	// those of Config.Bases that requests are spread over; both empty
	// unless there are several bases.
	origin  string
	origins []string

	mu      sync.Mutex
	clients []*regClient // registered and not deleted, in registration order

	// tok is the state of the token phases.
	tok tokenState
}

// Run measures the configured phases against the server and returns the
// report. It returns an error only when the run cannot start (an invalid
// Config, or no registration endpoint); failed requests are counted in the
// report, and a token phase whose endpoint is unknown, or whose clients
// cannot be registered, has a Note. When ctx ends, the phase in progress stops, the remaining phases
// are skipped and Report.Aborted says why.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cpu0 := processCPUSeconds()
	rep := newReport(cfg)
	r := &runner{cfg: cfg}
	if err := json.Unmarshal(cfg.Body, &r.bodyMeta); err != nil {
		return nil, fmt.Errorf("bench: registration request body: %w", err)
	}
	if cfg.RegistrationEndpoint != "" {
		rep.Discovery = Discovery{Source: "configured", RegistrationEndpoint: cfg.RegistrationEndpoint}
	} else {
		rep.Discovery, err = Discover(ctx, cfg.Client, cfg.Base, cfg.AllowRemote)
		if err != nil {
			return nil, err
		}
	}
	for _, o := range []struct{ set, to *string }{
		{&cfg.TokenEndpoint, &rep.Discovery.TokenEndpoint},
		{&cfg.IntrospectionEndpoint, &rep.Discovery.IntrospectionEndpoint},
		{&cfg.AuthorizationEndpoint, &rep.Discovery.AuthorizationEndpoint},
	} {
		if *o.set != "" {
			*o.to = *o.set
		}
	}
	r.regEndpoint = rep.Discovery.RegistrationEndpoint
	r.disc = rep.Discovery
	if len(cfg.Bases) > 1 {
		rep.Bases = slices.Clone(cfg.Bases)
		r.origin = originOf(r.regEndpoint)
		for _, b := range cfg.Bases {
			r.origins = append(r.origins, originOf(b))
		}
	}
	for _, c := range cfg.Clients {
		r.clients = append(r.clients, &regClient{id: c.ID, secret: c.Secret, uri: c.URI, token: c.Token})
	}

	if cfg.Warmup > 0 {
		r.warmup(ctx)
	}
	for _, name := range cfg.Phases {
		if ctx.Err() != nil {
			break
		}
		var ph Phase
		if slices.Contains(TokenPhases, name) {
			ph = r.tokenPhase(ctx, name)
		} else {
			ph = r.phase(ctx, name)
		}
		rep.Phases = append(rep.Phases, ph)
		if cfg.OnPhase != nil {
			cfg.OnPhase(ph)
		}
	}
	if err := ctx.Err(); err != nil {
		rep.Aborted = err.Error()
	}
	if r.tok.method != "" {
		rep.Settings.TokenAuth = r.tok.method
	}
	rep.WallS = roundS(time.Since(rep.Started))
	rep.Clients = make([]Client, len(r.clients))
	for i, c := range r.clients {
		rep.Clients[i] = Client{ID: c.id, Secret: c.secret, URI: c.uri, Token: c.token}
	}
	rep.LoadgenCPUS = float64(int64((processCPUSeconds()-cpu0)*1000)) / 1000
	return rep, nil
}

func roundS(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// phase runs one phase with cfg.Concurrency workers until cfg.Requests
// requests were started, cfg.Duration has passed, or ctx ends.
func (r *runner) phase(ctx context.Context, name string) Phase {
	cfg := r.cfg
	r.mu.Lock()
	live := append([]*regClient(nil), r.clients...)
	r.mu.Unlock()

	total := cfg.Requests
	var pool chan *regClient
	if name != PhaseRegister {
		if len(live) == 0 {
			return Phase{Name: name, Note: "no registered clients to work on (measure register first)"}
		}
		if name == PhaseDelete {
			total = min(total, len(live))
		} else {
			// Each client is in the hands of one worker at a time, so
			// that a registration access token rotated by a response is
			// what the next request for that client uses. Requests cycle
			// over the clients in registration order.
			pool = make(chan *regClient, len(live))
			for _, c := range live {
				pool <- c
			}
		}
	}

	deleted := make([]bool, len(live))
	all, stoppedBy, elapsed := r.workUntil(ctx, total, time.Now().Add(cfg.Duration), func(_ int, i int64) (outcome, bool) {
		switch name {
		case PhaseRegister:
			return r.register(ctx, i), true
		case PhaseDelete:
			o := r.delete(ctx, live[i], i)
			deleted[i] = o.errKind == ""
			return o, true
		}
		var c *regClient
		select {
		case c = <-pool:
		case <-ctx.Done():
			return outcome{}, false
		}
		defer func() { pool <- c }()
		if name == PhaseRead {
			return r.read(ctx, c, i), true
		}
		return r.update(ctx, c, i), true
	})

	if name == PhaseDelete {
		gone := make(map[*regClient]bool)
		for i, ok := range deleted {
			if ok {
				gone[live[i]] = true
			}
		}
		r.forget(gone)
	}
	ph := summarize(name, all, elapsed)
	ph.StoppedBy = stoppedBy
	return ph
}

// forget drops the given clients from the live list.
func (r *runner) forget(gone map[*regClient]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.clients[:0]
	for _, c := range r.clients {
		if !gone[c] {
			kept = append(kept, c)
		}
	}
	clear(r.clients[len(kept):])
	r.clients = kept
}

// originOf returns the scheme://host[:port] of the absolute URL u.
func originOf(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return scheme + "://" + rest
}

// target returns the URL request number seq of a phase goes to: u itself,
// or with several bases, u on the origin of base seq mod len(bases) if u is
// on the server's origin.
func (r *runner) target(u string, seq int64) string {
	if len(r.origins) == 0 {
		return u
	}
	rest, ok := strings.CutPrefix(u, r.origin)
	if !ok || rest != "" && !strings.ContainsAny(rest[:1], "/?#") {
		return u
	}
	return r.origins[seq%int64(len(r.origins))] + rest
}

// send performs request number seq of a phase and classifies a failure: a
// transport error, or a status other than the wanted one (want 0: any 2xx).
func (r *runner) send(ctx context.Context, seq int64, method, u, bearer string, body []byte, want int) (outcome, []byte) {
	u = r.target(u, seq)
	t0 := time.Now()
	resp, err := do(ctx, r.cfg.Client, method, u, bearer, body)
	o := outcome{lat: time.Since(t0), status: resp.status}
	switch {
	case err != nil:
		o.errKind, o.sample = errKind(err), err.Error()
	case want == 0 && resp.status/100 != 2, want != 0 && resp.status != want:
		o.errKind, o.sample = "http_"+strconv.Itoa(resp.status), failureSample(resp)
	}
	return o, resp.body
}

// failureSample describes a failed response: its challenge, if any, and the
// start of its body.
func failureSample(resp response) string {
	s := sampleOf(resp.body)
	if s == "" {
		s = "(empty body)"
	}
	if resp.challenge != "" {
		s = "WWW-Authenticate: " + resp.challenge + "; " + s
	}
	return s
}

// decodeInfo decodes a client information response (RFC 7591 §3.2.1).
func decodeInfo(b []byte) (map[string]any, bool) {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// register sends one registration request and keeps the client it creates.
func (r *runner) register(ctx context.Context, seq int64) outcome {
	o, body := r.send(ctx, seq, http.MethodPost, r.regEndpoint, r.cfg.InitialAccessToken, r.cfg.Body, 0)
	if o.errKind != "" {
		return o
	}
	c, counters, ok := r.newClient(body)
	if !ok {
		o.errKind, o.sample = "bad_body", sampleOf(body)
		return o
	}
	o.counters = counters
	if o.status != http.StatusCreated {
		o.counters = append(o.counters, "register_status_"+strconv.Itoa(o.status))
	}
	if c != nil {
		r.mu.Lock()
		r.clients = append(r.clients, c)
		r.mu.Unlock()
	}
	return o
}

// newClient reads a registration response. It returns a nil client (and a
// counter saying why) for a registration that cannot be managed.
func (r *runner) newClient(body []byte) (*regClient, []string, bool) {
	m, ok := decodeInfo(body)
	if !ok || str(m, "client_id") == "" {
		return nil, nil, false
	}
	c := &regClient{id: str(m, "client_id"), secret: str(m, "client_secret"),
		uri: str(m, "registration_client_uri"), token: str(m, "registration_access_token")}
	switch {
	case c.uri == "" || c.token == "":
		return nil, []string{"unmanageable"}, true
	case checkURL(c.uri, r.cfg.AllowRemote) != nil:
		return nil, []string{"uri_refused"}, true
	}
	return c, nil, true
}

// absorb applies a read or update response to c: a registration access
// token, client secret or configuration URI in the response replaces the
// one held (RFC 7592 §2.1, §2.2), and is what the next request uses. It
// returns counters naming what changed.
func absorb(c *regClient, m map[string]any) []string {
	var cs []string
	if t := str(m, "registration_access_token"); t != "" && t != c.token {
		c.token = t
		cs = append(cs, "rat_rotated")
	}
	if s := str(m, "client_secret"); s != "" {
		cs = append(cs, "secret_returned")
		if s != c.secret {
			c.secret = s
			cs = append(cs, "secret_rotated")
		}
	}
	if u := str(m, "registration_client_uri"); u != "" && u != c.uri {
		c.uri = u
		cs = append(cs, "uri_changed")
	}
	return cs
}

// read sends one read request (RFC 7592 §2.1) for c.
func (r *runner) read(ctx context.Context, c *regClient, seq int64) outcome {
	o, body := r.send(ctx, seq, http.MethodGet, c.uri, c.token, nil, http.StatusOK)
	return clientInformation(o, body, c)
}

// clientInformation checks the client information response body of a read
// or an update of c (RFC 7592 §3): it must name c. What it changes of c
// (a rotated token, a new secret) is absorbed into c and counted in o.
func clientInformation(o outcome, body []byte, c *regClient) outcome {
	if o.errKind != "" {
		return o
	}
	m, ok := decodeInfo(body)
	if !ok || str(m, "client_id") != c.id {
		o.errKind, o.sample = "bad_body", sampleOf(body)
		return o
	}
	o.counters = absorb(c, m)
	return o
}

// updateBody is the update request for c: the registration request plus
// client_id, with client_name changed (RFC 7592 §2.2 forbids the
// server-managed members, which the registration request does not have).
func (r *runner) updateBody(c *regClient, seq int64) []byte {
	m := make(map[string]any, len(r.bodyMeta)+3)
	for k, v := range r.bodyMeta {
		m[k] = v
	}
	delete(m, "client_secret")
	m["client_id"] = c.id
	m["client_name"] = "bench-updated-" + strconv.FormatInt(seq, 10)
	if r.cfg.SendSecret && c.secret != "" {
		m["client_secret"] = c.secret
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // unreachable: every value is a valid JSON value
	}
	return b
}

// update sends one update request (RFC 7592 §2.2) for c.
func (r *runner) update(ctx context.Context, c *regClient, seq int64) outcome {
	o, body := r.send(ctx, seq, http.MethodPut, c.uri, c.token, r.updateBody(c, seq), http.StatusOK)
	return clientInformation(o, body, c)
}

// delete sends one delete request (RFC 7592 §2.3) for c.
func (r *runner) delete(ctx context.Context, c *regClient, seq int64) outcome {
	o, _ := r.send(ctx, seq, http.MethodDelete, c.uri, c.token, nil, 0)
	if o.errKind == "" && o.status != http.StatusNoContent {
		o.counters = append(o.counters, "delete_status_"+strconv.Itoa(o.status))
	}
	return o
}

// warmup runs cfg.Warmup unmeasured register, read, update and delete
// cycles, bounded by cfg.Duration. It leaves no client behind unless a
// delete fails.
func (r *runner) warmup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(r.cfg.Warmup) {
					break
				}
				o, body := r.send(ctx, i, http.MethodPost, r.regEndpoint, r.cfg.InitialAccessToken, r.cfg.Body, 0)
				if o.errKind != "" {
					continue
				}
				c, _, ok := r.newClient(body)
				if !ok || c == nil {
					continue
				}
				r.read(ctx, c, i)
				r.update(ctx, c, i)
				r.delete(ctx, c, i)
			}
		}()
	}
	wg.Wait()
}

// errKind names a transport error.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "conn_reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	default:
		return "transport"
	}
}
