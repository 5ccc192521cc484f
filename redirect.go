package clientreg

import (
	"encoding/base64"
	"net"
	"net/url"
	"strings"
)

// Redirect URI rules (RFC 7591 §2 and §5, RFC 6749 §3.1.2, RFC 8252 §7,
// RFC 9700 §2.1 and §4.1). A redirect URI is an absolute URI without a
// fragment. https may name any host; http only a loopback host
// (127.0.0.0/8, [::1], localhost), on any port (RFC 8252 §7.3). Any other
// scheme is a private-use scheme (RFC 8252 §7.1), allowed because native
// and MCP desktop clients register them (cursor://..., vscode://...),
// except the schemes that run code or read local data in a browser.

// dangerousSchemes are never acceptable redirect URI schemes.
var dangerousSchemes = map[string]bool{
	"javascript": true, "data": true, "vbscript": true, "file": true, "blob": true, "about": true,
}

// RedirectPreset is a named set of redirect URI rules.
type RedirectPreset string

// The redirect URI presets. Every preset refuses fragments, relative URIs,
// user information, plain http to a host that is not loopback, and the
// schemes javascript, data, vbscript, file, blob and about.
const (
	// PresetMCP (the default) accepts https, http on loopback (any port)
	// and any other private-use scheme, as MCP desktop clients register
	// cursor://... or vscode://... without an application_type.
	PresetMCP RedirectPreset = "mcp"
	// PresetWeb accepts https, and http on loopback for development only.
	PresetWeb RedirectPreset = "web"
	// PresetNative follows RFC 8252 §7: http on loopback (any port),
	// claimed https, and private-use schemes in reverse domain name form
	// (com.example.app:/cb), as §7.1 requires.
	PresetNative RedirectPreset = "native"
)

// checkRedirectURI returns an invalid_redirect_uri error whose description
// is ptr (the URI's JSON pointer in the request), the rule the URI breaks
// and the URI, or nil.
func checkRedirectURI(ptr, raw string, preset RedirectPreset) error {
	if rule := redirectURIRule(raw, preset); rule != "" {
		return memberError(ErrInvalidRedirectURI, ptr, "%s: %s", rule, quote(raw))
	}
	return nil
}

// redirectURIRule returns the rule of the preset that the redirect URI raw
// breaks, or "".
func redirectURIRule(raw string, preset RedirectPreset) string {
	if raw == "" {
		return "must not be empty"
	}
	if strings.ContainsAny(raw, " \t\r\n") || hasControl(raw) {
		return "must not contain white space or control characters"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URI (RFC 3986)"
	}
	if u.Scheme == "" {
		return "must be an absolute URI, with a scheme (RFC 6749 section 3.1.2)"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not contain a fragment (RFC 6749 section 3.1.2)"
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case dangerousSchemes[scheme]:
		return "the scheme " + scheme + " is never allowed"
	case scheme == "https":
		if u.Hostname() == "" {
			return "must have a host"
		}
	case scheme == "http":
		if u.Hostname() == "" {
			return "must have a host"
		}
		if !isLoopbackHost(u.Hostname()) {
			return "http is allowed only for loopback hosts, 127.0.0.1, [::1] and localhost (RFC 8252 section 7.3); use https"
		}
	case preset == PresetWeb:
		return "the scheme " + scheme + " is not allowed; this server accepts only https (and http on loopback) redirect URIs"
	default:
		// A private-use scheme: it must at least have something after the
		// colon (RFC 8252 §7.1: scheme:/path or scheme://host/path).
		if u.Opaque == "" && u.Path == "" && u.Host == "" {
			return "must have something after its scheme"
		}
		if preset == PresetNative && !strings.Contains(scheme, ".") {
			return "the private-use scheme " + scheme + " must be in reverse domain name form, e.g. com.example.app (RFC 8252 section 7.1)"
		}
	}
	if u.User != nil {
		return "must not contain user information"
	}
	return ""
}

// checkWebURL checks a URL member (client_uri, logo_uri, tos_uri,
// policy_uri, jwks_uri, ...) at the JSON pointer ptr: an absolute http(s)
// URL, https unless the host is loopback; httpsOnly demands https
// everywhere.
func checkWebURL(ptr, raw string, httpsOnly bool) error {
	bad := func(rule string) error {
		return metadataError(ptr, "%s: %s", rule, quote(raw))
	}
	if hasControl(raw) || strings.ContainsAny(raw, " \t\r\n") {
		return bad("must not contain white space or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return bad("must be an absolute URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		if u.Hostname() == "" {
			return bad("must have a host")
		}
	case "http":
		if httpsOnly {
			return bad("must use https")
		}
		if !isLoopbackHost(u.Hostname()) {
			return bad("must use https (http is allowed only for loopback hosts)")
		}
	default:
		return bad("must be an https URL")
	}
	if u.User != nil {
		return bad("must not contain user information")
	}
	return nil
}

// isLoopbackHost reports whether host is localhost or a loopback IP literal.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// looksLikeCompactJWS reports whether s has the shape of a JWS in compact
// serialization: three base64url parts, the first a JSON object.
func looksLikeCompactJWS(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return false
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || len(hdr) == 0 || hdr[0] != '{' {
		return false
	}
	_, err = base64.RawURLEncoding.DecodeString(parts[1])
	return err == nil
}
