package cli

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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

// consentPath is where the consent page's form is posted.
const consentPath = "/consent"

// maxSubjectLen bounds the user name a sign-in proxy may send.
const maxSubjectLen = 256

// headerLogin is serve's --login header: the user is the value of a header
// that a trusted reverse proxy (oauth2-proxy, Pomerium, Cloudflare Access,
// Authelia) sets after it signed the user in. The header counts only on
// requests whose connection comes from a --trusted-proxy address; anyone
// else could set it. It is the clientreg.Authorizer of the handler, and it
// serves the consent page and its form.
type headerLogin struct {
	header     string
	proxies    []netip.Prefix
	consentTTL time.Duration // 0: ask every time
	csrfKey    []byte
	issuer     *url.URL
	pages      *pageSet
	log        *slog.Logger
	h          *clientreg.Handler // set once New returned it
}

// subject returns the signed-in user of r, or "" and why there is none, in
// words for the person at the browser.
func (l *headerLogin) subject(r *http.Request) (string, string) {
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

func (l *headerLogin) trusted(a netip.Addr) bool {
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

// Authorize implements clientreg.Authorizer: it signs the user in from the
// proxy's header and asks for consent, unless the user approved the same
// client for the same scopes and resources within --consent-ttl.
func (l *headerLogin) Authorize(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest) {
	sub, why := l.subject(r)
	if sub == "" {
		l.pages.renderError(w, r, http.StatusForbidden, "Sign-in required", why, "")
		return
	}
	if l.consentTTL > 0 {
		ok, err := l.h.ConsentRemembered(r.Context(), sub, req)
		if err != nil {
			l.serverError(w, r, "look up remembered consent", err)
			return
		}
		if ok {
			l.complete(w, r, req, sub, false)
			return
		}
	}
	l.pages.render(w, r, http.StatusOK, "consent", consentPage{
		Title:        "Allow access",
		ClientName:   displayName(req),
		Unverified:   req.DynamicallyRegistered,
		Subject:      sub,
		RedirectHost: req.RedirectHost,
		DocumentHost: req.DocumentHost,
		LoopbackOnly: req.DocumentHost != "" && req.LoopbackRedirectsOnly,
		Scopes:       req.Scopes,
		Resources:    req.Resources,
		Action:       consentPath,
		RequestID:    req.ID,
		CSRF:         l.csrf(req.ID, sub),
	})
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
}

// displayName is the name the consent page shows for the client.
func displayName(req *clientreg.AuthorizationRequest) string {
	if req.ClientName != "" {
		return req.ClientName
	}
	return "an application (" + req.ClientID + ")"
}

// csrf is the consent form's anti-forgery token: a MAC of the pending
// request and the user under a key of this server, so that another site
// cannot post an answer for the user (the pending request is also bound
// to the browser's cookie, which a cross-site POST does not carry).
func (l *headerLogin) csrf(requestID, subject string) string {
	m := hmac.New(sha256.New, l.csrfKey)
	m.Write([]byte("consent\x00" + requestID + "\x00" + subject))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// serveConsent answers the consent form: POST with the pending request,
// the anti-forgery token and the decision.
func (l *headerLogin) serveConsent(w http.ResponseWriter, r *http.Request) {
	sub, why := l.subject(r)
	if sub == "" {
		l.pages.renderError(w, r, http.StatusForbidden, "Sign-in required", why, "")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != l.issuer.Scheme+"://"+l.issuer.Host {
		l.pages.renderError(w, r, http.StatusForbidden, "Request refused", "The answer did not come from this server's consent page.", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		l.pages.renderError(w, r, http.StatusBadRequest, "Request refused", "The consent form was not sent as this server's page sends it.", "")
		return
	}
	id := r.PostForm.Get("request")
	if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(l.csrf(id, sub))) {
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
		l.complete(w, r, req, sub, l.consentTTL > 0)
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
func (l *headerLogin) complete(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest, sub string, remember bool) {
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

// pendingError answers a failure to find, complete or deny a pending
// request: an *clientreg.Error is the user's (expired, answered already,
// another browser), anything else the server's.
func (l *headerLogin) pendingError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *clientreg.Error
	if errors.As(err, &oe) {
		l.pages.renderError(w, r, http.StatusBadRequest, "This sign-in cannot go on",
			"The sign-in request has expired, was answered already, or was started in another browser.",
			"Start the sign-in again from the application.")
		return
	}
	l.serverError(w, r, "complete the authorization", err)
}

func (l *headerLogin) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	l.log.ErrorContext(r.Context(), "authorization failed", "step", what, "err", err)
	l.pages.renderError(w, r, http.StatusServiceUnavailable, "Something went wrong",
		"This server could not finish the sign-in. Try again in a moment.", "")
}
