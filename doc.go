// Package clientreg implements OAuth 2.0 Dynamic Client Registration: the
// registration endpoint of RFC 7591, the client configuration endpoint of
// RFC 7592 (read, update and delete a client with its registration access
// token) and the authorization server metadata document of RFC 8414, for any
// Go authorization server to mount.
//
// A Handler is created from a Config with New and is an http.Handler. The
// same operations are methods for Go callers: Register, Read, Update and
// Delete, returning *Error values that carry the RFC error code.
//
// The files follow the RFCs: metadata.go is the client metadata of RFC 7591
// §2 and validate.go its validation pipeline; redirect.go holds the redirect
// URI rules; register.go is RFC 7591 §3 (registration, the client information
// response, initial access tokens); manage.go is RFC 7592; discovery.go is
// RFC 8414; errors.go has every OAuth error; secrets.go says how credentials
// are generated and stored; hooks.go has the extension points.
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
// updating and deleting clients is the job of the Store; the packages under
// store/ implement it and store/storetest is the conformance suite every
// implementation must pass.
//
// # Credentials
//
// Client secrets and tokens are 256 random bits, stored only as HMAC-SHA256
// under Config.SecretKey and compared in constant time, so a copy of the
// store yields no working credential. Because only a hash is kept, a read
// response omits the client secret and echoes the registration access token
// that was presented.
//
// # Choices where the RFCs leave room
//
//   - A JSON null member and an empty string member are treated as absent.
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
//     code of its own for it.
//   - grant_types_supported lists the grant types clients may register,
//     including redirect-based ones that an authorization server sharing the
//     store serves; the token endpoint itself implements client_credentials.
package clientreg
