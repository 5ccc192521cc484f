package clientreg

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// The authorization endpoint (RFC 6749 §3.1 and §4.1, OAuth 2.1, RFC 7636,
// RFC 8707, RFC 9207, RFC 9700; docs/behaviour.md §8), served when
// Config.Authorizer is set. The handler owns OAuth and the application owns
// login and consent: the handler validates a request, keeps it server-side
// as a pending authorization bound to the browser that made it, and hands it
// to the Authorizer; the application answers the browser however it likes
// (a login form, a redirect to an identity provider, a consent page) and,
// from any later request of the same browser, completes or denies it.
//
// Validation runs in the order of RFC 6749 §4.1.2.1: until the client and
// the redirect URI are verified, an error is shown to the user
// (Config.AuthorizationErrorPage) and never redirected, so that the
// endpoint is no open redirector; after that, errors go back to the client
// by redirect with error, error_description, state and iss (RFC 9207).

// Authorizer is the application's part of the authorization endpoint: it
// signs the user in and asks for consent. Authorize is called with a
// validated request and answers the browser; later, from this or another
// request of the same browser, the application calls
// Handler.CompleteAuthorization or Handler.DenyAuthorization with req.ID
// (and may call Handler.PendingAuthorization to look the request up again,
// for example after a redirect to an identity provider).
type Authorizer interface {
	Authorize(w http.ResponseWriter, r *http.Request, req *AuthorizationRequest)
}

// AuthorizerFunc is an Authorizer that is a function.
type AuthorizerFunc func(w http.ResponseWriter, r *http.Request, req *AuthorizationRequest)

// Authorize calls f.
func (f AuthorizerFunc) Authorize(w http.ResponseWriter, r *http.Request, req *AuthorizationRequest) {
	f(w, r, req)
}

// AuthorizationRequest is a validated authorization request waiting for the
// application, with what a consent page shows. Its display members come
// from the client's registration and are as trustworthy as the client: a
// page should mark DynamicallyRegistered clients as unverified.
type AuthorizationRequest struct {
	// ID is the handle that resumes the request: 256 random bits, stored
	// only as a keyed hash. It is no secret on its own, since only the
	// browser that started the request can resume it (the handler checks
	// a cookie), but it should not be logged.
	ID string
	// ClientID is the client that asks; ClientName, ClientURI and LogoURI
	// are its registered display metadata ("" when it registered none).
	ClientID   string
	ClientName string
	ClientURI  string
	LogoURI    string
	// RedirectURI is where the answer goes; RedirectHost its host (for a
	// private-use scheme such as cursor://, the scheme and what follows),
	// which a consent page should show.
	RedirectURI  string
	RedirectHost string
	// Scopes are the scopes requested (the client's registered scope when
	// the request named none); nil for none.
	Scopes []string
	// Resources are the RFC 8707 resource indicators requested, the
	// audience of the tokens; nil for none.
	Resources []string
	// State is the client's state parameter; the handler returns it to the
	// client. The application has no use for it.
	State string
	// DynamicallyRegistered reports that the client registered itself:
	// open registration, without a software statement from a trusted
	// issuer. Nobody vouched for its name or its logo.
	DynamicallyRegistered bool
	// DocumentHost is, for a client described by a Client ID Metadata
	// Document (its ClientID an https URL), the host of that URL, which a
	// consent page should show as the client's identity; "" for other
	// clients. Such a client is DynamicallyRegistered.
	DocumentHost string
	// LoopbackRedirectsOnly reports that every redirect URI the client
	// registered is on a loopback host (localhost, 127.0.0.1, [::1]): any
	// program on the user's machine could be the client, whatever name it
	// shows, and a consent page should warn (draft-ietf-oauth-client-id-
	// metadata-document §6).
	LoopbackRedirectsOnly bool
	// ExpiresAt ends the request (Config.PendingAuthorizationLifetime).
	ExpiresAt time.Time
}

// Approval is the application's decision to authorize a request.
type Approval struct {
	// Subject identifies the user who approved; required. It becomes the
	// sub of introspection responses.
	Subject string
	// Scopes are the scopes granted, a subset of the requested ones; nil
	// grants all requested scopes (an empty non-nil slice grants none).
	Scopes []string
	// Claims are optional values the application attaches to the grant
	// (for example the user's name); they are stored as JSON with it.
	Claims map[string]any
}

// ErrorPageFunc renders an error of the authorization endpoint that must
// not be redirected to the client. The handler has set Cache-Control
// no-store, Content-Security-Policy with frame-ancestors 'none' and
// X-Frame-Options DENY on w; err carries the status and an ASCII
// description. It must not redirect.
type ErrorPageFunc func(w http.ResponseWriter, r *http.Request, err *Error)

// The parameters of the authorization request (RFC 6749 §4.1.1, RFC 7636
// §4.3, RFC 8707 §2).
const (
	pkceS256 = "S256"
	// maxStateLen bounds state: it comes back in a URL and is stored.
	maxStateLen = 2048
)

// serveAuthorize is the authorization endpoint, GET and POST (RFC 6749
// §3.1: "MUST support the use of the HTTP GET method" and "MAY support
// the use of the POST method as well").
func (h *Handler) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	setPageHeaders(w)
	params, err := h.authorizationParams(r)
	if err != nil {
		h.errorPage(w, r, err)
		return
	}
	c, redirectURI, given, err := h.verifyClientAndRedirect(r.Context(), params)
	if err != nil {
		h.errorPage(w, r, err)
		return
	}
	state := params.Get("state")
	p, err := h.validateAuthorization(c, params, redirectURI, given)
	if err != nil {
		h.redirectError(w, r, redirectURI, state, err)
		return
	}
	req, err := h.storePending(w, r, c, p)
	if err != nil {
		h.redirectError(w, r, redirectURI, state, err)
		return
	}
	h.cfg.Authorizer.Authorize(w, r, req)
}

// authorizationParams returns the request's parameters: the query of a GET,
// the form body of a POST. RFC 6749 §3.1: parameters "MUST NOT be included
// more than once"; resource is the exception (RFC 8707 §2).
func (h *Handler) authorizationParams(r *http.Request) (url.Values, error) {
	var params url.Values
	if r.Method == http.MethodPost {
		form, err := h.formBody(r)
		if err != nil {
			return nil, err
		}
		params = form
	} else {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, ErrInvalidRequest.WithDescription("the query string is not valid")
		}
		params = q
	}
	for k, v := range params {
		if len(v) > 1 && k != "resource" {
			return nil, ErrInvalidRequest.WithDescription("parameter %s is repeated (RFC 6749 section 3.1)", quote(k))
		}
	}
	return params, nil
}

// formBody parses an application/x-www-form-urlencoded body, bounded by
// Config.MaxBodyBytes, without the query string.
func (h *Handler) formBody(r *http.Request) (url.Values, error) {
	mt := r.Header.Get("Content-Type")
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	if !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return nil, ErrUnsupportedMediaType.WithDescription("the request body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, ErrRequestTooLarge.WithDescription("the request body exceeds %d bytes", h.cfg.MaxBodyBytes)
		}
		return nil, ErrInvalidRequest.WithDescription("the request body is not a valid form")
	}
	return r.PostForm, nil
}

// verifyClientAndRedirect runs the checks whose failure is shown to the
// user: the client exists, and the redirect URI is one it registered.
func (h *Handler) verifyClientAndRedirect(ctx context.Context, params url.Values) (*Client, string, bool, error) {
	id := params.Get("client_id")
	if id == "" {
		return nil, "", false, ErrInvalidRequest.WithDescription("client_id is required")
	}
	c, err := h.LookupClient(ctx, id)
	var de *documentError
	if errors.As(err, &de) {
		return nil, "", false, ErrInvalidRequest.WithDescription("the client ID metadata document cannot be used: %s", de.why)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", false, ErrInvalidRequest.WithDescription("client_id names no registered client")
	}
	if err != nil {
		return nil, "", false, err
	}
	requested, given := params.Get("redirect_uri"), params.Has("redirect_uri")
	uri, err := MatchRedirectURI(c, requested)
	if err != nil {
		return nil, "", false, err
	}
	return c, uri, given, nil
}

// validateAuthorization runs the checks whose failure is redirected to the
// client, in the order of docs/behaviour.md §8, and returns the pending
// request without its handles.
func (h *Handler) validateAuthorization(c *Client, params url.Values, redirectURI string, given bool) (*store.PendingAuthorization, error) {
	switch rt := params.Get("response_type"); rt {
	case "code":
	case "":
		return nil, ErrInvalidRequest.WithDescription("response_type is required")
	default:
		return nil, ErrUnsupportedResponseType.WithDescription("response_type %s is not supported; this server supports code", quote(rt))
	}
	challenge, method := params.Get("code_challenge"), params.Get("code_challenge_method")
	switch {
	case challenge == "":
		return nil, ErrInvalidRequest.WithDescription("code_challenge is required: this server requires PKCE (RFC 7636) with S256")
	case method == "":
		// RFC 7636 §4.3: absent means plain, which this server refuses.
		return nil, ErrInvalidRequest.WithDescription("code_challenge_method is required and must be S256 (plain is not supported)")
	case method != pkceS256:
		return nil, ErrInvalidRequest.WithDescription("code_challenge_method %s is not supported; use S256", quote(method))
	case !validS256Challenge(challenge):
		return nil, ErrInvalidRequest.WithDescription("code_challenge must be 43 base64url characters, BASE64URL(SHA256(code_verifier)) (RFC 7636 section 4.2)")
	}
	scope, err := requestedScope(c, params.Get("scope"), params.Has("scope"))
	if err != nil {
		return nil, err
	}
	resources, err := h.cfg.Resources.checkResources(params["resource"])
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.Metadata.GrantTypes, grantAuthorizationCode) {
		return nil, ErrUnauthorizedClient.WithDescription("the client is not registered for the authorization_code grant")
	}
	state := params.Get("state")
	if len(state) > maxStateLen {
		return nil, ErrInvalidRequest.WithDescription("state exceeds %d bytes", maxStateLen)
	}
	return &store.PendingAuthorization{
		ClientID:            c.ID,
		RedirectURI:         redirectURI,
		RedirectURIGiven:    given,
		Scope:               scope,
		Resources:           resources,
		State:               state,
		CodeChallenge:       challenge,
		CodeChallengeMethod: method,
	}, nil
}

// requestedScope checks the scope parameter against the client's
// registered scope: omitted (or empty), the request gets the registered
// scope, which registration set to the default scopes when the client
// named none.
func requestedScope(c *Client, raw string, given bool) (string, error) {
	if !given || raw == "" {
		return c.Metadata.Scope, nil
	}
	registered := strings.Fields(c.Metadata.Scope)
	var out []string
	for _, s := range strings.Split(raw, " ") {
		if !validScopeToken(s) {
			return "", ErrInvalidScope.WithDescription("scope must be scope tokens separated by single spaces (RFC 6749 section 3.3)")
		}
		if !slices.Contains(registered, s) {
			return "", ErrInvalidScope.WithDescription("scope %s is not registered for this client", quote(s))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), nil
}

// storePending stores the validated request p, bound to the browser of r
// (whose cookie it sets when the browser has none), and returns what the
// application is given.
func (h *Handler) storePending(w http.ResponseWriter, r *http.Request, c *Client, p *store.PendingAuthorization) (*AuthorizationRequest, error) {
	ctx := r.Context()
	secret, err := h.browserSecret(w, r)
	if err != nil {
		return nil, err
	}
	id, err := randomString(h.cfg.Rand, 32)
	if err != nil {
		return nil, fmt.Errorf("generate authorization request handle: %w", err)
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	p.Hash = h.keys.hash(purposePendingAuthorization, id)
	p.BrowserHash = h.keys.hash(purposeBrowserBinding, secret)
	p.CreatedAt = now
	p.ExpiresAt = now.Add(h.cfg.PendingAuthorizationLifetime)
	if err := h.authz.CreatePendingAuthorization(ctx, p); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrInvalidRequest.WithDescription("the client was deleted")
		}
		return nil, fmt.Errorf("save pending authorization: %w", err)
	}
	return h.authorizationRequest(id, c, p), nil
}

func (h *Handler) authorizationRequest(id string, c *Client, p *store.PendingAuthorization) *AuthorizationRequest {
	return &AuthorizationRequest{
		ID:                    id,
		ClientID:              c.ID,
		ClientName:            c.Metadata.ClientName,
		ClientURI:             c.Metadata.ClientURI,
		LogoURI:               c.Metadata.LogoURI,
		RedirectURI:           p.RedirectURI,
		RedirectHost:          redirectHost(p.RedirectURI),
		Scopes:                strings.Fields(p.Scope),
		Resources:             slices.Clone(p.Resources),
		State:                 p.State,
		DynamicallyRegistered: (!h.cfg.RequireInitialToken && c.Metadata.SoftwareStatement == "") || c.Origin == store.OriginMetadataDocument,
		DocumentHost:          documentHost(c),
		LoopbackRedirectsOnly: loopbackRedirectsOnly(c.Metadata.RedirectURIs),
		ExpiresAt:             p.ExpiresAt,
	}
}

// loopbackRedirectsOnly reports whether every URI of uris is on a loopback
// host.
func loopbackRedirectsOnly(uris []string) bool {
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil || !isLoopbackHost(u.Hostname()) {
			return false
		}
	}
	return len(uris) > 0
}

// redirectHost is what a consent page shows of a redirect URI: its host
// (with the port) for http(s), the scheme and host or path otherwise.
func redirectHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Host
	}
	if u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":" + u.Opaque + u.Path
}

// PendingAuthorization returns the pending authorization request id, for
// the browser that makes r: the request must have been started by the same
// browser (the handler checks the cookie it set), must not have expired and
// must not be completed or denied yet. Every failure is
// ErrAuthorizationNotFound; a storage failure is returned as is.
func (h *Handler) PendingAuthorization(r *http.Request, id string) (*AuthorizationRequest, error) {
	p, c, err := h.pending(r, id)
	if err != nil {
		return nil, err
	}
	return h.authorizationRequest(id, c, p), nil
}

// pending loads the pending request id and checks that the browser of r
// started it and that it has not expired.
func (h *Handler) pending(r *http.Request, id string) (*store.PendingAuthorization, *Client, error) {
	if h.cfg.Authorizer == nil {
		return nil, nil, errors.New("clientreg: the authorization endpoint is not configured (Config.Authorizer)")
	}
	ctx := r.Context()
	if id == "" {
		return nil, nil, ErrAuthorizationNotFound
	}
	p, err := h.authz.GetPendingAuthorization(ctx, h.keys.hash(purposePendingAuthorization, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrAuthorizationNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load pending authorization: %w", err)
	}
	if !h.now().Before(p.ExpiresAt) || !h.sameBrowser(r, p.BrowserHash) {
		return nil, nil, ErrAuthorizationNotFound
	}
	c, err := h.LookupClient(ctx, p.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrAuthorizationNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	return p, c, nil
}

// take consumes the pending request id for the browser of r, once: of
// concurrent calls, one wins; the others get ErrAuthorizationNotFound.
func (h *Handler) take(r *http.Request, id string) (*store.PendingAuthorization, *Client, error) {
	p, c, err := h.pending(r, id)
	if err != nil {
		return nil, nil, err
	}
	if _, err := h.authz.TakePendingAuthorization(r.Context(), p.Hash); errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrAuthorizationNotFound
	} else if err != nil {
		return nil, nil, fmt.Errorf("take pending authorization: %w", err)
	}
	return p, c, nil
}

// CompleteAuthorization approves the pending request id, started by the
// browser that makes r: it issues an authorization code for a.Subject and
// the granted scopes, consumes the request (a request is completed or
// denied once) and returns the URL to send the browser to, the client's
// redirect URI with code, state and iss (RFC 6749 §4.1.2, RFC 9207). The
// application redirects there, with 303 See Other; the handler has set
// Cache-Control no-store and Referrer-Policy no-referrer on w.
//
// Errors: ErrAuthorizationNotFound for an unknown, expired, consumed or
// foreign request; ErrInvalidRequest for an approval without a subject;
// ErrInvalidScope for a scope that was not requested. Nothing is consumed
// when the approval is refused.
//
// The request ID of r (docs/behaviour.md §14) is the one the handler gave
// it when r came through the handler or RequestIDHandler; otherwise r is
// given one here (its valid X-Request-Id or a fresh one), set on w.
func (h *Handler) CompleteAuthorization(w http.ResponseWriter, r *http.Request, id string, a Approval) (string, error) {
	r = h.withRequestID(w, r)
	if a.Subject == "" {
		return "", ErrInvalidRequest.WithDescription("the approval has no subject")
	}
	p, _, err := h.pending(r, id)
	if err != nil {
		return "", err
	}
	scope := p.Scope
	if a.Scopes != nil {
		requested := strings.Fields(p.Scope)
		var granted []string
		for _, s := range a.Scopes {
			if !slices.Contains(requested, s) {
				return "", ErrInvalidScope.WithDescription("scope %s was not requested", quote(s))
			}
			if !slices.Contains(granted, s) {
				granted = append(granted, s)
			}
		}
		scope = strings.Join(granted, " ")
	}
	var claims []byte
	if a.Claims != nil {
		if claims, err = json.Marshal(a.Claims); err != nil {
			return "", fmt.Errorf("encode approval claims: %w", err)
		}
	}
	if p, _, err = h.take(r, id); err != nil {
		return "", err
	}
	code, err := h.issueCode(r.Context(), &store.AuthorizationCode{
		ClientID:            p.ClientID,
		RedirectURI:         p.RedirectURI,
		RedirectURIGiven:    p.RedirectURIGiven,
		CodeChallenge:       p.CodeChallenge,
		CodeChallengeMethod: p.CodeChallengeMethod,
		Subject:             a.Subject,
		Scope:               scope,
		Resources:           p.Resources,
		Claims:              claims,
	})
	if err != nil {
		return "", err
	}
	setRedirectHeaders(w)
	return h.redirectURL(p.RedirectURI, url.Values{"code": {code}}, p.State), nil
}

// DenyAuthorization denies the pending request id, started by the browser
// that makes r: it consumes the request and returns the URL to send the
// browser to, the client's redirect URI with error=access_denied, the
// description (ASCII; others are replaced), state and iss. The errors are
// those of CompleteAuthorization, and so is the request ID of r.
func (h *Handler) DenyAuthorization(w http.ResponseWriter, r *http.Request, id, description string) (string, error) {
	r = h.withRequestID(w, r)
	p, _, err := h.take(r, id)
	if err != nil {
		return "", err
	}
	setRedirectHeaders(w)
	v := url.Values{"error": {"access_denied"}}
	if description != "" {
		v.Set("error_description", asciiOnly(description))
	}
	return h.redirectURL(p.RedirectURI, v, p.State), nil
}

// redirectURL adds v, state and iss to the query of the redirect URI,
// keeping the query it has (RFC 6749 §3.1.2: "MUST retain the query
// component").
func (h *Handler) redirectURL(redirectURI string, v url.Values, state string) string {
	if state != "" {
		v.Set("state", state)
	}
	v.Set("iss", h.issuer) // RFC 9207 §2
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
		if strings.HasSuffix(redirectURI, "?") || strings.HasSuffix(redirectURI, "&") {
			sep = ""
		}
	}
	return redirectURI + sep + v.Encode()
}

// redirectError sends the browser back to the verified redirect URI with
// the error (RFC 6749 §4.1.2.1). Internal errors are logged and answered
// server_error; a storage outage temporarily_unavailable.
func (h *Handler) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state string, err error) {
	oe, internal := asOAuthError(err)
	if internal {
		h.log.ErrorContext(r.Context(), "authorization request failed", "client_id", r.FormValue("client_id"), "err", err)
	}
	v := url.Values{"error": {oe.Code}}
	if oe.Description != "" {
		v.Set("error_description", oe.Description)
	}
	setRedirectHeaders(w)
	http.Redirect(w, r, h.redirectURL(redirectURI, v, state), http.StatusSeeOther)
}

// errorPage shows err to the user, never redirecting.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	oe, internal := asOAuthError(err)
	if internal {
		h.log.ErrorContext(r.Context(), "authorization request failed", "err", err)
	} else {
		h.log.DebugContext(r.Context(), "authorization request refused", "err", oe)
	}
	setPageHeaders(w)
	h.cfg.AuthorizationErrorPage(w, r, oe)
}

// ErrorPage answers an error of the application's own pages of the
// authorization flow (for example ErrAuthorizationNotFound) as the
// authorization endpoint answers the errors it cannot redirect: with
// Config.AuthorizationErrorPage and its headers. Internal errors are
// logged and shown as server_error.
func (h *Handler) ErrorPage(w http.ResponseWriter, r *http.Request, err error) {
	h.errorPage(w, r, err)
}

// setPageHeaders are the headers of every page the authorization endpoint
// answers: not cached (RFC 6749 §5.1 for the credentials it may carry), not
// framed (RFC 9700 §4.16, clickjacking), no referrer.
func setPageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}

// setRedirectHeaders are the headers of the redirect that carries a code:
// not cached, and no Referer carrying it onwards.
func setRedirectHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	hd.Set("Referrer-Policy", "no-referrer")
}

// The browser binding: a random secret in an HttpOnly, SameSite=Lax cookie
// (Secure, with the __Host- prefix, when the issuer is https), reused by
// every request of the browser. A pending request stores its keyed hash, so
// a leaked handle is useless in another browser (RFC 9700 §4.7, session
// fixation of the authorization flow).

func (h *Handler) browserSecret(w http.ResponseWriter, r *http.Request) (string, error) {
	if ck, err := r.Cookie(h.cookieName); err == nil && validBrowserSecret(ck.Value) {
		return ck.Value, nil
	}
	secret, err := randomString(h.cfg.Rand, 32)
	if err != nil {
		return "", fmt.Errorf("generate browser secret: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookieName,
		Value:    secret,
		Path:     h.cookiePath,
		HttpOnly: true,
		Secure:   h.cookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
	// r may be resumed within this request too (an Authorizer that
	// completes at once): make the new cookie visible to it.
	r.AddCookie(&http.Cookie{Name: h.cookieName, Value: secret})
	return secret, nil
}

// validBrowserSecret reports whether s can be a browser secret: 256 bits
// in base64url, 43 characters.
func validBrowserSecret(s string) bool { return isBase64URL256(s) }

func (h *Handler) sameBrowser(r *http.Request, want []byte) bool {
	for _, ck := range r.CookiesNamed(h.cookieName) {
		if validBrowserSecret(ck.Value) && subtle.ConstantTimeCompare(h.keys.hash(purposeBrowserBinding, ck.Value), want) == 1 {
			return true
		}
	}
	return false
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// AuthorizationHandler returns the authorization endpoint alone (GET and
// POST; other methods get 405), for routers that strip prefixes. It
// answers 404 when Config.Authorizer is nil.
func (h *Handler) AuthorizationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = h.withRequestID(w, r)
		switch {
		case h.cfg.Authorizer == nil:
			writeErrorBody(w, errNotFound)
		case r.Method != http.MethodGet && r.Method != http.MethodPost:
			methodNotAllowed(http.MethodGet, http.MethodPost).ServeHTTP(w, r)
		default:
			h.serveAuthorize(w, r)
		}
	})
}

// AuthorizationEndpoint returns the absolute URL of the authorization
// endpoint, or "" when the handler serves none.
func (h *Handler) AuthorizationEndpoint() string { return h.authzEndpoint }
