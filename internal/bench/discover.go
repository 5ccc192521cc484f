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
	// Tried lists the documents that did not name an endpoint, and why.
	Tried []string `json:"tried,omitempty"`
}

// Discover finds the registration endpoint of the server at base: the
// registration_endpoint member of base + "/.well-known/oauth-authorization-server"
// (RFC 8414), or failing that of base + "/.well-known/openid-configuration"
// (OpenID Connect Discovery). The endpoint must pass the same host check as
// base (loopback only unless allowRemote).
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
			Issuer               string `json:"issuer"`
			RegistrationEndpoint string `json:"registration_endpoint"`
		}
		if err := json.Unmarshal(resp.body, &m); err != nil {
			d.Tried = append(d.Tried, fmt.Sprintf("%s: not a JSON object: %v", u, err))
			continue
		}
		if m.RegistrationEndpoint == "" {
			d.Tried = append(d.Tried, u+": no registration_endpoint")
			continue
		}
		if err := checkURL(m.RegistrationEndpoint, allowRemote); err != nil {
			return d, fmt.Errorf("registration_endpoint of %s: %w", u, err)
		}
		d.Source, d.Issuer, d.RegistrationEndpoint = u, m.Issuer, m.RegistrationEndpoint
		return d, nil
	}
	return d, fmt.Errorf("bench: no registration_endpoint found (%s)", strings.Join(d.Tried, "; "))
}
