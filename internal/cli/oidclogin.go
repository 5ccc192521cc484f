package cli

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcCallbackPath is the redirect URI, under the issuer, to register at the
// upstream provider.
const oidcCallbackPath = "/login/oidc/callback"

// Defaults of --login oidc.
const (
	defaultUpstreamScopes  = "openid email profile"
	defaultUpstreamTimeout = 10 * time.Second
	// loginStateTTL is how long a sign-in at the upstream may take, from
	// the redirect there to the callback.
	loginStateTTL = 10 * time.Minute
)

// oidcLogin is --login oidc: the user signs in at an upstream OpenID
// provider with the authorization code flow, PKCE (S256), state and nonce;
// go-oidc verifies the ID token (signature with the provider's JWKS, which
// it caches and refetches for an unknown key id; issuer; audience; expiry)
// and this code compares its nonce with the one sent.
//
// The subject of the tokens clientreg issues is the upstream issuer and
// subject joined by "|" ("https://idp.example|248289761001"): unique across
// providers, and stable (the email address can change owners). With
// --upstream-subject email it is the issuer, "|email:" and the address
// instead ("https://idp.example|email:jane@example.com"), only for a
// verified address (email_verified true).
//
// The pending authorization request survives the round trip to the upstream
// in a login state cookie, not in the store: it holds the request's handle,
// the state, the nonce and the PKCE verifier, sealed (AES-256-GCM under a
// key derived from the server key) so the browser can neither read nor
// change it, valid for loginStateTTL, named after the state parameter (so
// that sign-ins in several tabs do not overwrite each other) and scoped to
// the callback's path. Being a cookie, it is bound to the browser that
// started the sign-in: a callback URL opened elsewhere finds no state. The
// state parameter is compared with the sealed one, and the cookie is
// cleared at the callback, so each state is used once by its browser.
type oidcLogin struct {
	l             *login
	upstream      string // the upstream issuer
	clientID      string
	clientSecret  string
	scopes        []string
	subjectEmail  bool     // --upstream-subject email
	allowDomains  []string // lowercased, without "@"
	allowSubjects []string
	client        *http.Client // with --upstream-timeout
	aead          cipher.AEAD
	secure        bool
	redirectURI   string // set once the issuer is known

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

func newLoginStateAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key[:32])
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// discover returns the upstream provider, fetching its discovery document
// on first use and after a failure (so a provider that is down when the
// server starts does not need a restart).
func (o *oidcLogin) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, o.verifier, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client), o.upstream)
	if err != nil {
		return nil, nil, err
	}
	o.provider = p
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.clientID})
	return o.provider, o.verifier, nil
}

func (o *oidcLogin) config(p *oidc.Provider) *oauth2.Config {
	// client_secret_basic, the default of OpenID Connect (Core §9), or
	// none for a public client: not oauth2's auto-detection, which tries
	// again after a failure (and so doubles a timeout).
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if o.clientSecret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     o.clientID,
		ClientSecret: o.clientSecret,
		Endpoint:     ep,
		RedirectURL:  o.redirectURI,
		Scopes:       o.scopes,
	}
}

// loginState is what the login state cookie carries.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Request  string `json:"r"`
	Expires  int64  `json:"e"` // Unix seconds
}

const loginStateAAD = "clientreg oidc login state"

func (o *oidcLogin) cookieName(state string) string {
	if o.secure {
		return "__Secure-clientreg_oidc_" + state
	}
	return "clientreg_oidc_" + state
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// start sends the browser to sign in at the upstream for the pending
// request requestID.
func (o *oidcLogin) start(w http.ResponseWriter, r *http.Request, requestID string) {
	p, _, err := o.discover(r.Context())
	if err != nil {
		o.upstreamError(w, r, "discovery", err)
		return
	}
	st := loginState{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Request: requestID, Expires: time.Now().Add(loginStateTTL).Unix()}
	plain, _ := json.Marshal(st)
	nonce := make([]byte, o.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := o.aead.Seal(nonce, nonce, plain, []byte(loginStateAAD))
	http.SetCookie(w, &http.Cookie{
		Name: o.cookieName(st.State), Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: oidcCallbackPath, HttpOnly: true, Secure: o.secure, SameSite: http.SameSiteLaxMode,
		MaxAge: int(loginStateTTL / time.Second),
	})
	to := o.config(p).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// loginState returns the sealed state of the callback r, or false.
func (o *oidcLogin) loginState(w http.ResponseWriter, r *http.Request) (loginState, bool) {
	var st loginState
	state := r.URL.Query().Get("state")
	if len(state) != 22 {
		return st, false
	}
	c, err := r.Cookie(o.cookieName(state))
	if err != nil {
		return st, false
	}
	// Used once: cleared whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: c.Name, Value: "", Path: oidcCallbackPath, HttpOnly: true,
		Secure: o.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(sealed) < o.aead.NonceSize() {
		return st, false
	}
	n := o.aead.NonceSize()
	plain, err := o.aead.Open(nil, sealed[:n], sealed[n:], []byte(loginStateAAD))
	if err != nil || json.Unmarshal(plain, &st) != nil {
		return st, false
	}
	if !hmac.Equal([]byte(st.State), []byte(state)) || time.Now().Unix() > st.Expires {
		return st, false
	}
	return st, true
}

// idClaims are the ID token's claims that clientreg reads.
type idClaims struct {
	Email             string `json:"email"`
	EmailVerified     *bool  `json:"email_verified"`
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
}

// callback serves oidcCallbackPath: the upstream sends the browser back
// with a code (or an error); the code is exchanged, the ID token verified,
// the user checked against the allow lists and signed in, and the pending
// request goes on at continuePath.
func (o *oidcLogin) callback(w http.ResponseWriter, r *http.Request) {
	l := o.l
	st, ok := o.loginState(w, r)
	if !ok {
		l.pages.renderError(w, r, http.StatusBadRequest, "This sign-in cannot go on",
			"The answer from the sign-in provider does not belong to a sign-in started in this browser, or it took longer than 10 minutes.",
			"Start the sign-in again from the application.")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		l.log.InfoContext(r.Context(), "the upstream provider refused the sign-in", "error", e, "description", q.Get("error_description"))
		l.pages.renderError(w, r, http.StatusForbidden, "The sign-in provider said no",
			"The sign-in provider ended the sign-in with the error "+clip(e)+".", clip(q.Get("error_description")))
		return
	}
	p, verifier, err := o.discover(r.Context())
	if err != nil {
		o.upstreamError(w, r, "discovery", err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), o.client)
	tok, err := o.config(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		o.upstreamError(w, r, "token", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		o.upstreamError(w, r, "id_token", errors.New("the token response has no id_token"))
		return
	}
	idt, err := verifier.Verify(ctx, raw)
	if err == nil && !hmac.Equal([]byte(idt.Nonce), []byte(st.Nonce)) {
		err = errors.New("the ID token's nonce is not the one sent")
	}
	if err != nil {
		o.upstreamError(w, r, "id_token", err)
		return
	}
	var cl idClaims
	if err := idt.Claims(&cl); err != nil {
		o.upstreamError(w, r, "id_token", err)
		return
	}
	verified := cl.EmailVerified != nil && *cl.EmailVerified
	subject := idt.Issuer + "|" + idt.Subject
	if o.subjectEmail {
		if !verified || cl.Email == "" {
			l.pages.renderError(w, r, http.StatusForbidden, "You cannot sign in here",
				"This server names users by their verified email address, and the sign-in provider did not say that yours is verified.", "")
			return
		}
		subject = idt.Issuer + "|email:" + strings.ToLower(cl.Email)
	}
	name := firstNonEmpty(cl.Name, cl.Email, cl.PreferredUsername, idt.Subject)
	if !validSubject(subject) || !validSubject(name) {
		o.upstreamError(w, r, "id_token", errors.New("the subject or the name is empty, too long or has control characters"))
		return
	}
	if !o.allowed(idt.Subject, subject, cl.Email, verified) {
		l.log.InfoContext(r.Context(), "sign-in refused by --allow-email-domain/--allow-subject", "subject", subject)
		l.pages.renderError(w, r, http.StatusForbidden, "You cannot sign in here",
			"You signed in at the sign-in provider as "+name+", and that account may not use this server.",
			"Ask the server's operator to allow your account, or sign in at the provider with another one.")
		return
	}
	if _, err := l.sessions.create(r.Context(), w, subject, name, sessionClaims{Email: cl.Email, EmailVerified: verified}); err != nil {
		l.serverError(w, r, "create the session", err)
		return
	}
	l.log.InfoContext(r.Context(), "signed in at the upstream provider", "subject", subject)
	http.Redirect(w, r, continuePath+"?"+url.Values{"request": {st.Request}}.Encode(), http.StatusSeeOther)
}

// allowed reports whether the user may sign in: anyone, without allow
// lists; otherwise a user whose subject (the full ISSUER|SUB form, or the
// upstream sub alone) is an --allow-subject, or whose verified email
// address is in an --allow-email-domain.
func (o *oidcLogin) allowed(sub, subject, email string, verified bool) bool {
	if len(o.allowDomains) == 0 && len(o.allowSubjects) == 0 {
		return true
	}
	for _, a := range o.allowSubjects {
		if a == subject || a == sub {
			return true
		}
	}
	if verified {
		if at := strings.LastIndexByte(email, '@'); at > 0 {
			domain := strings.ToLower(email[at+1:])
			for _, d := range o.allowDomains {
				if d == domain {
					return true
				}
			}
		}
	}
	return false
}

// upstreamError writes the page of a failure to talk to the upstream
// provider at step (discovery, token, id_token), saying which: never a
// 500.
func (o *oidcLogin) upstreamError(w http.ResponseWriter, r *http.Request, step string, err error) {
	l := o.l
	l.log.WarnContext(r.Context(), "the upstream provider failed", "step", step, "upstream", o.upstream, "err", err)
	var (
		re *oauth2.RetrieveError
		ne net.Error
	)
	host := o.upstream
	if u, perr := url.Parse(o.upstream); perr == nil {
		host = u.Host
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		l.pages.renderError(w, r, http.StatusGatewayTimeout, "The sign-in provider did not answer",
			"The sign-in provider ("+host+") did not answer in time.", "Try again in a moment; if it keeps happening, tell the server's operator.")
	case errors.As(err, &re):
		detail := "It answered with HTTP " + http.StatusText(re.Response.StatusCode)
		if re.ErrorCode != "" {
			detail = "It answered with the error " + clip(re.ErrorCode)
		}
		l.pages.renderError(w, r, http.StatusBadGateway, "The sign-in provider refused to finish",
			"The sign-in provider ("+host+") did not accept this server's request to finish the sign-in.", detail+".")
	case step == "id_token":
		l.pages.renderError(w, r, http.StatusBadGateway, "The sign-in could not be checked",
			"The sign-in provider ("+host+") sent an answer that this server could not verify, so it did not sign you in.",
			"Tell the server's operator; the server's log says more.")
	default:
		l.pages.renderError(w, r, http.StatusBadGateway, "The sign-in provider cannot be reached",
			"This server could not reach the sign-in provider ("+host+").", "Try again in a moment; if it keeps happening, tell the server's operator.")
	}
}

// clip shortens text from the upstream for a page.
func clip(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
