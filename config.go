package clientreg

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"
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

// Defaults of Config fields left zero.
const (
	DefaultTokenGrace = 10 * time.Minute
	// DefaultAccessTokenLifetime is the lifetime of access tokens.
	DefaultAccessTokenLifetime = time.Hour
	// DefaultSecretOverlap is how long a rotated client secret keeps working.
	DefaultSecretOverlap = 24 * time.Hour
	DefaultMaxBodyBytes  = 64 << 10
	// DefaultRegistrationPath is appended to the issuer when
	// Config.RegistrationEndpoint is empty.
	DefaultRegistrationPath = "/register"
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
	// Transport replaces the base transport (for example an httptest TLS
	// server's); nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each fetch; zero means 5 seconds.
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
// every other field has a documented default.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2):
	// an absolute http(s) URL without query or fragment. Required.
	Issuer string
	// Store keeps clients and initial access tokens. Required.
	Store Store
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
	// (RFC 7591 §3); by default registration is open.
	RequireInitialToken bool
	// TokenRotation says when registration access tokens rotate.
	TokenRotation TokenRotation
	// TokenGrace is how long a rotated registration access token keeps
	// working if the new one is not used first. Zero means
	// DefaultTokenGrace; a negative value means no grace.
	TokenGrace time.Duration
	// SecretLifetime sets client_secret_expires_at for new secrets; zero
	// means secrets never expire.
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
	// AccessTokenLifetime is the lifetime of issued access tokens; zero
	// means DefaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// MayIntrospect decides which tokens an authenticated client may
	// introspect; default OwnTokensOnly. A resource server that checks
	// every client's tokens is given wider rights here.
	MayIntrospect IntrospectionPolicy
	// SecretOverlap is how long a client's previous secret keeps working
	// after the client rotated it; zero means DefaultSecretOverlap, a
	// negative value means no overlap.
	SecretOverlap time.Duration
	// Fetch configures the guarded HTTP client that fetches documents
	// clients point at (jwks_uri). The zero value is the production policy.
	Fetch FetchPolicy
	// Limits are the abuse limits (rate limits and request limits); the
	// zero value is on, with generous defaults.
	Limits Limits
	// MaxBodyBytes limits request bodies; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Extensions are the extension members clients may register.
	Extensions []Extension

	// InitialTokens verifies initial access tokens; default: the Store.
	InitialTokens InitialTokenVerifier
	// Authenticator authenticates registration access tokens; default: the
	// Store, with rotation and grace as configured.
	Authenticator TokenAuthenticator
	// Finder finds the client a configuration request addresses; default:
	// the Store.
	Finder ClientFinder
	// Permissions decides who may do what; default OwnClientOnly.
	Permissions PermissionChecker
	// Revoker revokes registration access tokens; default: nothing to do,
	// since the default Store drops a client's tokens with the client.
	Revoker TokenRevoker
	// SoftwareStatements verifies software statements; default
	// NoTrustedIssuers.
	SoftwareStatements SoftwareStatementVerifier
	// RedirectPreset names the redirect URI rules; default PresetMCP.
	RedirectPreset RedirectPreset
	// TrustedIssuers are the software statement issuers the server trusts
	// (see TrustedIssuer). Setting them and SoftwareStatements is an error.
	TrustedIssuers []TrustedIssuer
	// StatementSkew is the clock skew allowed on the time claims of software
	// statements; zero means DefaultStatementSkew.
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
	// Logger receives internal errors (never a secret or token); default:
	// logs are discarded.
	Logger *slog.Logger
}
