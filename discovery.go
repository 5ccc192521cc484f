package clientreg

import (
	"context"
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
var (
	// DefaultGrantTypes are the grant types supported by default.
	DefaultGrantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}
	// DefaultAuthMethods are the token endpoint authentication methods
	// supported by default: every method AuthenticateClient verifies.
	DefaultAuthMethods = []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"}
)

// completed returns a copy of m with the members the handler manages set
// from the configuration and empty lists given their defaults.
func (m *ServerMetadata) completed(h *Handler) *ServerMetadata {
	c := *m
	c.Issuer = h.issuer
	c.RegistrationEndpoint = h.regEndpoint
	if len(c.GrantTypesSupported) == 0 {
		c.GrantTypesSupported = slices.Clone(DefaultGrantTypes)
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
		c.TokenEndpointAuthMethodsSupported = slices.Clone(DefaultAuthMethods)
	}
	usesJWT := slices.Contains(c.TokenEndpointAuthMethodsSupported, "client_secret_jwt") ||
		slices.Contains(c.TokenEndpointAuthMethodsSupported, "private_key_jwt")
	if usesJWT && len(c.TokenEndpointAuthSigningAlgValuesSupported) == 0 {
		c.TokenEndpointAuthSigningAlgValuesSupported = AssertionSigningAlgs()
	}
	if h.serveTokens {
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

// wellKnownPath returns the path of the metadata document for issuer, using
// the path-insertion form of RFC 8414 §3.1 when the issuer has a path.
func wellKnownPath(issuer *url.URL) string {
	p := strings.TrimSuffix(issuer.EscapedPath(), "/")
	return "/.well-known/oauth-authorization-server" + p
}
