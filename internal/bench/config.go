// Package bench is a load generator for OAuth 2.0 servers: the registration
// endpoint of RFC 7591 and the client configuration endpoint of RFC 7592,
// and the token, introspection and authorization endpoints. It backs the
// clientreg-bench command and works against any server that implements
// those RFCs, not only clientreg.
//
// A run discovers the endpoints from the server's metadata document, then
// measures phases in order. The registration phases (RegistrationPhases,
// the default):
//
//	register  POST registration_endpoint                   (2xx expected, 201 by RFC 7591)
//	read      GET  registration_client_uri, Bearer token   (200)
//	update    PUT  registration_client_uri, Bearer token   (200)
//	delete    DELETE registration_client_uri, Bearer token (204)
//
// and the token phases (TokenPhases), whose clients are registered with
// RFC 7591 before the first of them runs, unmeasured:
//
//	token       POST token_endpoint, grant_type=client_credentials (RFC 6749 §4.4),
//	            as one of Config.TokenClients confidential clients (200, a Bearer token)
//	introspect  POST introspection_endpoint (RFC 7662) with a token of the token
//	            phase (or obtained for it), as that token's client (200, active true)
//	code        a whole authorization code flow with PKCE S256 (RFC 7636) of a public
//	            client: the authorization endpoint, the server's sign-in and consent
//	            pages, the redirect to the client (code, state, iss), then the
//	            exchange at the token endpoint (200, a Bearer token); the phase's
//	            figures are those of the exchange, Phase.Flow those of the whole flow
//	refresh     POST token_endpoint, grant_type=refresh_token (RFC 6749 §6) of the
//	            public client, each worker's grant obtained by a code flow before
//	            the phase; a rotated refresh token replaces the one held (200)
//
// Each phase runs Config.Concurrency workers until Config.Requests requests
// were started or Config.Duration has passed, whichever comes first. The
// clients that register builds are the ones read, update and delete work
// on; each client is used by one worker at a time, so a registration access
// token that an update response rotates is never raced by its predecessor.
// Likewise each refresh token is used by one worker at a time.
//
// Every measured request is counted. A request counts as successful when
// the server answered the status the RFC names for the operation (any 2xx
// for registration, 200 for read and update, 2xx for delete, 200 at the
// token and introspection endpoints) with a usable body; anything else (a
// non-2xx status, a transport error, a body without client_id, a token
// response that is not a Bearer token, an inactive token) counts as an
// error, by status code or error kind. Throughput (Phase.RPS) and the
// latency percentiles are those of the successful requests.
package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultBody is the registration request sent unless Config.Body is set: a
// confidential web client using the authorization code grant.
const DefaultBody = `{"redirect_uris":["https://client.example.org/cb"],"client_name":"bench","grant_types":["authorization_code"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_basic"}`

// The phases, in the order a full run measures them.
const (
	PhaseRegister   = "register"
	PhaseRead       = "read"
	PhaseUpdate     = "update"
	PhaseDelete     = "delete"
	PhaseToken      = "token"
	PhaseIntrospect = "introspect"
	PhaseCode       = "code"
	PhaseRefresh    = "refresh"
)

// RegistrationPhases are the phases of RFC 7591 and RFC 7592, in run
// order: what a run measures unless Config.Phases says otherwise.
var RegistrationPhases = []string{PhaseRegister, PhaseRead, PhaseUpdate, PhaseDelete}

// TokenPhases are the phases of the token, introspection and
// authorization endpoints, in run order.
var TokenPhases = []string{PhaseToken, PhaseIntrospect, PhaseCode, PhaseRefresh}

// AllPhases lists every phase: RegistrationPhases, then TokenPhases.
var AllPhases = append(slices.Clone(RegistrationPhases), TokenPhases...)

// Defaults of Config fields left zero.
const (
	DefaultConcurrency = 16
	DefaultRequests    = 2000
	DefaultDuration    = 30 * time.Second
	DefaultTimeout     = 10 * time.Second
	// DefaultUser is the user name the code flow signs in as.
	DefaultUser = "bench"
	// DefaultRedirectURI is the loopback redirect URI of the public client
	// of the code and refresh phases. Nothing listens there: a run stops
	// at the redirect and reads the code from its Location.
	DefaultRedirectURI = "http://127.0.0.1:9/clientreg-bench/callback"
)

// Hard limits, so that no run is unbounded.
const (
	MaxConcurrency  = 1024
	MaxRequests     = 1_000_000
	MaxDuration     = 10 * time.Minute
	MaxTimeout      = time.Minute
	MaxTokenClients = 1000
)

// Config describes one load run. Base (or RegistrationEndpoint) is
// required; every other field has a default.
type Config struct {
	// Base is the server's base URL (its issuer), e.g.
	// http://127.0.0.1:8080. The registration endpoint is discovered from
	// Base + "/.well-known/oauth-authorization-server", then Base +
	// "/.well-known/openid-configuration".
	Base string
	// RegistrationEndpoint, when set, is used as is and discovery is
	// skipped.
	RegistrationEndpoint string
	// Bases, when it has more than one entry, spreads the requests
	// round-robin (by request number within a phase) over several
	// instances of one server that share a database and an issuer: every
	// URL of the server's origin (the origin of the registration endpoint,
	// found from Base) is sent to the origin of Bases[i mod len(Bases)]
	// instead. Only the scheme and host:port are replaced; paths are the
	// server's. Base, if empty, is Bases[0].
	Bases []string
	// Clients are clients registered before the run (e.g. read with
	// ReadClients from what an earlier run's Report.Clients left) that
	// read, update and delete work on besides the ones the register phase
	// adds; they come first, in the given order. Their registration access
	// tokens must be current: the report's Clients has them as the run
	// leaves them.
	Clients []Client
	// InitialAccessToken is sent as a Bearer token with every registration
	// (RFC 7591 §3); empty sends none.
	InitialAccessToken string
	// Concurrency is the number of workers; default DefaultConcurrency.
	Concurrency int
	// Requests is the maximum number of requests per phase; default
	// DefaultRequests. The delete phase deletes at most as many clients as
	// are registered.
	Requests int
	// Duration bounds each phase: no request starts after it has passed.
	// Default DefaultDuration.
	Duration time.Duration
	// Timeout bounds each request; default DefaultTimeout.
	Timeout time.Duration
	// Phases are measured in the given order; default RegistrationPhases.
	Phases []string
	// Body is the registration request, a JSON object; default DefaultBody.
	// Update requests send the same object with client_id added and
	// client_name changed (RFC 7592 §2.2).
	Body []byte
	// SendSecret adds the client's latest client_secret to update requests
	// (RFC 7592 §2.2 allows it; the server must then check it).
	SendSecret bool
	// Warmup is the number of unmeasured register, read, update and delete
	// cycles run before the first phase, bounded by Duration.
	Warmup int
	// AllowRemote lets the run target hosts other than loopback addresses.
	// By default every connection, including to a registration_client_uri
	// a server hands out, must go to 127.0.0.0/8, ::1 or localhost.
	AllowRemote bool
	// TokenEndpoint, IntrospectionEndpoint and AuthorizationEndpoint, when
	// set, are used instead of the discovered ones (and are needed with
	// RegistrationEndpoint, which skips discovery).
	TokenEndpoint         string
	IntrospectionEndpoint string
	AuthorizationEndpoint string
	// TokenClients is the number of clients the token phases register:
	// confidential clients for token and introspect (requests cycle over
	// them), and public clients for code and refresh (flows cycle over
	// them). Default 1.
	TokenClients int
	// TokenAuth is how the confidential clients authenticate at the token
	// and introspection endpoints: "client_secret_basic" or
	// "client_secret_post". Default: client_secret_basic, unless the
	// server's token_endpoint_auth_methods_supported lists only
	// client_secret_post.
	TokenAuth string
	// Introspector, when its ID is set, is the confidential client that
	// authenticates at the introspection endpoint instead of each token's
	// own client (e.g. a client of clientreg serve --introspector), with
	// TokenAuth.
	Introspector Credentials
	// Scope is the scope the public client of the code and refresh phases
	// registers and the authorization requests ask for; empty asks for
	// none. (node-oidc-provider refuses an authorization that grants no
	// scope: see tools/perf/README.md.)
	Scope string
	// Resources are the RFC 8707 resource indicators the code flow asks
	// for, at the authorization endpoint and in the exchange and refresh
	// requests; none by default.
	Resources []string
	// LoginHeader, when set, is a request header sent with every request
	// of the authorization flow, with User as its value: the sign-in of a
	// server behind a sign-in proxy (clientreg serve --login header, whose
	// --login-header is X-Forwarded-User by default).
	LoginHeader string
	// User is the user name of the code flow: the LoginHeader value, and
	// what the sign-in forms the flow meets get in their user name field.
	// Default DefaultUser.
	User string
	// Password is what the flow types into a password field; default
	// User. Servers with development sign-ins (node-oidc-provider's dev
	// interactions) take any value.
	Password string
	// RedirectURI is the public client's redirect URI; default
	// DefaultRedirectURI. It is never connected to.
	RedirectURI string
	// Label is copied into the report, to tell runs apart.
	Label string
	// OnPhase, when set, is called with each phase's result as soon as the
	// phase ends (e.g. to print progress).
	OnPhase func(Phase)
	// Client sends the requests; default NewHTTPClient(Concurrency,
	// Timeout, AllowRemote). A caller-supplied client is used as is (its
	// Timeout, redirects and loopback policy are its own).
	Client *http.Client
}

// withDefaults returns a copy of c with defaults applied, or an error
// naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Base == "" && len(c.Bases) > 0 {
		c.Base = c.Bases[0]
	}
	if c.Base == "" && c.RegistrationEndpoint == "" {
		return c, configError(errors.New("bench: a base URL or a registration endpoint is required"))
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Requests == 0 {
		c.Requests = DefaultRequests
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Phases == nil {
		c.Phases = RegistrationPhases
	}
	if c.TokenClients == 0 {
		c.TokenClients = 1
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.Password == "" {
		c.Password = c.User
	}
	if c.RedirectURI == "" {
		c.RedirectURI = DefaultRedirectURI
	}
	if c.Body == nil {
		c.Body = []byte(DefaultBody)
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return c, configError(fmt.Errorf("bench: concurrency must be in [1, %d]", MaxConcurrency))
	case c.Requests < 1 || c.Requests > MaxRequests:
		return c, configError(fmt.Errorf("bench: requests per phase must be in [1, %d]", MaxRequests))
	case c.Duration < 0 || c.Duration > MaxDuration:
		return c, configError(fmt.Errorf("bench: phase duration must be in (0, %s]", MaxDuration))
	case c.Timeout < 0 || c.Timeout > MaxTimeout:
		return c, configError(fmt.Errorf("bench: request timeout must be in (0, %s]", MaxTimeout))
	case c.Warmup < 0 || c.Warmup > MaxRequests:
		return c, configError(fmt.Errorf("bench: warmup must be in [0, %d]", MaxRequests))
	case c.TokenClients < 1 || c.TokenClients > MaxTokenClients:
		return c, configError(fmt.Errorf("bench: token clients must be in [1, %d]", MaxTokenClients))
	case c.TokenAuth != "" && c.TokenAuth != authBasic && c.TokenAuth != authPost:
		return c, configError(fmt.Errorf("bench: token auth %q: want %s or %s", c.TokenAuth, authBasic, authPost))
	case c.Introspector.ID == "" && c.Introspector.Secret != "":
		return c, configError(errors.New("bench: the introspector's client_id is missing"))
	case c.LoginHeader != "" && !validHeaderName(c.LoginHeader):
		return c, configError(fmt.Errorf("bench: %q is not a header name", c.LoginHeader))
	}
	for _, p := range c.Phases {
		if !slices.Contains(AllPhases, p) {
			return c, configError(fmt.Errorf("bench: unknown phase %q (want one of %s)", p, strings.Join(AllPhases, ", ")))
		}
	}
	for _, res := range c.Resources {
		if u, err := url.Parse(res); err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(res, "#") {
			return c, configError(fmt.Errorf("bench: resource %q: want an absolute URI without a fragment (RFC 8707 section 2)", res))
		}
	}
	if u, err := url.Parse(c.RedirectURI); err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return c, configError(fmt.Errorf("bench: redirect URI %q: want an absolute URI with a host, without query or fragment", c.RedirectURI))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.Body, &obj); err != nil || obj == nil {
		return c, configError(errors.New("bench: the registration request body must be a JSON object"))
	}
	for _, u := range append([]string{c.Base, c.RegistrationEndpoint, c.TokenEndpoint, c.IntrospectionEndpoint, c.AuthorizationEndpoint}, c.Bases...) {
		if u == "" {
			continue
		}
		if err := checkURL(u, c.AllowRemote); err != nil {
			return c, configError(err)
		}
	}
	for i, cl := range c.Clients {
		if cl.ID == "" || cl.URI == "" || cl.Token == "" {
			return c, configError(fmt.Errorf("bench: client %d: client_id, registration_client_uri and registration_access_token are required", i+1))
		}
		if err := checkURL(cl.URI, c.AllowRemote); err != nil {
			return c, configError(fmt.Errorf("bench: client %d: %w", i+1, err))
		}
	}
	if c.Client == nil {
		c.Client = NewHTTPClient(c.Concurrency, c.Timeout, c.AllowRemote)
	}
	return c, nil
}

// ConfigError is the error Run returns for an invalid Config, as opposed to
// a server that cannot be reached or measured.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

func configError(err error) error { return &ConfigError{Err: err} }

// validHeaderName reports whether s is an HTTP field name (RFC 9110 §5.1:
// a token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
