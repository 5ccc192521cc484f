package clientreg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/clientreg/clientreg/internal/fetch"
)

// The client metadata of OpenID Connect Dynamic Client Registration 1.0 §2
// (and post_logout_redirect_uris of OpenID Connect RP-Initiated Logout 1.0
// §3.1). The decoder gives each member its JSON type (metadata.go); the
// steps below, registered in validationPipeline, check what the types do
// not: application_type and its redirect URI rules, the algorithms against
// what the server advertises, the URL lists, and the sector identifier
// document, which is fetched last so that a request refused for another
// reason never causes a fetch. The choices made where the specifications
// leave room are listed in doc.go.

// Application types (OpenID Connect Registration 1.0 §2).
const (
	applicationTypeWeb    = "web"
	applicationTypeNative = "native"
)

// defaultEncryptionEnc is the content encryption algorithm an *_alg member
// implies when its *_enc member is omitted (OpenID Connect Registration 1.0
// §2).
const defaultEncryptionEnc = "A128CBC-HS256"

// oidcLists are the OpenID Connect list members that Limits.MaxRedirectURIs
// bounds.
var oidcLists = map[string]bool{"request_uris": true, "post_logout_redirect_uris": true, "default_acr_values": true}

// checkApplicationType checks application_type and, when it is sent, the
// rules it puts on redirect_uris on top of the redirect preset. An absent
// application_type is not defaulted and adds no rule.
func checkApplicationType(_ context.Context, _ *Handler, m *Metadata, _ *validation) error {
	ptr := jsonPointer("application_type")
	switch m.ApplicationType {
	case "":
		return nil
	case applicationTypeWeb, applicationTypeNative:
	default:
		return metadataError(ptr, "%s is not an application type; use web or native (OpenID Connect Registration 1.0 section 2)", quote(m.ApplicationType))
	}
	implicit := slices.Contains(m.GrantTypes, grantImplicit)
	for i, raw := range m.RedirectURIs {
		u, err := url.Parse(raw)
		if err != nil {
			continue // refused by checkRedirectURIs already
		}
		scheme, host := strings.ToLower(u.Scheme), u.Hostname()
		var rule string
		switch {
		case m.ApplicationType == applicationTypeWeb && scheme != "https" && scheme != "http":
			rule = "a web client (application_type web) must use https (or loopback http) redirect URIs; a private-use scheme needs application_type native (RFC 8252 section 7.1)"
		case m.ApplicationType == applicationTypeWeb && implicit && scheme != "https":
			rule = "a web client using the implicit grant must use https redirect URIs (OpenID Connect Registration 1.0 section 2)"
		case m.ApplicationType == applicationTypeWeb && implicit && isLoopbackHost(host):
			rule = "a web client using the implicit grant must not use localhost or a loopback address (OpenID Connect Registration 1.0 section 2)"
		case m.ApplicationType == applicationTypeNative && scheme == "https" && isLoopbackHost(host):
			rule = "a native client redirects to loopback with http (RFC 8252 section 7.3); its https redirect URIs must be claimed URIs of a domain it controls (RFC 8252 section 7.2)"
		}
		if rule != "" {
			return memberError(ErrInvalidRedirectURI, jsonPointer("redirect_uris", i), "%s: %s", rule, quote(raw))
		}
	}
	return nil
}

// checkOIDCMetadata checks the OpenID Connect members other than
// application_type and sector_identifier_uri.
func checkOIDCMetadata(_ context.Context, _ *Handler, m *Metadata, v *validation) error {
	srv := v.srv
	if m.SubjectType != "" && !slices.Contains(srv.SubjectTypesSupported, m.SubjectType) {
		return metadataError(jsonPointer("subject_type"), "%s is not supported by this server (supported: %s)", quote(m.SubjectType), supportedList(srv.SubjectTypesSupported))
	}
	if err := checkSigningAlg("id_token_signed_response_alg", m.IDTokenSignedResponseAlg, srv.IDTokenSigningAlgValuesSupported); err != nil {
		return err
	}
	if m.IDTokenSignedResponseAlg == "none" {
		for i, rt := range m.ResponseTypes {
			if slices.Contains(strings.Fields(rt), "id_token") {
				return metadataError(jsonPointer("id_token_signed_response_alg"), "none is allowed only for clients whose response types return no ID Token from the authorization endpoint, and response_types/%d is %s (OpenID Connect Registration 1.0 section 2)", i, quote(rt))
			}
		}
	}
	if err := checkSigningAlg("userinfo_signed_response_alg", m.UserinfoSignedResponseAlg, srv.UserinfoSigningAlgValuesSupported); err != nil {
		return err
	}
	if err := checkSigningAlg("request_object_signing_alg", m.RequestObjectSigningAlg, srv.RequestObjectSigningAlgValuesSupported); err != nil {
		return err
	}
	for _, p := range []struct {
		alg, enc         *string
		algName, encName string
		algSupp, encSupp []string
	}{
		{&m.IDTokenEncryptedResponseAlg, &m.IDTokenEncryptedResponseEnc, "id_token_encrypted_response_alg", "id_token_encrypted_response_enc",
			srv.IDTokenEncryptionAlgValuesSupported, srv.IDTokenEncryptionEncValuesSupported},
		{&m.UserinfoEncryptedResponseAlg, &m.UserinfoEncryptedResponseEnc, "userinfo_encrypted_response_alg", "userinfo_encrypted_response_enc",
			srv.UserinfoEncryptionAlgValuesSupported, srv.UserinfoEncryptionEncValuesSupported},
		{&m.RequestObjectEncryptionAlg, &m.RequestObjectEncryptionEnc, "request_object_encryption_alg", "request_object_encryption_enc",
			srv.RequestObjectEncryptionAlgValuesSupported, srv.RequestObjectEncryptionEncValuesSupported},
	} {
		if err := checkEncryption(p.alg, p.enc, p.algName, p.encName, p.algSupp, p.encSupp); err != nil {
			return err
		}
	}
	if err := checkAuthSigningAlg(m, srv); err != nil {
		return err
	}
	acrSupported := srv.ACRValuesSupported
	for i, acr := range m.DefaultACRValues {
		switch {
		case strings.TrimSpace(acr) == "":
			return metadataError(jsonPointer("default_acr_values", i), "must not be empty")
		case len(acrSupported) > 0 && !slices.Contains(acrSupported, acr):
			return metadataError(jsonPointer("default_acr_values", i), "%s is not supported by this server (supported: %s)", quote(acr), supportedList(acrSupported))
		}
	}
	if len(m.RequestURIs) > 0 && srv.RequestURIParameterSupported != nil && !*srv.RequestURIParameterSupported {
		return metadataError(jsonPointer("request_uris"), "this server does not support the request_uri parameter (request_uri_parameter_supported is false)")
	}
	for i, u := range m.RequestURIs {
		// https, and a fragment is allowed: it carries the hash of the
		// request object (OpenID Connect Registration 1.0 §2).
		if err := checkWebURL(jsonPointer("request_uris", i), u, true); err != nil {
			return err
		}
	}
	for i, u := range m.PostLogoutRedirectURIs {
		if rule := redirectURIRule(u, v.preset); rule != "" {
			return metadataError(jsonPointer("post_logout_redirect_uris", i), "%s: %s", rule, quote(u))
		}
	}
	return nil
}

// supportedList renders a supported-values list for a description.
func supportedList(list []string) string {
	if len(list) == 0 {
		return "none are configured"
	}
	return strings.Join(list, ", ")
}

// checkSigningAlg checks a JWS algorithm member against its advertised list.
func checkSigningAlg(name, alg string, supported []string) error {
	if alg != "" && !slices.Contains(supported, alg) {
		return metadataError(jsonPointer(name), "%s is not supported by this server (supported: %s)", quote(alg), supportedList(supported))
	}
	return nil
}

// checkEncryption checks a pair of JWE members: enc needs alg; alg without
// enc gets the default enc A128CBC-HS256 when the server supports it, and
// is refused otherwise; each must be in its advertised list.
func checkEncryption(alg, enc *string, algName, encName string, algSupported, encSupported []string) error {
	if *alg == "" {
		if *enc != "" {
			return metadataError(jsonPointer(encName), "requires %s (OpenID Connect Registration 1.0 section 2)", algName)
		}
		return nil
	}
	if err := checkSigningAlg(algName, *alg, algSupported); err != nil {
		return err
	}
	if *enc == "" {
		if !slices.Contains(encSupported, defaultEncryptionEnc) {
			return metadataError(jsonPointer(algName), "requires %s, since its default %s is not supported by this server (supported: %s)", encName, defaultEncryptionEnc, supportedList(encSupported))
		}
		*enc = defaultEncryptionEnc
		return nil
	}
	return checkSigningAlg(encName, *enc, encSupported)
}

// checkAuthSigningAlg checks token_endpoint_auth_signing_alg: advertised,
// never none, and of the kind the authentication method uses (HMAC for
// client_secret_jwt, public-key for private_key_jwt).
func checkAuthSigningAlg(m *Metadata, srv *ServerMetadata) error {
	alg := m.TokenEndpointAuthSigningAlg
	if alg == "" {
		return nil
	}
	ptr := jsonPointer("token_endpoint_auth_signing_alg")
	if alg == "none" {
		return metadataError(ptr, "none must not be used (OpenID Connect Registration 1.0 section 2)")
	}
	if err := checkSigningAlg("token_endpoint_auth_signing_alg", alg, srv.TokenEndpointAuthSigningAlgValuesSupported); err != nil {
		return err
	}
	hmac := strings.HasPrefix(alg, "HS")
	switch m.TokenEndpointAuthMethod {
	case "client_secret_jwt":
		if !hmac {
			return metadataError(ptr, "%s does not fit token_endpoint_auth_method client_secret_jwt, which signs with the client secret (an HS algorithm)", quote(alg))
		}
	case "private_key_jwt":
		if hmac {
			return metadataError(ptr, "%s does not fit token_endpoint_auth_method private_key_jwt, which signs with a public-key algorithm", quote(alg))
		}
	}
	return nil
}

// checkSectorIdentifier enforces OpenID Connect Core 1.0 §8.1: a pairwise
// client whose redirect URIs have more than one host registers a
// sector_identifier_uri, and that URI, fetched with the guarded fetcher,
// is a JSON array of strings that lists every redirect URI.
func checkSectorIdentifier(ctx context.Context, h *Handler, m *Metadata, _ *validation) error {
	ptr := jsonPointer("sector_identifier_uri")
	if m.SectorIdentifierURI == "" {
		if m.SubjectType == "pairwise" {
			if hosts := redirectHosts(m.RedirectURIs); len(hosts) > 1 {
				return metadataError(ptr, "is required, since subject_type is pairwise and the redirect URIs have more than one host (%s) (OpenID Connect Core 1.0 section 8.1)", strings.Join(hosts, ", "))
			}
		}
		return nil
	}
	body, err := h.fetcher.Get(ctx, m.SectorIdentifierURI)
	if err != nil {
		if ctx.Err() != nil {
			// The request itself ended (canceled, or the server's
			// deadline): not the client's document's fault.
			return fmt.Errorf("fetch sector_identifier_uri: %w", ctx.Err())
		}
		rule := "could not be fetched (it must answer 200 with a JSON array, within the server's time and size limits)"
		if errors.Is(err, fetch.ErrForbiddenDestination) {
			rule = "points at a destination this server does not fetch from (only public https addresses)"
		}
		return metadataError(ptr, "%s: %s", rule, quote(m.SectorIdentifierURI)).WithCause(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return metadataError(ptr, "the document at %s is not a JSON array of redirect URIs (OpenID Connect Core 1.0 section 8.1)", quote(m.SectorIdentifierURI))
	}
	listed := make(map[string]bool, len(raw))
	for _, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err != nil || isNull(r) {
			return metadataError(ptr, "the document at %s is not a JSON array of strings (OpenID Connect Core 1.0 section 8.1)", quote(m.SectorIdentifierURI))
		}
		listed[s] = true
	}
	for i, u := range m.RedirectURIs {
		if !listed[u] {
			return metadataError(ptr, "the document does not list the redirect URI %s (/redirect_uris/%d); it must list every redirect URI (OpenID Connect Core 1.0 section 8.1)", quote(u), i)
		}
	}
	return nil
}

// redirectHosts returns the distinct hosts (lower-cased) of the redirect
// URIs that have one, in order of appearance.
func redirectHosts(uris []string) []string {
	var hosts []string
	for _, raw := range uris {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if h := strings.ToLower(u.Hostname()); h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// checkOIDCServerMetadata rejects server metadata that advertises what the
// specifications forbid: none as a token endpoint authentication signing
// algorithm (RFC 8414 §2).
func checkOIDCServerMetadata(m *ServerMetadata) error {
	if slices.Contains(m.TokenEndpointAuthSigningAlgValuesSupported, "none") {
		return errors.New("TokenEndpointAuthSigningAlgValuesSupported must not contain none (RFC 8414 section 2)")
	}
	for _, st := range m.SubjectTypesSupported {
		if st == "" {
			return errors.New("empty subject type in SubjectTypesSupported")
		}
	}
	return nil
}
