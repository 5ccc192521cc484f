package clientreg

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redirect URI rules (RFC 7591 §2 and §5, RFC 6749 §3.1.2, RFC 8252 §7,
// RFC 9700 §2.1 and §4.1). A redirect URI is an absolute URI without a
// fragment. https may name any host; http only a loopback host
// (127.0.0.0/8, [::1], localhost), on any port (RFC 8252 §7.3). Any other
// scheme is a private-use scheme (RFC 8252 §7.1), allowed because native
// and MCP desktop clients register them (cursor://..., vscode://...,
// claude://...), except the schemes that run code, render local or
// browser-internal content, or hand the URI to another application
// (dangerousSchemes).
//
// Every URI member (redirect URIs and the URL members alike) is also held
// to what a user may be shown without being misled, since a consent page
// displays them:
//
//   - A URI is ASCII. RFC 3986 §2: "A URI is composed from a limited set of
//     characters consisting of digits, letters, and a few graphic
//     symbols"; anything else is percent-encoded. So no control character
//     (C0, DEL, C1), no space, no bidi or invisible formatting character
//     (U+202E, U+200B, ...) and no homoglyph letter (a Cyrillic "а" for a
//     Latin "a") can reach a user inside a URI. An internationalized host
//     is sent in its A-label form (xn--..., RFC 5890 §2.3.2.1), which is
//     the form RFC 3986 §3.2.2 means: "URI producers should use names that
//     conform to the DNS syntax, even when use of DNS is not immediately
//     apparent", and IDNA-aware producers "encode ... via Punycode". A host
//     percent-encoding non-ASCII bytes (b%C3%BCcher) is refused for the
//     same reason.
//   - A host never contains '*': it is no wildcard (RFC 3986 §3.2.2 lets a
//     reg-name carry sub-delims, but a URI that looks like a pattern is
//     not one), and an IPv6 literal carries no zone identifier (RFC 6874),
//     which means something only on the machine that chose it.
//   - The host of an http(s) URI is an IP literal, an IPv4 address or a DNS
//     name: labels of letters, digits, '-' and '_' (a final root dot
//     allowed), the last not numeric, since browsers read 0x7f.1 or
//     2130706433 as IPv4 addresses (WHATWG URL "ends in a number").
//
// Errors name the offending code point as U+XXXX and quote the URI with
// everything outside printable ASCII percent-encoded, so that a
// description never carries the raw characters.

// dangerousSchemes are never acceptable redirect URI schemes: javascript
// and vbscript run script; data, blob and filesystem carry content the
// browser renders in some origin; file, jar, mhtml and ms-its read local or
// archived content; about and view-source are browser-internal; intent
// (Chrome on Android) hands the URI to any installed application, with a
// browser fallback URL. Private-use schemes of applications (cursor,
// vscode, claude, com.example.app, ms-app) are not among them.
// ms-appx-web is not refused either: it names content inside the
// application's own package, so a redirect there delivers nothing to
// anyone else.
var dangerousSchemes = map[string]bool{
	"javascript": true, "vbscript": true,
	"data": true, "blob": true, "filesystem": true,
	"file": true, "jar": true, "mhtml": true, "ms-its": true,
	"about": true, "view-source": true,
	"intent": true,
}

// RedirectPreset is a named set of redirect URI rules.
type RedirectPreset string

// The redirect URI presets. Every preset refuses fragments, relative URIs,
// user information, plain http to a host that is not loopback, non-ASCII
// characters, '*' in a host, and the schemes of dangerousSchemes.
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
	if rule := uriTextRule(raw); rule != "" {
		return rule
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
	return uriHostRule(u, scheme == "http" || scheme == "https")
}

// checkWebURL checks a URL member (client_uri, logo_uri, tos_uri,
// policy_uri, jwks_uri, ...) at the JSON pointer ptr: an absolute http(s)
// URL, https unless the host is loopback; httpsOnly demands https
// everywhere.
func checkWebURL(ptr, raw string, httpsOnly bool) error {
	bad := func(rule string) error {
		return metadataError(ptr, "%s: %s", rule, quote(raw))
	}
	if rule := uriTextRule(raw); rule != "" {
		return bad(rule)
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
	if rule := uriHostRule(u, true); rule != "" {
		return bad(rule)
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

// uriTextRule returns the rule that the characters of the URI raw break:
// white space and control characters, and anything outside ASCII (RFC 3986
// §2), or "".
func uriTextRule(raw string) string {
	for i, r := range raw {
		switch {
		case r <= ' ' || r == 0x7f:
			return "must not contain white space or control characters"
		case r == utf8.RuneError && !strings.HasPrefix(raw[i:], "\uFFFD"):
			return fmt.Sprintf("must be ASCII (RFC 3986 section 2): the byte 0x%02X is not UTF-8", raw[i])
		case r >= utf8.RuneSelf && (invisibleRune(r, false) || unicode.IsSpace(r)):
			return fmt.Sprintf("must not contain %s, a white space, control or formatting character; a URI is ASCII (RFC 3986 section 2)", codePoint(r))
		case r >= utf8.RuneSelf:
			return fmt.Sprintf("must be ASCII (RFC 3986 section 2), and %s is not: write an internationalized host name in its A-label form (xn--..., RFC 5890) and percent-encode other characters", codePoint(r))
		}
	}
	return ""
}

// uriHostRule returns the rule that the host of the parsed URI u breaks, or
// "": no '*', no non-ASCII (percent-encoded) bytes, no IPv6 zone; and, when
// web is set (http and https), an IP address or a DNS name.
func uriHostRule(u *url.URL, web bool) string {
	host := u.Hostname()
	switch {
	case strings.Contains(host, "*"):
		return "must not contain '*' in its host: a host is a name, not a pattern (RFC 3986 section 3.2.2)"
	case strings.HasPrefix(u.Host, "[") && strings.Contains(host, "%"):
		return "must not carry an IPv6 zone identifier (RFC 6874) in its host: a zone means something only on the machine that chose it"
	case !isASCII(host):
		return "must write its host in ASCII, an internationalized name in its A-label form (xn--..., RFC 5890, RFC 3986 section 3.2.2), not percent-encoded"
	case !web || host == "" || strings.HasPrefix(u.Host, "["):
		return "" // an empty host is refused with its own rule; Go parsed the IPv6 literal
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		return ""
	}
	if dnsName(host) == "" {
		return "must have a host that is an IP address or a DNS name: labels of letters, digits, '-' and '_', the last not a number (RFC 3986 section 3.2.2, RFC 1123 section 2.1)"
	}
	return ""
}

// invisibleRune reports whether r is a character that misleads a reader
// when shown: a control character (C0, DEL, C1), a formatting character
// (Unicode category Cf: bidi controls such as U+202E, zero-width
// characters such as U+200B and U+FEFF, the soft hyphen U+00AD, tags), a
// line or paragraph separator (U+2028, U+2029), or a default-ignorable
// letter that renders as nothing (U+115F, U+3164 Hangul fillers, ...).
// TAB is one unless tab is set.
func invisibleRune(r rune, tab bool) bool {
	if r == '\t' {
		return !tab
	}
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Other_Default_Ignorable_Code_Point)
}

// codePoint names r for an error description: U+202E.
func codePoint(r rune) string { return fmt.Sprintf("U+%04X", r) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// dnsName returns s as a canonical DNS name (lower case, without a final
// root dot), or "" when s is not a DNS name in A-label form: labels of 1 to
// 63 ASCII letters, digits, '-' and '_', at most 253 octets in all, the
// last not numeric.
func dnsName(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if s == "" || len(s) > 253 {
		return ""
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return ""
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return ""
			}
		}
	}
	if numericLabel(labels[len(labels)-1]) {
		return ""
	}
	return s
}

// numericLabel reports whether a label is a number as the WHATWG URL
// standard's IPv4 parser reads one: decimal digits, or 0x and hex digits.
func numericLabel(l string) bool {
	digits := "0123456789"
	if h, ok := strings.CutPrefix(l, "0x"); ok {
		l, digits = h, "0123456789abcdef"
	}
	for i := 0; i < len(l); i++ {
		if !strings.ContainsRune(digits, rune(l[i])) {
			return false
		}
	}
	return true
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
