package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The client authentication methods of the token phases (RFC 6749 §2.3.1,
// RFC 7591 §2).
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// Credentials are a confidential client's credentials.
type Credentials struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret,omitempty"`
}

// ParseCredentials reads "ID:SECRET" (the secret may contain colons).
func ParseCredentials(s string) (Credentials, error) {
	id, secret, ok := strings.Cut(s, ":")
	if !ok || id == "" || secret == "" {
		return Credentials{}, fmt.Errorf("bench: credentials %q: want CLIENT_ID:SECRET", s)
	}
	return Credentials{ID: id, Secret: secret}, nil
}

// oauthClient is a client of the token phases as it authenticates.
type oauthClient struct {
	id, secret string
	method     string // authBasic, authPost or authNone
	// basic is the Authorization header of client_secret_basic.
	basic string
}

func newOAuthClient(id, secret, method string) *oauthClient {
	c := &oauthClient{id: id, secret: secret, method: method}
	if method == authBasic {
		// RFC 6749 §2.3.1: the client identifier and secret are
		// form-urlencoded before they are joined and base64-encoded.
		c.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	return c
}

// authenticate adds the client's authentication to a token endpoint
// request: the Authorization header, or client_id (and client_secret) in
// the form.
func (c *oauthClient) authenticate(h http.Header, form url.Values) {
	switch c.method {
	case authBasic:
		h.Set("Authorization", c.basic)
	case authPost:
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
	default:
		form.Set("client_id", c.id)
	}
}

// issued is an access token of the token phase and the client it was
// issued to.
type issued struct {
	token  string
	client *oauthClient
}

// maxIntrospectTokens bounds the tokens the token phase keeps for
// introspection.
const maxIntrospectTokens = 1024

// tokenState is what the token phases share: the clients registered for
// them and the tokens the token phase obtained.
type tokenState struct {
	method       string         // of the confidential clients
	confidential []*oauthClient // for token and introspect
	public       []*oauthClient // for code and refresh
	tokens       []issued
}

// tokenPhase runs one of TokenPhases.
func (r *runner) tokenPhase(ctx context.Context, name string) Phase {
	d := r.disc
	need := map[string][]string{
		PhaseToken:      {"token_endpoint", d.TokenEndpoint},
		PhaseIntrospect: {"introspection_endpoint", d.IntrospectionEndpoint},
		PhaseCode:       {"authorization_endpoint", d.AuthorizationEndpoint},
		PhaseRefresh:    {"authorization_endpoint", d.AuthorizationEndpoint},
	}[name]
	if need[1] == "" {
		return Phase{Name: name, Note: "the server's metadata names no " + need[0]}
	}
	if d.TokenEndpoint == "" {
		return Phase{Name: name, Note: "the server's metadata names no token_endpoint"}
	}
	if name == PhaseToken || name == PhaseIntrospect {
		if err := r.registerConfidential(ctx); err != nil {
			return Phase{Name: name, Note: err.Error()}
		}
	} else if err := r.registerPublic(ctx); err != nil {
		return Phase{Name: name, Note: err.Error()}
	}
	switch name {
	case PhaseToken:
		return r.clientCredentialsPhase(ctx)
	case PhaseIntrospect:
		return r.introspectPhase(ctx)
	case PhaseCode:
		return r.codePhase(ctx)
	default:
		return r.refreshPhase(ctx)
	}
}

// work runs cfg.Concurrency workers that call fn with request numbers 0,
// 1, ... until total requests were started, deadline has passed or ctx
// ends. fn gets the worker's number too. It returns the outcomes fn
// returned, what stopped the workers and how long they ran.
func (r *runner) work(ctx context.Context, total int, deadline time.Time, fn func(w int, i int64) outcome) ([]outcome, string, time.Duration) {
	return r.workUntil(ctx, total, deadline, func(w int, i int64) (outcome, bool) { return fn(w, i), true })
}

// workUntil is work with an fn that may also stop its worker: when it
// returns false (ctx ended while it waited), its outcome is dropped and
// the workers stop as canceled.
func (r *runner) workUntil(ctx context.Context, total int, deadline time.Time, fn func(w int, i int64) (outcome, bool)) ([]outcome, string, time.Duration) {
	var (
		next      atomic.Int64
		stoppedBy atomic.Value
		wg        sync.WaitGroup
	)
	workers := r.cfg.Concurrency
	perWorker := make([][]outcome, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs := make([]outcome, 0, total/workers+1)
			defer func() { perWorker[w] = outs }()
			for {
				switch {
				case ctx.Err() != nil:
					stoppedBy.CompareAndSwap(nil, "canceled")
					return
				case !time.Now().Before(deadline):
					stoppedBy.CompareAndSwap(nil, "duration")
					return
				}
				i := next.Add(1) - 1
				if i >= int64(total) {
					stoppedBy.CompareAndSwap(nil, "count")
					return
				}
				o, ok := fn(w, i)
				if !ok {
					stoppedBy.CompareAndSwap(nil, "canceled")
					return
				}
				outs = append(outs, o)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []outcome
	for _, outs := range perWorker {
		all = append(all, outs...)
	}
	s, _ := stoppedBy.Load().(string)
	return all, s, elapsed
}

// chooseAuth returns the authentication method of the confidential
// clients: the configured one, else client_secret_basic unless the
// server's metadata lists client_secret_post and not basic (RFC 8414 §2:
// the default is client_secret_basic).
func chooseAuth(configured string, supported []string) string {
	switch {
	case configured != "":
		return configured
	case len(supported) == 0, slices.Contains(supported, authBasic):
		return authBasic
	case slices.Contains(supported, authPost):
		return authPost
	}
	return authBasic
}

// registerClients registers n clients with the metadata m (RFC 7591),
// unmeasured, and returns their IDs and secrets.
func (r *runner) registerClients(ctx context.Context, what string, n int, m map[string]any, wantSecret bool) ([][2]string, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for i := range n {
		o, b := r.send(ctx, int64(i), http.MethodPost, r.regEndpoint, r.cfg.InitialAccessToken, body, 0)
		if o.errKind != "" {
			return nil, fmt.Errorf("could not register a %s client: %s: %s", what, o.errKind, oneLine(o.sample))
		}
		info, ok := decodeInfo(b)
		id, secret := str(info, "client_id"), str(info, "client_secret")
		if !ok || id == "" || wantSecret && secret == "" {
			return nil, fmt.Errorf("could not register a %s client: the response has no client_id or client_secret: %s", what, oneLine(sampleOf(b)))
		}
		out = append(out, [2]string{id, secret})
	}
	return out, nil
}

// registerConfidential registers the confidential clients of the token
// and introspect phases, once.
func (r *runner) registerConfidential(ctx context.Context) error {
	ts := &r.tok
	if ts.confidential != nil {
		return nil
	}
	ts.method = chooseAuth(r.cfg.TokenAuth, r.disc.TokenAuthMethods)
	cs, err := r.registerClients(ctx, "client_credentials", r.cfg.TokenClients, map[string]any{
		"client_name":                "clientreg-bench client_credentials",
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{},
		"token_endpoint_auth_method": ts.method,
	}, true)
	if err != nil {
		return err
	}
	for _, c := range cs {
		ts.confidential = append(ts.confidential, newOAuthClient(c[0], c[1], ts.method))
	}
	return nil
}

// registerPublic registers the public clients of the code and refresh
// phases, once.
func (r *runner) registerPublic(ctx context.Context) error {
	ts := &r.tok
	if ts.public != nil {
		return nil
	}
	m := map[string]any{
		"client_name":                "clientreg-bench authorization_code",
		"redirect_uris":              []string{r.cfg.RedirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": authNone,
	}
	if r.cfg.Scope != "" {
		m["scope"] = r.cfg.Scope
	}
	cs, err := r.registerClients(ctx, "public authorization_code", r.cfg.TokenClients, m, false)
	if err != nil {
		return err
	}
	for _, c := range cs {
		ts.public = append(ts.public, newOAuthClient(c[0], "", authNone))
	}
	return nil
}

// tokenRequest sends one request to the token endpoint (or another
// endpoint u of the token phases) as client c and returns its outcome:
// an error unless the status is 200.
func (r *runner) tokenRequest(ctx context.Context, seq int64, u string, c *oauthClient, form url.Values) (outcome, []byte) {
	h := http.Header{}
	c.authenticate(h, form)
	u = r.target(u, seq)
	t0 := time.Now()
	resp, err := postForm(ctx, r.cfg.Client, u, h, form.Encode())
	o := outcome{lat: time.Since(t0), status: resp.status}
	switch {
	case err != nil:
		o.errKind, o.sample = errKind(err), err.Error()
	case resp.status != http.StatusOK:
		o.errKind, o.sample = "http_"+strconv.Itoa(resp.status), failureSample(resp)
	}
	return o, resp.body
}

// tokenBody is the members of a token response (RFC 6749 §5.1) a run
// checks.
type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
}

// checkToken checks a successful token response: a JSON object with an
// access_token and token_type Bearer (compared without case, RFC 6749
// §5.1).
func checkToken(o outcome, body []byte) (outcome, tokenBody) {
	var t tokenBody
	if o.errKind != "" {
		return o, t
	}
	if json.Unmarshal(body, &t) != nil || t.AccessToken == "" || !strings.EqualFold(t.TokenType, "Bearer") {
		o.errKind, o.sample = "bad_body", sampleOf(body)
	}
	return o, t
}

// clientCredentials asks for one token for c.
func (r *runner) clientCredentials(ctx context.Context, seq int64, c *oauthClient) (outcome, string) {
	o, t := checkToken(r.tokenRequest(ctx, seq, r.disc.TokenEndpoint, c, url.Values{"grant_type": {"client_credentials"}}))
	return o, t.AccessToken
}

// clientCredentialsPhase measures the token phase; it keeps some of the
// tokens for the introspect phase.
func (r *runner) clientCredentialsPhase(ctx context.Context) Phase {
	ts := &r.tok
	workers := r.cfg.Concurrency
	keep := make([][]issued, workers)
	perWorker := max(maxIntrospectTokens/workers, 1)
	outs, stopped, elapsed := r.work(ctx, r.cfg.Requests, time.Now().Add(r.cfg.Duration), func(w int, i int64) outcome {
		c := ts.confidential[int(i)%len(ts.confidential)]
		o, tok := r.clientCredentials(ctx, i, c)
		if o.errKind == "" && len(keep[w]) < perWorker {
			keep[w] = append(keep[w], issued{token: tok, client: c})
		}
		return o
	})
	var kept []issued
	for _, k := range keep {
		kept = append(kept, k...)
	}
	if len(kept) > 0 {
		ts.tokens = kept
	}
	ph := summarize(PhaseToken, outs, elapsed)
	ph.StoppedBy = stopped
	return ph
}

// introspectPhase measures the introspect phase on the tokens of the token
// phase, or on one token per client obtained now when there are none.
func (r *runner) introspectPhase(ctx context.Context) Phase {
	ts := &r.tok
	if len(ts.tokens) == 0 {
		for i, c := range ts.confidential {
			o, tok := r.clientCredentials(ctx, int64(i), c)
			if o.errKind != "" {
				return Phase{Name: PhaseIntrospect, Note: fmt.Sprintf("could not obtain a token to introspect: %s: %s", o.errKind, oneLine(o.sample))}
			}
			ts.tokens = append(ts.tokens, issued{token: tok, client: c})
		}
	}
	var introspector *oauthClient
	if id := r.cfg.Introspector.ID; id != "" {
		introspector = newOAuthClient(id, r.cfg.Introspector.Secret, ts.method)
	}
	outs, stopped, elapsed := r.work(ctx, r.cfg.Requests, time.Now().Add(r.cfg.Duration), func(_ int, i int64) outcome {
		t := ts.tokens[int(i)%len(ts.tokens)]
		caller := t.client
		if introspector != nil {
			caller = introspector
		}
		o, body := r.tokenRequest(ctx, i, r.disc.IntrospectionEndpoint, caller,
			url.Values{"token": {t.token}, "token_type_hint": {"access_token"}})
		return checkIntrospection(o, body, t.client.id)
	})
	ph := summarize(PhaseIntrospect, outs, elapsed)
	ph.StoppedBy = stopped
	return ph
}

// checkIntrospection checks an introspection response (RFC 7662 §2.2) for
// an active token of client: active true, and client_id, when present,
// that client's. An inactive token is the error kind "inactive".
func checkIntrospection(o outcome, body []byte, client string) outcome {
	if o.errKind != "" {
		return o
	}
	var m struct {
		Active   *bool   `json:"active"`
		ClientID *string `json:"client_id"`
	}
	switch {
	case json.Unmarshal(body, &m) != nil || m.Active == nil:
		o.errKind, o.sample = "bad_body", sampleOf(body)
	case !*m.Active:
		o.errKind, o.sample = "inactive", sampleOf(body)
	case m.ClientID != nil && *m.ClientID != client:
		o.errKind, o.sample = "bad_body", sampleOf(body)
	}
	return o
}

// exchange redeems the code of a finished authorization (RFC 6749 §4.1.3,
// RFC 7636 §4.5) and returns the refresh token, if any.
func (r *runner) exchange(ctx context.Context, seq int64, a *authorization) (outcome, string) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {a.code},
		"redirect_uri":  {r.cfg.RedirectURI},
		"code_verifier": {a.verifier},
	}
	if len(r.cfg.Resources) > 0 {
		form["resource"] = r.cfg.Resources
	}
	o, t := checkToken(r.tokenRequest(ctx, seq, r.disc.TokenEndpoint, a.client, form))
	if o.errKind == "" && t.RefreshToken != "" {
		o.counters = append(o.counters, "refresh_token_issued")
	}
	return o, t.RefreshToken
}

// codeBatch is how many flows the code phase authorizes before it
// exchanges their codes: enough that the exchanges run at full
// concurrency most of the time, few enough that no code gets old.
func (r *runner) codeBatch() int { return max(16*r.cfg.Concurrency, 64) }

// codePhase measures the code phase. It alternates between authorizing a
// batch of flows (unmeasured in the phase's own figures) and exchanging
// their codes (measured): Phase.RPS is exchanges per second of the time
// spent exchanging, and the latencies are the exchanges'. Phase.Flow has
// the figures of the whole flows, authorization and exchange.
func (r *runner) codePhase(ctx context.Context) Phase {
	ts := &r.tok
	start := time.Now()
	deadline := start.Add(r.cfg.Duration)
	var (
		outs      []outcome
		flowLats  []time.Duration
		steps     int
		exchanged time.Duration
		stopped   string
		started   int
	)
	for started < r.cfg.Requests {
		n := min(r.codeBatch(), r.cfg.Requests-started)
		auths := make([]*authorization, n)
		_, s, _ := r.work(ctx, n, deadline, func(_ int, i int64) outcome {
			seq := int64(started) + i
			auths[i] = r.authorize(ctx, seq, ts.public[int(seq)%len(ts.public)])
			return outcome{}
		})
		var ready []*authorization
		ran := 0
		for _, a := range auths {
			switch {
			case a == nil: // not started: the deadline or ctx ended the batch
				continue
			case a.o.errKind != "":
				outs = append(outs, a.o)
			default:
				ready = append(ready, a)
			}
			ran++
			steps += a.steps
		}
		started += ran
		// The codes already issued are exchanged even past the deadline:
		// a flow is not over before its exchange.
		exOuts, _, el := r.work(ctx, len(ready), time.Now().Add(MaxDuration), func(_ int, i int64) outcome {
			a := ready[i]
			o, _ := r.exchange(ctx, a.seq, a)
			if o.errKind == "" {
				a.lat += o.lat
				a.exchanged = true
			}
			return o
		})
		exchanged += el
		outs = append(outs, exOuts...)
		for _, a := range ready {
			if a.exchanged {
				flowLats = append(flowLats, a.lat)
			}
		}
		if s != "count" {
			stopped = s
			break
		}
	}
	if stopped == "" {
		stopped = "count"
	}
	ph := summarize(PhaseCode, outs, exchanged)
	ph.StoppedBy = stopped
	ph.Flow = flowSummary(started, flowLats, steps, time.Since(start))
	return ph
}

// grantSlot is a refresh token held by the refresh phase: the newest one
// of its grant.
type grantSlot struct {
	client *oauthClient
	token  string
}

// refreshPhase measures the refresh phase: each of cfg.Concurrency grants,
// obtained now by a code flow, is refreshed by one worker at a time with
// its newest refresh token.
func (r *runner) refreshPhase(ctx context.Context) Phase {
	ts := &r.tok
	var (
		mu       sync.Mutex
		slots    []*grantSlot
		firstErr string
	)
	r.work(ctx, r.cfg.Concurrency, time.Now().Add(r.cfg.Duration), func(_ int, i int64) outcome {
		c := ts.public[int(i)%len(ts.public)]
		a := r.authorize(ctx, i, c)
		o := a.o
		rt := ""
		if o.errKind == "" {
			o, rt = r.exchange(ctx, i, a)
			if o.errKind == "" && rt == "" {
				o.errKind, o.sample = "no_refresh_token", "the token response has no refresh_token"
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if o.errKind != "" {
			if firstErr == "" {
				firstErr = o.errKind + ": " + oneLine(o.sample)
			}
			return o
		}
		slots = append(slots, &grantSlot{client: c, token: rt})
		return o
	})
	if len(slots) == 0 {
		if firstErr == "" {
			firstErr = "canceled"
		}
		return Phase{Name: PhaseRefresh, Note: "could not obtain a refresh token: " + firstErr}
	}
	pool := make(chan *grantSlot, len(slots))
	for _, s := range slots {
		pool <- s
	}
	outs, stopped, elapsed := r.work(ctx, r.cfg.Requests, time.Now().Add(r.cfg.Duration), func(_ int, i int64) outcome {
		var g *grantSlot
		select {
		case g = <-pool:
		case <-ctx.Done():
			return outcome{errKind: "canceled", sample: ctx.Err().Error()}
		}
		defer func() { pool <- g }()
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.token}}
		if len(r.cfg.Resources) > 0 {
			form["resource"] = r.cfg.Resources
		}
		o, t := checkToken(r.tokenRequest(ctx, i, r.disc.TokenEndpoint, g.client, form))
		if o.errKind == "" {
			if t.RefreshToken != "" && t.RefreshToken != g.token {
				g.token = t.RefreshToken
				o.counters = append(o.counters, "rt_rotated")
			} else {
				o.counters = append(o.counters, "rt_kept")
			}
		}
		return o
	})
	ph := summarize(PhaseRefresh, outs, elapsed)
	ph.StoppedBy = stopped
	if n := r.cfg.Concurrency - len(slots); n > 0 {
		if ph.Counters == nil {
			ph.Counters = map[string]int{}
		}
		ph.Counters["grants_missing"] = n
	}
	return ph
}
