package clientreg

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/clientreg/clientreg/store"
)

// Registration policies. A Policy narrows what a registration may contain,
// for the registrations an operator routes to it: those made with an
// initial access token that names it, those whose software statement comes
// from a trusted issuer that names it, and, through Config.DefaultPolicy,
// all others. The policy in force when a client registers is stored with
// the client (Client.Policy) and keeps applying to its updates.
//
// A policy only ever narrows the server's rules: its lists are
// intersected with what the server supports, and every check of the
// registration pipeline still runs. Which policy applies is decided in
// this order: the initial access token's, then the software statement
// issuer's, then the default policy; a client's updates are checked
// against the policy it registered under, whatever token or statement
// they carry.

// Policy is a named set of registration rules. The zero value of each
// field leaves the server's rule in place.
type Policy struct {
	// Name identifies the policy in configuration, in initial access
	// tokens and in stored clients. Required.
	Name string
	// AllowedScopes are the scopes a client under this policy may
	// register; nil means the server's scopes_supported.
	AllowedScopes []string
	// DefaultScopes are registered when the request has no scope; nil
	// means Config.DefaultScopes. They must be among AllowedScopes.
	DefaultScopes []string
	// AllowedGrantTypes are the grant types a client may register; nil
	// means the server's grant_types_supported.
	AllowedGrantTypes []string
	// AllowedAuthMethods are the token endpoint authentication methods a
	// client may register; nil means the server's. When the request names
	// none and client_secret_basic is not allowed, the first method of this
	// list is registered.
	AllowedAuthMethods []string
	// RedirectPreset replaces the server's redirect URI preset; "" keeps
	// it.
	RedirectPreset RedirectPreset
	// AllowedRedirectHosts, when set, are the only hosts an http(s)
	// redirect URI may name: exact host names or IP literals ("127.0.0.1",
	// "[::1]"), "*.example.com" (any subdomain of example.com, not
	// example.com itself), or "loopback" (any loopback host). Redirect URIs
	// with a private-use scheme are governed by AllowedRedirectSchemes.
	AllowedRedirectHosts []string
	// AllowedRedirectSchemes, when set, are the only schemes a redirect URI
	// may use, e.g. ["https"] or ["https", "http", "cursor"]. The
	// redirect preset's rules still apply.
	AllowedRedirectSchemes []string
	// SameHostURIs requires client_uri, logo_uri, tos_uri and policy_uri
	// (and their language-tagged variants) to have the scheme and host of
	// one of the redirect URIs (RFC 7591 §5).
	SameHostURIs bool
	// MaxClients, when positive, is how many clients may be registered
	// under this policy at once. It is enforced by the Store in the
	// transaction that stores the client, so it is exact under any
	// concurrency (see CreateOptions.MaxClients); deleting a client frees
	// its place.
	MaxClients int64
}

// policies holds the configured policies by name.
type policies map[string]*Policy

// newPolicies checks the configured policies against the server metadata
// srv (nil when the metadata is dynamic) and indexes them.
func newPolicies(list []Policy, srv *ServerMetadata) (policies, error) {
	ps := make(policies, len(list))
	for i := range list {
		p := list[i]
		if p.Name == "" {
			return nil, fmt.Errorf("policy %d has no Name", i)
		}
		if _, dup := ps[p.Name]; dup {
			return nil, fmt.Errorf("policy %q is defined twice", p.Name)
		}
		if p.MaxClients < 0 {
			return nil, fmt.Errorf("policy %q: MaxClients must not be negative", p.Name)
		}
		switch p.RedirectPreset {
		case "", PresetMCP, PresetWeb, PresetNative:
		default:
			return nil, fmt.Errorf("policy %q: unknown redirect preset %q", p.Name, p.RedirectPreset)
		}
		if p.DefaultScopes != nil && p.AllowedScopes != nil {
			for _, s := range p.DefaultScopes {
				if !slices.Contains(p.AllowedScopes, s) {
					return nil, fmt.Errorf("policy %q: default scope %q is not an allowed scope", p.Name, s)
				}
			}
		}
		for _, s := range slices.Concat(p.AllowedScopes, p.DefaultScopes) {
			if !validScopeToken(s) {
				return nil, fmt.Errorf("policy %q: %q is not a valid scope token", p.Name, s)
			}
		}
		for _, h := range p.AllowedRedirectHosts {
			if h == "" || strings.ContainsAny(h, "/:?#@ ") && !strings.HasPrefix(h, "[") {
				return nil, fmt.Errorf("policy %q: %q is not a host pattern", p.Name, h)
			}
		}
		if srv != nil {
			for _, pair := range []struct {
				what             string
				allowed, support []string
			}{
				{"grant type", p.AllowedGrantTypes, srv.GrantTypesSupported},
				{"auth method", p.AllowedAuthMethods, srv.TokenEndpointAuthMethodsSupported},
				{"scope", slices.Concat(p.AllowedScopes, p.DefaultScopes), srv.ScopesSupported},
			} {
				if pair.what == "scope" && len(pair.support) == 0 {
					continue // any well-formed scope is supported
				}
				for _, a := range pair.allowed {
					if !slices.Contains(pair.support, a) {
						return nil, fmt.Errorf("policy %q: %s %q is not supported by the server", p.Name, pair.what, a)
					}
				}
			}
		}
		for _, list := range [][]string{p.AllowedGrantTypes, p.AllowedAuthMethods} {
			if list != nil && len(list) == 0 {
				return nil, fmt.Errorf("policy %q: an empty allow-list allows nothing; omit it to keep the server's", p.Name)
			}
		}
		p.AllowedScopes = slices.Clone(p.AllowedScopes)
		p.DefaultScopes = slices.Clone(p.DefaultScopes)
		p.AllowedGrantTypes = slices.Clone(p.AllowedGrantTypes)
		p.AllowedAuthMethods = slices.Clone(p.AllowedAuthMethods)
		p.AllowedRedirectHosts = slices.Clone(p.AllowedRedirectHosts)
		p.AllowedRedirectSchemes = slices.Clone(p.AllowedRedirectSchemes)
		ps[p.Name] = &p
	}
	return ps, nil
}

// lookup returns the policy named name, nil for "", or an access_denied
// error when no policy has that name any more (a token or client names a
// policy that was removed from the configuration: fail closed).
func (ps policies) lookup(name string) (*Policy, error) {
	if name == "" {
		return nil, nil
	}
	if p := ps[name]; p != nil {
		return p, nil
	}
	return nil, ErrAccessDenied.WithDescription("the registration policy %s is not configured on this server", quote(name))
}

// Policy returns the configured policy with the given name, or nil.
func (h *Handler) Policy(name string) *Policy {
	p := h.policies[name]
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// policyOp says how a validation run chooses its policy.
type policyOp int

const (
	// registering: the initial access token's policy, else the statement
	// issuer's, else the default.
	registering policyOp = iota
	// updating: the policy the client registered under, fixed.
	updating
)

// newValidation returns the state of a validation run against srv, under
// the policy named policyName (from an initial access token when
// registering, from the stored client when updating).
func (h *Handler) newValidation(srv *ServerMetadata, op policyOp, policyName string) *validation {
	return &validation{srv: srv, preset: h.cfg.RedirectPreset, defaultScopes: h.cfg.DefaultScopes, op: op, policyName: policyName}
}

// applyPolicy resolves the policy in force and narrows the run's rules to
// it. It runs after the software statement is verified, since a trusted
// issuer may name the policy.
func applyPolicy(_ context.Context, h *Handler, m *Metadata, v *validation) error {
	if v.op == registering && v.policyName == "" {
		v.policyName = v.issuerPolicy
		if v.policyName == "" {
			v.policyName = h.cfg.DefaultPolicy
		}
	}
	p, err := h.policies.lookup(v.policyName)
	if err != nil || p == nil {
		return err
	}
	v.policy = p
	srv := *v.srv
	if p.AllowedGrantTypes != nil {
		srv.GrantTypesSupported = intersect(srv.GrantTypesSupported, p.AllowedGrantTypes)
	}
	if p.AllowedAuthMethods != nil {
		srv.TokenEndpointAuthMethodsSupported = intersect(p.AllowedAuthMethods, srv.TokenEndpointAuthMethodsSupported)
	}
	if p.AllowedScopes != nil {
		if len(srv.ScopesSupported) == 0 {
			srv.ScopesSupported = slices.Clone(p.AllowedScopes)
		} else {
			srv.ScopesSupported = intersect(srv.ScopesSupported, p.AllowedScopes)
		}
	}
	v.srv = &srv
	if p.DefaultScopes != nil {
		v.defaultScopes = p.DefaultScopes
	}
	if p.RedirectPreset != "" {
		v.preset = p.RedirectPreset
	}
	if len(srv.GrantTypesSupported) == 0 || len(srv.TokenEndpointAuthMethodsSupported) == 0 {
		// Dynamic metadata no longer supports anything the policy allows.
		return ErrAccessDenied.WithDescription("the registration policy %s allows nothing this server supports", quote(p.Name))
	}
	return nil
}

// intersect returns the elements of a that are in b, in a's order.
func intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// checkPolicyURIs applies the policy's redirect host and scheme lists and
// its same-host rule. It runs after the redirect URIs and URL members have
// been checked, so every URI here parses.
func checkPolicyURIs(_ context.Context, _ *Handler, m *Metadata, v *validation) error {
	p := v.policy
	if p == nil {
		return nil
	}
	type origin struct{ scheme, host string }
	var origins []origin
	for i, raw := range m.RedirectURIs {
		u, err := url.Parse(raw)
		if err != nil {
			return memberError(ErrInvalidRedirectURI, jsonPointer("redirect_uris", i), "not a URI: %s", quote(raw))
		}
		scheme := strings.ToLower(u.Scheme)
		if p.AllowedRedirectSchemes != nil && !slices.Contains(p.AllowedRedirectSchemes, scheme) {
			return memberError(ErrInvalidRedirectURI, jsonPointer("redirect_uris", i), "scheme %s is not allowed by the registration policy (allowed: %s): %s",
				quote(scheme), strings.Join(p.AllowedRedirectSchemes, ", "), quote(raw))
		}
		host := strings.ToLower(u.Hostname())
		if (scheme == "http" || scheme == "https") && p.AllowedRedirectHosts != nil && !hostAllowed(host, p.AllowedRedirectHosts) {
			return memberError(ErrInvalidRedirectURI, jsonPointer("redirect_uris", i), "host %s is not allowed by the registration policy (allowed: %s): %s",
				quote(host), strings.Join(p.AllowedRedirectHosts, ", "), quote(raw))
		}
		origins = append(origins, origin{scheme, host})
	}
	if !p.SameHostURIs {
		return nil
	}
	check := func(member, raw string) error {
		u, err := url.Parse(raw)
		if err != nil {
			return metadataError(jsonPointer(member), "not a URL: %s", quote(raw))
		}
		o := origin{strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())}
		if !slices.Contains(origins, o) {
			return metadataError(jsonPointer(member), "must have the scheme and host of a redirect URI (registration policy, RFC 7591 section 5): %s", quote(raw))
		}
		return nil
	}
	for _, mb := range []struct {
		name string
		val  string
	}{{"client_uri", m.ClientURI}, {"logo_uri", m.LogoURI}, {"tos_uri", m.TOSURI}, {"policy_uri", m.PolicyURI}} {
		if mb.val != "" {
			if err := check(mb.name, mb.val); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(m.Localized))
	for name := range m.Localized {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		base, _, _ := strings.Cut(name, "#")
		switch base {
		case "client_uri", "logo_uri", "tos_uri", "policy_uri":
			if err := check(name, m.Localized[name]); err != nil {
				return err
			}
		}
	}
	return nil
}

// hostAllowed reports whether host matches one of the patterns of
// Policy.AllowedRedirectHosts.
func hostAllowed(host string, patterns []string) bool {
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(p, "["), "]"))
		switch {
		case p == "loopback":
			if isLoopbackHost(host) {
				return true
			}
		case strings.HasPrefix(p, "*."):
			if len(host) > len(p)-1 && strings.HasSuffix(host, p[1:]) {
				return true
			}
		case host == p:
			return true
		}
	}
	return false
}

// maxClients returns the client limit of v's policy; 0 for none.
func (v *validation) maxClients() int64 {
	if v.policy == nil {
		return 0
	}
	return v.policy.MaxClients
}

// limitError turns the store's ErrLimitReached into the answer a client
// sees.
func limitError(err error, v *validation) error {
	if errors.Is(err, store.ErrLimitReached) && v.policy != nil {
		return ErrAccessDenied.WithDescription("the registration policy %s allows no more than %d clients", quote(v.policy.Name), v.policy.MaxClients)
	}
	return err
}
