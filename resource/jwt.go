package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/clientreg/clientreg"
)

const (
	// JWTLeeway is the clock skew a JWTVerifier allows on exp, nbf and iat.
	JWTLeeway = time.Minute
	// JWKSRefetchInterval bounds how often a JWTVerifier fetches the JWKS
	// again when a token names a key it does not know (a key rotation):
	// at most once per interval, so that tokens with made-up key ids
	// cannot make it flood the authorization server.
	JWKSRefetchInterval = time.Minute
	// maxJWKSBody bounds the JWKS and metadata documents read.
	maxJWKSBody = 1 << 20
)

// JWTVerifierConfig configures a JWTVerifier. Issuer is required.
type JWTVerifierConfig struct {
	// Issuer is the authorization server's issuer identifier: the iss
	// every token must have.
	Issuer string
	// JWKSURL is the URL of the authorization server's JWK Set (the
	// jwks_uri of its metadata; clientreg's is Issuer + clientreg.JWKSPath).
	// When empty it is discovered, on the first verification, from the
	// issuer's RFC 8414 metadata (/.well-known/oauth-authorization-server),
	// whose issuer must be Issuer.
	JWKSURL string
	// Client sends the requests; default http.DefaultClient.
	Client *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// JWTVerifier is a Verifier of JWT access tokens (RFC 9068; clientreg
// with Config.AccessTokenFormat TokenFormatJWT, clientreg serve
// --access-token-format jwt) for a resource server in another process than
// clientreg: it checks the tokens offline with the public keys of the
// authorization server's JWKS, fetched once and cached, and fetched again
// (at most once per JWKSRefetchInterval) when a token names a key id it
// does not know, as after a key rotation. It is safe for concurrent use.
//
// A token is accepted when its header has typ at+jwt and alg RS256 or
// ES256 with a published key, its signature verifies, its iss is Issuer,
// its exp, nbf and iat hold at Now with JWTLeeway, and its aud contains the
// resource it is presented to.
//
// Offline verification cannot see revocation: a revoked token (RFC 7009,
// a deleted client, a rotated refresh token) is accepted until its exp.
// Keep access token lifetimes short, or use an Introspector (RFC 7662)
// when revocation must take effect at once.
//
// The TokenInfo's Subject is the token's sub as is: for client_credentials
// tokens clientreg sets sub to the client id (RFC 9068 §2.2), where
// clientreg.Handler.VerifyAccessToken reports "" (compare Subject with
// ClientID to tell them apart).
type JWTVerifier struct {
	cfg JWTVerifierConfig

	mu        sync.Mutex // serializes fetches; guards the fields below
	jwksURL   string
	keys      *jose.JSONWebKeySet
	fetchedAt time.Time // of the last successful fetch
}

var _ Verifier = (*JWTVerifier)(nil)

// NewJWTVerifier validates cfg and returns a JWTVerifier. It makes no
// request: the JWKS (and the metadata) is fetched on the first
// verification.
func NewJWTVerifier(cfg JWTVerifierConfig) (*JWTVerifier, error) {
	if u, err := url.Parse(cfg.Issuer); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("resource: JWTVerifierConfig.Issuer %q must be an absolute http(s) URL", cfg.Issuer)
	}
	if cfg.JWKSURL != "" {
		if u, err := url.Parse(cfg.JWKSURL); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("resource: JWTVerifierConfig.JWKSURL %q must be an absolute http(s) URL", cfg.JWKSURL)
		}
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &JWTVerifier{cfg: cfg, jwksURL: cfg.JWKSURL}, nil
}

// jwtClaims are the claims of an RFC 9068 access token.
type jwtClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

// VerifyAccessToken verifies token offline for resource. A token that is
// not a JWT of the issuer (malformed, wrong typ or alg, unknown key, bad
// signature, wrong iss, no exp, issued in the future) is
// clientreg.ErrTokenUnknown, one past its exp ErrTokenExpired, one whose
// aud lacks resource ErrWrongAudience. Failing to fetch the JWKS is an
// error that is none of those.
func (v *JWTVerifier) VerifyAccessToken(ctx context.Context, token, resource string) (*clientreg.TokenInfo, error) {
	if resource == "" {
		return nil, errors.New("resource: VerifyAccessToken needs the resource the token is presented to")
	}
	if strings.Count(token, ".") != 2 {
		return nil, clientreg.ErrTokenUnknown
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		return nil, clientreg.ErrTokenUnknown
	}
	hdr := tok.Headers[0]
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, clientreg.ErrTokenUnknown
	}
	if hdr.KeyID == "" {
		return nil, clientreg.ErrTokenUnknown
	}
	key, err := v.key(ctx, hdr.KeyID)
	if err != nil {
		return nil, err
	}
	if key == nil || (key.Algorithm != "" && key.Algorithm != hdr.Algorithm) {
		return nil, clientreg.ErrTokenUnknown
	}
	var c jwtClaims
	if err := tok.Claims(key.Key, &c); err != nil {
		return nil, clientreg.ErrTokenUnknown
	}
	switch err := c.ValidateWithLeeway(jwt.Expected{Issuer: v.cfg.Issuer, Time: v.cfg.Now()}, JWTLeeway); {
	case errors.Is(err, jwt.ErrExpired):
		return nil, clientreg.ErrTokenExpired
	case err != nil || c.Expiry == nil || c.ClientID == "":
		return nil, clientreg.ErrTokenUnknown
	}
	if !slices.Contains([]string(c.Audience), resource) {
		return nil, clientreg.ErrWrongAudience
	}
	info := &clientreg.TokenInfo{
		ClientID:  c.ClientID,
		Subject:   c.Subject,
		Scopes:    strings.Fields(c.Scope),
		Audience:  []string(c.Audience),
		Issuer:    c.Issuer,
		ExpiresAt: c.Expiry.Time(),
	}
	if c.IssuedAt != nil {
		info.IssuedAt = c.IssuedAt.Time()
	}
	return info, nil
}

// key returns the public signing key kid, fetching the JWKS when there is
// none yet, or when kid is unknown and the last fetch is at least
// JWKSRefetchInterval old; nil when it is not published.
func (v *JWTVerifier) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k := lookup(v.keys, kid); k != nil {
		return k, nil
	}
	if v.keys != nil && v.cfg.Now().Sub(v.fetchedAt) < JWKSRefetchInterval {
		return nil, nil
	}
	set, err := v.fetch(ctx)
	if err != nil {
		return nil, err
	}
	v.keys, v.fetchedAt = set, v.cfg.Now()
	return lookup(v.keys, kid), nil
}

func lookup(set *jose.JSONWebKeySet, kid string) *jose.JSONWebKey {
	if set == nil {
		return nil
	}
	for _, k := range set.Key(kid) {
		if k.IsPublic() && (k.Use == "" || k.Use == "sig") {
			return &k
		}
	}
	return nil
}

// fetch gets the JWKS, discovering its URL first when needed.
func (v *JWTVerifier) fetch(ctx context.Context) (*jose.JSONWebKeySet, error) {
	if v.jwksURL == "" {
		u, err := v.discover(ctx)
		if err != nil {
			return nil, err
		}
		v.jwksURL = u
	}
	var set jose.JSONWebKeySet
	if err := v.getJSON(ctx, v.jwksURL, "application/jwk-set+json, application/json", &set); err != nil {
		return nil, fmt.Errorf("resource: JWKS: %w", err)
	}
	return &set, nil
}

// discover reads the jwks_uri of the issuer's RFC 8414 metadata.
func (v *JWTVerifier) discover(ctx context.Context) (string, error) {
	iss, _ := url.Parse(v.cfg.Issuer)
	// RFC 8414 §3.1: the well-known path goes between the host and the
	// issuer's path.
	metaURL := iss.Scheme + "://" + iss.Host + "/.well-known/oauth-authorization-server" + strings.TrimSuffix(iss.EscapedPath(), "/")
	var m struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, metaURL, "application/json", &m); err != nil {
		return "", fmt.Errorf("resource: authorization server metadata: %w", err)
	}
	if m.Issuer != v.cfg.Issuer {
		return "", fmt.Errorf("resource: the metadata at %s names issuer %q, want %q", metaURL, m.Issuer, v.cfg.Issuer)
	}
	if u, err := url.Parse(m.JWKSURI); err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("resource: the metadata at %s has no usable jwks_uri (%q); does the server issue JWT access tokens?", metaURL, m.JWKSURI)
	}
	return m.JWKSURI, nil
}

func (v *JWTVerifier) getJSON(ctx context.Context, u, accept string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	res, err := v.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBody+1))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, res.Status)
	}
	if len(body) > maxJWKSBody {
		return fmt.Errorf("GET %s: the document exceeds %d bytes", u, maxJWKSBody)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
