package clientreg

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Client authentication (RFC 6749 §2.3, RFC 7521, RFC 7523 §2.2 and §3).
// One component serves the token, introspection and revocation endpoints
// and the recovery of lost registration access tokens, and an embedding
// authorization server can call it for its own endpoints: exactly the method
// a client registered is accepted.

// AssertionTypeJWTBearer is the client_assertion_type of RFC 7523 §2.2.
const AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// The JWS algorithms accepted in client assertions: HMAC for
// client_secret_jwt (HS256: issued secrets have 256 bits, too short a key
// for HS384 and HS512), public-key algorithms for private_key_jwt. "none" is
// never accepted.
var (
	secretJWTAlgs = []jose.SignatureAlgorithm{jose.HS256}
	keyJWTAlgs    = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}
)

// AssertionSigningAlgs returns the JWS algorithms accepted in client
// assertions, as published in *_auth_signing_alg_values_supported.
func AssertionSigningAlgs() []string {
	var out []string
	for _, a := range slices.Concat(keyJWTAlgs, secretJWTAlgs) {
		out = append(out, string(a))
	}
	return out
}

// maxAssertionLifetime bounds exp - now for client assertions: a long-lived
// assertion would have to be remembered (for replay) for as long.
const maxAssertionLifetime = time.Hour

// assertionLeeway is the clock skew allowed on exp, nbf and iat.
const assertionLeeway = 30 * time.Second

// AuthenticatedClient is a client whose credentials were verified.
type AuthenticatedClient struct {
	// Client is the authenticated client, as stored, its metadata decoded.
	Client *Client
	// Method is the token_endpoint_auth_method it authenticated with.
	Method string
}

// AuthenticateClient authenticates the client that makes r, a POST with an
// application/x-www-form-urlencoded body, using the method the client
// registered: client_secret_basic, client_secret_post, client_secret_jwt,
// private_key_jwt or none (the client is then only identified). endpoint is
// the absolute URL of the endpoint r was sent to; a client assertion's aud
// must name it, the token endpoint or the issuer.
//
// Every failed authentication returns the same error, ErrClientAuthFailed:
// 401 invalid_client with a Basic challenge, whatever the cause (an unknown
// or disabled client, a wrong secret, another method than the registered
// one, a bad signature, an expired or replayed assertion, malformed
// credentials), so that no answer tells an unknown client from a wrong
// credential. The cause is logged at debug level. A request that uses
// more than one method is ErrInvalidRequest. AuthenticateClient applies no
// rate limit; the handler's endpoints limit failures (see
// Limits.FailedAuthPerMinute).
//
// Only the client's current secret authenticates: a secret that a rotation
// replaced is refused at once, also within Config.SecretOverlap, since a
// secret is rotated when it may have leaked. A token endpoint, the only
// place where the previous secret keeps working during the overlap, calls
// AuthenticateTokenClient instead.
func (h *Handler) AuthenticateClient(ctx context.Context, r *http.Request, endpoint string) (*AuthenticatedClient, error) {
	ac, _, err := h.authenticateClient(ctx, r, endpoint, false)
	return ac, err
}

// AuthenticateTokenClient is AuthenticateClient for a token endpoint (RFC
// 6749 §3.2): it also accepts the secret that the client's last rotation
// replaced, until Config.SecretOverlap ends, so that running deployments
// keep getting access tokens while the new secret is rolled out. It is for
// token requests only: every other use of client credentials (the handler's
// introspection, revocation and registration access token recovery
// included) takes the current secret alone.
func (h *Handler) AuthenticateTokenClient(ctx context.Context, r *http.Request, endpoint string) (*AuthenticatedClient, error) {
	ac, _, err := h.authenticateClient(ctx, r, endpoint, true)
	return ac, err
}

// ErrClientAuthFailed is the one answer to every failed client
// authentication (RFC 6749 §5.2 invalid_client). It always carries a Basic
// challenge: RFC 6749 §5.2 requires one matching the scheme when the client
// tried the Authorization header, and allows one otherwise "to indicate
// which HTTP authentication schemes are supported", so that the answer is
// identical whichever method the client tried. Compare with errors.Is
// against ErrInvalidClient.
var ErrClientAuthFailed = &Error{Code: "invalid_client", Description: "client authentication failed",
	Status: http.StatusUnauthorized, Challenge: `Basic charset="UTF-8"`}

// clientAuthFailed logs why authenticating clientID failed, at debug level,
// and returns the one answer of this handler to every failure:
// ErrClientAuthFailed with the issuer as its realm.
func (h *Handler) clientAuthFailed(ctx context.Context, clientID, why string) *Error {
	h.log.DebugContext(ctx, "client authentication failed", "client_id", clientID, "cause", why)
	e := *ErrClientAuthFailed
	e.Challenge = `Basic realm="` + h.issuer + `", charset="UTF-8"`
	return &e
}

// authenticateClient is AuthenticateClient, or AuthenticateTokenClient when
// previous is set; it also returns the client ID the request claimed (""
// when it claimed none), which the failure limit counts against.
func (h *Handler) authenticateClient(ctx context.Context, r *http.Request, endpoint string, previous bool) (*AuthenticatedClient, string, error) {
	form, err := h.postForm(r)
	if err != nil {
		return nil, "", err
	}
	basicID, basicSecret, basic, err := basicCredentials(r)
	if err != nil {
		return nil, "", h.clientAuthFailed(ctx, "", "malformed Basic credentials")
	}
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	assertionType, assertion := form.Get("client_assertion_type"), form.Get("client_assertion")
	methods := 0
	for _, used := range []bool{basic, formSecret != "", assertion != "" || assertionType != ""} {
		if used {
			methods++
		}
	}
	if methods > 1 {
		return nil, "", ErrInvalidRequest.WithDescription("the request uses more than one client authentication method (RFC 6749 section 2.3)")
	}
	now := h.now()
	var (
		id     string
		method string
	)
	switch {
	case basic:
		id, method = basicID, "client_secret_basic"
		if formID != "" && formID != basicID {
			return nil, id, h.clientAuthFailed(ctx, id, "client_id in the body differs from Basic's")
		}
	case formSecret != "":
		id, method = formID, "client_secret_post"
	case assertion != "" || assertionType != "":
		if assertionType != AssertionTypeJWTBearer {
			return nil, formID, h.clientAuthFailed(ctx, formID, "client_assertion_type is not "+AssertionTypeJWTBearer)
		}
		id, method = assertionSubject(assertion), "jwt"
		if id == "" || (formID != "" && formID != id) {
			return nil, id, h.clientAuthFailed(ctx, id, "the assertion names no sub, or another than client_id")
		}
	default:
		id, method = formID, "none"
	}
	if id == "" {
		return nil, "", h.clientAuthFailed(ctx, "", "no client_id")
	}
	c, err := h.clientByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		why := "unknown client"
		if errors.Is(err, errDisabled) {
			why = "disabled client" // refused like an unknown one
		}
		return nil, id, h.clientAuthFailed(ctx, id, why)
	}
	if err != nil {
		return nil, id, fmt.Errorf("load client: %w", err)
	}
	registered := c.Metadata.TokenEndpointAuthMethod
	switch method {
	case "client_secret_basic", "client_secret_post":
		secret := basicSecret
		if method == "client_secret_post" {
			secret = formSecret
		}
		if registered != method {
			return nil, id, h.clientAuthFailed(ctx, id, "the client registered "+registered+", not "+method)
		}
		if !h.secretMatches(c, secret, now, previous) {
			return nil, id, h.clientAuthFailed(ctx, id, "wrong or expired client secret")
		}
	case "jwt":
		if registered != "client_secret_jwt" && registered != "private_key_jwt" {
			return nil, id, h.clientAuthFailed(ctx, id, "the client registered "+registered+", not a client assertion")
		}
		method = registered
		if err := h.verifyAssertion(ctx, c, assertion, endpoint, now, previous); err != nil {
			var oe *Error
			if errors.As(err, &oe) && errors.Is(err, ErrInvalidClient) {
				return nil, id, h.clientAuthFailed(ctx, id, oe.Description)
			}
			return nil, id, err
		}
	case "none":
		if registered != "none" {
			return nil, id, h.clientAuthFailed(ctx, id, "the client registered "+registered+", not none")
		}
	}
	return &AuthenticatedClient{Client: c, Method: method}, id, nil
}

// authenticateAt authenticates the client of a request to one of the
// handler's endpoints with client authentication (token, introspection,
// revocation, recovery): AuthenticateClient (AuthenticateTokenClient when
// previous is set: the token endpoint), with the limit on failures. The
// credential is checked first, whatever the limits: valid credentials are
// always served, since client IDs are public and failures that anyone can
// cause must not lock a client out. A failure counts against the address and
// the client ID it claimed, and is answered 429 instead of 401 once either
// is over the failure limit (Limits.FailedAuthPerMinute).
func (h *Handler) authenticateAt(r *http.Request, endpoint string, previous bool) (*AuthenticatedClient, error) {
	ac, id, err := h.authenticateClient(r.Context(), r, endpoint, previous)
	if err != nil && errors.Is(err, ErrInvalidClient) {
		if lerr := h.limits.recordFailedAuth(h.now(), h.limits.clientAddr(r), id); lerr != nil {
			return nil, lerr
		}
	}
	return ac, err
}

// secretMatches reports whether secret is c's current secret, unexpired, or,
// when previous is set, its previous secret within the overlap window. The
// secret is hashed once; both comparisons are always made, in constant
// time.
func (h *Handler) secretMatches(c *Client, secret string, now time.Time, previous bool) bool {
	cur, prev := validSecretHashes(c, now)
	got := h.keys.hash(purposeClientSecret, secret)
	curOK := cur != nil && hmac.Equal(got, cur)
	prevOK := prev != nil && hmac.Equal(got, prev)
	return curOK || (previous && prevOK)
}

// validSecretHashes returns the hashes of c's secrets that authenticate it
// at now: the current one unless it has expired, the previous one within
// its overlap window; nil for one that does not. The rule of
// secretMatches and of TokenSecretHashes.
func validSecretHashes(c *Client, now time.Time) (cur, prev []byte) {
	if c.SecretExpiresAt.IsZero() || now.Before(c.SecretExpiresAt) {
		cur = c.SecretHash
	}
	if now.Before(c.PreviousSecretExpiresAt) {
		prev = c.PreviousSecretHash
	}
	return cur, prev
}

// postForm parses r's form body (bounded by the handler's body limit).
func (h *Handler) postForm(r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, ErrInvalidRequest.WithDescription("use POST")
	}
	if r.PostForm != nil {
		return r.PostForm, nil
	}
	form, err := h.formBody(r)
	if err != nil {
		return nil, err
	}
	for k, v := range form {
		if len(v) > 1 && k != "resource" { // RFC 8707 §2: resource may repeat
			return nil, ErrInvalidRequest.WithDescription("parameter %s is repeated (RFC 6749 section 3.2)", quote(k))
		}
	}
	return r.PostForm, nil
}

// basicCredentials decodes HTTP Basic credentials, undoing the
// application/x-www-form-urlencoded encoding of RFC 6749 §2.3.1 that
// net/http's BasicAuth leaves in place.
func basicCredentials(r *http.Request) (id, secret string, ok bool, err error) {
	auth := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", false, nil
	}
	bad := func() (string, string, bool, error) {
		e := ErrInvalidClient.WithDescription("malformed Basic credentials")
		e.Challenge = `Basic charset="UTF-8"`
		return "", "", true, e
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if derr != nil {
		return bad()
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return bad()
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return bad()
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return bad()
	}
	return id, secret, true, nil
}

// assertionSubject returns the sub claim of an unverified assertion, to
// find the client whose keys verify it; "" when it has none.
func assertionSubject(assertion string) string {
	tok, err := jwt.ParseSigned(assertion, slices.Concat(keyJWTAlgs, secretJWTAlgs))
	if err != nil {
		return ""
	}
	var cl jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&cl); err != nil {
		return ""
	}
	return cl.Subject
}

// verifyAssertion verifies a client assertion of c (RFC 7523 §3): the
// signature with the client's secret or keys, iss = sub = client_id, an aud
// naming this server, exp required and not too far ahead, and a jti that
// has not been used before. A client_secret_jwt assertion signed with the
// previous secret verifies only when previous is set (the token endpoint,
// within the overlap window).
func (h *Handler) verifyAssertion(ctx context.Context, c *Client, assertion, endpoint string, now time.Time, previous bool) error {
	fail := func(why string) error {
		return ErrInvalidClient.WithDescription("client assertion rejected: %s", why)
	}
	algs := keyJWTAlgs
	if c.Metadata.TokenEndpointAuthMethod == "client_secret_jwt" {
		algs = secretJWTAlgs
	}
	if alg := c.Metadata.TokenEndpointAuthSigningAlg; alg != "" {
		// OpenID Connect Registration 1.0 §2: an assertion not signed with
		// the registered algorithm is rejected.
		algs = []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}
	}
	tok, err := jwt.ParseSigned(assertion, algs)
	if err != nil {
		return fail("not a JWS signed with an accepted algorithm")
	}
	var cl jwt.Claims
	verified := false
	if c.Metadata.TokenEndpointAuthMethod == "client_secret_jwt" {
		var secrets [][]byte
		if c.SecretCiphertext != nil && (c.SecretExpiresAt.IsZero() || now.Before(c.SecretExpiresAt)) {
			secrets = append(secrets, c.SecretCiphertext)
		}
		if previous && c.PreviousSecretCiphertext != nil && now.Before(c.PreviousSecretExpiresAt) {
			secrets = append(secrets, c.PreviousSecretCiphertext)
		}
		for _, ct := range secrets {
			secret, err := h.keys.decrypt(ct)
			if err != nil {
				return fmt.Errorf("decrypt client secret: %w", err)
			}
			if tok.Claims([]byte(secret), &cl) == nil {
				verified = true
				break
			}
		}
	} else {
		keys, err := h.clientKeys(ctx, c, false)
		if err != nil {
			return err
		}
		verified = verifyWithKeys(tok, keys, &cl)
		if !verified && c.Metadata.JWKSURI != "" {
			// The client may have rotated its keys: fetch them again.
			if keys, err = h.clientKeys(ctx, c, true); err != nil {
				return err
			}
			verified = verifyWithKeys(tok, keys, &cl)
		}
	}
	if !verified {
		return fail("the signature does not verify with the client's credentials")
	}
	if cl.Expiry == nil {
		return fail("exp is required")
	}
	aud := jwt.Audience{endpoint, h.issuer}
	if h.tokenEndpoint != "" {
		aud = append(aud, h.tokenEndpoint)
	}
	if err := cl.ValidateWithLeeway(jwt.Expected{Issuer: c.ID, Subject: c.ID, AnyAudience: aud, Time: now}, assertionLeeway); err != nil {
		switch {
		case errors.Is(err, jwt.ErrExpired):
			return fail("expired")
		case errors.Is(err, jwt.ErrInvalidAudience):
			return fail("aud must name the endpoint, the token endpoint or the issuer")
		case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
			return fail("not valid yet")
		default:
			return fail("iss and sub must both be the client_id")
		}
	}
	exp := cl.Expiry.Time()
	if exp.Sub(now) > maxAssertionLifetime {
		return fail("exp is too far in the future")
	}
	if cl.ID == "" {
		return fail("jti is required")
	}
	err = h.store.UseAssertionID(ctx, c.ID, cl.ID, exp.Add(assertionLeeway), now)
	if errors.Is(err, store.ErrAlreadyExists) {
		return fail("jti was already used")
	}
	if err != nil {
		return fmt.Errorf("record assertion jti: %w", err)
	}
	return nil
}

// verifyWithKeys verifies tok with the key its kid names, or with each
// signing key when it names none, and decodes its claims into dest.
func verifyWithKeys(tok *jwt.JSONWebToken, keys *jose.JSONWebKeySet, dest ...any) bool {
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	for _, k := range keys.Keys {
		if (kid != "" && k.KeyID != kid) || (k.Use != "" && k.Use != "sig") || !k.IsPublic() {
			continue
		}
		if tok.Claims(k.Key, dest...) == nil {
			return true
		}
	}
	return false
}

// clientKeys returns c's JWK Set, inline or from jwks_uri through the
// guarded fetcher and the key cache (see keyCache); refresh asks for keys
// fetched within keyRefreshInterval, as after a signature that did not
// verify.
func (h *Handler) clientKeys(ctx context.Context, c *Client, refresh bool) (*jose.JSONWebKeySet, error) {
	if c.Metadata.JWKS != nil {
		var ks jose.JSONWebKeySet
		if err := json.Unmarshal(c.Metadata.JWKS, &ks); err != nil {
			return nil, ErrInvalidClient.WithDescription("the client's jwks cannot be read")
		}
		return &ks, nil
	}
	if c.Metadata.JWKSURI == "" {
		return nil, ErrInvalidClient.WithDescription("the client has no keys")
	}
	return getKeys(ctx, h, c.Metadata.JWKSURI, refresh)
}

const (
	// keyCacheTTL is how long fetched keys are used without a fetch.
	keyCacheTTL = 5 * time.Minute
	// keyRefreshInterval is the least age of keys that a refresh fetches
	// again.
	keyRefreshInterval = 30 * time.Second
	// keyFailureTTL is how long a failed fetch is remembered: within it a
	// URI is not fetched again, whatever the requests naming it.
	keyFailureTTL = 30 * time.Second
	// maxKeyCacheEntries bounds the key cache.
	maxKeyCacheEntries = 10_000
)

// keyCache caches the JWK Sets of jwks_uri (clients' and trusted
// issuers'), by URI, so that requests that anyone can send (a token request
// naming a private_key_jwt client needs no valid credential to make the
// server look for its keys) cannot make the server fetch at will. It is a
// fetchCache (see there for the rules) whose keys are used for
// keyCacheTTL; a refresh (after a signature that did not verify, perhaps
// because the keys rotated) fetches again only keys older than
// keyRefreshInterval; after a failed fetch, requests get the keys fetched
// before, if any.
type keyCache = fetchCache[*jose.JSONWebKeySet]

// newKeyCache returns the key cache of h.
func newKeyCache() *keyCache {
	return &keyCache{
		failureTTL:    keyFailureTTL,
		maxEntries:    maxKeyCacheEntries,
		keepOnFailure: true,
		load:          loadKeys,
	}
}

// getKeys returns the keys of uri from kc; refresh asks for keys fetched
// within keyRefreshInterval.
func getKeys(ctx context.Context, h *Handler, uri string, refresh bool) (*jose.JSONWebKeySet, error) {
	var maxAge time.Duration
	if refresh {
		maxAge = keyRefreshInterval
	}
	return h.keyCache.get(ctx, h, uri, maxAge)
}

// loadKeys fetches the JWK Set at uri.
func loadKeys(ctx context.Context, h *Handler, uri string) (*jose.JSONWebKeySet, time.Duration, error) {
	body, err := h.fetcher.Get(ctx, uri)
	if err != nil {
		h.log.WarnContext(ctx, "fetch jwks_uri failed", "jwks_uri", uri, "err", err)
		return nil, 0, ErrInvalidClient.WithDescription("the client's jwks_uri could not be fetched")
	}
	ks := new(jose.JSONWebKeySet)
	if err := json.Unmarshal(body, ks); err != nil {
		h.log.WarnContext(ctx, "jwks_uri is not a JWK Set", "jwks_uri", uri, "err", err)
		return nil, 0, ErrInvalidClient.WithDescription("the client's jwks_uri is not a JWK Set")
	}
	return ks, keyCacheTTL, nil
}
