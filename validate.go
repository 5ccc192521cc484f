package clientreg

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/clientreg/clientreg/internal/oauthsyntax"
	"github.com/go-jose/go-jose/v4"
)

// Validation of client metadata (RFC 7591 §2, §2.1, §2.2, §3.1) runs as a
// pipeline of steps over the decoded metadata. Each step checks or completes
// one concern; the order matters only where a step relies on defaults that
// an earlier one applied. Registration and update run the same pipeline.
type validationStep func(ctx context.Context, h *Handler, m *Metadata, v *validation) error

// validation is the state of one run of the pipeline: what the request is
// checked against. Steps may narrow it (a registration policy restricts the
// server's lists); they never widen it.
type validation struct {
	// srv is the server metadata the request is checked against: what the
	// server advertises, narrowed by the policy in force.
	srv *ServerMetadata
	// preset is the redirect URI rule set in force.
	preset RedirectPreset
	// defaultScopes are registered when the request has no scope.
	defaultScopes []string

	// op says how the policy is chosen (see applyPolicy).
	op policyOp
	// policyName names the policy in force: set by the caller from the
	// initial access token or the stored client, completed by applyPolicy.
	policyName string
	// issuerPolicy is the policy named by the trusted issuer of the
	// request's software statement, if any.
	issuerPolicy string
	// anonymous reports a registration that presented no initial access
	// token (see Config.AnonymousPublicClientsOnly).
	anonymous bool
	// policy is the policy in force, nil for none; set by applyPolicy.
	policy *Policy
}

var validationPipeline = []validationStep{
	checkSizes,             // request limits: list lengths, member length
	applySoftwareStatement, // §2.3: statement claims take precedence over the body
	applyPolicy,            // the registration policy in force narrows the rules
	keepDeclaredExtensions, // §2: unknown members are ignored
	checkText,              // §2, §2.2: human-readable values a user is shown; no control or invisible characters
	checkGrantAndResponseTypes,
	checkAuthMethod,
	checkRedirectURIs,
	checkURLMembers,
	checkJWKS,
	checkScope,
	checkContacts,
	checkApplicationType,  // OpenID Connect Registration §2 (oidc.go)
	checkOIDCMetadata,     // OpenID Connect Registration §2 (oidc.go)
	checkPolicyURIs,       // the policy's host, scheme and same-host rules, on URIs already checked
	checkSectorIdentifier, // OpenID Connect Core §8.1, fetches: keep last
}

// validate runs the validation pipeline on m, completing it with defaults.
func (h *Handler) validate(ctx context.Context, m *Metadata, v *validation) error {
	for _, step := range validationPipeline {
		if err := step(ctx, h, m, v); err != nil {
			return err
		}
	}
	return nil
}

// ValidateMetadata validates m exactly as a registration request is
// validated and returns it with defaults applied, without storing anything.
func (h *Handler) ValidateMetadata(ctx context.Context, m Metadata) (Metadata, error) {
	srv, err := h.serverMetadata(ctx)
	if err != nil {
		return Metadata{}, err
	}
	m = m.Clone()
	if err := h.validate(ctx, &m, h.newValidation(srv, registering, "")); err != nil {
		return Metadata{}, err
	}
	return m, nil
}

// keptStatementKey marks, in an update's context, the software statement
// the client registered with.
type keptStatementKey struct{}

func checkSizes(_ context.Context, h *Handler, m *Metadata, _ *validation) error {
	return h.limits.checkSizes(m)
}

func applySoftwareStatement(ctx context.Context, h *Handler, m *Metadata, v *validation) error {
	if m.SoftwareStatement == "" {
		if h.cfg.RequireSoftwareStatement {
			return ErrUnapprovedSoftwareStatement.WithDescription("/software_statement: required by this server (a statement from a trusted issuer)")
		}
		return nil
	}
	var claims *Metadata
	var err error
	if kept, _ := ctx.Value(keptStatementKey{}).(string); kept != "" && kept == m.SoftwareStatement {
		// The statement the client registered with, verified then: its
		// claims apply again, even after it expired.
		claims, err = unverifiedStatementClaims(kept)
	} else {
		claims, err = h.cfg.SoftwareStatements.VerifySoftwareStatement(ctx, m.SoftwareStatement)
		if err == nil {
			v.issuerPolicy = h.issuerPolicies[statementIssuer(m.SoftwareStatement)]
		}
	}
	if err != nil {
		return err
	}
	if claims != nil {
		m.overlay(claims)
	}
	return nil
}

// overlay sets every member that o sets, keeping m's other members. The
// software statement itself is kept as sent.
func (m *Metadata) overlay(o *Metadata) {
	for i := range members {
		mb := &members[i]
		if mb.name == "software_statement" || !mb.present(o) {
			continue
		}
		mb.copyFrom(m, o)
	}
	for k, v := range o.Localized {
		if m.Localized == nil {
			m.Localized = make(map[string]string)
		}
		m.Localized[k] = v
	}
	for k, v := range o.Extensions {
		if m.Extensions == nil {
			m.Extensions = make(map[string]json.RawMessage)
		}
		m.Extensions[k] = slices.Clone(v)
	}
}

func keepDeclaredExtensions(ctx context.Context, h *Handler, m *Metadata, _ *validation) error {
	for name, value := range m.Extensions {
		ext, ok := h.extensions[name]
		if !ok {
			delete(m.Extensions, name)
			continue
		}
		if ext.Validate == nil {
			continue
		}
		if err := ext.Validate(ctx, value); err != nil {
			return extensionError(name, err)
		}
	}
	if len(m.Extensions) == 0 {
		m.Extensions = nil
	}
	return nil
}

// extensionError makes the error of an extension member's validator a
// description that starts with the member's pointer: an *Error keeps its
// code and status, and its description is prefixed unless it already starts
// with the pointer; any other error becomes invalid_client_metadata with
// the error's text as the rule.
func extensionError(name string, err error) *Error {
	ptr := pointerText(jsonPointer(name))
	var oe *Error
	if !errors.As(err, &oe) {
		return ErrInvalidClientMetadata.WithDescription("%s: %s", ptr, err.Error())
	}
	d := oe.Description
	if d == ptr || strings.HasPrefix(d, ptr+": ") || strings.HasPrefix(d, ptr+"/") {
		return oe
	}
	if d == "" {
		d = "is not valid"
	}
	c := *oe
	c.Description = asciiOnly(ptr + ": " + d)
	return &c
}

// Grant types and the response types they go with (RFC 7591 §2.1 table;
// OpenID Connect adds id_token, which goes with implicit).
const (
	grantAuthorizationCode = "authorization_code"
	grantImplicit          = "implicit"
	grantClientCredentials = "client_credentials"
	grantRefreshToken      = "refresh_token"
)

// responseTypeGrants returns the grant types a response type value requires;
// the order of its space-separated words does not matter.
func responseTypeGrants(rt string) []string {
	var g []string
	for _, w := range strings.Fields(rt) {
		switch w {
		case "code":
			g = append(g, grantAuthorizationCode)
		case "token", "id_token":
			g = append(g, grantImplicit)
		}
	}
	return g
}

// normalizeResponseType sorts the words of a response type value, so that
// "id_token code" and "code id_token" compare equal.
func normalizeResponseType(rt string) string {
	w := strings.Fields(rt)
	slices.Sort(w)
	return strings.Join(w, " ")
}

// checkText refuses, in every string member that is not a URI (those have
// the stricter rules of redirect.go) and in the language-tagged variants of
// client_name, the characters that would mislead a user shown the value on
// a consent page or an operator reading it in a log: control characters
// (C0 but TAB in names, DEL, C1), formatting characters (Unicode category
// Cf: bidi overrides and isolates, zero-width characters, the soft hyphen,
// the byte order mark), line and paragraph separators, and letters that
// render as nothing (see invisibleRune). The description names the member
// and the code point (U+202E), never the character itself. scope and
// software_statement are ASCII by their own rules; extension members are
// their validators' concern.
func checkText(_ context.Context, _ *Handler, m *Metadata, _ *validation) error {
	check := func(ptr, s string, name bool) error {
		for _, r := range s {
			if invisibleRune(r, name) {
				return metadataError(ptr, "must not contain %s, a control, formatting or invisible character (it could disguise what a user is shown)", codePoint(r))
			}
		}
		return nil
	}
	for i := range members {
		mb := &members[i]
		if mb.url || uriLists[mb.name] || mb.name == "scope" || mb.name == "software_statement" {
			continue
		}
		switch mb.kind {
		case kindString:
			if err := check(jsonPointer(mb.name), *mb.str(m), mb.localizable); err != nil {
				return err
			}
		case kindStrings:
			for j, s := range *mb.strs(m) {
				if err := check(jsonPointer(mb.name, j), s, false); err != nil {
					return err
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.Localized)) {
		base, _, _ := strings.Cut(name, "#")
		if mb := membersByName[base]; mb != nil && !mb.url {
			if err := check(jsonPointer(name), m.Localized[name], true); err != nil {
				return err
			}
		}
	}
	return nil
}

// uriLists are the members that are lists of URIs.
var uriLists = map[string]bool{"redirect_uris": true, "request_uris": true, "post_logout_redirect_uris": true}

func checkGrantAndResponseTypes(_ context.Context, _ *Handler, m *Metadata, v *validation) error {
	srv := v.srv
	for i, g := range m.GrantTypes {
		if g == "" {
			return metadataError(jsonPointer("grant_types", i), "must not be an empty string")
		}
	}
	for i, rt := range m.ResponseTypes {
		if strings.TrimSpace(rt) == "" {
			return metadataError(jsonPointer("response_types", i), "must not be an empty string")
		}
	}
	grantsSent := m.GrantTypes != nil
	// Defaults (RFC 7591 §2): authorization_code and code. When only one of
	// the two members is sent, the other defaults to what it implies, so
	// that the defaults never contradict what the client sent. A server
	// that does not support authorization_code (a token endpoint without
	// an authorization endpoint) gives client_credentials instead, which it
	// serves (RFC 7591 §3.2.1 lets the server substitute "suitable values").
	switch {
	case m.GrantTypes == nil && m.ResponseTypes == nil:
		m.GrantTypes = []string{grantAuthorizationCode}
		m.ResponseTypes = []string{"code"}
		if !slices.Contains(srv.GrantTypesSupported, grantAuthorizationCode) && slices.Contains(srv.GrantTypesSupported, grantClientCredentials) {
			m.GrantTypes = []string{grantClientCredentials}
			m.ResponseTypes = []string{}
		}
	case m.GrantTypes == nil:
		m.GrantTypes = []string{}
		for _, rt := range m.ResponseTypes {
			for _, g := range responseTypeGrants(rt) {
				if !slices.Contains(m.GrantTypes, g) {
					m.GrantTypes = append(m.GrantTypes, g)
				}
			}
		}
		if len(m.GrantTypes) == 0 {
			m.GrantTypes = []string{grantAuthorizationCode}
		}
	case m.ResponseTypes == nil:
		m.ResponseTypes = []string{}
		if slices.Contains(m.GrantTypes, grantAuthorizationCode) {
			m.ResponseTypes = append(m.ResponseTypes, "code")
		}
		if slices.Contains(m.GrantTypes, grantImplicit) {
			m.ResponseTypes = append(m.ResponseTypes, "token")
		}
	}
	for i, g := range m.GrantTypes {
		if !slices.Contains(srv.GrantTypesSupported, g) {
			return metadataError(jsonPointer("grant_types", i), "%s is not supported by this server (supported: %s)", quote(g), strings.Join(srv.GrantTypesSupported, ", "))
		}
	}
	supported := make([]string, len(srv.ResponseTypesSupported))
	for i, rt := range srv.ResponseTypesSupported {
		supported[i] = normalizeResponseType(rt)
	}
	needs := map[string]bool{}
	for i, rt := range m.ResponseTypes {
		if !slices.Contains(supported, normalizeResponseType(rt)) {
			return metadataError(jsonPointer("response_types", i), "%s is not supported by this server (supported: %s)", quote(rt), strings.Join(srv.ResponseTypesSupported, ", "))
		}
		for _, g := range responseTypeGrants(rt) {
			if !slices.Contains(m.GrantTypes, g) {
				return metadataError(jsonPointer("response_types", i), "%s requires the grant type %s in grant_types (RFC 7591 section 2.1)", quote(rt), g)
			}
			needs[g] = true
		}
	}
	for i, g := range m.GrantTypes {
		if (g == grantAuthorizationCode || g == grantImplicit) && !needs[g] {
			rt := "code"
			if g == grantImplicit {
				rt = "token"
			}
			if !grantsSent {
				// The grant type is the default, derived from what
				// response_types lacks: that is the member to fix.
				return metadataError(jsonPointer("response_types"), "must contain the response type %s of the grant type %s (RFC 7591 section 2.1)", rt, g)
			}
			return metadataError(jsonPointer("grant_types", i), "%s requires the response type %s in response_types (RFC 7591 section 2.1)", g, rt)
		}
	}
	return nil
}

func checkAuthMethod(_ context.Context, _ *Handler, m *Metadata, v *validation) error {
	srv := v.srv
	if m.TokenEndpointAuthMethod == "" {
		// RFC 7591 §2 default; §3.2.1 lets the server substitute another
		// when it does not support it.
		m.TokenEndpointAuthMethod = "client_secret_basic"
		if !slices.Contains(srv.TokenEndpointAuthMethodsSupported, m.TokenEndpointAuthMethod) {
			m.TokenEndpointAuthMethod = srv.TokenEndpointAuthMethodsSupported[0]
		}
	}
	am := m.TokenEndpointAuthMethod
	if !slices.Contains(srv.TokenEndpointAuthMethodsSupported, am) {
		return metadataError(jsonPointer("token_endpoint_auth_method"), "%s is not supported by this server (supported: %s)", quote(am), strings.Join(srv.TokenEndpointAuthMethodsSupported, ", "))
	}
	if i := slices.Index(m.GrantTypes, grantClientCredentials); am == "none" && i >= 0 {
		return metadataError(jsonPointer("grant_types", i), "client_credentials needs a confidential client, and token_endpoint_auth_method none is a public client (RFC 6749 section 4.4)")
	}
	if am == "private_key_jwt" && m.JWKS == nil && m.JWKSURI == "" {
		return metadataError(jsonPointer("token_endpoint_auth_method"), "private_key_jwt requires jwks or jwks_uri")
	}
	return nil
}

func checkRedirectURIs(_ context.Context, _ *Handler, m *Metadata, v *validation) error {
	redirectBased := slices.Contains(m.GrantTypes, grantAuthorizationCode) || slices.Contains(m.GrantTypes, grantImplicit)
	if redirectBased && len(m.RedirectURIs) == 0 {
		return memberError(ErrInvalidRedirectURI, jsonPointer("redirect_uris"), "is required (at least one URI) for the authorization_code and implicit grant types")
	}
	for i, u := range m.RedirectURIs {
		if err := checkRedirectURI(jsonPointer("redirect_uris", i), u, v.preset); err != nil {
			return err
		}
	}
	return nil
}

func checkURLMembers(_ context.Context, _ *Handler, m *Metadata, _ *validation) error {
	for i := range members {
		mb := &members[i]
		if !mb.url {
			continue
		}
		if v := *mb.str(m); v != "" {
			if err := checkWebURL(jsonPointer(mb.name), v, mb.httpsOnly); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.Localized)) {
		base, _, _ := strings.Cut(name, "#")
		if mb := membersByName[base]; mb != nil && mb.url {
			if err := checkWebURL(jsonPointer(name), m.Localized[name], false); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkJWKS(_ context.Context, _ *Handler, m *Metadata, _ *validation) error {
	if m.JWKS == nil {
		return nil
	}
	if m.JWKSURI != "" {
		return metadataError(jsonPointer("jwks"), "must not be present together with jwks_uri (RFC 7591 section 2)")
	}
	var probe struct {
		Keys json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(m.JWKS, &probe); err != nil || probe.Keys == nil {
		return metadataError(jsonPointer("jwks"), "must be a JWK Set: an object with a keys array (RFC 7517 section 5)")
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(probe.Keys, &keys); err != nil || keys == nil {
		return metadataError(jsonPointer("jwks", "keys"), "must be an array of JWKs (RFC 7517 section 5)")
	}
	for i, raw := range keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !k.Valid() {
			return metadataError(jsonPointer("jwks", "keys", i), "is not a valid JWK (RFC 7517)")
		}
		if !k.IsPublic() {
			return metadataError(jsonPointer("jwks", "keys", i), "is not a public key (private or symmetric key material must never be registered)")
		}
	}
	return nil
}

func checkScope(_ context.Context, _ *Handler, m *Metadata, v *validation) error {
	srv := v.srv
	if m.Scope == "" {
		// Omitted: the configured default scopes, never "all scopes".
		m.Scope = strings.Join(v.defaultScopes, " ")
		return nil
	}
	ptr := jsonPointer("scope")
	for _, s := range strings.Split(m.Scope, " ") {
		if !validScopeToken(s) {
			if s == "" {
				return metadataError(ptr, "must be scope tokens separated by single spaces (RFC 6749 section 3.3)")
			}
			return metadataError(ptr, "%s is not a valid scope token (RFC 6749 section 3.3)", quote(s))
		}
		if len(srv.ScopesSupported) > 0 && !slices.Contains(srv.ScopesSupported, s) {
			if p := v.policy; p != nil && p.AllowedScopes != nil && !slices.Contains(p.AllowedScopes, s) {
				return metadataError(ptr, "%s is not allowed by the registration policy %s (allowed: %s)", quote(s), quote(p.Name), strings.Join(srv.ScopesSupported, ", "))
			}
			return metadataError(ptr, "%s is not supported by this server", quote(s))
		}
	}
	return nil
}

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token.
func validScopeToken(s string) bool { return oauthsyntax.ScopeToken(s) }

func checkContacts(_ context.Context, _ *Handler, m *Metadata, _ *validation) error {
	for i, c := range m.Contacts {
		if strings.TrimSpace(c) == "" {
			return metadataError(jsonPointer("contacts", i), "must not be empty")
		}
	}
	return nil
}
