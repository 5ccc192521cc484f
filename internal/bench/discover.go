package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Discovery tells where a run's registration endpoint came from.
type Discovery struct {
	// Source is the metadata document's URL, or "configured" when the
	// endpoint was given.
	Source string `json:"source"`
	// Issuer is the document's issuer member, if any.
	Issuer string `json:"issuer,omitempty"`
	// RegistrationEndpoint is the URL registrations are POSTed to.
	RegistrationEndpoint string `json:"registration_endpoint"`
	// TokenEndpoint, IntrospectionEndpoint and AuthorizationEndpoint are
	// the document's (or the configured) endpoints of the token phases.
	TokenEndpoint         string `json:"token_endpoint,omitempty"`
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// TokenAuthMethods is the document's
	// token_endpoint_auth_methods_supported.
	TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// ISSParameter is the document's
	// authorization_response_iss_parameter_supported (RFC 9207): the
	// authorization response must then carry iss.
	ISSParameter bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// Tried lists the documents that did not name an endpoint, and why.
	Tried []string `json:"tried,omitempty"`
}

// Discover finds the endpoints of the server at base: the members of base +
// "/.well-known/oauth-authorization-server" (RFC 8414), or failing that of
// base + "/.well-known/openid-configuration" (OpenID Connect Discovery),
// the first that names a registration_endpoint. Every endpoint must pass
// the same host check as base (loopback only unless allowRemote).
func Discover(ctx context.Context, client *http.Client, base string, allowRemote bool) (Discovery, error) {
	var d Discovery
	base = strings.TrimRight(base, "/")
	for _, u := range []string{
		base + "/.well-known/oauth-authorization-server",
		base + "/.well-known/openid-configuration",
	} {
		resp, err := do(ctx, client, http.MethodGet, u, "", nil)
		if err != nil {
			d.Tried = append(d.Tried, fmt.Sprintf("%s: %v", u, err))
			continue
		}
		if resp.status != http.StatusOK {
			d.Tried = append(d.Tried, fmt.Sprintf("%s: HTTP %d", u, resp.status))
			continue
		}
		var m struct {
			Issuer                string   `json:"issuer"`
			RegistrationEndpoint  string   `json:"registration_endpoint"`
			TokenEndpoint         string   `json:"token_endpoint"`
			IntrospectionEndpoint string   `json:"introspection_endpoint"`
			AuthorizationEndpoint string   `json:"authorization_endpoint"`
			TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
			ISSParameter          bool     `json:"authorization_response_iss_parameter_supported"`
		}
		if err := json.Unmarshal(resp.body, &m); err != nil {
			d.Tried = append(d.Tried, fmt.Sprintf("%s: not a JSON object: %v", u, err))
			continue
		}
		if m.RegistrationEndpoint == "" {
			d.Tried = append(d.Tried, u+": no registration_endpoint")
			continue
		}
		for _, ep := range []struct{ name, url string }{
			{"registration_endpoint", m.RegistrationEndpoint},
			{"token_endpoint", m.TokenEndpoint},
			{"introspection_endpoint", m.IntrospectionEndpoint},
			{"authorization_endpoint", m.AuthorizationEndpoint},
		} {
			if ep.url == "" {
				continue
			}
			if err := checkURL(ep.url, allowRemote); err != nil {
				return d, fmt.Errorf("%s of %s: %w", ep.name, u, err)
			}
		}
		d.Source, d.Issuer, d.RegistrationEndpoint = u, m.Issuer, m.RegistrationEndpoint
		d.TokenEndpoint, d.IntrospectionEndpoint, d.AuthorizationEndpoint = m.TokenEndpoint, m.IntrospectionEndpoint, m.AuthorizationEndpoint
		d.TokenAuthMethods, d.ISSParameter = m.TokenAuthMethods, m.ISSParameter
		return d, nil
	}
	return d, fmt.Errorf("bench: no registration_endpoint found (%s)", strings.Join(d.Tried, "; "))
}
