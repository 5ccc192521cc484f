package bench_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/bench"
	"github.com/clientreg/clientreg/store"
)

// authzApp is the application around an in-process clientreg with the
// authorization endpoint: its Authorizer signs the user in and asks for
// consent, in one of two ways.
//
//   - header: the user is named by a request header (as behind a sign-in
//     proxy, like clientreg serve --login header); the consent page has a
//     sign-out form first, and its Deny button before its Allow button.
//   - forms: like node-oidc-provider's development interactions, a login
//     form (user name and password) that sets a session cookie, then a
//     consent form with a single unnamed Continue button.
//
// It counts what reached the server: token requests by grant type, and what
// the login form and the authorization requests carried.
type authzApp struct {
	h      *clientreg.Handler
	issuer string
	header string // "" for the forms sign-in

	mu        sync.Mutex
	grants    map[string]int // POST /token by grant_type
	tokenRes  [][]string     // the resource values of authorization_code requests
	introsp   int            // POST /introspect
	authorize int            // GET /authorize
	logins    []string       // user:password typed into the login form
	resources [][]string     // of the authorization requests
	scopes    [][]string
	logouts   int
	codeToken string // an access token of an authorization_code response
}

// newAuthzServer starts clientreg (memory store, token endpoints, the
// authorization endpoint with app as Authorizer) on 127.0.0.1.
func newAuthzServer(t *testing.T, header string, configure func(*clientreg.Config)) (*server, *authzApp) {
	t.Helper()
	app := &authzApp{header: header, grants: map[string]int{}}
	s := newServer(t, func(c *clientreg.Config) {
		c.ServeTokenEndpoints = true
		c.Authorizer = app
		// A rotated refresh token stops at once, so that a run that
		// used an old one fails (and revokes the grant).
		c.RefreshTokenGrace = clientreg.Off
		app.issuer = c.Issuer
		if configure != nil {
			configure(c)
		}
	}, func(next http.Handler) http.Handler {
		app.h = next.(*clientreg.Handler)
		mux := http.NewServeMux()
		mux.HandleFunc("POST /consent", app.consent)
		mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
			app.mu.Lock()
			app.logouts++
			app.mu.Unlock()
			http.Error(w, "signed out", http.StatusOK)
		})
		mux.HandleFunc("GET /interaction/{id}", app.interaction)
		mux.HandleFunc("POST /interaction/{id}/login", app.login)
		mux.HandleFunc("POST /interaction/{id}/confirm", app.confirm)
		mux.Handle("/", app.count(next))
		return mux
	})
	return s, app
}

// count records the token, introspection and authorization requests.
func (a *authzApp) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var form url.Values
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			form, _ = url.ParseQuery(string(b))
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		a.mu.Lock()
		switch {
		case r.URL.Path == "/token":
			gt := form.Get("grant_type")
			a.grants[gt]++
			if gt == "authorization_code" {
				a.tokenRes = append(a.tokenRes, form["resource"])
				if rec.Code == http.StatusOK && a.codeToken == "" {
					var tok struct {
						AccessToken string `json:"access_token"`
					}
					_ = json.Unmarshal(rec.Body.Bytes(), &tok)
					a.codeToken = tok.AccessToken
				}
			}
		case r.URL.Path == "/introspect":
			a.introsp++
		case r.URL.Path == "/authorize":
			a.authorize++
		}
		a.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// Authorize implements clientreg.Authorizer.
func (a *authzApp) Authorize(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest) {
	a.mu.Lock()
	a.resources = append(a.resources, req.Resources)
	a.scopes = append(a.scopes, req.Scopes)
	a.mu.Unlock()
	if a.header == "" {
		http.Redirect(w, r, "/interaction/"+url.PathEscape(req.ID), http.StatusSeeOther)
		return
	}
	user := r.Header.Get(a.header)
	if user == "" {
		http.Error(w, "sign-in required", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html>
<html><head><title>Allow?</title><style>main > form { margin: 1em } /* <form action="/trap"> */</style></head>
<body><main>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="x"><button type="submit" class="link">Sign out</button></form>
<!-- <form method="post" action="/trap"><button name="decision" value="approve">Allow</button></form> -->
<p>Allow <b>%s</b> to access your account?</p>
<form method="post" action="/consent">
<input type="hidden" name="request" value="%s">
<input type='hidden' name=csrf value="%s">
<div class="actions">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="approve" class="primary">Allow <span>access</span></button>
</div>
</form>
</main></body></html>`, html.EscapeString(req.ClientName), html.EscapeString(req.ID), html.EscapeString(csrf(req.ID, user)))
}

// csrf is the consent form's token; it has characters that the page must
// escape.
func csrf(id, user string) string { return "tok&<" + user + ">" + id[:8] }

// consent answers the consent form of the header sign-in.
func (a *authzApp) consent(w http.ResponseWriter, r *http.Request) {
	user := r.Header.Get(a.header)
	if o := r.Header.Get("Origin"); o != a.issuer || user == "" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		http.Error(w, "refused: origin "+o+", user "+user, http.StatusForbidden)
		return
	}
	id := r.PostForm.Get("request")
	if len(id) < 8 || r.PostForm.Get("csrf") != csrf(id, user) {
		http.Error(w, "bad csrf", http.StatusForbidden)
		return
	}
	var to string
	var err error
	switch r.PostForm.Get("decision") {
	case "approve":
		to, err = a.h.CompleteAuthorization(w, r, id, clientreg.Approval{Subject: user})
	case "deny":
		to, err = a.h.DenyAuthorization(w, r, id, "denied")
	default:
		http.Error(w, "no decision", http.StatusBadRequest)
		return
	}
	if err != nil {
		a.h.ErrorPage(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// interaction shows the login form, or the consent form once signed in.
func (a *authzApp) interaction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := a.h.PendingAuthorization(r, id); err != nil {
		a.h.ErrorPage(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	self := a.issuer + "/interaction/" + url.PathEscape(id)
	if _, err := r.Cookie("sess"); err != nil {
		// The action is absolute, with escaped slashes, as
		// node-oidc-provider's pages write it.
		fmt.Fprintf(w, `<html><body><h1>Sign-in</h1>
<form autocomplete="off" action="%s/login" method="post">
  <input type="hidden" name="prompt" value="login"/>
  <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
  <input required type="password" name="password" placeholder="and password" >
  <button type="submit" class="login login-submit">Sign-in</button>
</form>
<a href="%s/abort">[ Cancel ]</a></body></html>`, strings.ReplaceAll(html.EscapeString(self), "/", "&#x2F;"), html.EscapeString(self))
		return
	}
	fmt.Fprintf(w, `<html><body><ul><li>scopes: read</li></ul>
<form autocomplete="off" action="/interaction/%s/confirm" method="post">
  <input type="hidden" name="prompt" value="consent"/>
  <button autofocus type="submit" class="login login-submit">Continue</button>
</form></body></html>`, html.EscapeString(url.PathEscape(id)))
}

// login answers the login form: any user name and password.
func (a *authzApp) login(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil || r.PostForm.Get("prompt") != "login" || r.PostForm.Get("login") == "" || r.PostForm.Get("password") == "" {
		http.Error(w, "bad login", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.logins = append(a.logins, r.PostForm.Get("login")+":"+r.PostForm.Get("password"))
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "sess", Value: r.PostForm.Get("login"), Path: "/interaction/"})
	http.Redirect(w, r, "/interaction/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
}

// confirm answers the consent form of the forms sign-in.
func (a *authzApp) confirm(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie("sess")
	if err != nil || r.ParseForm() != nil || r.PostForm.Get("prompt") != "consent" {
		http.Error(w, "not signed in", http.StatusForbidden)
		return
	}
	to, err := a.h.CompleteAuthorization(w, r, r.PathValue("id"), clientreg.Approval{Subject: ck.Value})
	if err != nil {
		a.h.ErrorPage(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (a *authzApp) grantCount(gt string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.grants[gt]
}

// checkOK checks that ph ran want requests, all successful, until the
// count.
func checkOK(t *testing.T, ph bench.Phase, want int) {
	t.Helper()
	if ph.Note != "" || ph.Requests != want || ph.OK != want || ph.Errors != 0 || ph.Status["200"] != want || ph.StoppedBy != "count" {
		t.Errorf("%s: requests=%d ok=%d errors=%v %v status=%v stopped by %q note %q; want %d successful requests",
			ph.Name, ph.Requests, ph.OK, ph.ErrorKinds, ph.ErrorSamples, ph.Status, ph.StoppedBy, ph.Note, want)
	}
	if ph.RPS <= 0 || !(0 < ph.P50ms && ph.P50ms <= ph.P90ms && ph.P90ms <= ph.P99ms && ph.P99ms <= ph.MaxMs) {
		t.Errorf("%s: rps=%v p50=%v p90=%v p99=%v max=%v", ph.Name, ph.RPS, ph.P50ms, ph.P90ms, ph.P99ms, ph.MaxMs)
	}
}

func TestTokenPhases(t *testing.T) {
	const resource = "https://mcp.example/"
	s, app := newAuthzServer(t, "X-Bench-User", func(c *clientreg.Config) {
		c.Resources = clientreg.ResourcePolicy{Allowed: []string{resource}}
	})
	const n, c = 40, 4
	rep := run(t, bench.Config{Base: s.URL, Concurrency: c, Requests: n, Duration: 30 * time.Second,
		Phases: bench.TokenPhases, LoginHeader: "X-Bench-User", User: "ada", Scope: "read", Resources: []string{resource}})
	if !rep.OK() || len(rep.Phases) != 4 {
		t.Fatalf("run not OK: %+v", rep.Phases)
	}
	for i, ph := range rep.Phases {
		if ph.Name != bench.TokenPhases[i] {
			t.Errorf("phase %d is %s, want %s", i, ph.Name, bench.TokenPhases[i])
		}
		checkOK(t, ph, n)
	}

	// The code phase: the table's figures are the exchanges', Flow the
	// whole flows' (each at least as long as its exchange).
	code := phase(t, rep, bench.PhaseCode)
	f := code.Flow
	if f == nil || f.Flows != n || f.OK != n || f.RequestsPerFlow != 2 || f.RPS <= 0 ||
		f.P50ms < code.P50ms || f.P99ms < code.P99ms || f.MaxMs < code.MaxMs || f.ElapsedS < code.ElapsedS {
		t.Errorf("code flow %+v, exchanges p50 %v p99 %v max %v elapsed %v; want %d flows of 2 requests, no faster than their exchanges",
			f, code.P50ms, code.P99ms, code.MaxMs, code.ElapsedS, n)
	}
	if code.Counters["refresh_token_issued"] != n {
		t.Errorf("code counters %v", code.Counters)
	}
	// Every refresh rotated the token, and the next one used the new one
	// (with no grace, an old one would have failed and revoked the grant).
	if got := phase(t, rep, bench.PhaseRefresh).Counters["rt_rotated"]; got != n {
		t.Errorf("refresh rt_rotated = %d, want %d", got, n)
	}

	// What the server saw: the measured requests, one code flow per worker
	// before the refresh phase, and nothing else.
	for gt, want := range map[string]int{"client_credentials": n, "authorization_code": n + c, "refresh_token": n} {
		if got := app.grantCount(gt); got != want {
			t.Errorf("%d %s requests at the token endpoint, want %d", got, gt, want)
		}
	}
	app.mu.Lock()
	if app.introsp != n || app.authorize != n+c || app.logouts != 0 || len(app.logins) != 0 {
		t.Errorf("server saw %d introspections, %d authorizations, %d sign-outs, %d logins; want %d, %d, 0, 0",
			app.introsp, app.authorize, app.logouts, len(app.logins), n, n+c)
	}
	for i := range app.resources {
		if !slices.Equal(app.resources[i], []string{resource}) || !slices.Equal(app.scopes[i], []string{"read"}) {
			t.Fatalf("authorization request %d asked for resources %q, scopes %q", i, app.resources[i], app.scopes[i])
		}
	}
	for i, res := range app.tokenRes {
		if !slices.Equal(res, []string{resource}) {
			t.Fatalf("exchange %d sent resource %q", i, res)
		}
	}
	token := app.codeToken
	app.mu.Unlock()
	info, err := s.h.VerifyAccessToken(t.Context(), token, resource)
	if err != nil || info.Subject != "ada" {
		t.Errorf("the exchanged token: %+v, %v; want one for ada at %s", info, err, resource)
	}

	// The report: discovery, settings, and the text table with the flow
	// line.
	d := rep.Discovery
	if d.TokenEndpoint != s.URL+"/token" || d.IntrospectionEndpoint != s.URL+"/introspect" || d.AuthorizationEndpoint != s.URL+"/authorize" || !d.ISSParameter {
		t.Errorf("discovery %+v", d)
	}
	st := rep.Settings
	if st.TokenClients != 1 || st.TokenAuth != "client_secret_basic" || st.LoginHeader != "X-Bench-User" || st.User != "ada" ||
		st.Scope != "read" || !slices.Equal(st.Resources, []string{resource}) || st.RedirectURI != bench.DefaultRedirectURI {
		t.Errorf("settings %+v", st)
	}
	var text strings.Builder
	rep.WriteText(&text)
	for _, want := range []string{"introspect       40       40       0", "code: the table has the exchanges; whole flows: 40, 40 ok",
		"refresh counters: rt_rotated=40", "token " + s.URL + "/token, introspection " + s.URL + "/introspect"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

// TestTokenPhasesForms: the code flow goes through a login form (user name
// and password, a session cookie) and a consent form, as on
// node-oidc-provider; several clients of each kind take turns.
func TestTokenPhasesForms(t *testing.T) {
	s, app := newAuthzServer(t, "", nil)
	const n = 30
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 3, Requests: n, TokenClients: 3,
		Phases: []string{bench.PhaseIntrospect, bench.PhaseCode, bench.PhaseRefresh}, User: "grace", Password: "pw"})
	for _, ph := range rep.Phases {
		checkOK(t, ph, n)
	}
	// interaction (login form), login, interaction (consent), confirm.
	if f := phase(t, rep, bench.PhaseCode).Flow; f == nil || f.RequestsPerFlow != 5 || f.OK != n {
		t.Errorf("code flow %+v, want %d flows of 5 requests", f, n)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.logins) != n+3 || app.logins[0] != "grace:pw" {
		t.Errorf("%d logins (first %q), want %d as grace:pw", len(app.logins), app.logins, n+3)
	}
	// Without a token phase, introspect obtained one token per client.
	if app.grants["client_credentials"] != 3 || app.introsp != n {
		t.Errorf("%d client_credentials grants and %d introspections, want 3 and %d", app.grants["client_credentials"], app.introsp, n)
	}
	if rep.Settings.TokenClients != 3 {
		t.Errorf("settings %+v", rep.Settings)
	}
}

func TestTokenPhasesCountRefusals(t *testing.T) {
	var introspector atomic.Pointer[string]
	s, _ := newAuthzServer(t, "X-Bench-User", func(c *clientreg.Config) {
		c.Resources = clientreg.ResourcePolicy{Allowed: []string{"https://mcp.example/"}}
		c.MayIntrospect = func(caller *clientreg.Client, tok *store.AccessToken) bool {
			p := introspector.Load()
			return caller.ID == tok.ClientID || p != nil && caller.ID == *p
		}
	})
	const n = 12
	base := bench.Config{Base: s.URL, Concurrency: 3, Requests: n, LoginHeader: "X-Bench-User"}

	// A resource the server does not issue tokens for: every authorization
	// ends at the client with invalid_target, and no refresh token can be
	// obtained.
	cfg := base
	cfg.Phases, cfg.Resources = []string{bench.PhaseCode, bench.PhaseRefresh}, []string{"https://elsewhere.example/"}
	rep := run(t, cfg)
	code := phase(t, rep, bench.PhaseCode)
	if code.Requests != n || code.OK != 0 || code.ErrorKinds["authorize_error_invalid_target"] != n || code.Status["none"] != n ||
		code.Flow == nil || code.Flow.Flows != n || code.Flow.OK != 0 || code.RPS != 0 {
		t.Errorf("code with a refused resource: %+v, flow %+v; want %d authorize_error_invalid_target", code, code.Flow, n)
	}
	if ref := phase(t, rep, bench.PhaseRefresh); ref.Requests != 0 || !strings.Contains(ref.Note, "authorize_error_invalid_target") {
		t.Errorf("refresh: %+v, want a note naming the refusal", ref)
	}
	if rep.OK() {
		t.Error("Report.OK() = true")
	}

	// Without the login header, the sign-in page refuses.
	cfg = base
	cfg.Phases, cfg.LoginHeader = []string{bench.PhaseCode}, ""
	if code := phase(t, run(t, cfg), bench.PhaseCode); code.ErrorKinds["authorize_http_403"] != n || code.ErrorSamples["authorize_http_403"] == "" {
		t.Errorf("code without the login header: %v %v, want %d authorize_http_403", code.ErrorKinds, code.ErrorSamples, n)
	}

	// An introspector with a wrong secret is refused; with the right
	// secret, it learns only that other clients' tokens are inactive,
	// until the policy lets it introspect every token.
	other, err := s.h.Register(t.Context(), "", clientreg.Metadata{GrantTypes: []string{"client_credentials"},
		ResponseTypes: []string{}, TokenEndpointAuthMethod: "client_secret_basic"})
	if err != nil {
		t.Fatal(err)
	}
	cfg = base
	cfg.Phases = []string{bench.PhaseToken, bench.PhaseIntrospect}
	cfg.Introspector = bench.Credentials{ID: other.ClientID, Secret: "wrong"}
	rep = run(t, cfg)
	checkOK(t, phase(t, rep, bench.PhaseToken), n)
	if in := phase(t, rep, bench.PhaseIntrospect); in.Errors != n || in.ErrorKinds["http_401"] != n || !strings.Contains(in.ErrorSamples["http_401"], "invalid_client") {
		t.Errorf("introspect with a wrong secret: %v %v, want %d http_401", in.ErrorKinds, in.ErrorSamples, n)
	}
	cfg.Introspector.Secret = other.ClientSecret
	if in := phase(t, run(t, cfg), bench.PhaseIntrospect); in.Errors != n || in.ErrorKinds["inactive"] != n || in.Status["200"] != n {
		t.Errorf("introspect of other clients' tokens: %v %v, want %d inactive", in.ErrorKinds, in.Status, n)
	}
	introspector.Store(&other.ClientID)
	rep = run(t, cfg)
	checkOK(t, phase(t, rep, bench.PhaseIntrospect), n)
	if rep.Settings.Introspector != other.ClientID {
		t.Errorf("settings %+v", rep.Settings)
	}
}

// TestTokenPhasesSomeErrors: every fourth token request fails; the others
// are measured.
func TestTokenPhasesSomeErrors(t *testing.T) {
	var seen atomic.Int64
	s := newServer(t, func(c *clientreg.Config) { c.ServeTokenEndpoints = true }, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" && seen.Add(1)%4 == 0 {
				http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	const n = 40
	rep := run(t, bench.Config{Base: s.URL, Concurrency: 4, Requests: n, Phases: bench.TokenPhases})
	tok := phase(t, rep, bench.PhaseToken)
	if tok.Requests != n || tok.Errors != n/4 || tok.ErrorKinds["http_503"] != n/4 || tok.Status["200"] != n-n/4 {
		t.Errorf("token: requests=%d errors=%v status=%v, want %d of %d failed", tok.Requests, tok.ErrorKinds, tok.Status, n/4, n)
	}
	checkOK(t, phase(t, rep, bench.PhaseIntrospect), n)
	// No Authorizer: no authorization endpoint to run the code flow on.
	for _, name := range []string{bench.PhaseCode, bench.PhaseRefresh} {
		if ph := phase(t, rep, name); ph.Requests != 0 || !strings.Contains(ph.Note, "no authorization_endpoint") {
			t.Errorf("%s: %+v, want a note", name, ph)
		}
	}
}

// oddServer is a minimal OAuth server whose metadata lists only
// client_secret_post, and whose token endpoint answers with a token type
// other than Bearer for every other request.
type oddServer struct {
	mu    sync.Mutex
	n     int
	posts int // token requests authenticated with client_secret_post
}

func (s *oddServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base := "http://" + r.Host
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/oauth-authorization-server":
		json.NewEncoder(w).Encode(map[string]any{"issuer": base, "registration_endpoint": base + "/reg",
			"token_endpoint": base + "/tok", "token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"}})
	case "/reg":
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		if m["token_endpoint_auth_method"] != "client_secret_post" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(201)
		w.Write([]byte(`{"client_id":"c1","client_secret":"s1"}`))
	case "/tok":
		r.ParseForm()
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.PostForm.Get("client_id") == "c1" && r.PostForm.Get("client_secret") == "s1" && r.Header.Get("Authorization") == "" {
			s.posts++
		}
		s.n++
		typ := "Bearer"
		if s.n%2 == 0 {
			typ = "DPoP"
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": typ, "expires_in": 60})
	default:
		http.NotFound(w, r)
	}
}

func TestTokenPhaseAuthAndBodies(t *testing.T) {
	srv := &oddServer{}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	const n = 20
	rep := run(t, bench.Config{Base: ts.URL, Concurrency: 2, Requests: n, Phases: []string{bench.PhaseToken, bench.PhaseIntrospect}})
	tok := phase(t, rep, bench.PhaseToken)
	if tok.OK != n/2 || tok.ErrorKinds["bad_body"] != n/2 || !strings.Contains(tok.ErrorSamples["bad_body"], "DPoP") {
		t.Errorf("token: ok=%d errors=%v %v, want %d bad_body (not Bearer)", tok.OK, tok.ErrorKinds, tok.ErrorSamples, n/2)
	}
	if srv.posts != n || rep.Settings.TokenAuth != "client_secret_post" {
		t.Errorf("%d of %d token requests used client_secret_post (settings %q)", srv.posts, n, rep.Settings.TokenAuth)
	}
	if in := phase(t, rep, bench.PhaseIntrospect); !strings.Contains(in.Note, "no introspection_endpoint") {
		t.Errorf("introspect: %+v, want a note", in)
	}
}
