// Package resource is the resource-server side of clientreg, for Go
// servers that accept its access tokens, such as MCP servers: the RFC 9728
// protected resource metadata document that tells clients where to get a
// token, and a middleware that requires one (RFC 6750 bearer tokens, RFC
// 9728 §5.1 challenges). Tokens are checked by a Verifier: the
// *clientreg.Handler itself when the authorization server runs in the same
// process (no HTTP, one store read), or an *Introspector, which asks a
// remote authorization server's RFC 7662 introspection endpoint and caches
// the answers for a short, bounded time, or a *JWTVerifier, which checks
// JWT access tokens (RFC 9068) offline with the keys of the authorization
// server's JWKS (revocation is then not seen before the token's exp).
//
//	rs, err := resource.New(resource.Config{
//		Resource:             "https://mcp.example/mcp",
//		AuthorizationServers: []string{h.Issuer()},
//		Verifier:             h, // the *clientreg.Handler
//	})
//	for _, p := range rs.MetadataPaths() {
//		mux.Handle(p, rs.MetadataHandler())
//	}
//	mux.Handle("/mcp", rs.Middleware("tools")(mcpHandler))
//
// The behaviour is docs/behaviour.md §13.
package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/oauthsyntax"
)

// Verifier verifies an access token presented to resource (an absolute URI,
// compared with the token's audience by exact string match). It returns
// the token's information or an error matching, with errors.Is, one of
// clientreg.ErrTokenUnknown, ErrTokenExpired, ErrTokenRevoked or
// ErrWrongAudience when the token is refused; any other error is a failure
// of the verifier itself (a store or a network), not a verdict on the
// token. *clientreg.Handler, *Introspector and *JWTVerifier implement it.
type Verifier interface {
	VerifyAccessToken(ctx context.Context, token, resource string) (*clientreg.TokenInfo, error)
}

var (
	_ Verifier = (*clientreg.Handler)(nil)
	_ Verifier = (*Introspector)(nil)
)

// WellKnownPath is the path component of RFC 9728 §3's well-known URI.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// Config configures a Server. Resource, AuthorizationServers and Verifier
// are required.
type Config struct {
	// Resource is the resource identifier (RFC 9728 §2): the absolute
	// https (or, for loopback development, http) URI clients send as
	// their RFC 8707 resource parameter and that tokens carry as their
	// audience, without query or fragment; for an MCP server, its
	// canonical URI, e.g. https://mcp.example/mcp.
	Resource string
	// AuthorizationServers are the issuer identifiers of the authorization
	// servers whose tokens the resource accepts (RFC 9728 §2
	// authorization_servers); at least one.
	AuthorizationServers []string
	// ScopesSupported is published as scopes_supported (RFC 9728 §2);
	// optional.
	ScopesSupported []string
	// ResourceName is the human-readable resource_name; optional.
	ResourceName string
	// ResourceDocumentation is the URL of the resource_documentation;
	// optional.
	ResourceDocumentation string
	// Verifier checks the tokens the middleware is given. Required.
	Verifier Verifier
	// Logger receives the failures of the verifier (never the tokens);
	// default slog.Default().
	Logger *slog.Logger
}

// Metadata is an RFC 9728 §2 protected resource metadata document.
type Metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
	ResourceDocumentation  string   `json:"resource_documentation,omitempty"`
}

// Server is a protected resource: its metadata document and the middleware
// that guards it. It is safe for concurrent use.
type Server struct {
	resource    string
	metadata    []byte // the JSON document
	metadataURL string
	paths       []string
	verifier    Verifier
	log         *slog.Logger
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	u, err := url.Parse(cfg.Resource)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("resource: Config.Resource %q must be an absolute http(s) URI", cfg.Resource)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(cfg.Resource, "#?\"\\ ") {
		return nil, fmt.Errorf("resource: Config.Resource %q must not have a query or fragment (RFC 9728 section 1.2)", cfg.Resource)
	}
	if len(cfg.AuthorizationServers) == 0 {
		return nil, errors.New("resource: Config.AuthorizationServers needs at least one issuer")
	}
	for _, as := range cfg.AuthorizationServers {
		if a, err := url.Parse(as); err != nil || !a.IsAbs() || a.Host == "" {
			return nil, fmt.Errorf("resource: Config.AuthorizationServers: %q is not an absolute URI", as)
		}
	}
	for _, s := range cfg.ScopesSupported {
		if !oauthsyntax.ScopeToken(s) {
			return nil, fmt.Errorf("resource: Config.ScopesSupported: %q is not a scope token", s)
		}
	}
	if cfg.Verifier == nil {
		return nil, errors.New("resource: Config.Verifier is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	doc, err := json.Marshal(Metadata{
		Resource:               cfg.Resource,
		AuthorizationServers:   cfg.AuthorizationServers,
		ScopesSupported:        cfg.ScopesSupported,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           cfg.ResourceName,
		ResourceDocumentation:  cfg.ResourceDocumentation,
	})
	if err != nil {
		return nil, err
	}
	// RFC 9728 §3.1: the well-known path is inserted between the host and
	// the path of the resource identifier (any trailing slash removed).
	suffix := strings.TrimSuffix(u.EscapedPath(), "/")
	s := &Server{
		resource:    cfg.Resource,
		metadata:    doc,
		metadataURL: u.Scheme + "://" + u.Host + WellKnownPath + suffix,
		verifier:    cfg.Verifier,
		log:         cfg.Logger,
	}
	if suffix != "" {
		s.paths = append(s.paths, WellKnownPath+suffix)
	}
	s.paths = append(s.paths, WellKnownPath)
	return s, nil
}

// Resource returns the resource identifier.
func (s *Server) Resource() string { return s.resource }

// MetadataURL returns the URL of the metadata document that the
// middleware's challenges name (resource_metadata): the well-known URI of
// RFC 9728 §3.1 on the resource's origin, path-suffixed when the resource
// has a path (https://mcp.example/mcp has
// https://mcp.example/.well-known/oauth-protected-resource/mcp).
func (s *Server) MetadataURL() string { return s.metadataURL }

// MetadataPaths returns the paths that MetadataHandler serves: the
// path-suffixed well-known path of RFC 9728 §3.1 first (when the resource
// has a path), then the bare /.well-known/oauth-protected-resource, which
// clients try next. A host with several resources mounts only the
// path-suffixed ones.
func (s *Server) MetadataPaths() []string { return append([]string(nil), s.paths...) }

// MetadataHandler returns the handler of the metadata document: GET and
// HEAD at the MetadataPaths answer the JSON document, with CORS headers
// allowing any origin (the document is public, and browser-based clients
// read it); OPTIONS answers a preflight; other methods get 405, other
// paths 404.
func (s *Server) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		known := false
		for _, p := range s.paths {
			known = known || r.URL.Path == p
		}
		if !known {
			writeError(w, http.StatusNotFound, "", "not_found", "no such resource metadata")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet, http.MethodHead:
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "max-age=300")
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				w.Write(s.metadata)
			}
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, "", "invalid_request", "method not allowed")
		}
	})
}

type tokenKey struct{}

// TokenFromContext returns the verified token that Middleware put in the
// request's context, or nil.
func TokenFromContext(ctx context.Context) *clientreg.TokenInfo {
	t, _ := ctx.Value(tokenKey{}).(*clientreg.TokenInfo)
	return t
}

// ContextWithToken returns ctx carrying t, as Middleware passes it on (for
// tests of handlers behind the middleware).
func ContextWithToken(ctx context.Context, t *clientreg.TokenInfo) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// Middleware returns a middleware that requires a bearer token in the
// Authorization header (RFC 6750 §2.1) that the Verifier accepts for the
// resource and that was granted every scope in scopes, and passes the
// token's information on in the request's context (TokenFromContext).
// Otherwise it answers, with a WWW-Authenticate challenge naming the
// metadata document (RFC 9728 §5.1) and the scopes needed:
//
//   - 401 without error code when no bearer token was sent (RFC 6750
//     §3.1);
//   - 400 invalid_request when the header is malformed;
//   - 401 invalid_token when the token is unknown, expired, revoked or
//     not for this resource;
//   - 403 insufficient_scope when it lacks a scope;
//   - 503 when the Verifier fails (a store or a network), without a
//     challenge: the token may be good.
func (s *Server) Middleware(scopes ...string) func(http.Handler) http.Handler {
	for _, sc := range scopes {
		if !oauthsyntax.ScopeToken(sc) {
			panic(fmt.Sprintf("resource: Middleware: %q is not a scope token", sc))
		}
	}
	scope := strings.Join(scopes, " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok, bad := bearerToken(r)
			switch {
			case bad:
				s.refuse(w, http.StatusBadRequest, "invalid_request", "the Authorization header is not one bearer token (RFC 6750 section 2.1)", scope)
				return
			case !ok:
				s.refuse(w, http.StatusUnauthorized, "", "", scope)
				return
			}
			info, err := s.verifier.VerifyAccessToken(r.Context(), token, s.resource)
			if err != nil {
				if desc := refusal(err); desc != "" {
					s.refuse(w, http.StatusUnauthorized, "invalid_token", desc, scope)
					return
				}
				s.log.ErrorContext(r.Context(), "resource: verifying an access token failed", "resource", s.resource, "err", err)
				writeError(w, http.StatusServiceUnavailable, "", "temporarily_unavailable", "the token could not be verified; retry later")
				return
			}
			if !info.HasScopes(scopes...) {
				s.refuse(w, http.StatusForbidden, "insufficient_scope", "the access token lacks a scope this request needs", scope)
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithToken(r.Context(), info)))
		})
	}
}

// refusal returns the error_description for a refused token, or "" when
// err is a failure of the verifier.
func refusal(err error) string {
	switch {
	case errors.Is(err, clientreg.ErrTokenExpired):
		return "the access token expired"
	case errors.Is(err, clientreg.ErrWrongAudience):
		return "the access token was not issued for this resource"
	case errors.Is(err, clientreg.ErrTokenRevoked):
		return "the access token was revoked"
	case errors.Is(err, clientreg.ErrTokenUnknown):
		return "the access token is not valid"
	}
	return ""
}

// refuse answers with a Bearer challenge (RFC 6750 §3, RFC 9728 §5.1).
func (s *Server) refuse(w http.ResponseWriter, status int, code, desc, scope string) {
	var params []string
	if code != "" {
		params = append(params, `error="`+code+`"`, `error_description="`+desc+`"`)
	}
	if scope != "" {
		params = append(params, `scope="`+scope+`"`)
	}
	params = append(params, `resource_metadata="`+s.metadataURL+`"`)
	writeError(w, status, "Bearer "+strings.Join(params, ", "), code, desc)
}

// writeError is the one place the package answers an error: a challenge
// when there is one, and a JSON body with the error code when there is one
// (none for a request that sent no credentials, RFC 6750 §3.1).
func writeError(w http.ResponseWriter, status int, challenge, code, desc string) {
	h := w.Header()
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	h.Set("Cache-Control", "no-store")
	if code == "" {
		h.Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	body, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// bearerToken returns the token of the request's Authorization header.
// ok is false when the request has no bearer credentials (no header, or
// another scheme); bad is true when the header is malformed: several
// Authorization headers, or a Bearer value that is not one b64token
// (RFC 6750 §2.1).
func bearerToken(r *http.Request) (token string, ok, bad bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", false, false
	}
	if len(vals) > 1 {
		return "", false, true
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, false
	}
	rest = strings.TrimLeft(rest, " ")
	if !validB64Token(rest) {
		return "", false, true
	}
	return rest, true, false
}

// validB64Token reports whether s is a b64token: 1*( ALPHA / DIGIT / "-" /
// "." / "_" / "~" / "+" / "/" ) *"=".
func validB64Token(s string) bool {
	end := len(strings.TrimRight(s, "="))
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}
