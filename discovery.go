package clientreg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ServerMetadata is the authorization server metadata document of RFC 8414
// §2. The handler publishes it at /.well-known/oauth-authorization-server and
// validates registrations against the same value: what is advertised is
// exactly what is enforced.
//
// Members that describe something outside clientreg (documentation, policy
// pages, an external authorization endpoint) are published as given.
type ServerMetadata struct {
	Issuer                                             string   `json:"issuer"`
	AuthorizationEndpoint                              string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                                      string   `json:"token_endpoint,omitempty"`
	JWKSURI                                            string   `json:"jwks_uri,omitempty"`
	RegistrationEndpoint                               string   `json:"registration_endpoint,omitempty"`
	ScopesSupported                                    []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                             []string `json:"response_types_supported"`
	ResponseModesSupported                             []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                                []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported                  []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	TokenEndpointAuthSigningAlgValuesSupported         []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	ServiceDocumentation                               string   `json:"service_documentation,omitempty"`
	UILocalesSupported                                 []string `json:"ui_locales_supported,omitempty"`
	OPPolicyURI                                        string   `json:"op_policy_uri,omitempty"`
	OPTOSURI                                           string   `json:"op_tos_uri,omitempty"`
	RevocationEndpoint                                 string   `json:"revocation_endpoint,omitempty"`
	RevocationEndpointAuthMethodsSupported             []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	RevocationEndpointAuthSigningAlgValuesSupported    []string `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
	IntrospectionEndpoint                              string   `json:"introspection_endpoint,omitempty"`
	IntrospectionEndpointAuthMethodsSupported          []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported,omitempty"`
	CodeChallengeMethodsSupported                      []string `json:"code_challenge_methods_supported,omitempty"`
	// AuthorizationResponseISSParameterSupported says that the
	// authorization endpoint returns iss in its responses (RFC 9207 §3).
	// Set to true when the handler serves the endpoint; published as given
	// otherwise.
	AuthorizationResponseISSParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// ClientIDMetadataDocumentSupported says that client_id may be the URL
	// of a Client ID Metadata Document. Set to true when the handler
	// serves documents (Config.ClientMetadataDocuments); published as given
	// otherwise.
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`

	// The members below are those of OpenID Connect Discovery 1.0 §3 that
	// RFC 8414 §2 admits. The lists are enforced on the client metadata of
	// OpenID Connect Dynamic Client Registration 1.0 (see oidc.go); the
	// others are published as given.

	// UserinfoEndpoint is the URL of the UserInfo endpoint, if any.
	UserinfoEndpoint string `json:"userinfo_endpoint,omitempty"`
	// EndSessionEndpoint is the RP-Initiated Logout endpoint, if any.
	EndSessionEndpoint string `json:"end_session_endpoint,omitempty"`
	// SubjectTypesSupported bounds subject_type; default
	// DefaultSubjectTypes.
	SubjectTypesSupported []string `json:"subject_types_supported,omitempty"`
	// IDTokenSigningAlgValuesSupported bounds id_token_signed_response_alg;
	// default DefaultIDTokenSigningAlgs.
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
	// IDTokenEncryptionAlgValuesSupported bounds
	// id_token_encrypted_response_alg; empty (the default) refuses it.
	IDTokenEncryptionAlgValuesSupported []string `json:"id_token_encryption_alg_values_supported,omitempty"`
	// IDTokenEncryptionEncValuesSupported bounds
	// id_token_encrypted_response_enc; empty (the default) refuses it.
	IDTokenEncryptionEncValuesSupported []string `json:"id_token_encryption_enc_values_supported,omitempty"`
	// UserinfoSigningAlgValuesSupported bounds userinfo_signed_response_alg;
	// empty (the default) refuses it.
	UserinfoSigningAlgValuesSupported []string `json:"userinfo_signing_alg_values_supported,omitempty"`
	// UserinfoEncryptionAlgValuesSupported bounds
	// userinfo_encrypted_response_alg; empty (the default) refuses it.
	UserinfoEncryptionAlgValuesSupported []string `json:"userinfo_encryption_alg_values_supported,omitempty"`
	// UserinfoEncryptionEncValuesSupported bounds
	// userinfo_encrypted_response_enc; empty (the default) refuses it.
	UserinfoEncryptionEncValuesSupported []string `json:"userinfo_encryption_enc_values_supported,omitempty"`
	// RequestObjectSigningAlgValuesSupported bounds
	// request_object_signing_alg; empty (the default) refuses it.
	RequestObjectSigningAlgValuesSupported []string `json:"request_object_signing_alg_values_supported,omitempty"`
	// RequestObjectEncryptionAlgValuesSupported bounds
	// request_object_encryption_alg; empty (the default) refuses it.
	RequestObjectEncryptionAlgValuesSupported []string `json:"request_object_encryption_alg_values_supported,omitempty"`
	// RequestObjectEncryptionEncValuesSupported bounds
	// request_object_encryption_enc; empty (the default) refuses it.
	RequestObjectEncryptionEncValuesSupported []string `json:"request_object_encryption_enc_values_supported,omitempty"`
	// ACRValuesSupported bounds default_acr_values when set; empty accepts
	// any value.
	ACRValuesSupported []string `json:"acr_values_supported,omitempty"`
	// ClaimsSupported lists the claims the OP can supply; published as
	// given.
	ClaimsSupported []string `json:"claims_supported,omitempty"`
	// ClaimsParameterSupported says whether the OP supports the claims
	// request parameter; published as given.
	ClaimsParameterSupported bool `json:"claims_parameter_supported,omitempty"`
	// RequestParameterSupported says whether the OP supports the request
	// parameter; published as given.
	RequestParameterSupported bool `json:"request_parameter_supported,omitempty"`
	// RequestURIParameterSupported says whether the OP supports the
	// request_uri parameter (absent means true, OpenID Connect Discovery
	// 1.0 §3). Set to false, registering request_uris is refused.
	RequestURIParameterSupported *bool `json:"request_uri_parameter_supported,omitempty"`
	// RequireRequestURIRegistration says whether request_uri values must be
	// pre-registered with request_uris; published as given.
	RequireRequestURIRegistration bool `json:"require_request_uri_registration,omitempty"`
}

// ServerMetadata returns m itself, so that a *ServerMetadata is a static
// MetadataProvider.
func (m *ServerMetadata) ServerMetadata(context.Context) (*ServerMetadata, error) { return m, nil }

// MetadataProvider supplies the server metadata that the handler publishes
// and validates registrations against. A *ServerMetadata is the static
// provider; implement the interface to vary the metadata per request (for
// example per tenant, read from the context).
type MetadataProvider interface {
	ServerMetadata(ctx context.Context) (*ServerMetadata, error)
}

// The values the handler fills in when ServerMetadata leaves them empty.
// Each function returns a new slice, which the caller may change.

// DefaultGrantTypes returns the grant types supported by default by a
// handler that serves neither the token endpoint nor an authorization
// endpoint (a registration endpoint for an authorization server that
// serves them). A handler that serves the token endpoint lists what it
// serves instead (see ServerMetadata.completed).
func DefaultGrantTypes() []string {
	return []string{"authorization_code", "refresh_token", "client_credentials"}
}

// DefaultAuthMethods returns the token endpoint authentication methods
// supported by default: every method AuthenticateClient verifies.
func DefaultAuthMethods() []string {
	return []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"}
}

// DefaultSubjectTypes returns the subject identifier types supported by
// default (OpenID Connect Discovery 1.0 §3 requires the member).
func DefaultSubjectTypes() []string { return []string{"public"} }

// DefaultIDTokenSigningAlgs returns the ID Token JWS algorithms supported
// by default: RS256, which OpenID Connect Discovery 1.0 §3 requires, and
// the other public-key algorithms of go-jose.
func DefaultIDTokenSigningAlgs() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// completed returns a copy of m with the members the handler manages set
// from the configuration and empty lists given their defaults.
func (m *ServerMetadata) completed(h *Handler) *ServerMetadata {
	c := *m
	c.Issuer = h.issuer
	c.RegistrationEndpoint = h.regEndpoint
	if h.cfg.Authorizer != nil {
		// RFC 8414 §2: authorization_endpoint is REQUIRED unless no grant
		// type uses it; it is published when, and only when, it is served
		// (or stated by the operator, as given).
		c.AuthorizationEndpoint = h.authzEndpoint
		c.CodeChallengeMethodsSupported = []string{pkceS256}
		c.AuthorizationResponseISSParameterSupported = true
	}
	if h.cfg.documentsEnabled() {
		c.ClientIDMetadataDocumentSupported = true
	}
	if len(c.GrantTypesSupported) == 0 {
		c.GrantTypesSupported = h.servedGrantTypes(c.AuthorizationEndpoint != "")
	}
	if c.ResponseTypesSupported == nil {
		c.ResponseTypesSupported = []string{}
		if slices.Contains(c.GrantTypesSupported, "authorization_code") {
			c.ResponseTypesSupported = append(c.ResponseTypesSupported, "code")
		}
		if slices.Contains(c.GrantTypesSupported, "implicit") {
			c.ResponseTypesSupported = append(c.ResponseTypesSupported, "token")
		}
	}
	if len(c.TokenEndpointAuthMethodsSupported) == 0 {
		c.TokenEndpointAuthMethodsSupported = DefaultAuthMethods()
	}
	if len(c.SubjectTypesSupported) == 0 {
		c.SubjectTypesSupported = DefaultSubjectTypes()
	}
	if len(c.IDTokenSigningAlgValuesSupported) == 0 {
		c.IDTokenSigningAlgValuesSupported = DefaultIDTokenSigningAlgs()
	}
	usesJWT := slices.Contains(c.TokenEndpointAuthMethodsSupported, "client_secret_jwt") ||
		slices.Contains(c.TokenEndpointAuthMethodsSupported, "private_key_jwt")
	if usesJWT && len(c.TokenEndpointAuthSigningAlgValuesSupported) == 0 {
		c.TokenEndpointAuthSigningAlgValuesSupported = AssertionSigningAlgs()
	}
	if h.jwksURI != "" {
		// RFC 8414 §2: the server's JWK Set, whose keys sign its JWT
		// access tokens (RFC 9068 §4).
		c.JWKSURI = h.jwksURI
	}
	if h.cfg.ServeTokenEndpoints {
		// The endpoints exist, so they are advertised, with the methods
		// that authenticate there: those of the token endpoint (a public
		// client may revoke its tokens, RFC 7009 §2.1, but introspection
		// needs an authenticated client).
		c.TokenEndpoint = h.tokenEndpoint
		c.IntrospectionEndpoint = h.introspectionEP
		c.RevocationEndpoint = h.revocationEP
		confidential := slices.DeleteFunc(slices.Clone(c.TokenEndpointAuthMethodsSupported), func(m string) bool { return m == "none" })
		c.IntrospectionEndpointAuthMethodsSupported = confidential
		c.RevocationEndpointAuthMethodsSupported = slices.Clone(c.TokenEndpointAuthMethodsSupported)
		if usesJWT {
			c.IntrospectionEndpointAuthSigningAlgValuesSupported = c.TokenEndpointAuthSigningAlgValuesSupported
			c.RevocationEndpointAuthSigningAlgValuesSupported = c.TokenEndpointAuthSigningAlgValuesSupported
		}
	}
	return &c
}

// servedGrantTypes is the default of grant_types_supported: what the
// handler's token endpoint serves. With an authorization endpoint (the
// handler's, or one the operator states, which issues its codes with
// Handler.IssueCode), that is authorization_code and, unless refresh tokens
// are Off, refresh_token; with the token endpoint, client_credentials. A
// handler that serves neither is a registration endpoint for an
// authorization server it does not describe: DefaultGrantTypes.
func (h *Handler) servedGrantTypes(authzEndpoint bool) []string {
	if !h.cfg.ServeTokenEndpoints {
		if authzEndpoint {
			// The external server's token endpoint redeems the codes.
			return h.codeGrantTypes()
		}
		return DefaultGrantTypes()
	}
	var g []string
	if authzEndpoint && h.codeGrant {
		g = h.codeGrantTypes()
	}
	return append(g, grantClientCredentials)
}

func (h *Handler) codeGrantTypes() []string {
	if h.cfg.RefreshTokenLifetime == Off {
		return []string{grantAuthorizationCode}
	}
	return []string{grantAuthorizationCode, grantRefreshToken}
}

// checkServed refuses, when the handler serves the token endpoint,
// metadata that advertises grant types it does not serve (RFC 8414 §2:
// grant_types_supported lists what "this authorization server supports").
func (h *Handler) checkServed(m *ServerMetadata) error {
	if !h.cfg.ServeTokenEndpoints {
		return nil
	}
	for _, g := range m.GrantTypesSupported {
		switch {
		case g == grantClientCredentials:
		case (g == grantAuthorizationCode || g == grantRefreshToken) && h.codeGrant && m.AuthorizationEndpoint != "":
			if g == grantRefreshToken && h.cfg.RefreshTokenLifetime == Off {
				return errors.New("GrantTypesSupported lists refresh_token, but Config.RefreshTokenLifetime is Off")
			}
		case g == grantImplicit && h.cfg.Authorizer == nil && m.AuthorizationEndpoint != "":
			// The operator's authorization endpoint serves it.
		case g == grantAuthorizationCode || g == grantRefreshToken:
			return fmt.Errorf("GrantTypesSupported lists %s, but no authorization endpoint is served (Config.Authorizer) or stated (AuthorizationEndpoint) whose codes this token endpoint redeems", g)
		default:
			return fmt.Errorf("GrantTypesSupported lists %s, which this token endpoint does not serve", g)
		}
	}
	if h.cfg.Authorizer != nil {
		for _, rt := range m.ResponseTypesSupported {
			if rt != "code" {
				return fmt.Errorf("ResponseTypesSupported lists %q, but the authorization endpoint serves code only", rt)
			}
		}
	}
	return nil
}

// wellKnownPath returns the path of the metadata document for issuer, using
// the path-insertion form of RFC 8414 §3.1 when the issuer has a path.
func wellKnownPath(issuer *url.URL) string {
	p := strings.TrimSuffix(issuer.EscapedPath(), "/")
	return "/.well-known/oauth-authorization-server" + p
}

// checkServerMetadata rejects a metadata document whose lists contradict
// each other or the default scopes.
func checkServerMetadata(m *ServerMetadata, defaultScopes []string) error {
	for _, s := range defaultScopes {
		if !validScopeToken(s) {
			return fmt.Errorf("default scope %q is not a valid scope token", s)
		}
		if len(m.ScopesSupported) > 0 && !slices.Contains(m.ScopesSupported, s) {
			return fmt.Errorf("default scope %q is not in ScopesSupported", s)
		}
	}
	for _, s := range m.ScopesSupported {
		if !validScopeToken(s) {
			return fmt.Errorf("scope %q is not a valid scope token", s)
		}
	}
	for _, am := range m.TokenEndpointAuthMethodsSupported {
		if am == "" {
			return errors.New("empty token endpoint auth method")
		}
	}
	// Advertised must be enforceable: a response type whose grant types are
	// not supported could never be registered.
	for _, rt := range m.ResponseTypesSupported {
		for _, g := range responseTypeGrants(rt) {
			if !slices.Contains(m.GrantTypesSupported, g) {
				return fmt.Errorf("response type %q needs grant type %q, which is not in GrantTypesSupported", rt, g)
			}
		}
	}
	return checkOIDCServerMetadata(m) // oidc.go
}

// serverMetadata returns the completed metadata for this request.
func (h *Handler) serverMetadata(ctx context.Context) (*ServerMetadata, error) {
	if h.static != nil {
		return h.static, nil
	}
	m, err := h.cfg.Metadata.ServerMetadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("server metadata: %w", err)
	}
	return m.completed(h), nil
}

// MetadataHandler returns the RFC 8414 metadata document endpoint alone.
func (h *Handler) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = h.withRequestID(w, r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(http.MethodGet, http.MethodHead).ServeHTTP(w, r)
			return
		}
		h.serveMetadata(w, r)
	})
}

// Metadata returns the server metadata document as published.
func (h *Handler) Metadata(ctx context.Context) (*ServerMetadata, error) {
	m, err := h.serverMetadata(ctx)
	if err != nil {
		return nil, err
	}
	c := *m
	return &c, nil
}

// serveMetadata is the metadata document of RFC 8414 §3, which "MUST" be
// served at the path formed by inserting "/.well-known/" and the
// well-known URI suffix between the host and the path of the issuer
// (§3.1; see wellKnownPath). RFC 8414 §3.2: "A successful response MUST
// use the 200 OK HTTP status code and return a JSON object using the
// "application/json" content type", whose "issuer" value MUST be identical
// to the issuer identifier (§3.3; completed sets it from the Config).
func (h *Handler) serveMetadata(w http.ResponseWriter, r *http.Request) {
	m, err := h.serverMetadata(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
