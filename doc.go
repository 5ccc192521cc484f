// Package clientreg implements OAuth 2.0 Dynamic Client Registration: the
// registration endpoint of RFC 7591, the client configuration endpoint of
// RFC 7592 (read, update and delete a client with its registration access
// token) and the authorization server metadata document of RFC 8414, for any
// Go authorization server to mount. With Config.ServeTokenEndpoints and
// Config.Authorizer it is also the authorization server MCP clients need:
// the authorization endpoint (code with PKCE, RFC 8707 resources, RFC 9207
// iss), the token endpoint (client_credentials, authorization_code,
// refresh_token with rotation), introspection and revocation. The library
// owns OAuth; the application owns login and consent (Authorizer).
//
// A Handler is created from a Config with New and is an http.Handler. The
// same operations are methods for Go callers: Register, Read, Update and
// Delete, returning *Error values that carry the RFC error code.
//
// The files follow the RFCs, so that a reader audits each one by reading
// down its file; the MUSTs of RFC 7591 §3, RFC 7592 §2 and RFC 8414 §3 are
// quoted beside the branches that enforce them:
//
//   - handler.go: Handler, New and the route table (one pattern per method,
//     one JSON 405 for the others).
//   - config.go: Config, its defaults and its validation.
//   - http.go: what every endpoint shares: reading a JSON body, the Bearer
//     token, writing JSON and errors.
//   - metadata.go: the client metadata of RFC 7591 §2; validate.go its
//     validation pipeline; redirect.go the redirect URI rules; oidc.go the
//     members of OpenID Connect Dynamic Client Registration 1.0.
//   - register.go: RFC 7591 §3, the registration endpoint, the client
//     information response and initial access tokens.
//   - manage.go: RFC 7592, the client configuration endpoint (read, update,
//     delete) and the recovery of a lost registration access token.
//   - discovery.go: RFC 8414, the server metadata document.
//   - softwarestatement.go: RFC 7591 §2.3 software statements and trusted
//     issuers; policy.go registration policies.
//   - clientauth.go: client authentication at the token endpoints (RFC 6749
//     §2.3, RFC 7523 assertions); token.go the token endpoint (RFC 6749
//     §4.4, client_credentials); introspect.go RFC 7662; revoke.go RFC
//     7009.
//   - authorize.go: the authorization endpoint (RFC 6749 §4.1, RFC 7636,
//     RFC 9207): the Authorizer hook, validation in the order of RFC 6749
//     §4.1.2.1, the pending request bound to its browser, and
//     CompleteAuthorization and DenyAuthorization; codes.go the building
//     blocks (LookupClient, MatchRedirectURI, VerifyPKCE, IssueCode) and
//     the default error page; consent.go remembered consent;
//     resources.go RFC 8707 resource indicators (ResourcePolicy).
//   - grants.go: the authorization_code and refresh_token grants of the
//     token endpoint (rotation, grace, reuse detection, RFC 9700 §4.14).
//   - verify.go: in-process verification of access tokens for resource
//     servers (VerifyAccessToken, TokenInfo and its errors); package
//     resource builds RFC 9728 metadata and the bearer middleware on it,
//     and the nested module adapters/mcp the Go MCP SDK's TokenVerifier.
//   - jwt.go: JWT access tokens (RFC 9068, Config.AccessTokenFormat):
//     signing, the key manager over store.SigningKeyStore (rotation by
//     generation, shared across instances) and the jwks_uri document.
//   - cors.go: CORS for the endpoints browsers call (CORSPolicy).
//   - limits.go: rate limits and request limits (RFC 7592 §5).
//   - operator.go: the operator's methods (ListClients, Client,
//     DeleteClient, DisableClient and EnableClient, RevokeClientTokens,
//     ListInitialTokens and RevokeInitialToken) and disabled clients
//     (docs/behaviour.md §11).
//   - secrets.go: how credentials are generated, hashed and encrypted;
//     storedecode.go the stored form of metadata; store.go the glue to
//     the store package.
//   - errors.go: every OAuth error; hooks.go the extension points.
//   - audit.go: audit events (docs/behaviour.md §14): AuditEvent and its
//     kinds and actors, Config.Audit's AuditSink, WithOperator, request
//     IDs (X-Request-Id, RequestIDHandler, RequestID) and the diff of an
//     update's metadata members.
//
// # Extension points
//
// Every hook of Authlib's registration and configuration endpoints is a
// small interface in Config, with a default that New installs when the field
// is nil: TokenAuthenticator (authenticate the registration access token),
// ClientFinder (find the client), PermissionChecker (may this token do this
// operation), TokenRevoker (revoke a token), InitialTokenVerifier,
// SoftwareStatementVerifier, IDGenerator and SecretGenerator, and the
// MetadataProvider whose document is both published and enforced. Saving,
// updating and deleting clients is the job of the Store: package store holds
// that contract (store.Store, the records it keeps and its sentinel errors,
// such as store.ErrNotFound) and imports nothing of the handler; the packages
// under store/ implement it, and store/storetest is the conformance suite
// every implementation must pass (Run, with RunDurability and RunSharing for
// backends that keep a database). A Store keeps a client's metadata as
// opaque bytes (store.Client.Metadata), which the handler encodes and
// decodes: a ClientFinder returns the stored record (*store.Client), and the
// other hooks and the methods of this package see a Client, the stored
// record with its metadata decoded.
//
// # Credentials
//
// Client secrets and tokens are 256 random bits, stored only as HMAC-SHA256
// under Config.SecretKey and compared in constant time, so a copy of the
// store yields no working credential. Because only a hash is kept, a read
// response omits the client secret and echoes the registration access token
// that was presented.
//
// # Error descriptions
//
// The error_description of every invalid_client_metadata and
// invalid_redirect_uri error (and of software statement errors) starts with
// the RFC 6901 JSON pointer of the member or element that fails, then ": ",
// then the rule, and quotes the value last where it helps:
//
//	/redirect_uris/1: http is allowed only for loopback hosts, ... (RFC 8252 section 7.3); use https: 'http://app.example/cb'
//	/grant_types/0: 'password' is not supported by this server (supported: ...)
//	/jwks/keys/2: is not a public key (...)
//	/software_statement: claim /client_name: must be a string
//
// Member names are escaped as RFC 6901 says ("~" as "~0", "/" as "~1"), and
// the description stays ASCII: in the pointer, bytes outside printable
// ASCII, the space, '"', the backslash and '%' are percent-encoded (as in
// the URI fragment form of RFC 6901 §6), so the first ": " always ends the
// pointer. A pointer may name a member the request omitted when the rule
// requires it (/redirect_uris: is required ...). An extension validator's
// error is prefixed with the member's pointer unless its description
// already starts with it. Of several faults, the decoder reports the first
// in member-name order, then the validation pipeline's steps run in order.
//
// # OpenID Connect registration metadata
//
// The members of OpenID Connect Dynamic Client Registration 1.0 §2, and
// post_logout_redirect_uris of RP-Initiated Logout 1.0, are part of
// Metadata (oidc.go has their rules). Where the specifications leave room:
//
//   - application_type is not defaulted: absent, it stays absent and adds no
//     rule, so MCP clients that omit it and register loopback or private-use
//     redirect URIs keep working under the redirect preset (an authorization
//     server reading the record treats absent as OpenID Connect's "web" if
//     it needs to). "web" and "native" add their rules on top of the preset:
//     web refuses private-use schemes, and with the implicit grant anything
//     but https and loopback hosts (Registration §2); native refuses https
//     on a loopback host (RFC 8252 §7.3 uses http there; https is for
//     claimed URIs, §7.2). native does not require reverse-domain schemes;
//     PresetNative does.
//   - subject_type is not defaulted and must be in subject_types_supported
//     (default [public]). A pairwise client whose redirect URIs name more
//     than one host must register a sector_identifier_uri (Core §8.1).
//   - sector_identifier_uri (https) is fetched with the guarded fetcher at
//     every registration, update and dry run, as the last validation step
//     so that a request refused for another reason fetches nothing. The
//     document must be a JSON array of strings listing every redirect URI
//     (exact string match). Fetch failures are invalid_client_metadata
//     (never a 5xx); the cause is logged, not shown.
//   - Each *_alg and *_enc member must be in the corresponding
//     *_values_supported list. An *_enc needs its *_alg. An *_alg without
//     its *_enc gets the default A128CBC-HS256 (Registration §2), stored
//     and returned, when that enc is advertised; otherwise it is refused,
//     since the default could not be honoured.
//   - Defaults when the operator leaves the lists empty:
//     subject_types_supported is DefaultSubjectTypes ([public]),
//     id_token_signing_alg_values_supported DefaultIDTokenSigningAlgs
//     (RS256, required by Discovery §3, and the other public-key algorithms
//     of go-jose); the encryption, UserInfo and request object lists stay
//     empty, so those members are refused until configured;
//     acr_values_supported empty accepts any default_acr_values.
//   - id_token_signed_response_alg none is refused for clients whose
//     response types return an ID Token from the authorization endpoint.
//     token_endpoint_auth_signing_alg none is always refused, and the
//     algorithm must fit the method (HS* for client_secret_jwt, a
//     public-key algorithm for private_key_jwt); the token endpoint then
//     accepts only assertions signed with it. New refuses none in
//     TokenEndpointAuthSigningAlgValuesSupported (RFC 8414 §2).
//   - default_max_age is a JSON number written as a non-negative integer
//     (no fraction or exponent, at most 2^63-1); require_auth_time a JSON
//     boolean. Both are pointers in Metadata: absent stays absent, 0 and
//     false are kept and returned.
//   - initiate_login_uri and request_uris are https URLs (a request URI may
//     carry a fragment, the hash of its content); request_uris is refused
//     when request_uri_parameter_supported is configured false.
//     post_logout_redirect_uris follow the redirect URI rules of the preset
//     in force; a bad one is invalid_client_metadata, since RFC 7591's
//     invalid_redirect_uri is about redirect_uris. The three lists are
//     bounded by Limits.MaxRedirectURIs.
//
// # Choices where the RFCs leave room
//
//   - A JSON null member and an empty string member are treated as absent.
//   - Every URI member is ASCII, as RFC 3986 §2 defines a URI: no control
//     character, space, bidi or invisible formatting character, or
//     homoglyph letter can reach a user inside one. An internationalized
//     host is registered in its A-label form (xn--..., RFC 5890; RFC 3986
//     §3.2.2 asks for DNS-syntax names), never raw or percent-encoded. A
//     host never contains '*' (it is not a pattern) or an IPv6 zone
//     (RFC 6874); an http(s) host is an IP address or a DNS name (labels of
//     letters, digits, '-' and '_', the last not a number, which browsers
//     would read as an IPv4 address). Redirect URIs never use javascript,
//     vbscript, data, blob, filesystem, file, jar, mhtml, ms-its, about,
//     view-source or intent; private-use schemes of applications (cursor,
//     vscode, claude, com.example.app) stay accepted (redirect.go).
//   - The other string members, which a consent page or a log shows
//     (client_name and its language-tagged variants, contacts, software_id,
//     software_version, default_acr_values and the rest), refuse control
//     characters (C0, DEL, C1), Unicode formatting characters (category
//     Cf: bidi overrides and isolates such as U+202E, zero-width
//     characters such as U+200B, U+FEFF, U+00AD), line and paragraph
//     separators and letters that render as nothing (Hangul fillers). TAB
//     is kept in client_name, where a page renders it as a space, and
//     refused elsewhere. Zero-width joiners are refused too, so emoji ZWJ
//     sequences and words that need U+200C cannot be registered. The
//     description names the code point (/client_name: must not contain
//     U+202E, ...), never the character.
//   - When only one of grant_types and response_types is sent, the other
//     defaults to what it implies (RFC 7591 §2.1), not to the fixed default,
//     so that the defaults never contradict the request.
//   - Registration access tokens rotate on every update (configurable). The
//     presented token keeps working until the new one is first used or
//     Config.TokenGrace passes, so a lost response never locks a client out.
//   - A token that fails for any reason is answered with one identical 401
//     invalid_token, so no response reveals whether a client exists.
//   - A public client (token_endpoint_auth_method none) cannot register the
//     client_credentials grant (RFC 6749 §4.4).
//   - Access tokens (Config.ServeTokenEndpoints) are opaque and stored as
//     keyed hashes, so deletion, revocation and scope changes take effect at
//     once on every instance. A client introspects and revokes only its own
//     tokens unless Config.MayIntrospect says otherwise.
//   - Extensions of RFC 7592: PUT with ?rotate_secret=true issues a new
//     secret (the previous one works for Config.SecretOverlap), and POST
//     {registration_client_uri}/registration_access_token with client
//     authentication recovers a lost registration access token.
//   - POST with ?dry_run=true validates a registration and stores nothing.
//   - A rate-limited request gets 429 with Retry-After and the registered
//     error code temporarily_unavailable ("retry later"); RFC 6749 has no
//     code of its own for it. Failed authentication past its limit is
//     answered so instead of 401; a valid credential never is (limits.go).
//   - Every failed client authentication, at every endpoint, gets the one
//     answer ErrClientAuthFailed (401 invalid_client with a Basic
//     challenge), whatever the cause; the cause is logged at debug level.
//   - grant_types_supported lists the grant types the handler serves (with
//     the token endpoint: client_credentials, and authorization_code and
//     refresh_token when an authorization endpoint is served or stated); a
//     handler that serves neither endpoint keeps DefaultGrantTypes, the
//     grants of the authorization server it registers clients for. A
//     registration without grant_types gets authorization_code when it is
//     supported, client_credentials otherwise.
//   - Registration policies (policy.go) only narrow the server's rules. The
//     initial access token's policy wins over the software statement
//     issuer's, which wins over Config.DefaultPolicy. The policy is stored
//     with the client and governs its updates; a policy that is no longer
//     configured fails closed (403 access_denied). Policy.MaxClients is
//     enforced by the Store in the transaction that stores the client, like
//     the use of the initial access token, so a registration that fails
//     spends nothing and the limit is exact across instances.
//   - A policy's AllowedRedirectHosts govern every URI a user agent is sent
//     to on the client's behalf or the server fetches a request from:
//     redirect_uris (invalid_redirect_uri), post_logout_redirect_uris,
//     request_uris and initiate_login_uri (invalid_client_metadata);
//     AllowedRedirectSchemes the two redirect lists. client_uri, logo_uri,
//     tos_uri and policy_uri are links shown to users, governed by
//     SameHostURIs instead; jwks_uri and sector_identifier_uri are fetched
//     through the guarded fetcher and governed by neither. Hosts are
//     matched as parsed names (policy.go): a DNS pattern matches only a
//     DNS name, lower-cased, without a final root dot, compared label by
//     label (*.partner.example matches a.partner.example and
//     a.b.partner.example, never partner.example or evilpartner.example);
//     an IP literal, with or without an IPv6 zone, matches only an IP
//     pattern with the same address. New refuses any other pattern.
package clientreg
