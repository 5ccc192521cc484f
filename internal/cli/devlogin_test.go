package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store/memory"
)

// location returns the Location of a redirect r, resolved against base.
func location(t *testing.T, base string, r response) string {
	t.Helper()
	if r.status/100 != 3 {
		t.Fatalf("status %d, want a redirect; body:\n%s", r.status, r.body)
	}
	b, _ := url.Parse(base)
	to, err := b.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return to.String()
}

// follow GETs u and follows redirects, across hosts, until a page that is
// not a redirect or a redirect to the client's redirect URI, which it
// returns unfollowed, with the URL it came from.
func (b *browser) follow(u string) (response, string) {
	b.t.Helper()
	for range 10 {
		r := b.do(http.MethodGet, u, nil, nil)
		if r.status/100 != 3 || strings.HasPrefix(r.header.Get("Location"), "http://127.0.0.1:9000/cb") {
			return r, u
		}
		u = location(b.t, u, r)
	}
	b.t.Fatalf("too many redirects, the last to %s", u)
	return response{}, ""
}

// devSignIn answers the development sign-in page r (at pageURL) as name
// and returns the consent page it leads to.
func (b *browser) devSignIn(issuer string, r response, name string) response {
	b.t.Helper()
	if !strings.Contains(string(r.body), `<label for="username">User name</label>`) {
		b.t.Fatalf("not the sign-in page (%d):\n%s", r.status, r.body)
	}
	action, fields := consentForm(b.t, r)
	fields.Set("username", name)
	res := b.do(http.MethodPost, issuer+action, fields, nil)
	page, _ := b.follow(location(b.t, issuer, res))
	return page
}

// Without --login, a loopback server has the development sign-in: the
// authorization endpoint is advertised, the start log warns, the sign-in
// page has its banner, and the flow ends with tokens.
func TestDevLoginDefault(t *testing.T) {
	s := startServer(t, nil, "--db", dbIn(t), "--rate-limits=false")
	meta := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "").json(t)
	if meta["authorization_endpoint"] != s.issuer+"/authorize" {
		t.Fatalf("authorization_endpoint = %v", meta["authorization_endpoint"])
	}
	if !strings.Contains(s.stderr.String(), "--login dev: anyone who can reach this server signs in") {
		t.Errorf("the start log does not warn of the development sign-in:\n%s", s.stderr)
	}
	client := publicClient(t, s.issuer, "Dev Flow")
	b := newBrowser(t, "")
	verifier, challenge := pkce("i")
	r := b.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st"), nil, nil)
	signin, pageURL := b.follow(location(t, s.issuer, r))
	if !strings.HasPrefix(pageURL, s.issuer+devLoginPath+"?request=") {
		t.Fatalf("sent to %s, want the sign-in page", pageURL)
	}
	wantStatus(t, "sign-in page", signin, http.StatusOK)
	body := string(signin.body)
	for _, want := range []string{"Development sign-in", `<input type="text" id="username" name="username"`, "frame-ancestors"} {
		if !strings.Contains(body+signin.header.Get("Content-Security-Policy"), want) {
			t.Errorf("the sign-in page lacks %q", want)
		}
	}
	// A bad name is asked again, with the problem said.
	action, fields := consentForm(t, signin)
	fields.Set("username", " ")
	again := b.do(http.MethodPost, s.issuer+action, fields, nil)
	wantStatus(t, "empty user name", again, http.StatusBadRequest)
	if !strings.Contains(string(again.body), `role="alert"`) {
		t.Errorf("the refusal of an empty name says nothing:\n%s", again.body)
	}

	consent := b.devSignIn(s.issuer, signin, "dev-alice")
	wantStatus(t, "consent page", consent, http.StatusOK)
	if !strings.Contains(string(consent.body), "dev-alice") || !strings.Contains(string(consent.body), "Development sign-in") {
		t.Errorf("the consent page does not name the user or lacks the banner:\n%s", consent.body)
	}
	u, _ := url.Parse(s.issuer)
	var sessionCookie *http.Cookie
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "clientreg_session" {
			sessionCookie = c
		}
	}
	if sessionCookie == nil {
		t.Fatal("no session cookie after the sign-in")
	}
	action, fields = consentForm(t, consent)
	fields.Set("decision", "approve")
	q := wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
	r = postForm(t, s.issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {"http://127.0.0.1:9000/cb"}, "client_id": {client}, "code_verifier": {verifier}})
	wantStatus(t, "code exchange", r, http.StatusOK)

	// Signed in and approved: the next authorization goes straight back.
	_, challenge = pkce("j")
	wantRedirect(t, b.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st2"), nil, nil))
}

// The session cookie's attributes: HttpOnly, SameSite=Lax, and on an http
// issuer no Secure (which the browser would not send back).
func TestSessionCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		secure bool
		name   string
	}{{false, "clientreg_session"}, {true, "__Host-clientreg_session"}} {
		ss := &sessions{st: memory.New(), key: make([]byte, 32), secure: tc.secure, idle: time.Hour, lifetime: 2 * time.Hour, now: time.Now}
		w := httptest.NewRecorder()
		if _, err := ss.create(context.Background(), w, "alice", "Alice", sessionClaims{}); err != nil {
			t.Fatal(err)
		}
		c := w.Result().Cookies()[0]
		if c.Name != tc.name || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tc.secure || c.Path != "/" || c.MaxAge != 7200 {
			t.Errorf("secure=%v: cookie %+v", tc.secure, c)
		}
	}
}

// A session ends after --session-idle without use and --session-lifetime
// after sign-in, whatever its use; its use is written at most once a minute.
func TestSessionExpiry(t *testing.T) {
	st := memory.New()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ss := &sessions{st: st, key: make([]byte, 32), idle: time.Hour, lifetime: 3 * time.Hour, now: func() time.Time { return now }}
	signIn := func() *http.Request {
		w := httptest.NewRecorder()
		if _, err := ss.create(context.Background(), w, "alice", "Alice", sessionClaims{}); err != nil {
			t.Fatal(err)
		}
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		r.AddCookie(w.Result().Cookies()[0])
		return r
	}
	get := func(r *http.Request) *session {
		t.Helper()
		se, err := ss.get(r)
		if err != nil {
			t.Fatal(err)
		}
		return se
	}

	r := signIn()
	if get(r) == nil {
		t.Fatal("a new session is not found")
	}
	now = now.Add(30 * time.Second)
	se := get(r)
	rec, _ := st.GetSession(context.Background(), se.hash)
	if !rec.LastSeenAt.Equal(now.Add(-30 * time.Second)) {
		t.Errorf("a use 30s after the last was written: LastSeenAt %v", rec.LastSeenAt)
	}
	now = now.Add(59*time.Minute + 29*time.Second) // 59m59s after sign-in
	if get(r) == nil {
		t.Fatal("the session ended before its idle lifetime")
	}
	rec, _ = st.GetSession(context.Background(), se.hash)
	if !rec.LastSeenAt.Equal(now) || !rec.IdleExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("the use was not recorded: %+v", rec)
	}
	// Used every 50 minutes, it still ends at its absolute lifetime.
	for now.Add(50 * time.Minute).Before(rec.ExpiresAt) {
		now = now.Add(50 * time.Minute)
		if get(r) == nil {
			t.Fatalf("the session ended at %v, before its lifetime", now)
		}
	}
	now = rec.ExpiresAt
	if get(r) != nil {
		t.Error("the session outlived --session-lifetime")
	}

	// Idle for an hour: ended.
	r = signIn()
	now = now.Add(time.Hour)
	if get(r) != nil {
		t.Error("the session outlived --session-idle")
	}
	// Removed by the sweep.
	if n, err := st.DeleteExpired(context.Background(), now.Add(time.Second)); err != nil || n != 2 {
		t.Errorf("DeleteExpired = %d, %v; want the 2 sessions", n, err)
	}
	// A cookie of the wrong length or an unknown id signs nobody in.
	for _, v := range []string{"short", strings.Repeat("A", 43)} {
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		r.AddCookie(&http.Cookie{Name: "clientreg_session", Value: v})
		if get(r) != nil {
			t.Errorf("cookie %q signed someone in", v)
		}
	}
}

// Sign-out: GET shows the button, a POST without the form's token is
// refused, with it the session ends, the cookie is cleared, the consent page
// shown before cannot be answered, and the next authorization asks to sign
// in again.
func TestSignOut(t *testing.T) {
	s := startServer(t, nil, "--db", dbIn(t), "--login", "dev", "--rate-limits=false")
	client := publicClient(t, s.issuer, "Sign-out")
	b := newBrowser(t, "")
	_, challenge := pkce("k")
	signin, _ := b.follow(authorizeURL(s.issuer, client, challenge, "st"))
	consent := b.devSignIn(s.issuer, signin, "bob")
	if !strings.Contains(string(consent.body), `action="/logout"`) {
		t.Fatalf("the consent page has no sign-out form:\n%s", consent.body)
	}
	consentAction, consentFields := consentForm(t, consent)

	page := b.do(http.MethodGet, s.issuer+logoutPath, nil, nil)
	wantStatus(t, "sign-out page", page, http.StatusOK)
	action, fields := consentForm(t, page)
	if action != logoutPath || !strings.Contains(string(page.body), "bob") {
		t.Fatalf("sign-out page:\n%s", page.body)
	}
	wantStatus(t, "sign-out without its token", b.do(http.MethodPost, s.issuer+logoutPath, url.Values{"csrf": {"x"}}, nil), http.StatusForbidden)
	wantStatus(t, "sign-out from another origin", b.do(http.MethodPost, s.issuer+logoutPath, fields, http.Header{"Origin": {"https://evil.example"}}), http.StatusForbidden)
	out := b.do(http.MethodPost, s.issuer+logoutPath, fields, nil)
	wantStatus(t, "sign-out", out, http.StatusOK)
	if !strings.Contains(string(out.body), "You are signed out") {
		t.Errorf("signed-out page:\n%s", out.body)
	}
	cleared := false
	for _, c := range (&http.Response{Header: out.header}).Cookies() {
		cleared = cleared || c.Name == "clientreg_session" && c.MaxAge < 0
	}
	if !cleared {
		t.Error("the sign-out did not clear the session cookie")
	}
	consentFields.Set("decision", "approve")
	wantStatus(t, "consent after sign-out", b.do(http.MethodPost, s.issuer+consentAction, consentFields, nil), http.StatusForbidden)
	_, challenge = pkce("l")
	_, u := b.follow(authorizeURL(s.issuer, client, challenge, "st2"))
	if !strings.HasPrefix(u, s.issuer+devLoginPath) {
		t.Errorf("after sign-out, authorization went to %s, not the sign-in page", u)
	}
}

// Forged answers: the sign-in form and the consent form without their
// anti-forgery tokens, from another origin, or after signing in as someone
// else; and a denial at the consent page.
func TestDevLoginCSRFAndDenial(t *testing.T) {
	s := startServer(t, nil, "--db", dbIn(t), "--login", "dev", "--consent-ttl", "0", "--rate-limits=false")
	client := publicClient(t, s.issuer, "CSRF")
	b := newBrowser(t, "")
	_, challenge := pkce("m")
	signin, _ := b.follow(authorizeURL(s.issuer, client, challenge, "st"))
	action, fields := consentForm(t, signin)
	forged := url.Values{"request": {fields.Get("request")}, "csrf": {"AAAA"}, "username": {"eve"}}
	wantStatus(t, "sign-in with a forged token", b.do(http.MethodPost, s.issuer+action, forged, nil), http.StatusForbidden)
	fields.Set("username", "eve")
	wantStatus(t, "sign-in from another origin", b.do(http.MethodPost, s.issuer+action, fields, http.Header{"Origin": {"https://evil.example"}}), http.StatusForbidden)

	consent := b.devSignIn(s.issuer, signin, "carol")
	action, fields = consentForm(t, consent)
	forgedConsent := url.Values{"request": {fields.Get("request")}, "csrf": {"AAAA"}, "decision": {"approve"}}
	wantStatus(t, "consent with a forged token", b.do(http.MethodPost, s.issuer+action, forgedConsent, nil), http.StatusForbidden)
	fields.Set("decision", "approve")
	wantStatus(t, "consent from another origin", b.do(http.MethodPost, s.issuer+action, fields, http.Header{"Origin": {"https://evil.example"}}), http.StatusForbidden)
	// Another browser (no session, no binding cookie) cannot answer.
	if r := newBrowser(t, "").do(http.MethodPost, s.issuer+action, fields, nil); r.status == http.StatusSeeOther {
		t.Fatal("another browser answered the request")
	}
	fields.Set("decision", "deny")
	q := wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
	if q.Get("error") != "access_denied" || q.Get("state") != "st" || q.Has("code") {
		t.Fatalf("denial redirect %v", q)
	}
}

// --login dev is refused with a non-loopback address or issuer; without
// --login, a server with a public issuer has no sign-in.
func TestDevLoginOnlyOnLoopback(t *testing.T) {
	code, _, stderr := run(t, nil, "serve", "--addr", "192.0.2.1:0", "--db", dbIn(t), "--login", "dev")
	if code != 2 || !strings.Contains(stderr, "--login dev") || !strings.Contains(stderr, "loopback") {
		t.Errorf("--login dev on 192.0.2.1: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", dbIn(t), "--login", "dev", "--issuer", "https://auth.example.com")
	if code != 2 || !strings.Contains(stderr, "--login dev") {
		t.Errorf("--login dev with a public issuer: exit %d, %s", code, stderr)
	}
	s := startServer(t, nil, "--db", dbIn(t), "--issuer", "https://auth.example.com")
	if !strings.Contains(s.stderr.String(), "no --login") {
		t.Errorf("a server with a public issuer got a sign-in by default:\n%s", s.stderr)
	}
}
