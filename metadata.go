package clientreg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/clientreg/clientreg/internal/jsonx"
	"github.com/clientreg/clientreg/internal/langtag"
)

// Metadata is the client metadata of RFC 7591 §2. Its JSON form is the wire
// form: members are encoded only when set (a nil slice or an empty string is
// absent; an empty, non-nil slice is encoded as []), so decoding the encoding
// gives back an equal value.
type Metadata struct {
	// RedirectURIs are the redirection URIs for redirect-based flows.
	RedirectURIs []string
	// TokenEndpointAuthMethod is how the client authenticates at the token
	// endpoint, e.g. "client_secret_basic" or "none".
	TokenEndpointAuthMethod string
	// GrantTypes are the OAuth 2.0 grant types the client may use.
	GrantTypes []string
	// ResponseTypes are the response types the client may use.
	ResponseTypes []string
	// ClientName is the human-readable name of the client.
	ClientName string
	// ClientURI is the URL of the client's home page.
	ClientURI string
	// LogoURI is the URL of the client's logo.
	LogoURI string
	// Scope is the space-separated list of scopes the client may request.
	Scope string
	// Contacts are ways to contact the people responsible for the client.
	Contacts []string
	// TOSURI is the URL of the client's terms of service.
	TOSURI string
	// PolicyURI is the URL of the client's privacy policy.
	PolicyURI string
	// JWKSURI is the URL of the client's JSON Web Key Set.
	JWKSURI string
	// JWKS is the client's JSON Web Key Set, as sent (public keys only).
	JWKS json.RawMessage
	// SoftwareID identifies the client software.
	SoftwareID string
	// SoftwareVersion is the version of the client software.
	SoftwareVersion string
	// SoftwareStatement is the software statement (a JWS), kept verbatim.
	SoftwareStatement string

	// The members below are those of OpenID Connect Dynamic Client
	// Registration 1.0 §2 (and post_logout_redirect_uris of OpenID Connect
	// RP-Initiated Logout 1.0). See oidc.go for their rules.

	// ApplicationType is "web" or "native"; absent unless sent.
	ApplicationType string
	// SectorIdentifierURI is the https URL of a JSON array that lists the
	// client's redirect URIs, the host of which is the sector identifier
	// used for pairwise subject identifiers.
	SectorIdentifierURI string
	// SubjectType is the subject identifier type requested, e.g. "public"
	// or "pairwise".
	SubjectType string
	// IDTokenSignedResponseAlg is the JWS alg for ID Tokens.
	IDTokenSignedResponseAlg string
	// IDTokenEncryptedResponseAlg is the JWE alg for ID Tokens.
	IDTokenEncryptedResponseAlg string
	// IDTokenEncryptedResponseEnc is the JWE enc for ID Tokens.
	IDTokenEncryptedResponseEnc string
	// UserinfoSignedResponseAlg is the JWS alg for UserInfo responses.
	UserinfoSignedResponseAlg string
	// UserinfoEncryptedResponseAlg is the JWE alg for UserInfo responses.
	UserinfoEncryptedResponseAlg string
	// UserinfoEncryptedResponseEnc is the JWE enc for UserInfo responses.
	UserinfoEncryptedResponseEnc string
	// RequestObjectSigningAlg is the JWS alg of the client's request
	// objects.
	RequestObjectSigningAlg string
	// RequestObjectEncryptionAlg is the JWE alg of the client's request
	// objects.
	RequestObjectEncryptionAlg string
	// RequestObjectEncryptionEnc is the JWE enc of the client's request
	// objects.
	RequestObjectEncryptionEnc string
	// TokenEndpointAuthSigningAlg is the JWS alg of the client's
	// authentication JWTs (client_secret_jwt, private_key_jwt).
	TokenEndpointAuthSigningAlg string
	// DefaultMaxAge is the default maximum authentication age in seconds;
	// nil when absent.
	DefaultMaxAge *int64
	// RequireAuthTime says whether the auth_time claim is required in ID
	// Tokens; nil when absent.
	RequireAuthTime *bool
	// DefaultACRValues are the default requested authentication context
	// class references, in order of preference.
	DefaultACRValues []string
	// InitiateLoginURI is the https URI at which a third party can start a
	// login by the client.
	InitiateLoginURI string
	// RequestURIs are the request_uri values (https) the client
	// pre-registers.
	RequestURIs []string
	// PostLogoutRedirectURIs are the URIs the client may be sent back to
	// after logout; they follow the redirect URI rules.
	PostLogoutRedirectURIs []string

	// Localized holds the language-tagged variants of the human-readable
	// members (RFC 7591 §2.2), keyed by their member name as sent, e.g.
	// "client_name#ja-Jpan-JP". Values are kept byte-exact.
	Localized map[string]string

	// Extensions holds members that are not defined by RFC 7591. The
	// decoder keeps every such member; the handler then keeps only those
	// declared in Config.Extensions and drops the rest (RFC 7591 §2: unknown
	// members are ignored).
	Extensions map[string]json.RawMessage
}

// Clone returns a deep copy of m.
func (m Metadata) Clone() Metadata {
	c := m
	for i := range members {
		members[i].copyFrom(&c, &m)
	}
	c.Localized = maps.Clone(m.Localized)
	if m.Extensions != nil {
		c.Extensions = make(map[string]json.RawMessage, len(m.Extensions))
		for k, v := range m.Extensions {
			c.Extensions[k] = slices.Clone(v)
		}
	}
	return c
}

// memberKind is the JSON type a metadata member must have.
type memberKind int

const (
	kindString  memberKind = iota
	kindStrings            // array of strings
	kindObject             // JSON object, kept compact
	kindNumber             // JSON number: a non-negative integer
	kindBool               // JSON boolean
)

// member describes one RFC 7591 §2 metadata member: its name, its JSON type
// and where it lives in Metadata. The table below is the single definition
// the decoder, the encoder and the validator share.
type member struct {
	name        string
	kind        memberKind
	localizable bool // RFC 7591 §2.2: accepts member#language-tag variants
	url         bool // must be an http(s) URL
	httpsOnly   bool // a url member that must be https even on loopback
	str         func(*Metadata) *string
	strs        func(*Metadata) *[]string
	raw         func(*Metadata) *json.RawMessage
	num         func(*Metadata) **int64
	flag        func(*Metadata) **bool
}

// copyFrom sets mb's member of dst to a deep copy of src's, absent
// included.
func (mb *member) copyFrom(dst, src *Metadata) {
	switch mb.kind {
	case kindString:
		*mb.str(dst) = *mb.str(src)
	case kindStrings:
		*mb.strs(dst) = slices.Clone(*mb.strs(src))
	case kindObject:
		*mb.raw(dst) = slices.Clone(*mb.raw(src))
	case kindNumber:
		*mb.num(dst) = clonePtr(*mb.num(src))
	case kindBool:
		*mb.flag(dst) = clonePtr(*mb.flag(src))
	}
}

// present reports whether m carries mb's member.
func (mb *member) present(m *Metadata) bool {
	switch mb.kind {
	case kindString:
		return *mb.str(m) != ""
	case kindStrings:
		return *mb.strs(m) != nil
	case kindObject:
		return *mb.raw(m) != nil
	case kindNumber:
		return *mb.num(m) != nil
	case kindBool:
		return *mb.flag(m) != nil
	}
	return false
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

var members = []member{
	{name: "redirect_uris", kind: kindStrings, strs: func(m *Metadata) *[]string { return &m.RedirectURIs }},
	{name: "token_endpoint_auth_method", kind: kindString, str: func(m *Metadata) *string { return &m.TokenEndpointAuthMethod }},
	{name: "grant_types", kind: kindStrings, strs: func(m *Metadata) *[]string { return &m.GrantTypes }},
	{name: "response_types", kind: kindStrings, strs: func(m *Metadata) *[]string { return &m.ResponseTypes }},
	{name: "client_name", kind: kindString, localizable: true, str: func(m *Metadata) *string { return &m.ClientName }},
	{name: "client_uri", kind: kindString, localizable: true, url: true, str: func(m *Metadata) *string { return &m.ClientURI }},
	{name: "logo_uri", kind: kindString, localizable: true, url: true, str: func(m *Metadata) *string { return &m.LogoURI }},
	{name: "scope", kind: kindString, str: func(m *Metadata) *string { return &m.Scope }},
	{name: "contacts", kind: kindStrings, strs: func(m *Metadata) *[]string { return &m.Contacts }},
	{name: "tos_uri", kind: kindString, localizable: true, url: true, str: func(m *Metadata) *string { return &m.TOSURI }},
	{name: "policy_uri", kind: kindString, localizable: true, url: true, str: func(m *Metadata) *string { return &m.PolicyURI }},
	{name: "jwks_uri", kind: kindString, url: true, httpsOnly: true, str: func(m *Metadata) *string { return &m.JWKSURI }},
	{name: "jwks", kind: kindObject, raw: func(m *Metadata) *json.RawMessage { return &m.JWKS }},
	{name: "software_id", kind: kindString, str: func(m *Metadata) *string { return &m.SoftwareID }},
	{name: "software_version", kind: kindString, str: func(m *Metadata) *string { return &m.SoftwareVersion }},
	{name: "software_statement", kind: kindString, str: func(m *Metadata) *string { return &m.SoftwareStatement }},

	// OpenID Connect Dynamic Client Registration 1.0 §2.
	{name: "application_type", kind: kindString, str: func(m *Metadata) *string { return &m.ApplicationType }},
	{name: "sector_identifier_uri", kind: kindString, url: true, httpsOnly: true, str: func(m *Metadata) *string { return &m.SectorIdentifierURI }},
	{name: "subject_type", kind: kindString, str: func(m *Metadata) *string { return &m.SubjectType }},
	{name: "id_token_signed_response_alg", kind: kindString, str: func(m *Metadata) *string { return &m.IDTokenSignedResponseAlg }},
	{name: "id_token_encrypted_response_alg", kind: kindString, str: func(m *Metadata) *string { return &m.IDTokenEncryptedResponseAlg }},
	{name: "id_token_encrypted_response_enc", kind: kindString, str: func(m *Metadata) *string { return &m.IDTokenEncryptedResponseEnc }},
	{name: "userinfo_signed_response_alg", kind: kindString, str: func(m *Metadata) *string { return &m.UserinfoSignedResponseAlg }},
	{name: "userinfo_encrypted_response_alg", kind: kindString, str: func(m *Metadata) *string { return &m.UserinfoEncryptedResponseAlg }},
	{name: "userinfo_encrypted_response_enc", kind: kindString, str: func(m *Metadata) *string { return &m.UserinfoEncryptedResponseEnc }},
	{name: "request_object_signing_alg", kind: kindString, str: func(m *Metadata) *string { return &m.RequestObjectSigningAlg }},
	{name: "request_object_encryption_alg", kind: kindString, str: func(m *Metadata) *string { return &m.RequestObjectEncryptionAlg }},
	{name: "request_object_encryption_enc", kind: kindString, str: func(m *Metadata) *string { return &m.RequestObjectEncryptionEnc }},
	{name: "token_endpoint_auth_signing_alg", kind: kindString, str: func(m *Metadata) *string { return &m.TokenEndpointAuthSigningAlg }},
	{name: "default_max_age", kind: kindNumber, num: func(m *Metadata) **int64 { return &m.DefaultMaxAge }},
	{name: "require_auth_time", kind: kindBool, flag: func(m *Metadata) **bool { return &m.RequireAuthTime }},
	{name: "default_acr_values", kind: kindStrings, strs: func(m *Metadata) *[]string { return &m.DefaultACRValues }},
	{name: "initiate_login_uri", kind: kindString, url: true, httpsOnly: true, str: func(m *Metadata) *string { return &m.InitiateLoginURI }},
	{name: "request_uris", kind: kindStrings, strs: func(m *Metadata) *[]string { return &m.RequestURIs }},
	// OpenID Connect RP-Initiated Logout 1.0 §3.1.
	{name: "post_logout_redirect_uris", kind: kindStrings, strs: func(m *Metadata) *[]string { return &m.PostLogoutRedirectURIs }},
}

var membersByName = func() map[string]*member {
	idx := make(map[string]*member, len(members))
	for i := range members {
		idx[members[i].name] = &members[i]
	}
	return idx
}()

// responseMembers are the members of a client information response (RFC 7591
// §3.2.1, RFC 7592 §3) that the server manages. A registration request may
// not set them (they are ignored); an update request must not send the last
// four (RFC 7592 §2.2).
var responseMembers = map[string]bool{
	"client_id":                 true,
	"client_secret":             true,
	"registration_access_token": true,
	"registration_client_uri":   true,
	"client_secret_expires_at":  true,
	"client_id_issued_at":       true,
}

// maxJSONDepth bounds nesting in request bodies; a JWK Set needs four levels.
const maxJSONDepth = 32

// MarshalJSON encodes m in its wire form.
func (m Metadata) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	m.encodeMembers(&buf, false)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// encodeMembers writes m's members, each preceded by a comma when comma is
// set or when it is not the first. It reports whether it wrote anything.
func (m *Metadata) encodeMembers(buf *bytes.Buffer, comma bool) bool {
	wrote := comma
	field := func(name string, v any) {
		if wrote {
			buf.WriteByte(',')
		}
		wrote = true
		writeJSONString(buf, name)
		buf.WriteByte(':')
		switch v := v.(type) {
		case string:
			writeJSONString(buf, v)
		case []string:
			buf.WriteByte('[')
			for i, s := range v {
				if i > 0 {
					buf.WriteByte(',')
				}
				writeJSONString(buf, s)
			}
			buf.WriteByte(']')
		case json.RawMessage:
			buf.Write(v)
		case int64:
			buf.WriteString(strconv.FormatInt(v, 10))
		case bool:
			buf.WriteString(strconv.FormatBool(v))
		}
	}
	for i := range members {
		mb := &members[i]
		if !mb.present(m) {
			continue
		}
		switch mb.kind {
		case kindString:
			field(mb.name, *mb.str(m))
		case kindStrings:
			field(mb.name, *mb.strs(m))
		case kindObject:
			field(mb.name, *mb.raw(m))
		case kindNumber:
			field(mb.name, **mb.num(m))
		case kindBool:
			field(mb.name, **mb.flag(m))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.Localized)) {
		field(k, m.Localized[k])
	}
	for _, k := range slices.Sorted(maps.Keys(m.Extensions)) {
		field(k, m.Extensions[k])
	}
	return wrote
}

// writeJSONString writes s as a JSON string without HTML escaping, so that
// stored and echoed values stay byte-exact. Invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func writeJSONString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[c>>4])
				buf.WriteByte(hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			buf.WriteString(s[start:i])
			switch r {
			case utf8.RuneError:
				buf.WriteString(`\ufffd`)
			case '\u2028':
				buf.WriteString(`\u2028`)
			default:
				buf.WriteString(`\u2029`)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}

// UnmarshalJSON decodes m from its wire form, strictly: every known member
// must have its RFC 7591 type (a JSON null counts as absent), a
// language-tagged member must carry a well-formed BCP 47 tag, and no member
// name may repeat. Members this package does not define are kept in
// Extensions. Errors are *Error values with code invalid_request (syntax) or
// invalid_client_metadata (a member), whose description names the member.
func (m *Metadata) UnmarshalJSON(data []byte) error {
	d, err := decodeMetadata(data)
	if err != nil {
		return err
	}
	*m = d.Metadata
	return nil
}

// decoded is a request body decoded into metadata, with the server-managed
// members that the body carried.
type decoded struct {
	Metadata
	// managed holds the members of responseMembers present in the body.
	managed map[string]json.RawMessage
	// raw is the body as read (set by readBody), for the request hash of
	// an idempotent registration.
	raw []byte
}

func decodeMetadata(data []byte) (decoded, error) {
	var d decoded
	if err := jsonx.CheckObject(data, maxJSONDepth); err != nil {
		var dup *jsonx.DuplicateError
		if errors.As(err, &dup) {
			return d, ErrInvalidRequest.WithDescription("the body repeats the member name %s", quote(dup.Name))
		}
		return d, ErrInvalidRequest.WithDescription("%s", err.Error())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return d, ErrInvalidRequest.WithDescription("body must be a JSON object")
	}
	m := &d.Metadata
	seenTags := make(map[string]string) // lower-cased member#tag -> as sent
	// Members in name order, so that of several faults the same one is
	// always reported.
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		value := raw[name]
		if isNull(value) {
			continue
		}
		if mb := membersByName[name]; mb != nil {
			if err := mb.decode(m, value); err != nil {
				return d, err
			}
			continue
		}
		if responseMembers[name] {
			if d.managed == nil {
				d.managed = make(map[string]json.RawMessage)
			}
			d.managed[name] = value
			continue
		}
		if base, tag, ok := strings.Cut(name, "#"); ok {
			if mb := membersByName[base]; mb != nil && mb.localizable {
				ptr := jsonPointer(name)
				if !langtag.Valid(tag) {
					return d, metadataError(ptr, "%s is not a well-formed BCP 47 language tag (RFC 7591 section 2.2)", quote(tag))
				}
				key := base + "#" + strings.ToLower(tag)
				if prev, dup := seenTags[key]; dup {
					return d, metadataError(ptr, "names the same language tag as the member %s", quote(prev))
				}
				seenTags[key] = name
				var s string
				if err := json.Unmarshal(value, &s); err != nil {
					return d, metadataError(ptr, "must be a string")
				}
				if s == "" {
					continue
				}
				if m.Localized == nil {
					m.Localized = make(map[string]string)
				}
				m.Localized[name] = s
				continue
			}
		}
		if m.Extensions == nil {
			m.Extensions = make(map[string]json.RawMessage)
		}
		m.Extensions[name] = slices.Clone(value)
	}
	return d, nil
}

func (mb *member) decode(m *Metadata, value json.RawMessage) error {
	ptr := jsonPointer(mb.name)
	switch mb.kind {
	case kindString:
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return metadataError(ptr, "must be a string")
		}
		*mb.str(m) = s
	case kindStrings:
		var raw []json.RawMessage
		if err := json.Unmarshal(value, &raw); err != nil {
			return metadataError(ptr, "must be an array of strings")
		}
		out := make([]string, len(raw))
		for i, r := range raw {
			if err := json.Unmarshal(r, &out[i]); err != nil || isNull(r) {
				return metadataError(jsonPointer(mb.name, i), "must be a string (the member is an array of strings)")
			}
		}
		*mb.strs(m) = out
	case kindObject:
		if t := bytes.TrimSpace(value); len(t) == 0 || t[0] != '{' {
			return metadataError(ptr, "must be a JSON object")
		}
		*mb.raw(m) = compactJSON(value)
	case kindNumber:
		// The value is valid JSON (the body was parsed): a leading digit or
		// minus sign makes it a number.
		t := bytes.TrimSpace(value)
		if len(t) == 0 || t[0] != '-' && (t[0] < '0' || t[0] > '9') {
			return metadataError(ptr, "must be a number")
		}
		if t[0] == '-' {
			return metadataError(ptr, "must not be negative")
		}
		if bytes.ContainsAny(t, ".eE") {
			return metadataError(ptr, "must be an integer, written without fraction or exponent")
		}
		n, err := strconv.ParseInt(string(t), 10, 64)
		if err != nil {
			return metadataError(ptr, "is too large")
		}
		*mb.num(m) = &n
	case kindBool:
		switch string(bytes.TrimSpace(value)) {
		case "true":
			*mb.flag(m) = new(true)
		case "false":
			*mb.flag(m) = new(false)
		default:
			return metadataError(ptr, "must be a boolean (true or false)")
		}
	}
	return nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// compactJSON removes insignificant white space; v is known to be valid.
func compactJSON(v json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return slices.Clone(v)
	}
	return buf.Bytes()
}

// quote renders a value taken from a request for an error description:
// in single quotes, with quotes, backslashes and everything outside printable
// ASCII percent-escaped, and shortened when long.
func quote(s string) string {
	const limit = 200
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '"' || r == '\\':
			fmt.Fprintf(&b, "%%%02X", r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Error descriptions about a member of the request (invalid_client_metadata,
// invalid_redirect_uri) all have one form: the RFC 6901 JSON pointer to the
// member (or to the element of it) that fails, ": ", then the rule, e.g.
//
//	/redirect_uris/1: http is allowed only for loopback hosts (RFC 8252 section 7.3): 'http://app.example/cb'
//
// Values quoted from the request are rendered by quote.

// jsonPointer returns the RFC 6901 JSON pointer to the member name of the
// request body, and below it to the array indexes (int) and object member
// names (string) of path. "~" and "/" in names are escaped as "~0" and "~1".
func jsonPointer(name string, path ...any) string {
	var b strings.Builder
	b.WriteByte('/')
	b.WriteString(pointerToken(name))
	for _, p := range path {
		b.WriteByte('/')
		switch p := p.(type) {
		case int:
			b.WriteString(strconv.Itoa(p))
		case string:
			b.WriteString(pointerToken(p))
		default:
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func pointerToken(s string) string { return pointerEscaper.Replace(s) }

// pointerText renders a JSON pointer for an error description: bytes
// outside printable ASCII, the space, '"', the backslash and '%' are percent-encoded
// (as in the URI fragment form of RFC 6901 section 6), so the pointer never
// contains a space and the first ": " of a description ends it.
func pointerText(ptr string) string {
	var b strings.Builder
	for i := 0; i < len(ptr); i++ {
		c := ptr[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// memberError returns a copy of sentinel whose description is the member's
// pointer, ": " and the rule given by format and args.
func memberError(sentinel *Error, ptr, format string, args ...any) *Error {
	return sentinel.WithDescription("%s: %s", pointerText(ptr), fmt.Sprintf(format, args...))
}

// metadataError is an invalid_client_metadata error about the member at ptr.
func metadataError(ptr, format string, args ...any) *Error {
	return memberError(ErrInvalidClientMetadata, ptr, format, args...)
}
