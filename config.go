package clientreg

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// TokenRotation says when the registration access token is replaced.
type TokenRotation int

const (
	// RotateOnUpdate issues a new registration access token in every
	// successful update response (the default).
	RotateOnUpdate TokenRotation = iota
	// RotateNever keeps the token issued at registration for the client's
	// lifetime.
	RotateNever
)

// Off, as the value of a duration or limit of Config or Limits, turns
// that feature off, where the field's documentation says it can be: no
// grace, no overlap, no skew, no rate limit. It is the one rule for every
// duration and limit: 0 means the documented default, Off means off, and
// any other negative value is an error.
const Off = -1

// AnonymousPublicPolicy is the name of the built-in policy of
// Config.AnonymousPublicClientsOnly; Config.Policies may not use it.
const AnonymousPublicPolicy = "anonymous-public-clients"

// Defaults of Config fields left zero.
const (
	// DefaultTokenGrace is how long a rotated registration access token
	// keeps working, unless the new one is used first.
	DefaultTokenGrace = 10 * time.Minute
	// DefaultAccessTokenLifetime is the lifetime of access tokens.
	DefaultAccessTokenLifetime = time.Hour
	// DefaultSecretOverlap is how long a rotated client secret keeps working.
	DefaultSecretOverlap = 24 * time.Hour
	// DefaultMaxBodyBytes bounds request bodies.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultFetchTimeout bounds each outbound fetch.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultRegistrationPath is appended to the issuer when
	// Config.RegistrationEndpoint is empty.
	DefaultRegistrationPath = "/register"
	// DefaultAuthorizationPath is appended to the issuer when
	// Config.AuthorizationEndpoint is empty.
	DefaultAuthorizationPath = "/authorize"
	// DefaultCodeLifetime is the lifetime of authorization codes (RFC 6749
	// §4.1.2 recommends at most 10 minutes; a client redeems its code at
	// once).
	DefaultCodeLifetime = time.Minute
	// MaxCodeLifetime bounds Config.CodeLifetime (RFC 6749 §4.1.2: "A
	// maximum authorization code lifetime of 10 minutes is RECOMMENDED").
	MaxCodeLifetime = 10 * time.Minute
	// DefaultPendingAuthorizationLifetime is how long a validated
	// authorization request waits for the application to complete or
	// deny it.
	DefaultPendingAuthorizationLifetime = 10 * time.Minute
	// DefaultRefreshTokenLifetime is the absolute lifetime of a grant and
	// its refresh tokens, counted from the authorization.
	DefaultRefreshTokenLifetime = 30 * 24 * time.Hour
	// DefaultRefreshTokenIdleLifetime ends a grant that is not refreshed
	// for this long.
	DefaultRefreshTokenIdleLifetime = 7 * 24 * time.Hour
	// DefaultRefreshTokenGrace is how long a rotated refresh token keeps
	// working, unless its successor is used first (a client that lost the
	// response retries).
	DefaultRefreshTokenGrace = time.Minute
	// DefaultSigningKeyRotation is how often a new signing key of JWT
	// access tokens is made (Config.SigningKeyRotation).
	DefaultSigningKeyRotation = 24 * time.Hour
	// DefaultSigningKeyPublishLead is how long a new signing key is
	// published before it signs (Config.SigningKeyPublishLead): longer than
	// the JWKS document's max-age (5 minutes) plus the handler's own key
	// cache (1 minute), so that every cache has the key before the first
	// token signed with it.
	DefaultSigningKeyPublishLead = 10 * time.Minute
	// DefaultIdempotencyKeyLifetime is how long the response to a
	// registration with an Idempotency-Key is replayed to retries.
	DefaultIdempotencyKeyLifetime = 24 * time.Hour
	// DefaultClientIdleTTL is how long a dynamically registered client
	// that has been used is kept after its last use.
	DefaultClientIdleTTL = 90 * 24 * time.Hour
	// DefaultClientUnusedTTL is how long a dynamically registered client
	// that has never been used is kept after its registration.
	DefaultClientUnusedTTL = 7 * 24 * time.Hour
)

// RefreshRotation says when refresh tokens rotate.
type RefreshRotation int

const (
	// RotateRefreshAlways issues a new refresh token at every refresh, for
	// every client (the default; OAuth 2.1 §4.3.1, RFC 9700 §4.14.2).
	RotateRefreshAlways RefreshRotation = iota
	// RotateRefreshPublicOnly rotates the refresh tokens of public clients
	// (token_endpoint_auth_method none) only, as OAuth 2.1 and the MCP
	// authorization specification require; a confidential client keeps
	// its refresh token, whose use its authentication already binds
	// (RFC 9700 §4.14.2).
	RotateRefreshPublicOnly
)

// AccessTokenFormat is the format of the access tokens the handler issues
// (docs/behaviour.md §9).
type AccessTokenFormat int

const (
	// TokenFormatOpaque issues opaque access tokens: 256 random bits that
	// mean nothing without the store (the default).
	TokenFormatOpaque AccessTokenFormat = iota
	// TokenFormatJWT issues JWT access tokens (RFC 9068), signed with keys
	// the handler keeps in the Store and publishes at its jwks_uri, so that
	// a resource server can verify them offline. Each is stored too, as an
	// opaque token is, so introspection, revocation and VerifyAccessToken
	// work as they do for opaque tokens.
	TokenFormatJWT
)

// String returns "opaque" or "jwt".
func (f AccessTokenFormat) String() string {
	switch f {
	case TokenFormatOpaque:
		return "opaque"
	case TokenFormatJWT:
		return "jwt"
	}
	return fmt.Sprintf("AccessTokenFormat(%d)", int(f))
}

// Signing algorithms of JWT access tokens (Config.AccessTokenSigningAlg).
const (
	// SigningAlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit
	// RSA key, the algorithm RFC 9068 §2.1 requires every implementation
	// to support (the default).
	SigningAlgRS256 = "RS256"
	// SigningAlgES256 is ECDSA over P-256 with SHA-256: smaller tokens and
	// faster signing, for resource servers known to support it.
	SigningAlgES256 = "ES256"
)

// FetchPolicy configures outbound fetches. Production servers leave it
// zero: https only, and no loopback, private or link-local destinations
// (checked after DNS resolution, redirects included).
type FetchPolicy struct {
	// AllowHTTP permits plain http URLs. For tests only.
	AllowHTTP bool
	// AllowPrivateNetworks permits loopback, private and link-local
	// destinations. For tests only.
	AllowPrivateNetworks bool
	// AllowLoopback permits loopback destinations (127.0.0.0/8, ::1)
	// only, for development and tests on one machine; private and
	// link-local destinations stay refused.
	AllowLoopback bool
	// Transport replaces the base transport (for example an httptest TLS
	// server's); nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each fetch; 0 means DefaultFetchTimeout. It cannot
	// be Off.
	Timeout time.Duration
}

// Extension declares a client metadata member that RFC 7591 does not define
// and that the handler should keep. Members not declared are ignored.
type Extension struct {
	// Name is the member name, e.g. "x_tenant".
	Name string
	// Validate checks the member's value; nil accepts any JSON value. An
	// *Error it returns is answered as is; any other error becomes
	// invalid_client_metadata with the error's text as description.
	Validate func(ctx context.Context, value json.RawMessage) error
}

// Config configures a Handler. Issuer, Store and SecretKey are required;
// every other field has a documented default, which its zero value stands
// for. For every duration and limit, here and in Limits, 0 means the
// documented default and Off turns the feature off where that makes sense
// (the field says so); other negative values are refused. New validates a
// Config once and the Handler keeps it; Validate checks one without
// building a Handler.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2):
	// an absolute http(s) URL without query or fragment. Required.
	Issuer string
	// Store keeps clients, initial access tokens and access tokens (see
	// package store). Required.
	Store store.Store

	// Metrics, when set, receives the handler's Prometheus collectors
	// (New registers them; a second Handler needs its own Registerer).
	// Nil records no metrics and touches no global registry. All are
	// prefixed clientreg_:
	//
	//   - http_requests_total{endpoint,code} and
	//     http_request_duration_seconds{endpoint}: the endpoint is one of
	//     metadata, registration, configuration, token, introspection,
	//     revocation, authorization, recovery, jwks and other (never the path);
	//   - client_operations_total{operation,outcome}: register, update and
	//     delete, through HTTP or Go, by outcome ok, refused (an *Error
	//     below 500) or error;
	//   - tokens_issued_total{grant_type}, refresh_token_reuse_total;
	//   - client_metadata_document_fetches_total{outcome} and
	//     client_metadata_document_cache_hits_total;
	//   - rate_limited_total{limit}: registration or failed_auth;
	//   - store_duration_seconds{method}: every Store call of the handler.
	Metrics prometheus.Registerer
	// SecretKey keys the hashes under which secrets and tokens are stored;
	// at least MinSecretKeyLen random bytes, kept outside the Store.
	// Required. Changing it invalidates every issued credential.
	SecretKey []byte

	// RegistrationEndpoint is the absolute URL of the registration endpoint.
	// Default: Issuer + DefaultRegistrationPath. The client configuration
	// endpoint of a client is this URL + "/" + client_id.
	RegistrationEndpoint string
	// Metadata is the server metadata that is published and enforced.
	// Default: an empty *ServerMetadata. Issuer and RegistrationEndpoint are
	// always set from this Config; empty lists of a *ServerMetadata get the
	// package defaults (DefaultGrantTypes, DefaultAuthMethods, and the
	// response types those grant types need). An empty ScopesSupported
	// accepts any well-formed scope.
	Metadata MetadataProvider
	// DefaultScopes are given to clients that register no scope.
	DefaultScopes []string
	// RequireInitialToken makes registration require an initial access token
	// (RFC 7591 §3); by default registration is open. Open or not, a token
	// that is presented is honoured: its policy applies, its use counts,
	// and a bad one is refused.
	RequireInitialToken bool
	// AnonymousPublicClientsOnly restricts the registrations that present
	// no initial access token to public clients: they are registered
	// under the built-in policy AnonymousPublicPolicy, which allows only
	// token_endpoint_auth_method none (also their default) and keeps
	// applying to their updates. Registrations with a token, or with a
	// software statement whose trusted issuer names a policy, get theirs.
	// It cannot be combined with DefaultPolicy (a default policy whose
	// AllowedAuthMethods is [none] does the same, with its other rules),
	// and "none" must be a supported method.
	AnonymousPublicClientsOnly bool
	// TokenRotation says when registration access tokens rotate.
	TokenRotation TokenRotation
	// TokenGrace is how long a rotated registration access token keeps
	// working if the new one is not used first; 0 means DefaultTokenGrace,
	// Off no grace (the old token stops at once).
	TokenGrace time.Duration
	// SecretLifetime sets client_secret_expires_at for new secrets; 0 (the
	// default) and Off mean secrets never expire.
	SecretLifetime time.Duration
	// DisableDelete makes DELETE on the configuration endpoint answer 405.
	DisableDelete bool
	// ServeTokenEndpoints makes the handler also serve, and advertise, a
	// token endpoint for the client_credentials grant (RFC 6749 §4.4), token
	// introspection (RFC 7662) and token revocation (RFC 7009), at the
	// issuer's path + "/token", "/introspect" and "/revoke", and the
	// recovery of lost registration access tokens. Clients authenticate
	// there with the method they registered (see AuthenticateClient).
	ServeTokenEndpoints bool
	// AccessTokenLifetime is the lifetime of issued access tokens; 0 means
	// DefaultAccessTokenLifetime. It cannot be Off.
	AccessTokenLifetime time.Duration
	// AccessTokenFormat is the format of issued access tokens: opaque (the
	// default) or JWT (RFC 9068).
	AccessTokenFormat AccessTokenFormat
	// AccessTokenSigningAlg is the JWS algorithm of JWT access tokens:
	// SigningAlgRS256 (the default; RFC 9068 §2.1) or SigningAlgES256. A
	// change applies to the keys made from then on; the keys already made
	// keep signing until they retire.
	AccessTokenSigningAlg string
	// SigningKeyRotation is how often a new signing key of JWT access
	// tokens is made: a key is due for a successor this long after it
	// starts signing (less the publish lead, so that the successor takes
	// over on time), and stops signing after twice this long, so that a
	// successor made up to one interval late (no token was issued) still
	// takes over without a gap. Its public key is published until the last
	// token it may have signed expires (AccessTokenLifetime after it stops
	// signing). 0 means DefaultSigningKeyRotation; it cannot be Off, and
	// must exceed SigningKeyPublishLead.
	SigningKeyRotation time.Duration
	// SigningKeyPublishLead is how long a new signing key is published
	// (its public key in the JWKS) before it signs; 0 means
	// DefaultSigningKeyPublishLead, Off none (a new key signs at once,
	// which verifiers caching the JWKS learn only when they fetch it again
	// for the unknown kid).
	SigningKeyPublishLead time.Duration
	// MayIntrospect decides which tokens an authenticated client may
	// introspect; default OwnTokensOnly. A resource server that checks
	// every client's tokens is given wider rights here.
	MayIntrospect IntrospectionPolicy
	// SecretOverlap is how long a client's previous secret keeps working
	// after the client rotated it, at the token endpoint only (see
	// AuthenticateTokenClient), so that running deployments keep getting
	// access tokens while the new secret is rolled out; every other use of
	// client credentials (registration access token recovery,
	// introspection, revocation, AuthenticateClient) takes only the current
	// secret from the moment of the rotation. 0 means DefaultSecretOverlap,
	// Off no overlap: the previous secret stops everywhere at once, which is
	// what evicting the holder of a stolen secret needs.
	SecretOverlap time.Duration
	// Fetch configures the guarded HTTP client that fetches documents
	// clients point at (jwks_uri). The zero value is the production policy.
	Fetch FetchPolicy
	// ClientMetadataDocuments configures Client ID Metadata Documents: a
	// client_id that is an https URL names the document describing the
	// client, fetched instead of a registration (docs/behaviour.md §10).
	// The zero value is on whenever the authorization endpoint is served
	// and registration is open (see ClientMetadataDocumentPolicy.Enabled).
	ClientMetadataDocuments ClientMetadataDocumentPolicy
	// Limits are the abuse limits (rate limits and request limits); the
	// zero value is on, with generous defaults.
	Limits Limits
	// MaxBodyBytes limits request bodies; 0 means DefaultMaxBodyBytes. It
	// cannot be Off.
	MaxBodyBytes int64
	// Extensions are the extension members clients may register.
	Extensions []Extension

	// Authorizer turns on the authorization endpoint (RFC 6749 §3.1, §4.1)
	// and the authorization_code and refresh_token grants of the token
	// endpoint, which then needs ServeTokenEndpoints. The handler validates each
	// authorization request and hands it to the Authorizer, which signs the
	// user in and asks for consent and then calls CompleteAuthorization or
	// DenyAuthorization. Nil (the default): no authorization endpoint is
	// served or advertised (see ServerMetadata.AuthorizationEndpoint for
	// one served elsewhere).
	Authorizer Authorizer
	// AuthorizationEndpoint is the absolute URL of the authorization
	// endpoint, served when Authorizer is set. Default: Issuer +
	// DefaultAuthorizationPath.
	AuthorizationEndpoint string
	// AuthorizationErrorPage renders the errors of the authorization
	// endpoint that cannot be redirected to the client (an unknown client,
	// a redirect URI that is not registered: RFC 6749 §4.1.2.1), and those
	// of PendingAuthorization and its kin when the handler answers the
	// browser itself. Default: a small HTML page, sent with
	// Content-Security-Policy frame-ancestors 'none' and Cache-Control
	// no-store. It must never redirect.
	AuthorizationErrorPage ErrorPageFunc
	// CodeLifetime is the lifetime of authorization codes; 0 means
	// DefaultCodeLifetime. It cannot be Off or exceed MaxCodeLifetime.
	CodeLifetime time.Duration
	// PendingAuthorizationLifetime is how long a validated authorization
	// request may wait for CompleteAuthorization or DenyAuthorization; 0
	// means DefaultPendingAuthorizationLifetime. It cannot be Off.
	PendingAuthorizationLifetime time.Duration
	// RefreshTokenLifetime is the absolute lifetime of a grant: its refresh
	// tokens stop working this long after the authorization, however often
	// they rotate; 0 means DefaultRefreshTokenLifetime, Off issues no
	// refresh tokens (and refresh_token is not advertised).
	RefreshTokenLifetime time.Duration
	// RefreshTokenIdleLifetime ends a grant that is not refreshed for this
	// long; 0 means DefaultRefreshTokenIdleLifetime, Off no idle limit.
	RefreshTokenIdleLifetime time.Duration
	// RefreshTokenGrace is how long the refresh token a rotation replaced
	// keeps working, unless the new one is used first; 0 means
	// DefaultRefreshTokenGrace, Off none (the old token stops at once).
	RefreshTokenGrace time.Duration
	// RefreshRotation says when refresh tokens rotate; public clients
	// always rotate.
	RefreshRotation RefreshRotation
	// IdempotencyKeyLifetime is how long the registration endpoint replays
	// the response to a registration that carried an Idempotency-Key
	// (draft-ietf-httpapi-idempotency-key-header) to a retry with the same
	// key and the same request; 0 means DefaultIdempotencyKeyLifetime, Off
	// ignores the header (see docs/behaviour.md §11).
	IdempotencyKeyLifetime time.Duration

	// ClientIdleTTL is how long a dynamically registered client is kept
	// after it was last used (a token issued to it, an authorization
	// completed for it): PurgeClients removes it afterwards, unless it
	// holds a live grant. 0 means DefaultClientIdleTTL, Off never.
	ClientIdleTTL time.Duration
	// ClientUnusedTTL is how long a dynamically registered client that has
	// never been used is kept after its registration; 0 means
	// DefaultClientUnusedTTL, Off never.
	ClientUnusedTTL time.Duration
	// ExpireInitialTokenClients subjects the clients registered with an
	// initial access token to ClientIdleTTL and ClientUnusedTTL too; by
	// default only anonymous registrations expire. Clients registered
	// through Handler.Register (by the operator) never expire.
	ExpireInitialTokenClients bool
	// Resources is the policy on RFC 8707 resource indicators; the zero
	// value accepts any absolute URI without a fragment.
	Resources ResourcePolicy
	// CORS is the cross-origin policy of the endpoints browsers call
	// (metadata, registration and client configuration, token,
	// revocation); the zero value allows every origin, without
	// credentials.
	CORS CORSPolicy

	// InitialTokens verifies initial access tokens; default: the Store.
	InitialTokens InitialTokenVerifier
	// Authenticator authenticates registration access tokens; default: the
	// Store, with rotation and grace as configured.
	Authenticator TokenAuthenticator
	// Finder finds the client a configuration request addresses; default:
	// the Store.
	Finder ClientFinder
	// Permissions decides who may do what; default OwnClientOnly{}.
	Permissions PermissionChecker
	// Revoker revokes registration access tokens; default: nothing to do,
	// since the default Store drops a client's tokens with the client.
	Revoker TokenRevoker
	// SoftwareStatements verifies software statements; default: the
	// TrustedIssuers when set, NoTrustedIssuers{} otherwise.
	SoftwareStatements SoftwareStatementVerifier
	// RedirectPreset names the redirect URI rules; default PresetMCP.
	RedirectPreset RedirectPreset
	// TrustedIssuers are the software statement issuers the server trusts
	// (see TrustedIssuer). Setting them and SoftwareStatements is an error.
	TrustedIssuers []TrustedIssuer
	// StatementSkew is the clock skew allowed on the time claims of software
	// statements; 0 means DefaultStatementSkew, Off none.
	StatementSkew time.Duration
	// RequireSoftwareStatement refuses registrations without a software
	// statement from a trusted issuer (unapproved_software_statement).
	RequireSoftwareStatement bool
	// Policies are the named registration policies (see Policy) that
	// initial access tokens, trusted issuers and DefaultPolicy refer to.
	Policies []Policy
	// DefaultPolicy names the policy for registrations that neither their
	// initial access token nor their software statement's issuer assigns
	// one; "" applies the server's rules alone.
	DefaultPolicy string
	// NewClientID generates client IDs; default 128 random bits.
	NewClientID IDGenerator
	// NewSecret generates client secrets and registration access tokens;
	// default 256 random bits.
	NewSecret SecretGenerator

	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand is the source of randomness of the default generators; default
	// crypto/rand.Reader.
	Rand io.Reader
	// Audit receives an AuditEvent for every state change, after it is
	// stored, with the actor, the request ID and the client's address and
	// never a credential (audit.go, docs/behaviour.md §14); nil: no
	// events.
	Audit AuditSink
	// Logger receives internal errors (never a secret or token); default:
	// logs are discarded.
	Logger *slog.Logger
}

// Validate reports the first invalid part of c, with the same checks and
// the same errors as New, without building a Handler. The resources New is
// given are the exception: a nil Store and an empty SecretKey are accepted
// here (New requires them), so that a program can check its configuration
// before it opens the store or reads the key; a SecretKey that is set must
// be long enough.
func (c Config) Validate() error {
	if c.SecretKey != nil && len(c.SecretKey) < MinSecretKeyLen {
		return fmt.Errorf("clientreg: Config.SecretKey must be at least %d bytes", MinSecretKeyLen)
	}
	_, err := c.withDefaults().build()
	return err
}

// withDefaults returns a copy of c with every zero field that has a default
// set to it, and the slices New keeps copied, so that the caller's later
// changes do not reach the Handler.
func (c Config) withDefaults() Config {
	c.SecretKey = slices.Clone(c.SecretKey)
	c.DefaultScopes = slices.Clone(c.DefaultScopes)
	c.Policies = slices.Clone(c.Policies)
	c.TrustedIssuers = slices.Clone(c.TrustedIssuers)
	c.Extensions = slices.Clone(c.Extensions)
	if c.RegistrationEndpoint == "" {
		c.RegistrationEndpoint = strings.TrimSuffix(c.Issuer, "/") + DefaultRegistrationPath
	}
	if c.Metadata == nil {
		c.Metadata = &ServerMetadata{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.TokenGrace, DefaultTokenGrace)
	def(&c.AccessTokenLifetime, DefaultAccessTokenLifetime)
	def(&c.SecretOverlap, DefaultSecretOverlap)
	def(&c.StatementSkew, DefaultStatementSkew)
	def(&c.Fetch.Timeout, DefaultFetchTimeout)
	def(&c.CodeLifetime, DefaultCodeLifetime)
	def(&c.PendingAuthorizationLifetime, DefaultPendingAuthorizationLifetime)
	def(&c.RefreshTokenLifetime, DefaultRefreshTokenLifetime)
	def(&c.RefreshTokenIdleLifetime, DefaultRefreshTokenIdleLifetime)
	def(&c.RefreshTokenGrace, DefaultRefreshTokenGrace)
	def(&c.SigningKeyRotation, DefaultSigningKeyRotation)
	def(&c.SigningKeyPublishLead, DefaultSigningKeyPublishLead)
	if c.AccessTokenSigningAlg == "" {
		c.AccessTokenSigningAlg = SigningAlgRS256
	}
	def(&c.IdempotencyKeyLifetime, DefaultIdempotencyKeyLifetime)
	def(&c.ClientIdleTTL, DefaultClientIdleTTL)
	def(&c.ClientUnusedTTL, DefaultClientUnusedTTL)
	if c.AuthorizationEndpoint == "" {
		c.AuthorizationEndpoint = strings.TrimSuffix(c.Issuer, "/") + DefaultAuthorizationPath
	}
	if c.AuthorizationErrorPage == nil {
		c.AuthorizationErrorPage = DefaultAuthorizationErrorPage
	}
	c.Resources = c.Resources.clone()
	c.CORS.AllowedOrigins = slices.Clone(c.CORS.AllowedOrigins)
	c.ClientMetadataDocuments.withDefaults()
	if c.SecretLifetime == Off {
		c.SecretLifetime = 0 // never expire, as 0 says
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	c.Limits = c.Limits.withDefaults()
	if c.MayIntrospect == nil {
		c.MayIntrospect = OwnTokensOnly
	}
	if c.Permissions == nil {
		c.Permissions = OwnClientOnly{}
	}
	if c.RedirectPreset == "" {
		c.RedirectPreset = PresetMCP
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.NewClientID == nil {
		c.NewClientID = defaultIDGenerator(c.Rand)
	}
	if c.NewSecret == nil {
		c.NewSecret = defaultSecretGenerator(c.Rand)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// checkValues checks the enumerations, durations and limits of c, whose
// defaults are applied: the one rule is that 0 was the default and Off is
// off where the field allows it.
func (c Config) checkValues() error {
	switch c.TokenRotation {
	case RotateOnUpdate, RotateNever:
	default:
		return fmt.Errorf("clientreg: unknown Config.TokenRotation %d", c.TokenRotation)
	}
	switch c.RefreshRotation {
	case RotateRefreshAlways, RotateRefreshPublicOnly:
	default:
		return fmt.Errorf("clientreg: unknown Config.RefreshRotation %d", c.RefreshRotation)
	}
	switch c.AccessTokenFormat {
	case TokenFormatOpaque, TokenFormatJWT:
	default:
		return fmt.Errorf("clientreg: unknown Config.AccessTokenFormat %d", c.AccessTokenFormat)
	}
	switch c.AccessTokenSigningAlg {
	case SigningAlgRS256, SigningAlgES256:
	default:
		return fmt.Errorf("clientreg: Config.AccessTokenSigningAlg %q is not supported (want RS256 or ES256)", c.AccessTokenSigningAlg)
	}
	switch c.RedirectPreset {
	case PresetMCP, PresetWeb, PresetNative:
	default:
		return fmt.Errorf("clientreg: unknown Config.RedirectPreset %q (want mcp, web or native)", c.RedirectPreset)
	}
	durations := []struct {
		name     string
		v        time.Duration
		mayBeOff bool
	}{
		{"TokenGrace", c.TokenGrace, true},
		{"AccessTokenLifetime", c.AccessTokenLifetime, false},
		{"SecretOverlap", c.SecretOverlap, true},
		{"StatementSkew", c.StatementSkew, true},
		{"Fetch.Timeout", c.Fetch.Timeout, false},
		{"MaxBodyBytes", time.Duration(c.MaxBodyBytes), false},
		{"CodeLifetime", c.CodeLifetime, false},
		{"PendingAuthorizationLifetime", c.PendingAuthorizationLifetime, false},
		{"RefreshTokenLifetime", c.RefreshTokenLifetime, true},
		{"RefreshTokenIdleLifetime", c.RefreshTokenIdleLifetime, true},
		{"RefreshTokenGrace", c.RefreshTokenGrace, true},
		{"SigningKeyRotation", c.SigningKeyRotation, false},
		{"SigningKeyPublishLead", c.SigningKeyPublishLead, true},
		{"IdempotencyKeyLifetime", c.IdempotencyKeyLifetime, true},
		{"ClientIdleTTL", c.ClientIdleTTL, true},
		{"ClientUnusedTTL", c.ClientUnusedTTL, true},
	}
	if c.CodeLifetime > MaxCodeLifetime {
		return fmt.Errorf("clientreg: Config.CodeLifetime must not exceed %v (RFC 6749 section 4.1.2)", MaxCodeLifetime)
	}
	if c.SecretLifetime < 0 { // Off became 0, "never", in withDefaults
		return errors.New("clientreg: Config.SecretLifetime must be positive, 0 for the default or Off")
	}
	for _, d := range durations {
		if err := checkOff("Config."+d.name, int64(d.v), d.mayBeOff); err != nil {
			return err
		}
	}
	if c.SigningKeyPublishLead != Off && c.SigningKeyPublishLead >= c.SigningKeyRotation {
		return fmt.Errorf("clientreg: Config.SigningKeyPublishLead (%v) must be shorter than Config.SigningKeyRotation (%v)", c.SigningKeyPublishLead, c.SigningKeyRotation)
	}
	if err := c.Resources.check(); err != nil {
		return err
	}
	if err := c.CORS.check(); err != nil {
		return err
	}
	if err := c.ClientMetadataDocuments.check(); err != nil {
		return err
	}
	return c.Limits.check()
}

// checkOff applies the one rule to a value whose default is applied: it
// must be positive, or Off where mayBeOff.
func checkOff(name string, v int64, mayBeOff bool) error {
	switch {
	case v > 0 || v == Off && mayBeOff:
		return nil
	case v == Off:
		return fmt.Errorf("clientreg: %s cannot be Off", name)
	default:
		return fmt.Errorf("clientreg: %s must be positive, 0 for the default or Off", name)
	}
}
