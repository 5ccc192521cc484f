package clientreg

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// The building blocks of the authorization endpoint, for a Go
// authorization server that serves its own endpoint and lets this
// handler's token endpoint redeem its codes (docs/behaviour.md §8): look
// up a client, check a redirect URI, verify PKCE, issue a code.

// LookupClient returns the registered client id, its metadata decoded, or,
// when client ID metadata documents are on and id is an https URL, the
// client its document describes (fetched or cached, validated, its record
// stored; see Config.ClientMetadataDocuments). An unknown client, a
// disabled one (Handler.DisableClient) and a document that cannot be used
// are errors wrapping store.ErrNotFound.
func (h *Handler) LookupClient(ctx context.Context, id string) (*Client, error) {
	c, err := h.clientByID(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("client %q: %w", id, err)
		}
		return nil, fmt.Errorf("load client: %w", err)
	}
	return c, nil
}

// MatchRedirectURI returns the redirect URI an authorization request of c
// names, after checking it against c's registered redirect URIs: by exact
// string comparison (RFC 9700 §2.1, OAuth 2.1 §2.3.1), except that the
// port of an http URI on a loopback host (127.0.0.1, [::1], localhost) may
// differ (RFC 8252 §7.3: native clients listen on an ephemeral port).
// requested "" is allowed only when c registered exactly one redirect URI,
// which is returned (RFC 6749 §3.1.2.3). A failure is ErrInvalidRequest;
// it must be shown to the user, never redirected (RFC 6749 §4.1.2.1).
func MatchRedirectURI(c *Client, requested string) (string, error) {
	registered := c.Metadata.RedirectURIs
	if requested == "" {
		if len(registered) == 1 {
			return registered[0], nil
		}
		return "", ErrInvalidRequest.WithDescription("redirect_uri is required: the client registered %d redirect URIs", len(registered))
	}
	for _, r := range registered {
		if r == requested || loopbackPortMatch(r, requested) {
			return requested, nil
		}
	}
	return "", ErrInvalidRequest.WithDescription("redirect_uri is not one of the client's registered redirect URIs")
}

// loopbackPortMatch reports whether requested is the registered loopback
// http URI with another port (or none).
func loopbackPortMatch(registered, requested string) bool {
	ru, err1 := url.Parse(registered)
	qu, err2 := url.Parse(requested)
	if err1 != nil || err2 != nil || ru.Scheme != "http" || qu.Scheme != "http" || !isLoopbackHost(ru.Hostname()) {
		return false
	}
	if ru.Hostname() != qu.Hostname() || ru.User != nil || qu.User != nil || qu.Fragment != "" || strings.Contains(requested, "#") {
		return false
	}
	if p := qu.Port(); p != "" && !validPort(p) {
		return false
	}
	return ru.EscapedPath() == qu.EscapedPath() && ru.RawQuery == qu.RawQuery && ru.ForceQuery == qu.ForceQuery
}

func validPort(p string) bool {
	if len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// VerifyPKCE reports whether verifier matches the challenge of an
// authorization request (RFC 7636 §4.6). Only S256 is accepted: a plain
// challenge, or any other method, never verifies. The verifier must be
// 43 to 128 unreserved characters (§4.1); the comparison is in constant
// time.
func VerifyPKCE(verifier, challenge, method string) bool {
	if method != pkceS256 || !validVerifier(verifier) || !validS256Challenge(challenge) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// validVerifier: code-verifier = 43*128unreserved (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isBase64URL(c) && c != '.' && c != '~' {
			return false
		}
	}
	return true
}

// validS256Challenge: BASE64URL(SHA256(verifier)) is 43 characters.
func validS256Challenge(c string) bool { return isBase64URL256(c) }

// isBase64URL256 reports whether s is 256 bits in unpadded base64url: 43
// characters of the URL-safe alphabet.
func isBase64URL256(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBase64URL(s[i]) {
			return false
		}
	}
	return true
}

// CodeRequest is what an authorization code is issued for: a request the
// caller has validated (with LookupClient and MatchRedirectURI, its scope
// within the client's and its resources allowed) and a user has approved.
type CodeRequest struct {
	// ClientID is the client; RedirectURI the redirect URI the code goes
	// to. RedirectURIGiven reports that the request named it, so that the
	// token request must name the same (RFC 6749 §4.1.3).
	ClientID         string
	RedirectURI      string
	RedirectURIGiven bool
	// CodeChallenge is the PKCE challenge; CodeChallengeMethod must be
	// S256.
	CodeChallenge       string
	CodeChallengeMethod string
	// Subject identifies the user; required.
	Subject string
	// Scopes are the scopes granted; Resources the resource indicators
	// (the audience of the tokens).
	Scopes    []string
	Resources []string
	// Claims are optional values stored with the grant as JSON.
	Claims map[string]any
}

// IssueCode issues an authorization code for req (RFC 6749 §4.1.2): 256
// random bits, stored only as a keyed hash with everything it is bound to,
// single use, valid for Config.CodeLifetime. The handler's token endpoint
// redeems it. The caller sends the browser to req.RedirectURI with the code,
// the request's state and iss (RFC 9207).
func (h *Handler) IssueCode(ctx context.Context, req CodeRequest) (string, error) {
	switch {
	case req.ClientID == "" || req.RedirectURI == "":
		return "", ErrInvalidRequest.WithDescription("a code needs a client and a redirect URI")
	case req.Subject == "":
		return "", ErrInvalidRequest.WithDescription("a code needs a subject")
	case req.CodeChallengeMethod != pkceS256 || !validS256Challenge(req.CodeChallenge):
		return "", ErrInvalidRequest.WithDescription("a code needs an S256 code challenge")
	}
	for _, s := range req.Scopes {
		if !validScopeToken(s) {
			return "", ErrInvalidScope.WithDescription("scope %s is not a scope token", quote(s))
		}
	}
	var claims []byte
	if req.Claims != nil {
		var err error
		if claims, err = json.Marshal(req.Claims); err != nil {
			return "", fmt.Errorf("encode claims: %w", err)
		}
	}
	return h.issueCode(ctx, &store.AuthorizationCode{
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		RedirectURIGiven:    req.RedirectURIGiven,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		Subject:             req.Subject,
		Scope:               strings.Join(uniq(req.Scopes), " "),
		Resources:           slices.Clone(req.Resources),
		Claims:              claims,
	})
}

// uniq returns the values of l without repetitions, in their order.
func uniq(l []string) []string {
	var out []string
	for _, v := range l {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// issueCode completes c with its hash, grant ID and lifetime and stores it.
func (h *Handler) issueCode(ctx context.Context, c *store.AuthorizationCode) (string, error) {
	code, err := randomString(h.cfg.Rand, 32)
	if err != nil {
		return "", fmt.Errorf("generate authorization code: %w", err)
	}
	if c.GrantID, err = randomString(h.cfg.Rand, 16); err != nil {
		return "", fmt.Errorf("generate grant id: %w", err)
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	c.Hash = h.keys.hash(purposeAuthorizationCode, code)
	c.IssuedAt = now
	c.ExpiresAt = now.Add(h.cfg.CodeLifetime)
	if err := h.authz.CreateCode(ctx, c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", ErrInvalidRequest.WithDescription("the client was deleted")
		}
		return "", fmt.Errorf("save authorization code: %w", err)
	}
	h.touch(ctx, c.ClientID, now) // an authorization completed: a use
	return code, nil
}

// errorPageTemplate is the default error page of the authorization
// endpoint: no script, no external resource, no link back (the redirect
// URI was not verified, so the page offers nowhere to go).
var errorPageTemplate = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Authorization failed</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1rem .3rem}</style>
</head>
<body>
<h1>Authorization failed</h1>
<p>The application that sent you here made a request this server cannot accept, so you were not sent back to it.</p>
<p><code>{{.Code}}</code>{{if .Description}}: {{.Description}}{{end}}</p>
</body>
</html>
`))

// DefaultAuthorizationErrorPage is the default Config.AuthorizationErrorPage:
// a small HTML page with the error code and description, with err's status.
func DefaultAuthorizationErrorPage(w http.ResponseWriter, _ *http.Request, err *Error) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	status := err.Status
	if status < 400 {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	_ = errorPageTemplate.Execute(w, struct{ Code, Description string }{err.Code, err.Description})
}
