package clientreg

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
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
	// AllowedRedirectHosts, when set, are the only hosts that the http(s)
	// URIs a user agent is sent to, or a request object is fetched from,
	// may name: redirect_uris, post_logout_redirect_uris, request_uris and
	// initiate_login_uri. Each entry is a DNS name ("app.example.com",
	// matched exactly), "*." and a DNS name ("*.example.com": any name one
	// or more labels below example.com, not example.com itself, and never
	// evilexample.com), an IP literal ("203.0.113.7", "[2001:db8::1]"),
	// matched as an address and only by an IP host, or "loopback" (any
	// loopback host). DNS names are compared as names: case-insensitively,
	// label by label, a final root dot ignored; IDNs are written in their
	// A-label form (xn--...). An IP host (with or without an IPv6 zone) never
	// matches a DNS entry. URIs with a private-use scheme are governed by
	// AllowedRedirectSchemes. client_uri, logo_uri, tos_uri and policy_uri
	// are governed by SameHostURIs; jwks_uri and sector_identifier_uri are
	// fetched by the server through its guarded fetcher and not governed.
	AllowedRedirectHosts []string
	// AllowedRedirectSchemes, when set, are the only schemes a redirect URI
	// (of redirect_uris and post_logout_redirect_uris) may use, e.g.
	// ["https"] or ["https", "http", "cursor"]. The redirect preset's rules
	// still apply.
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
			if _, ok := parseHostPattern(h); !ok {
				return nil, fmt.Errorf("policy %q: %q is not a host pattern (a DNS name in A-label form, *. and a DNS name, an IPv4 address, a bracketed IPv6 address without zone, or loopback)", p.Name, h)
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
		switch {
		case v.policyName != "":
		case v.anonymous && h.cfg.AnonymousPublicClientsOnly:
			v.policyName = AnonymousPublicPolicy
		default:
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

// checkPolicyURIs applies the policy's host and scheme lists to the URIs
// they govern (see Policy.AllowedRedirectHosts) and its same-host rule. It
// runs after every URI member has been checked, so every URI here parses.
func checkPolicyURIs(_ context.Context, _ *Handler, m *Metadata, v *validation) error {
	p := v.policy
	if p == nil {
		return nil
	}
	type origin struct{ scheme, host string }
	var origins []origin
	type governed struct {
		ptr      string
		raw      string
		sentinel *Error
		redirect bool // a redirect URI: the scheme list applies too
		origin   bool // of redirect_uris: an origin for SameHostURIs
	}
	var uris []governed
	for i, raw := range m.RedirectURIs {
		uris = append(uris, governed{jsonPointer("redirect_uris", i), raw, ErrInvalidRedirectURI, true, true})
	}
	for i, raw := range m.PostLogoutRedirectURIs {
		uris = append(uris, governed{jsonPointer("post_logout_redirect_uris", i), raw, ErrInvalidClientMetadata, true, false})
	}
	for i, raw := range m.RequestURIs {
		uris = append(uris, governed{jsonPointer("request_uris", i), raw, ErrInvalidClientMetadata, false, false})
	}
	if m.InitiateLoginURI != "" {
		uris = append(uris, governed{jsonPointer("initiate_login_uri"), m.InitiateLoginURI, ErrInvalidClientMetadata, false, false})
	}
	for _, g := range uris {
		u, err := url.Parse(g.raw)
		if err != nil {
			return memberError(g.sentinel, g.ptr, "not a URI: %s", quote(g.raw))
		}
		scheme := strings.ToLower(u.Scheme)
		if g.redirect && p.AllowedRedirectSchemes != nil && !slices.Contains(p.AllowedRedirectSchemes, scheme) {
			return memberError(g.sentinel, g.ptr, "scheme %s is not allowed by the registration policy (allowed: %s): %s",
				quote(scheme), strings.Join(p.AllowedRedirectSchemes, ", "), quote(g.raw))
		}
		host := strings.ToLower(u.Hostname())
		if (scheme == "http" || scheme == "https") && p.AllowedRedirectHosts != nil && !hostAllowed(u, p.AllowedRedirectHosts) {
			return memberError(g.sentinel, g.ptr, "host %s is not allowed by the registration policy (allowed: %s): %s",
				quote(host), strings.Join(p.AllowedRedirectHosts, ", "), quote(g.raw))
		}
		if g.origin {
			origins = append(origins, origin{scheme, host})
		}
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

// Host matching for Policy.AllowedRedirectHosts. A URI's host is either
// an IP literal or a registered name (RFC 3986 §3.2.2: "host = IP-literal
// / IPv4address / reg-name"), and the two never match each other's
// patterns: an IP host matches only an IP pattern, as an address (netip
// equality: an IPv4-mapped IPv6 address is not the IPv4 address, and an
// address with a zone is not the address without one); a reg-name matches
// only a DNS pattern, as a DNS name: lower-cased (RFC 3986 §3.2.2: "The
// host subcomponent is case-insensitive"), a final root dot removed (the
// name is the same), then compared label by label, so that *.example.com
// matches a.example.com and a.b.example.com but never example.com,
// evilexample.com or a.example.com.evil. A reg-name that is not a DNS name
// (an empty label, a character other than a letter, digit, '-' or '_', a
// label longer than 63 octets) or whose last label is numeric (which a
// browser reads as an IPv4 address, WHATWG URL "ends in a number") matches
// no DNS pattern.

// hostPattern is one entry of Policy.AllowedRedirectHosts, parsed.
type hostPattern struct {
	loopback bool
	ip       netip.Addr // valid for an IP literal
	domain   string     // a DNS name, canonical (see dnsName)
	wildcard bool       // "*." + domain
}

// parseHostPattern parses an entry of Policy.AllowedRedirectHosts.
func parseHostPattern(s string) (hostPattern, bool) {
	ls := strings.ToLower(s)
	if ls == "loopback" {
		return hostPattern{loopback: true}, true
	}
	if v6, ok := strings.CutPrefix(ls, "["); ok {
		v6, ok = strings.CutSuffix(v6, "]")
		ip, err := netip.ParseAddr(v6)
		if !ok || err != nil || !ip.Is6() || ip.Zone() != "" {
			return hostPattern{}, false
		}
		return hostPattern{ip: ip}, true
	}
	if ip, err := netip.ParseAddr(ls); err == nil {
		return hostPattern{ip: ip}, ip.Is4()
	}
	rest, wildcard := strings.CutPrefix(ls, "*.")
	d := dnsName(rest)
	return hostPattern{domain: d, wildcard: wildcard}, d != ""
}

// hostAllowed reports whether the host of the http(s) URI u matches one of
// the patterns of Policy.AllowedRedirectHosts.
func hostAllowed(u *url.URL, patterns []string) bool {
	hostname := u.Hostname()
	var ip netip.Addr
	var name string
	if strings.HasPrefix(u.Host, "[") {
		ip, _ = netip.ParseAddr(hostname) // invalid stays the zero Addr
	} else if a, err := netip.ParseAddr(hostname); err == nil {
		ip = a
	} else {
		name = dnsName(hostname)
	}
	for _, s := range patterns {
		p, ok := parseHostPattern(s)
		switch {
		case !ok:
		case p.loopback:
			if isLoopbackHost(hostname) {
				return true
			}
		case p.ip.IsValid():
			if ip.IsValid() && ip == p.ip {
				return true
			}
		case name == "":
		case p.wildcard:
			if strings.HasSuffix(name, "."+p.domain) {
				return true
			}
		case name == p.domain:
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
