package cli

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clientreg/clientreg"
)

// The paths of the sign-in and consent pages.
const (
	consentPath  = "/consent"        // POST: the consent form's answer
	continuePath = "/login/continue" // GET ?request=ID: back from a sign-in
	devLoginPath = "/login/dev"      // GET: the form; POST: its answer
	logoutPath   = "/logout"         // GET: a sign-out button; POST: sign out
)

// maxSubjectLen bounds a subject: the user name a sign-in proxy sends or a
// developer types, and the upstream issuer and subject of --login oidc.
const maxSubjectLen = 512

// maxDevNameLen bounds the user name of the development sign-in.
const maxDevNameLen = 64

// login is the clientreg.Authorizer of serve's --login header, dev and
// oidc. It signs the user in, asks for consent and serves the pages and
// forms of both.
//
//   - header: the user is the value of a header that a trusted reverse proxy
//     (oauth2-proxy, Pomerium, Cloudflare Access, Authelia) sets after it
//     signed the user in. The header counts only on requests whose
//     connection comes from a --trusted-proxy address; anyone else could set
//     it. It is read on every request (the proxy is the session: signing out
//     there signs out here), so there is no session and no sign-out here.
//   - dev: a form asks for a user name, no password; the server then keeps a
//     session (see sessions). For development on loopback only.
//   - oidc: the user signs in at an upstream OpenID provider (see oidcLogin);
//     the server then keeps a session.
type login struct {
	kind       string // "header", "dev" or "oidc"
	header     string
	proxies    []netip.Prefix
	consentTTL time.Duration // 0: ask every time
	csrfKey    []byte
	issuer     *url.URL
	pages      *pageSet
	log        *slog.Logger
	h          *clientreg.Handler // set once New returned it
	sessions   *sessions          // dev and oidc
	oidc       *oidcLogin         // oidc
}

// user is a signed-in user.
type user struct {
	subject string
	name    string   // shown on the pages
	sess    *session // nil for --login header
}

// currentUser returns the signed-in user of r, or nil and why there is
// none, in words for the person at the browser. An error is the store's.
func (l *login) currentUser(r *http.Request) (*user, string, error) {
	if l.kind == "header" {
		sub, why := l.headerSubject(r)
		if sub == "" {
			return nil, why, nil
		}
		return &user{subject: sub, name: sub}, "", nil
	}
	se, err := l.sessions.get(r)
	if err != nil || se == nil {
		return nil, "You are not signed in (or your session has ended). Start the sign-in again from the application.", err
	}
	return &user{subject: se.subject, name: se.name, sess: se}, "", nil
}

// headerSubject returns the user named by the proxy's header, or "" and
// why there is none.
func (l *login) headerSubject(r *http.Request) (string, string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !l.trusted(addr.Unmap()) {
		return "", "This server signs you in through its sign-in proxy, and this request did not come through it. Open the application's sign-in link through the proxy's address."
	}
	vals := r.Header.Values(l.header)
	if len(vals) != 1 {
		return "", "The sign-in proxy did not say who you are (the " + l.header + " header is missing or repeated). Sign in at the proxy, then try again."
	}
	sub := strings.TrimSpace(vals[0])
	if !validSubject(sub) {
		return "", "The sign-in proxy sent a user name this server cannot use (empty, too long, or with control characters)."
	}
	return sub, ""
}

func (l *login) trusted(a netip.Addr) bool {
	for _, p := range l.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// validSubject reports whether s can be a subject: 1 to maxSubjectLen
// bytes of UTF-8 with no control or invisible formatting characters.
func validSubject(s string) bool {
	if s == "" || len(s) > maxSubjectLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// Authorize implements clientreg.Authorizer: it signs the user in (or
// sends the browser to sign in, and back to continuePath afterwards) and
// asks for consent, unless the user approved the same client for the same
// scopes and resources within --consent-ttl.
func (l *login) Authorize(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest) {
	u, why, err := l.currentUser(r)
	if err != nil {
		l.serverError(w, r, "look up the session", err)
		return
	}
	if u == nil {
		switch l.kind {
		case "dev":
			http.Redirect(w, r, devLoginPath+"?"+url.Values{"request": {req.ID}}.Encode(), http.StatusSeeOther)
		case "oidc":
			l.oidc.start(w, r, req.ID)
		default:
			l.pages.renderError(w, r, http.StatusForbidden, "Sign-in required", why, "")
		}
		return
	}
	l.proceed(w, r, req, u)
}

// serveContinue resumes a pending request after a sign-in: GET
// continuePath?request=ID.
func (l *login) serveContinue(w http.ResponseWriter, r *http.Request) {
	u, ok := l.requireUser(w, r)
	if !ok {
		return
	}
	req, err := l.h.PendingAuthorization(r, r.URL.Query().Get("request"))
	if err != nil {
		l.pendingError(w, r, err)
		return
	}
	l.proceed(w, r, req, u)
}

// proceed completes req for u when u's consent is remembered, and shows
// the consent page otherwise.
func (l *login) proceed(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest, u *user) {
	if l.consentTTL > 0 {
		ok, err := l.h.ConsentRemembered(r.Context(), u.subject, req)
		if err != nil {
			l.serverError(w, r, "look up remembered consent", err)
			return
		}
		if ok {
			l.complete(w, r, req, u.subject, false)
			return
		}
	}
	page := consentPage{
		Title:        "Allow access",
		ClientName:   displayName(req),
		Unverified:   req.DynamicallyRegistered,
		Subject:      u.name,
		RedirectHost: req.RedirectHost,
		DocumentHost: req.DocumentHost,
		LoopbackOnly: req.DocumentHost != "" && req.LoopbackRedirectsOnly,
		Scopes:       req.Scopes,
		Resources:    req.Resources,
		Action:       consentPath,
		RequestID:    req.ID,
		CSRF:         l.csrf(req.ID, u),
		Dev:          l.kind == "dev",
	}
	if u.sess != nil {
		page.LogoutAction, page.LogoutCSRF = logoutPath, l.logoutCSRF(u.sess)
	}
	l.pages.render(w, r, http.StatusOK, "consent", page)
}

// consentPage is the data of the consent page.
type consentPage struct {
	Title, ClientName, Subject, RedirectHost string
	// DocumentHost is the host of a document client's client_id URL;
	// LoopbackOnly warns that such a client redirects only to this
	// machine, so that any local program could be using its name.
	DocumentHost             string
	Unverified, LoopbackOnly bool
	Scopes, Resources        []string
	Action, RequestID, CSRF  string
	// LogoutAction and LogoutCSRF make the "not you? sign out" form, for
	// users with a session.
	LogoutAction, LogoutCSRF string
	// Dev shows the development banner.
	Dev bool
}

// displayName is the name the consent page shows for the client.
func displayName(req *clientreg.AuthorizationRequest) string {
	if req.ClientName != "" {
		return req.ClientName
	}
	return "an application (" + req.ClientID + ")"
}

// mac is the anti-forgery token of the forms: a MAC of its parts under a
// key of this server.
func (l *login) mac(parts ...string) string {
	m := hmac.New(sha256.New, l.csrfKey)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrf is the consent form's anti-forgery token: a MAC of the pending
// request, the user and the user's session, so that another site cannot
// post an answer for the user (the pending request is also bound to the
// browser's cookie, which a cross-site POST does not carry), and an answer
// does not outlive the session it was shown in.
func (l *login) csrf(requestID string, u *user) string {
	sess := ""
	if u.sess != nil {
		sess = hex.EncodeToString(u.sess.hash)
	}
	return l.mac("consent", requestID, u.subject, sess)
}

// logoutCSRF is the sign-out form's anti-forgery token.
func (l *login) logoutCSRF(se *session) string {
	return l.mac("logout", hex.EncodeToString(se.hash))
}

// formPost checks that r is a POST of one of this server's forms: from this
// origin (when the browser says), form-encoded and small. It writes the
// refusal page and returns false otherwise.
func (l *login) formPost(w http.ResponseWriter, r *http.Request, what string) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != l.issuer.Scheme+"://"+l.issuer.Host {
		l.pages.renderError(w, r, http.StatusForbidden, "Request refused", "The answer did not come from this server's "+what+".", "")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		l.pages.renderError(w, r, http.StatusBadRequest, "Request refused", "The "+what+" was not sent as this server's page sends it.", "")
		return false
	}
	return true
}

// serveConsent answers the consent form: POST with the pending request,
// the anti-forgery token and the decision.
func (l *login) serveConsent(w http.ResponseWriter, r *http.Request) {
	u, ok := l.requireUser(w, r)
	if !ok {
		return
	}
	if !l.formPost(w, r, "consent page") {
		return
	}
	id := r.PostForm.Get("request")
	if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(l.csrf(id, u))) {
		l.pages.renderError(w, r, http.StatusForbidden, "Request refused", "The answer did not come from the consent page this server showed you, or you signed in as someone else since.", "Start the sign-in again from the application.")
		return
	}
	req, err := l.h.PendingAuthorization(r, id)
	if err != nil {
		l.pendingError(w, r, err)
		return
	}
	switch r.PostForm.Get("decision") {
	case "approve":
		l.complete(w, r, req, u.subject, l.consentTTL > 0)
	case "deny":
		to, err := l.h.DenyAuthorization(w, r, id, "the user denied the request")
		if err != nil {
			l.pendingError(w, r, err)
			return
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	default:
		l.pages.renderError(w, r, http.StatusBadRequest, "Request refused", "The consent form's answer was neither allow nor deny.", "")
	}
}

// complete approves req for sub, remembers the consent when asked, and
// sends the browser back to the client.
func (l *login) complete(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest, sub string, remember bool) {
	if remember {
		if err := l.h.RememberConsent(r.Context(), sub, req, req.Scopes, l.consentTTL); err != nil {
			l.serverError(w, r, "remember consent", err)
			return
		}
	}
	to, err := l.h.CompleteAuthorization(w, r, req.ID, clientreg.Approval{Subject: sub})
	if err != nil {
		l.pendingError(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// signoutPage is the data of the sign-out page: a button while signed in,
// "you are signed out" after.
type signoutPage struct {
	Title, Name, Action, CSRF string
	SignedOut, Dev            bool
}

// serveLogout serves logoutPath: GET shows a sign-out button to a
// signed-in user; POST, with the form's anti-forgery token, ends the
// session and shows the signed-out page.
func (l *login) serveLogout(w http.ResponseWriter, r *http.Request) {
	u, _, err := l.currentUser(r)
	if err != nil {
		l.serverError(w, r, "look up the session", err)
		return
	}
	signedOut := signoutPage{Title: "Signed out", SignedOut: true, Dev: l.kind == "dev"}
	if r.Method != http.MethodPost {
		if u == nil {
			l.pages.render(w, r, http.StatusOK, "signout", signedOut)
			return
		}
		l.pages.render(w, r, http.StatusOK, "signout", signoutPage{Title: "Sign out", Name: u.name,
			Action: logoutPath, CSRF: l.logoutCSRF(u.sess), Dev: l.kind == "dev"})
		return
	}
	if !l.formPost(w, r, "sign-out form") {
		return
	}
	if u == nil {
		l.pages.render(w, r, http.StatusOK, "signout", signedOut)
		return
	}
	if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(l.logoutCSRF(u.sess))) {
		l.pages.renderError(w, r, http.StatusForbidden, "Request refused", "The sign-out did not come from this server's sign-out button.", "You are still signed in.")
		return
	}
	if err := l.sessions.end(w, r, u.sess); err != nil {
		l.serverError(w, r, "end the session", err)
		return
	}
	l.pages.render(w, r, http.StatusOK, "signout", signedOut)
}

// pendingError answers a failure to find, complete or deny a pending
// request: an *clientreg.Error is the user's (expired, answered already,
// another browser), anything else the server's.
func (l *login) pendingError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *clientreg.Error
	if errors.As(err, &oe) {
		l.pages.renderError(w, r, http.StatusBadRequest, "This sign-in cannot go on",
			"The sign-in request has expired, was answered already, or was started in another browser.",
			"Start the sign-in again from the application.")
		return
	}
	l.serverError(w, r, "complete the authorization", err)
}

func (l *login) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	l.log.ErrorContext(r.Context(), "authorization failed", "step", what, "err", err)
	l.pages.renderError(w, r, http.StatusServiceUnavailable, "Something went wrong",
		"This server could not finish the sign-in. Try again in a moment.", "")
}

// requireUser returns the signed-in user of r, or answers r (a sign-in
// page, or the server's error) and returns false.
func (l *login) requireUser(w http.ResponseWriter, r *http.Request) (*user, bool) {
	u, why, err := l.currentUser(r)
	if err != nil {
		l.serverError(w, r, "look up the session", err)
		return nil, false
	}
	if u == nil {
		l.pages.renderError(w, r, http.StatusForbidden, "Sign-in required", why, "")
		return nil, false
	}
	return u, true
}
