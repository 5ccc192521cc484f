package clientreg

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/internal/fetch"
)

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
	store            Store
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

	h.routes(strings.TrimSuffix(iss.EscapedPath(), "/"))
	return h, nil
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
func (h *Handler) ConfigurationHandler() http.Handler { return http.HandlerFunc(h.serveConfiguration) }

// RegistrationEndpoint returns the absolute URL of the registration endpoint.
func (h *Handler) RegistrationEndpoint() string { return h.regEndpoint }

// routes builds the route table. Each endpoint is one pattern per method it
// serves, then a pattern without a method that answers every other method
// with one JSON 405 (RFC 9110 §15.5.6: with an Allow header), and a last
// route answers paths the handler does not serve with a JSON 404.
func (h *Handler) routes(issPath string) {
	h.mux = http.NewServeMux()
	endpoint := func(path string, methods map[string]http.HandlerFunc, allow ...string) {
		for _, m := range allow {
			h.mux.Handle(m+" "+path, methods[m])
		}
		h.mux.Handle(path, methodNotAllowed(allow...))
	}
	// RFC 8414 §3: the metadata document is retrieved with GET (and HEAD).
	endpoint(h.wellKnown, map[string]http.HandlerFunc{http.MethodGet: h.serveMetadata, http.MethodHead: h.serveMetadata}, http.MethodGet, http.MethodHead)
	// RFC 7591 §3: "To register, the client or developer sends an HTTP POST
	// to the client registration endpoint".
	endpoint(h.regPath, map[string]http.HandlerFunc{http.MethodPost: h.serveRegistration}, http.MethodPost)
	// RFC 7592 §2: read with GET, update with PUT, delete with DELETE.
	endpoint(h.regPath+"/{client_id}", map[string]http.HandlerFunc{
		http.MethodGet:    h.configurationEndpoint(h.serveRead),
		http.MethodPut:    h.configurationEndpoint(h.serveUpdate),
		http.MethodDelete: h.configurationEndpoint(h.serveDelete),
	}, h.configurationMethods()...)
	if h.serveTokens {
		post := func(f http.HandlerFunc) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{http.MethodPost: f}
		}
		endpoint(issPath+"/token", post(h.serveToken), http.MethodPost)
		endpoint(issPath+"/introspect", post(h.serveIntrospection), http.MethodPost)
		endpoint(issPath+"/revoke", post(h.serveRevocation), http.MethodPost)
		endpoint(h.regPath+"/{client_id}/"+recoveryPathSegment, post(h.serveTokenRecovery), http.MethodPost)
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrorBody(w, errNotFound)
	})
}
