package clientreg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clientreg/clientreg/internal/fetch"
	"github.com/clientreg/clientreg/store"
)

// TokenRotation says when the registration access token is replaced.
type TokenRotation int

const (
	// RotateOnUpdate issues a new registration access token in every
	// successful update response (the default).
	RotateOnUpdate TokenRotation = iota
	// RotateNever keeps the token issued at registration for the client's
	// lifetime.
	RotateNever
)

// Defaults of Config fields left zero.
const (
	DefaultTokenGrace = 10 * time.Minute
	// DefaultAccessTokenLifetime is the lifetime of access tokens.
	DefaultAccessTokenLifetime = time.Hour
	// DefaultSecretOverlap is how long a rotated client secret keeps working.
	DefaultSecretOverlap = 24 * time.Hour
	DefaultMaxBodyBytes  = 64 << 10
	// DefaultRegistrationPath is appended to the issuer when
	// Config.RegistrationEndpoint is empty.
	DefaultRegistrationPath = "/register"
)

// FetchPolicy configures outbound fetches. Production servers leave it
// zero: https only, and no loopback, private or link-local destinations
// (checked after DNS resolution, redirects included).
type FetchPolicy struct {
	// AllowHTTP permits plain http URLs. For tests only.
	AllowHTTP bool
	// AllowPrivateNetworks permits loopback, private and link-local
	// destinations. For tests only.
	AllowPrivateNetworks bool
	// Transport replaces the base transport (for example an httptest TLS
	// server's); nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each fetch; zero means 5 seconds.
	Timeout time.Duration
}

// Extension declares a client metadata member that RFC 7591 does not define
// and that the handler should keep. Members not declared are ignored.
type Extension struct {
	// Name is the member name, e.g. "x_tenant".
	Name string
	// Validate checks the member's value; nil accepts any JSON value. An
	// *Error it returns is answered as is; any other error becomes
	// invalid_client_metadata with the error's text as description.
	Validate func(ctx context.Context, value json.RawMessage) error
}

// Config configures a Handler. Issuer, Store and SecretKey are required;
// every other field has a documented default.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2):
	// an absolute http(s) URL without query or fragment. Required.
	Issuer string
	// Store keeps clients, initial access tokens and access tokens (see
	// package store). Required.
	Store store.Store
	// SecretKey keys the hashes under which secrets and tokens are stored;
	// at least MinSecretKeyLen random bytes, kept outside the Store.
	// Required. Changing it invalidates every issued credential.
	SecretKey []byte

	// RegistrationEndpoint is the absolute URL of the registration endpoint.
	// Default: Issuer + DefaultRegistrationPath. The client configuration
	// endpoint of a client is this URL + "/" + client_id.
	RegistrationEndpoint string
	// Metadata is the server metadata that is published and enforced.
	// Default: an empty *ServerMetadata. Issuer and RegistrationEndpoint are
	// always set from this Config; empty lists of a *ServerMetadata get the
	// package defaults (DefaultGrantTypes, DefaultAuthMethods, and the
	// response types those grant types need). An empty ScopesSupported
	// accepts any well-formed scope.
	Metadata MetadataProvider
	// DefaultScopes are given to clients that register no scope.
	DefaultScopes []string
	// RequireInitialToken makes registration require an initial access token
	// (RFC 7591 §3); by default registration is open.
	RequireInitialToken bool
	// TokenRotation says when registration access tokens rotate.
	TokenRotation TokenRotation
	// TokenGrace is how long a rotated registration access token keeps
	// working if the new one is not used first. Zero means
	// DefaultTokenGrace; a negative value means no grace.
	TokenGrace time.Duration
	// SecretLifetime sets client_secret_expires_at for new secrets; zero
	// means secrets never expire.
	SecretLifetime time.Duration
	// DisableDelete makes DELETE on the configuration endpoint answer 405.
	DisableDelete bool
	// ServeTokenEndpoints makes the handler also serve, and advertise, a
	// token endpoint for the client_credentials grant (RFC 6749 §4.4), token
	// introspection (RFC 7662) and token revocation (RFC 7009), at the
	// issuer's path + "/token", "/introspect" and "/revoke", and the
	// recovery of lost registration access tokens. Clients authenticate
	// there with the method they registered (see AuthenticateClient).
	ServeTokenEndpoints bool
	// AccessTokenLifetime is the lifetime of issued access tokens; zero
	// means DefaultAccessTokenLifetime.
	AccessTokenLifetime time.Duration
	// MayIntrospect decides which tokens an authenticated client may
	// introspect; default OwnTokensOnly. A resource server that checks
	// every client's tokens is given wider rights here.
	MayIntrospect IntrospectionPolicy
	// SecretOverlap is how long a client's previous secret keeps working
	// after the client rotated it; zero means DefaultSecretOverlap, a
	// negative value means no overlap.
	SecretOverlap time.Duration
	// Fetch configures the guarded HTTP client that fetches documents
	// clients point at (jwks_uri). The zero value is the production policy.
	Fetch FetchPolicy
	// Limits are the abuse limits (rate limits and request limits); the
	// zero value is on, with generous defaults.
	Limits Limits
	// MaxBodyBytes limits request bodies; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Extensions are the extension members clients may register.
	Extensions []Extension

	// InitialTokens verifies initial access tokens; default: the Store.
	InitialTokens InitialTokenVerifier
	// Authenticator authenticates registration access tokens; default: the
	// Store, with rotation and grace as configured.
	Authenticator TokenAuthenticator
	// Finder finds the client a configuration request addresses; default:
	// the Store.
	Finder ClientFinder
	// Permissions decides who may do what; default OwnClientOnly.
	Permissions PermissionChecker
	// Revoker revokes registration access tokens; default: nothing to do,
	// since the default Store drops a client's tokens with the client.
	Revoker TokenRevoker
	// SoftwareStatements verifies software statements; default
	// NoTrustedIssuers.
	SoftwareStatements SoftwareStatementVerifier
	// RedirectPreset names the redirect URI rules; default PresetMCP.
	RedirectPreset RedirectPreset
	// TrustedIssuers are the software statement issuers the server trusts
	// (see TrustedIssuer). Setting them and SoftwareStatements is an error.
	TrustedIssuers []TrustedIssuer
	// StatementSkew is the clock skew allowed on the time claims of software
	// statements; zero means DefaultStatementSkew.
	StatementSkew time.Duration
	// RequireSoftwareStatement refuses registrations without a software
	// statement from a trusted issuer (unapproved_software_statement).
	RequireSoftwareStatement bool
	// Policies are the named registration policies (see Policy) that
	// initial access tokens, trusted issuers and DefaultPolicy refer to.
	Policies []Policy
	// DefaultPolicy names the policy for registrations that neither their
	// initial access token nor their software statement's issuer assigns
	// one; "" applies the server's rules alone.
	DefaultPolicy string
	// NewClientID generates client IDs; default 128 random bits.
	NewClientID IDGenerator
	// NewSecret generates client secrets and registration access tokens;
	// default 256 random bits.
	NewSecret SecretGenerator

	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand is the source of randomness of the default generators; default
	// crypto/rand.Reader.
	Rand io.Reader
	// Logger receives internal errors (never a secret or token); default:
	// logs are discarded.
	Logger *slog.Logger
}

// Handler serves the RFC 7591 registration endpoint, the RFC 7592 client
// configuration endpoint and the RFC 8414 metadata document, and offers the
// same operations to Go callers (Register, Read, Update, Delete).
//
// As an http.Handler it routes on the paths of the configured URLs:
//
//	POST   <registration endpoint path>
//	GET    <registration endpoint path>/{client_id}
//	PUT    <registration endpoint path>/{client_id}
//	DELETE <registration endpoint path>/{client_id}
//	GET    /.well-known/oauth-authorization-server[<issuer path>]
//
// so it can be mounted at "/" or under any prefix of those paths, in any
// router that leaves the request path intact. Routers that strip prefixes
// can mount RegistrationHandler, ConfigurationHandler and MetadataHandler
// individually instead.
type Handler struct {
	issuer           string
	regEndpoint      string
	regPath          string
	wellKnown        string
	store            store.Store
	keys             keyring
	metadata         MetadataProvider
	static           *ServerMetadata // completed metadata when Metadata is a *ServerMetadata
	defaultScopes    []string
	requireIAT       bool
	rotation         TokenRotation
	grace            time.Duration
	secretLifetime   time.Duration
	disableDelete    bool
	maxBody          int64
	extensions       map[string]Extension
	initialTokens    InitialTokenVerifier
	authenticator    TokenAuthenticator
	finder           ClientFinder
	permissions      PermissionChecker
	revoker          TokenRevoker
	statements       SoftwareStatementVerifier
	requireStatement bool
	policies         policies
	defaultPolicy    string
	issuerPolicies   map[string]string // trusted issuer -> policy name
	limits           *limiter
	redirectPreset   RedirectPreset
	newID            IDGenerator
	newSecret        SecretGenerator
	now              func() time.Time
	log              *slog.Logger
	mux              *http.ServeMux
	configurationFn  http.Handler

	serveTokens     bool
	tokenEndpoint   string // absolute URLs, set when serveTokens
	introspectionEP string
	revocationEP    string
	tokenLifetime   time.Duration
	mayIntrospect   IntrospectionPolicy
	secretOverlap   time.Duration
	fetcher         *fetch.Client
	keyCache        keyCache
}

// New validates cfg and returns a Handler. It returns an error naming the
// first missing or invalid part of the configuration.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("clientreg: Config.Store is required")
	}
	if len(cfg.SecretKey) < MinSecretKeyLen {
		return nil, fmt.Errorf("clientreg: Config.SecretKey must be at least %d bytes", MinSecretKeyLen)
	}
	iss, err := parseHTTPURL(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("clientreg: Config.Issuer: %w", err)
	}
	if iss.RawQuery != "" || iss.Fragment != "" {
		return nil, errors.New("clientreg: Config.Issuer must not have a query or fragment")
	}
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	regEndpoint := cfg.RegistrationEndpoint
	if regEndpoint == "" {
		regEndpoint = issuer + DefaultRegistrationPath
	}
	reg, err := parseHTTPURL(regEndpoint)
	if err != nil {
		return nil, fmt.Errorf("clientreg: Config.RegistrationEndpoint: %w", err)
	}
	if reg.RawQuery != "" || reg.Fragment != "" || reg.Path == "" || reg.Path == "/" {
		return nil, errors.New("clientreg: Config.RegistrationEndpoint needs a path and no query or fragment")
	}
	regEndpoint = strings.TrimSuffix(regEndpoint, "/")

	h := &Handler{
		issuer:         issuer,
		regEndpoint:    regEndpoint,
		regPath:        strings.TrimSuffix(reg.EscapedPath(), "/"),
		wellKnown:      wellKnownPath(iss),
		store:          cfg.Store,
		keys:           newKeyring(slices.Clone(cfg.SecretKey)),
		defaultScopes:  slices.Clone(cfg.DefaultScopes),
		requireIAT:     cfg.RequireInitialToken,
		rotation:       cfg.TokenRotation,
		grace:          cfg.TokenGrace,
		secretLifetime: cfg.SecretLifetime,
		disableDelete:  cfg.DisableDelete,
		maxBody:        cfg.MaxBodyBytes,
		initialTokens:  cfg.InitialTokens,
		authenticator:  cfg.Authenticator,
		finder:         cfg.Finder,
		permissions:    cfg.Permissions,
		revoker:        cfg.Revoker,
		statements:     cfg.SoftwareStatements,
		newID:          cfg.NewClientID,
		newSecret:      cfg.NewSecret,
		now:            cfg.Now,
		log:            cfg.Logger,
	}
	h.serveTokens = cfg.ServeTokenEndpoints
	if h.serveTokens {
		h.tokenEndpoint = issuer + "/token"
		h.introspectionEP = issuer + "/introspect"
		h.revocationEP = issuer + "/revoke"
	}
	h.mayIntrospect = cfg.MayIntrospect
	if h.mayIntrospect == nil {
		h.mayIntrospect = OwnTokensOnly
	}
	h.tokenLifetime = cfg.AccessTokenLifetime
	if h.tokenLifetime <= 0 {
		h.tokenLifetime = DefaultAccessTokenLifetime
	}
	h.secretOverlap = cfg.SecretOverlap
	if h.secretOverlap == 0 {
		h.secretOverlap = DefaultSecretOverlap
	}
	h.fetcher = fetch.New(fetch.Options{
		AllowHTTP:    cfg.Fetch.AllowHTTP,
		AllowPrivate: cfg.Fetch.AllowPrivateNetworks,
		Transport:    cfg.Fetch.Transport,
		Timeout:      cfg.Fetch.Timeout,
	})
	switch cfg.TokenRotation {
	case RotateOnUpdate, RotateNever:
	default:
		return nil, fmt.Errorf("clientreg: unknown Config.TokenRotation %d", cfg.TokenRotation)
	}
	if h.grace == 0 {
		h.grace = DefaultTokenGrace
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if cfg.SecretLifetime < 0 {
		return nil, errors.New("clientreg: Config.SecretLifetime must not be negative")
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	if h.newID == nil {
		h.newID = defaultIDGenerator(r)
	}
	if h.newSecret == nil {
		h.newSecret = defaultSecretGenerator(r)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	def := storeAuth{h: h}
	if h.initialTokens == nil {
		h.initialTokens = def
	}
	if h.authenticator == nil {
		h.authenticator = def
	}
	if h.finder == nil {
		h.finder = def
	}
	if h.revoker == nil {
		h.revoker = def
	}
	if h.permissions == nil {
		h.permissions = OwnClientOnly
	}
	switch cfg.RedirectPreset {
	case "":
		h.redirectPreset = PresetMCP
	case PresetMCP, PresetWeb, PresetNative:
		h.redirectPreset = cfg.RedirectPreset
	default:
		return nil, fmt.Errorf("clientreg: unknown Config.RedirectPreset %q (want mcp, web or native)", cfg.RedirectPreset)
	}
	h.limits = newLimiter(cfg.Limits)
	h.requireStatement = cfg.RequireSoftwareStatement
	switch {
	case len(cfg.TrustedIssuers) > 0 && h.statements != nil:
		return nil, errors.New("clientreg: set Config.TrustedIssuers or Config.SoftwareStatements, not both")
	case len(cfg.TrustedIssuers) > 0:
		tr, err := newTrustRegistry(h, cfg.TrustedIssuers, cfg.StatementSkew)
		if err != nil {
			return nil, fmt.Errorf("clientreg: Config.TrustedIssuers: %w", err)
		}
		h.statements = tr
	case h.statements == nil:
		h.statements = NoTrustedIssuers
	}
	h.extensions = make(map[string]Extension, len(cfg.Extensions))
	for _, e := range cfg.Extensions {
		if e.Name == "" || membersByName[e.Name] != nil || responseMembers[e.Name] || strings.Contains(e.Name, "#") {
			return nil, fmt.Errorf("clientreg: extension member %q clashes with a standard member or is empty", e.Name)
		}
		h.extensions[e.Name] = e
	}

	h.metadata = cfg.Metadata
	if h.metadata == nil {
		h.metadata = &ServerMetadata{}
	}
	if sm, ok := h.metadata.(*ServerMetadata); ok {
		if sm == nil {
			return nil, errors.New("clientreg: Config.Metadata is a nil *ServerMetadata")
		}
		h.static = sm.completed(h)
		if err := checkServerMetadata(h.static, h.defaultScopes); err != nil {
			return nil, fmt.Errorf("clientreg: Config.Metadata: %w", err)
		}
	}

	if h.policies, err = newPolicies(cfg.Policies, h.static); err != nil {
		return nil, fmt.Errorf("clientreg: Config.Policies: %w", err)
	}
	if cfg.DefaultPolicy != "" && h.policies[cfg.DefaultPolicy] == nil {
		return nil, fmt.Errorf("clientreg: Config.DefaultPolicy %q is not one of Config.Policies", cfg.DefaultPolicy)
	}
	h.defaultPolicy = cfg.DefaultPolicy
	h.issuerPolicies = make(map[string]string, len(cfg.TrustedIssuers))
	for _, ti := range cfg.TrustedIssuers {
		if ti.Policy == "" {
			continue
		}
		if h.policies[ti.Policy] == nil {
			return nil, fmt.Errorf("clientreg: Config.TrustedIssuers: issuer %q names policy %q, which is not one of Config.Policies", ti.Issuer, ti.Policy)
		}
		h.issuerPolicies[ti.Issuer] = ti.Policy
	}

	h.configurationFn = http.HandlerFunc(h.serveConfiguration)
	h.mux = http.NewServeMux()
	h.mux.Handle("POST "+h.regPath, http.HandlerFunc(h.serveRegistration))
	h.mux.Handle(h.regPath, methodNotAllowed(http.MethodPost))
	h.mux.Handle(h.regPath+"/{client_id}", h.configurationFn)
	h.mux.Handle("GET "+h.wellKnown, http.HandlerFunc(h.serveMetadata))
	h.mux.Handle(h.wellKnown, methodNotAllowed(http.MethodGet, http.MethodHead))
	if h.serveTokens {
		issPath := strings.TrimSuffix(iss.EscapedPath(), "/")
		h.mux.Handle("POST "+issPath+"/token", http.HandlerFunc(h.serveToken))
		h.mux.Handle(issPath+"/token", methodNotAllowed(http.MethodPost))
		h.mux.Handle("POST "+issPath+"/introspect", http.HandlerFunc(h.serveIntrospection))
		h.mux.Handle(issPath+"/introspect", methodNotAllowed(http.MethodPost))
		h.mux.Handle("POST "+issPath+"/revoke", http.HandlerFunc(h.serveRevocation))
		h.mux.Handle(issPath+"/revoke", methodNotAllowed(http.MethodPost))
		h.mux.Handle("POST "+h.regPath+"/{client_id}/"+recoveryPathSegment, http.HandlerFunc(h.serveTokenRecovery))
		h.mux.Handle(h.regPath+"/{client_id}/"+recoveryPathSegment, methodNotAllowed(http.MethodPost))
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrorBody(w, errNotFound)
	})
	return h, nil
}

// checkServerMetadata rejects a metadata document whose lists contradict
// each other or the default scopes.
func checkServerMetadata(m *ServerMetadata, defaultScopes []string) error {
	for _, s := range defaultScopes {
		if !validScopeToken(s) {
			return fmt.Errorf("default scope %q is not a valid scope token", s)
		}
		if len(m.ScopesSupported) > 0 && !slices.Contains(m.ScopesSupported, s) {
			return fmt.Errorf("default scope %q is not in ScopesSupported", s)
		}
	}
	for _, s := range m.ScopesSupported {
		if !validScopeToken(s) {
			return fmt.Errorf("scope %q is not a valid scope token", s)
		}
	}
	for _, am := range m.TokenEndpointAuthMethodsSupported {
		if am == "" {
			return errors.New("empty token endpoint auth method")
		}
	}
	// Advertised must be enforceable: a response type whose grant types are
	// not supported could never be registered.
	for _, rt := range m.ResponseTypesSupported {
		for _, g := range responseTypeGrants(rt) {
			if !slices.Contains(m.GrantTypesSupported, g) {
				return fmt.Errorf("response type %q needs grant type %q, which is not in GrantTypesSupported", rt, g)
			}
		}
	}
	return checkOIDCServerMetadata(m) // oidc.go
}

// serverMetadata returns the completed metadata for this request.
func (h *Handler) serverMetadata(ctx context.Context) (*ServerMetadata, error) {
	if h.static != nil {
		return h.static, nil
	}
	m, err := h.metadata.ServerMetadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("server metadata: %w", err)
	}
	return m.completed(h), nil
}

// ServeHTTP routes the request to the registration, configuration or
// metadata endpoint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// RegistrationHandler returns the RFC 7591 registration endpoint alone (POST;
// other methods get 405).
func (h *Handler) RegistrationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			methodNotAllowed(http.MethodPost).ServeHTTP(w, r)
			return
		}
		h.serveRegistration(w, r)
	})
}

// ConfigurationHandler returns the RFC 7592 client configuration endpoint
// alone. It takes the client ID from the path value "client_id" when the
// router set one, and from the last path segment otherwise.
func (h *Handler) ConfigurationHandler() http.Handler { return h.configurationFn }

// MetadataHandler returns the RFC 8414 metadata document endpoint alone.
func (h *Handler) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(http.MethodGet, http.MethodHead).ServeHTTP(w, r)
			return
		}
		h.serveMetadata(w, r)
	})
}

// Metadata returns the server metadata document as published.
func (h *Handler) Metadata(ctx context.Context) (*ServerMetadata, error) {
	m, err := h.serverMetadata(ctx)
	if err != nil {
		return nil, err
	}
	c := *m
	return &c, nil
}

// RegistrationEndpoint returns the absolute URL of the registration endpoint.
func (h *Handler) RegistrationEndpoint() string { return h.regEndpoint }

func (h *Handler) serveMetadata(w http.ResponseWriter, r *http.Request) {
	m, err := h.serverMetadata(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (h *Handler) serveRegistration(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	addr := h.limits.clientAddr(r)
	if err := h.limits.allowRegistration(h.now(), "addr:"+addr); err != nil {
		h.writeError(w, r, err)
		return
	}
	token, err := bearerToken(r)
	if h.requireIAT {
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if token == "" {
			h.writeError(w, r, ErrMissingToken)
			return
		}
	} else {
		token = "" // open registration: an Authorization header plays no part
	}
	d, err := h.readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var iatKey, swKey string
	if token != "" {
		iatKey = "iat:" + string(h.keys.hash(purposeInitialToken, token)[:16])
	}
	if d.SoftwareID != "" && len(d.SoftwareID) <= h.limits.cfg.MaxMemberLength {
		swKey = "sw:" + d.SoftwareID
	}
	if err := h.limits.allowRegistration(h.now(), iatKey, swKey); err != nil {
		h.writeError(w, r, err)
		return
	}
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "false":
	case "true":
		m, err := h.DryRun(r.Context(), token, d.Metadata)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, m)
		return
	default:
		h.writeError(w, r, ErrInvalidRequest.WithDescription("dry_run must be true or false"))
		return
	}
	info, err := h.Register(r.Context(), token, d.Metadata)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", info.ETag)
	w.Header().Set("Location", info.RegistrationClientURI)
	writeJSON(w, http.StatusCreated, info)
}

func (h *Handler) serveConfiguration(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	id := r.PathValue("client_id")
	if id == "" {
		p := strings.TrimSuffix(r.URL.Path, "/")
		id = p[strings.LastIndexByte(p, '/')+1:]
	}
	allow := []string{http.MethodGet, http.MethodPut, http.MethodDelete}
	if h.disableDelete {
		allow = allow[:2]
	}
	if !slices.Contains(allow, r.Method) {
		methodNotAllowed(allow...).ServeHTTP(w, r)
		return
	}
	addr := h.limits.clientAddr(r)
	if err := h.limits.checkAuth(h.now(), addr, id); err != nil {
		h.writeError(w, r, err)
		return
	}
	token, err := bearerToken(r)
	if err == nil && token == "" {
		err = ErrMissingToken
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	// A wrong token counts against the client ID and the address (RFC 7592
	// §5: tokens must not be guessable, attempts are limited too).
	w = &authFailureRecorder{ResponseWriter: w, onUnauthorized: func() { h.limits.recordFailedAuth(h.now(), addr, id) }}
	switch r.Method {
	case http.MethodGet:
		info, err := h.Read(ctx, token, id)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("ETag", info.ETag)
		writeJSON(w, http.StatusOK, info)
	case http.MethodPut:
		d, err := h.readBody(w, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		req, err := updateRequestFrom(d)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		req.IfMatch = strings.Join(r.Header.Values("If-Match"), ",")
		switch v := r.URL.Query().Get("rotate_secret"); v {
		case "", "false":
		case "true":
			req.RotateSecret = true
		default:
			h.writeError(w, r, ErrInvalidRequest.WithDescription("rotate_secret must be true or false"))
			return
		}
		info, err := h.Update(ctx, token, id, req)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("ETag", info.ETag)
		writeJSON(w, http.StatusOK, info)
	case http.MethodDelete:
		if err := h.Delete(ctx, token, id); err != nil {
			h.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// readBody checks the media type and size of a JSON request body and
// decodes it.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (decoded, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return decoded{}, ErrUnsupportedMediaType.WithDescription("the request body must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return decoded{}, ErrUnsupportedMediaType.WithDescription("the request body must be UTF-8 JSON")
	}
	if r.ContentLength > h.maxBody {
		return decoded{}, ErrRequestTooLarge.WithDescription("the request body exceeds %d bytes", h.maxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decoded{}, ErrRequestTooLarge.WithDescription("the request body exceeds %d bytes", h.maxBody)
		}
		return decoded{}, ErrInvalidRequest.WithDescription("the request body could not be read").WithCause(err)
	}
	return decodeMetadata(body)
}

// bearerToken extracts an RFC 6750 §2.1 Bearer token. It returns "" and no
// error when the request carries no Bearer credentials.
func bearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", nil
	}
	if len(vals) > 1 {
		return "", ErrInvalidRequest.WithDescription("more than one Authorization header")
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	tok := strings.TrimLeft(rest, " ")
	if !validToken68(tok) {
		return "", ErrInvalidToken
	}
	return tok, nil
}

// validToken68 reports whether s matches RFC 6750's b64token
// (1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=").
func validToken68(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0 {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// authFailureRecorder calls onUnauthorized when the response is a 401.
type authFailureRecorder struct {
	http.ResponseWriter
	onUnauthorized func()
}

func (a *authFailureRecorder) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		a.onUnauthorized()
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *authFailureRecorder) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// errNotFound answers a path the handler does not serve.
var errNotFound = &Error{Code: "invalid_request", Status: http.StatusNotFound, Description: "no such endpoint"}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

func methodNotAllowed(allow ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeErrorBody(w, ErrMethodNotAllowed.WithDescription("method %s is not allowed here; use %s", r.Method, strings.Join(allow, " or ")))
	})
}

// writeError answers err: an *Error as itself, anything else as a bare
// server_error (or temporarily_unavailable for a storage outage), logged
// with the request's context.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	oe, internal := asOAuthError(err)
	if internal && errors.Is(r.Context().Err(), context.Canceled) {
		// The client went away; nothing failed on our side. (A deadline
		// that ended is ours, not the client's: it is logged below.)
		h.log.DebugContext(r.Context(), "request canceled", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if internal {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if oe.Unwrap() != nil {
		h.log.DebugContext(r.Context(), "request rejected", "method", r.Method, "path", r.URL.Path, "err", oe.Unwrap())
	}
	writeErrorBody(w, oe)
}

func writeErrorBody(w http.ResponseWriter, e *Error) {
	if ra := retryAfterHeader(e); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	if e.Challenge != "" {
		w.Header().Set("WWW-Authenticate", e.Challenge)
	}
	if e.Code == "" {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(e.Status)
		return
	}
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer putJSONBuffer(buf)
	// Not json.Marshal: it would HTML-escape <, > and & in the output of
	// ClientInformation.MarshalJSON, and values must be echoed byte-exact.
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	b := []byte(`{"error":"server_error"}`)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
	} else {
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonBuffers holds the buffers writeJSON encodes responses into, so that
// a response costs no new buffer.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putJSONBuffer returns buf to jsonBuffers, unless it grew past what a
// usual response needs: one outsized response must not stay in memory.
func putJSONBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 64<<10 {
		return
	}
	buf.Reset()
	jsonBuffers.Put(buf)
}

// parseHTTPURL parses an absolute http or https URL with a host.
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return u, nil
}
