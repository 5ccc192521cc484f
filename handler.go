package clientreg

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/internal/fetch"
	"github.com/clientreg/clientreg/store"
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
	// cfg is the Config as New validated it, defaults applied: the one
	// source of every setting.
	cfg Config

	// Derived from cfg once, at New.
	issuer          string // without a trailing slash
	regEndpoint     string
	regPath         string
	wellKnown       string
	tokenEndpoint   string // absolute URLs, set when cfg.ServeTokenEndpoints
	introspectionEP string
	revocationEP    string
	authzEndpoint   string // absolute URL, set when cfg.Authorizer is set
	authzPath       string
	// authz is the Store, as the keeper of what the authorization
	// endpoint and the code and refresh grants keep (nil in Validate).
	// codeGrant reports that the token endpoint
	// serves authorization_code (and refresh_token, unless refresh tokens
	// are Off).
	authz          store.AuthorizationStore
	codeGrant      bool
	cookieName     string
	cookiePath     string
	cookieSecure   bool
	cors           corsPolicy
	keys           keyring
	static         *ServerMetadata // completed metadata when cfg.Metadata is a *ServerMetadata
	extensions     map[string]Extension
	policies       policies
	issuerPolicies map[string]string // trusted issuer -> policy name
	limits         *limiter
	fetcher        *fetch.Client
	keyCache       *keyCache
	documents      *documentCache // nil when client ID metadata documents are off
	docFetcher     *fetch.Client
	signing        signingKeys // the keys of JWT access tokens
	jwksURI        string      // set when cfg.AccessTokenFormat is TokenFormatJWT
	mux            *http.ServeMux
	metrics        *metrics  // nil without Config.Metrics
	audit          AuditSink // nil without Config.Audit

	// Shorthands for cfg fields that nearly every request reads.
	store store.Store
	now   func() time.Time
	log   *slog.Logger
}

// New validates cfg and returns a Handler. It returns an error naming the
// first missing or invalid part of the configuration; Config.Validate
// checks the same without building a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("clientreg: Config.Store is required")
	}
	if len(cfg.SecretKey) < MinSecretKeyLen {
		return nil, fmt.Errorf("clientreg: Config.SecretKey must be at least %d bytes", MinSecretKeyLen)
	}
	h, err := cfg.withDefaults().build()
	if err != nil {
		return nil, err
	}
	// Registered here, not in build, which Validate runs too.
	if h.metrics != nil {
		if err := h.metrics.register(cfg.Metrics); err != nil {
			return nil, fmt.Errorf("clientreg: Config.Metrics: %w", err)
		}
	}
	return h, nil
}

// build checks c, whose defaults are applied, and derives the Handler from
// it. It does no I/O, so Validate can run it and discard the result.
func (c Config) build() (*Handler, error) {
	if err := c.checkValues(); err != nil {
		return nil, err
	}
	iss, err := parseHTTPURL(c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("clientreg: Config.Issuer: %w", err)
	}
	if iss.RawQuery != "" || iss.Fragment != "" {
		return nil, errors.New("clientreg: Config.Issuer must not have a query or fragment")
	}
	reg, err := parseHTTPURL(c.RegistrationEndpoint)
	if err != nil {
		return nil, fmt.Errorf("clientreg: Config.RegistrationEndpoint: %w", err)
	}
	if reg.RawQuery != "" || reg.Fragment != "" || reg.Path == "" || reg.Path == "/" {
		return nil, errors.New("clientreg: Config.RegistrationEndpoint needs a path and no query or fragment")
	}
	h := &Handler{
		cfg:         c,
		issuer:      strings.TrimSuffix(c.Issuer, "/"),
		regEndpoint: strings.TrimSuffix(c.RegistrationEndpoint, "/"),
		regPath:     strings.TrimSuffix(reg.EscapedPath(), "/"),
		wellKnown:   wellKnownPath(iss),
		keys:        newKeyring(c.SecretKey),
		store:       c.Store,
		now:         c.Now,
		log:         c.Logger,
		audit:       c.Audit,
	}
	h.signing.h = h
	if c.Metrics != nil {
		h.metrics = newMetrics()
		if c.Store != nil {
			h.store = newTimedStore(c.Store, h.metrics.storeTime)
		}
	}
	if c.AccessTokenFormat == TokenFormatJWT {
		h.jwksURI = h.issuer + JWKSPath
	}
	if c.ServeTokenEndpoints {
		h.tokenEndpoint = h.issuer + "/token"
		h.introspectionEP = h.issuer + "/introspect"
		h.revocationEP = h.issuer + "/revoke"
	}
	if err := h.buildAuthorization(iss); err != nil {
		return nil, err
	}
	if h.cors, err = newCORSPolicy(c.CORS); err != nil {
		return nil, err
	}
	h.fetcher = fetch.New(fetch.Options{
		AllowHTTP:     c.Fetch.AllowHTTP,
		AllowPrivate:  c.Fetch.AllowPrivateNetworks,
		AllowLoopback: c.Fetch.AllowLoopback,
		Transport:     c.Fetch.Transport,
		Timeout:       c.Fetch.Timeout,
	})
	h.keyCache = newKeyCache()
	if err := h.buildDocuments(); err != nil {
		return nil, err
	}
	// The defaults that are the Store itself, through the handler.
	def := storeAuth{h: h}
	if h.cfg.InitialTokens == nil {
		h.cfg.InitialTokens = def
	}
	if h.cfg.Authenticator == nil {
		h.cfg.Authenticator = def
	}
	if h.cfg.Finder == nil {
		h.cfg.Finder = def
	}
	if h.cfg.Revoker == nil {
		h.cfg.Revoker = def
	}
	h.limits = newLimiter(c.Limits)
	h.limits.metrics = h.metrics
	switch {
	case len(c.TrustedIssuers) > 0 && c.SoftwareStatements != nil:
		return nil, errors.New("clientreg: set Config.TrustedIssuers or Config.SoftwareStatements, not both")
	case len(c.TrustedIssuers) > 0:
		tr, err := newTrustRegistry(h, c.TrustedIssuers, c.StatementSkew)
		if err != nil {
			return nil, fmt.Errorf("clientreg: Config.TrustedIssuers: %w", err)
		}
		h.cfg.SoftwareStatements = tr
	case c.SoftwareStatements == nil:
		h.cfg.SoftwareStatements = NoTrustedIssuers{}
	}
	h.extensions = make(map[string]Extension, len(c.Extensions))
	for _, e := range c.Extensions {
		if e.Name == "" || membersByName[e.Name] != nil || responseMembers[e.Name] || strings.Contains(e.Name, "#") {
			return nil, fmt.Errorf("clientreg: extension member %q clashes with a standard member or is empty", e.Name)
		}
		h.extensions[e.Name] = e
	}
	if sm, ok := c.Metadata.(*ServerMetadata); ok {
		if sm == nil {
			return nil, errors.New("clientreg: Config.Metadata is a nil *ServerMetadata")
		}
		if h.jwksURI != "" && sm.JWKSURI != "" && sm.JWKSURI != h.jwksURI {
			return nil, errors.New("clientreg: Config.Metadata: JWKSURI is set by the handler when Config.AccessTokenFormat is TokenFormatJWT (it publishes the keys of its tokens)")
		}
		h.static = sm.completed(h)
		if err := checkServerMetadata(h.static, c.DefaultScopes); err != nil {
			return nil, fmt.Errorf("clientreg: Config.Metadata: %w", err)
		}
		if err := h.checkServed(h.static); err != nil {
			return nil, fmt.Errorf("clientreg: Config.Metadata: %w", err)
		}
	}
	policyList := c.Policies
	if c.AnonymousPublicClientsOnly {
		if c.DefaultPolicy != "" {
			return nil, errors.New("clientreg: set Config.AnonymousPublicClientsOnly or Config.DefaultPolicy, not both (a default policy allowing only the auth method none does the same)")
		}
		for _, p := range c.Policies {
			if p.Name == AnonymousPublicPolicy {
				return nil, fmt.Errorf("clientreg: Config.Policies: the name %q is reserved for Config.AnonymousPublicClientsOnly", AnonymousPublicPolicy)
			}
		}
		policyList = append(slices.Clone(c.Policies), Policy{Name: AnonymousPublicPolicy, AllowedAuthMethods: []string{"none"}})
	}
	if h.policies, err = newPolicies(policyList, h.static); err != nil {
		return nil, fmt.Errorf("clientreg: Config.Policies: %w", err)
	}
	if c.DefaultPolicy != "" && h.policies[c.DefaultPolicy] == nil {
		return nil, fmt.Errorf("clientreg: Config.DefaultPolicy %q is not one of Config.Policies", c.DefaultPolicy)
	}
	h.issuerPolicies = make(map[string]string, len(c.TrustedIssuers))
	for _, ti := range c.TrustedIssuers {
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

// buildAuthorization derives the authorization endpoint, the store it
// needs and the browser binding cookie from h.cfg.
func (h *Handler) buildAuthorization(iss *url.URL) error {
	c := h.cfg
	h.authz = h.store // nil in Validate; timed with metrics
	// The token endpoint serves the code grant when codes can be issued:
	// by the handler's authorization endpoint, or by one the operator
	// states, which issues them with IssueCode (a MetadataProvider may
	// state one per request).
	external := true
	if m, ok := c.Metadata.(*ServerMetadata); ok && m != nil {
		external = m.AuthorizationEndpoint != ""
	}
	h.codeGrant = c.ServeTokenEndpoints && (c.Authorizer != nil || external)
	if c.Authorizer == nil {
		return nil
	}
	if !c.ServeTokenEndpoints {
		return errors.New("clientreg: Config.Authorizer needs Config.ServeTokenEndpoints: the codes it issues are redeemed at the token endpoint")
	}
	u, err := parseHTTPURL(c.AuthorizationEndpoint)
	if err != nil {
		return fmt.Errorf("clientreg: Config.AuthorizationEndpoint: %w", err)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Path == "" || u.Path == "/" {
		return errors.New("clientreg: Config.AuthorizationEndpoint needs a path and no query or fragment")
	}
	if !strings.EqualFold(u.Host, iss.Host) || u.Scheme != iss.Scheme {
		return errors.New("clientreg: Config.AuthorizationEndpoint must be on the issuer's origin (the handler serves it)")
	}
	if m, ok := c.Metadata.(*ServerMetadata); ok && m != nil && m.AuthorizationEndpoint != "" {
		return errors.New("clientreg: set Config.AuthorizationEndpoint, not ServerMetadata.AuthorizationEndpoint, when the handler serves the endpoint (Config.Authorizer)")
	}
	h.authzEndpoint = strings.TrimSuffix(c.AuthorizationEndpoint, "/")
	h.authzPath = strings.TrimSuffix(u.EscapedPath(), "/")
	// RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, has Path=/ and no
	// Domain, so no other host or path can set or shadow it.
	h.cookiePath = "/"
	if iss.Scheme == "https" {
		h.cookieName, h.cookieSecure = "__Host-clientreg-browser", true
	} else {
		h.cookieName = "clientreg-browser"
	}
	return nil
}

// ServeHTTP routes the request to the registration, configuration or
// metadata endpoint. Every request, here and at the endpoints mounted
// alone (RegistrationHandler and the others), gets a request ID, answered
// in X-Request-Id and recorded in the audit events of what it changes
// (see RequestIDHandler).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, h.withRequestID(w, r))
}

// RegistrationHandler returns the RFC 7591 registration endpoint alone (POST;
// other methods get 405).
func (h *Handler) RegistrationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = h.withRequestID(w, r)
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
func (h *Handler) ConfigurationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serveConfiguration(w, h.withRequestID(w, r))
	})
}

// RegistrationEndpoint returns the absolute URL of the registration endpoint.
func (h *Handler) RegistrationEndpoint() string { return h.regEndpoint }

// routes builds the route table. Each endpoint is one pattern per method it
// serves, then a pattern without a method that answers every other method
// with one JSON 405 (RFC 9110 §15.5.6: with an Allow header), and a last
// route answers paths the handler does not serve with a JSON 404.
func (h *Handler) routes(issPath string) {
	h.mux = http.NewServeMux()
	endpoint := func(name, path string, methods map[string]http.HandlerFunc, allow ...string) {
		for _, m := range allow {
			h.mux.Handle(m+" "+path, h.metrics.instrument(name, methods[m]))
		}
		h.mux.Handle(path, h.metrics.instrument(name, methodNotAllowed(allow...)))
	}
	// The endpoints browsers call cross-origin (docs/behaviour.md §12):
	// each method's answer carries the CORS headers, and OPTIONS answers
	// the preflight.
	cors := func(name, path string, methods map[string]http.HandlerFunc, allow ...string) {
		if h.cors.disabled {
			endpoint(name, path, methods, allow...)
			return
		}
		wrapped := make(map[string]http.HandlerFunc, len(methods))
		for m, f := range methods {
			wrapped[m] = h.cors.wrap(f)
		}
		// The 405 answer's Allow names the methods of the endpoint's
		// function; OPTIONS, always there, is named in its own answer.
		h.mux.Handle(http.MethodOptions+" "+path, h.metrics.instrument(name, h.cors.preflight(allow)))
		endpoint(name, path, wrapped, allow...)
	}
	// RFC 8414 §3: the metadata document is retrieved with GET (and HEAD).
	cors(endpointMetadata, h.wellKnown, map[string]http.HandlerFunc{http.MethodGet: h.serveMetadata, http.MethodHead: h.serveMetadata}, http.MethodGet, http.MethodHead)
	// RFC 7591 §3: "To register, the client or developer sends an HTTP POST
	// to the client registration endpoint".
	cors(endpointRegistration, h.regPath, map[string]http.HandlerFunc{http.MethodPost: h.serveRegistration}, http.MethodPost)
	// RFC 7592 §2: read with GET, update with PUT, delete with DELETE.
	cors(endpointConfiguration, h.regPath+"/{client_id}", map[string]http.HandlerFunc{
		http.MethodGet:    h.configurationEndpoint(h.serveRead),
		http.MethodPut:    h.configurationEndpoint(h.serveUpdate),
		http.MethodDelete: h.configurationEndpoint(h.serveDelete),
	}, h.configurationMethods()...)
	if h.cfg.ServeTokenEndpoints {
		post := func(f http.HandlerFunc) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{http.MethodPost: f}
		}
		cors(endpointToken, issPath+"/token", post(h.serveToken), http.MethodPost)
		// RFC 7662 §4: introspection is for resource servers, never a
		// browser; no CORS.
		endpoint(endpointIntrospection, issPath+"/introspect", post(h.serveIntrospection), http.MethodPost)
		cors(endpointRevocation, issPath+"/revoke", post(h.serveRevocation), http.MethodPost)
		endpoint(endpointRecovery, h.regPath+"/{client_id}/"+recoveryPathSegment, post(h.serveTokenRecovery), http.MethodPost)
	}
	if h.jwksURI != "" {
		// Public, for any origin (serveJWKS sets the header itself).
		endpoint(endpointJWKS, issPath+JWKSPath, map[string]http.HandlerFunc{http.MethodGet: h.serveJWKS, http.MethodHead: h.serveJWKS}, http.MethodGet, http.MethodHead)
	}
	if h.cfg.Authorizer != nil {
		// A navigation, not a CORS request (docs/behaviour.md §12).
		endpoint(endpointAuthorization, h.authzPath, map[string]http.HandlerFunc{http.MethodGet: h.serveAuthorize, http.MethodPost: h.serveAuthorize}, http.MethodGet, http.MethodPost)
	}
	h.mux.Handle("/", h.metrics.instrument(endpointOther, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeErrorBody(w, errNotFound)
	})))
}
