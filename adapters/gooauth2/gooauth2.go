// Package gooauth2clients serves the clients that clientreg registers to
// an authorization server built with github.com/go-oauth2/oauth2/v4:
// ClientStore is the oauth2.ClientStore of its manager, reading each
// client from a *clientreg.Handler (so from its Store, the metadata
// decoded), and its ClientInfo verifies secrets against the keyed hashes
// clientreg keeps (oauth2.ClientPasswordVerifier), since clientreg does
// not keep the plaintext that go-oauth2 would otherwise compare.
//
//	h, _ := clientreg.New(clientreg.Config{Issuer: issuer, Store: st, SecretKey: key})
//	clients := gooauth2clients.NewClientStore(h)
//	manager := manage.NewDefaultManager()
//	manager.MapClientStorage(clients)
//	manager.MustTokenStorage(store.NewMemoryTokenStore())
//	srv := server.NewServer(server.NewConfig(), manager)
//	srv.ClientInfoHandler = clients.ClientInfoHandler   // the registered method and grant types
//	srv.ClientScopeHandler = clients.ClientScopeHandler // the registered scope
//	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) { srv.HandleTokenRequest(w, r) })
//
// With both handlers installed, go-oauth2's token endpoint authenticates a
// client as clientreg's own does: with the method it registered
// (client_secret_basic, client_secret_post, or none for a public client),
// its current secret unless expired or the previous one during the overlap
// after a rotation (clientreg.Handler.TokenSecretHashes), never a disabled
// or deleted client; it serves only the grant types the client registered,
// and the scope it registered. Client assertions (client_secret_jwt,
// private_key_jwt) are refused: go-oauth2 has no support for them.
//
// The package is the module github.com/clientreg/clientreg/adapters/gooauth2,
// so that the core module does not depend on go-oauth2.
package gooauth2clients

import (
	"context"
	"crypto/hmac"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/go-oauth2/oauth2/v4"
	oauth2errors "github.com/go-oauth2/oauth2/v4/errors"
)

// ClientStore is a go-oauth2 oauth2.ClientStore over the clients of a
// clientreg Handler, with the server hooks that make go-oauth2 enforce
// each client's registration. It is safe for concurrent use.
type ClientStore struct {
	h *clientreg.Handler
}

var _ oauth2.ClientStore = (*ClientStore)(nil)

// NewClientStore returns the ClientStore of the clients of h.
func NewClientStore(h *clientreg.Handler) *ClientStore {
	return &ClientStore{h: h}
}

// lookup returns the enabled client id: an unknown, deleted or disabled
// client is oauth2errors.ErrInvalidClient (go-oauth2 answers 401
// invalid_client only to its own error values, so it is not wrapped);
// another failure (the store) is returned as is, answered 500.
func (s *ClientStore) lookup(ctx context.Context, id string) (*clientreg.Client, error) {
	c, err := s.h.LookupClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth2errors.ErrInvalidClient
	}
	if err != nil {
		return nil, err
	}
	if !c.DisabledAt.IsZero() {
		return nil, oauth2errors.ErrInvalidClient
	}
	return c, nil
}

// GetByID returns the client id as h reads it now (clientreg's
// LookupClient), as a *ClientInfo. An unknown, deleted or disabled client
// is oauth2errors.ErrInvalidClient.
func (s *ClientStore) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	c, err := s.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	return &ClientInfo{h: s.h, c: c}, nil
}

// ClientInfoHandler is the server.ClientInfoHandler
// (server.Server.ClientInfoHandler) of clientreg's clients: it reads the
// client's credentials from the request as RFC 6749 §2.3.1 says (HTTP
// Basic, its parts form-decoded, or client_id and client_secret in the
// body, never the query; a public client sends its client_id alone) and
// authenticates the client before go-oauth2 does anything else:
//
//   - the request uses exactly one method (else invalid_request), the one
//     the client registered as its token_endpoint_auth_method, and its
//     secret is one that clientreg's token endpoint accepts now; otherwise,
//     and for an unknown, deleted or disabled client, invalid_client;
//   - the grant_type is one of the client's registered grant_types, else
//     unauthorized_client.
//
// The second check of the secret, by VerifyPassword, does not cover the
// refresh_token grant in go-oauth2; this one does.
func (s *ClientStore) ClientInfoHandler(r *http.Request) (clientID, clientSecret string, err error) {
	if err := r.ParseForm(); err != nil {
		return "", "", oauth2errors.ErrInvalidRequest
	}
	form := r.PostForm
	basicID, basicSecret, basic := r.BasicAuth()
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	assertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	used := 0
	for _, b := range []bool{basic, formSecret != "", assertion} {
		if b {
			used++
		}
	}
	if used > 1 {
		return "", "", oauth2errors.ErrInvalidRequest
	}
	var id, secret, method string
	switch {
	case basic:
		// RFC 6749 §2.3.1: both are application/x-www-form-urlencoded.
		var err1, err2 error
		id, err1 = url.QueryUnescape(basicID)
		secret, err2 = url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil || (formID != "" && formID != id) {
			return "", "", oauth2errors.ErrInvalidClient
		}
		method = "client_secret_basic"
	case formSecret != "":
		id, secret, method = formID, formSecret, "client_secret_post"
	case assertion:
		return "", "", oauth2errors.ErrInvalidClient
	default:
		id, method = formID, "none"
	}
	if id == "" {
		return "", "", oauth2errors.ErrInvalidClient
	}
	c, err := s.lookup(r.Context(), id)
	if err != nil {
		return "", "", err
	}
	if c.Metadata.TokenEndpointAuthMethod != method || (method != "none" && !secretMatches(s.h, c, secret)) {
		return "", "", oauth2errors.ErrInvalidClient
	}
	// go-oauth2 reads grant_type with FormValue: check the same value.
	if !slices.Contains(c.Metadata.GrantTypes, r.FormValue("grant_type")) {
		return "", "", oauth2errors.ErrUnauthorizedClient
	}
	return id, secret, nil
}

// ClientScopeHandler is the server.ClientScopeHandler
// (server.Server.ClientScopeHandler) of clientreg's clients: a requested
// scope must be space-separated scope tokens the client registered, else
// the request is refused (invalid_scope). As at clientreg's token
// endpoint, a request that names no scope gets the client's registered
// scope: the handler sets tgr.Scope to it. go-oauth2 calls it for the
// client_credentials grant (and at its authorization endpoint).
func (s *ClientStore) ClientScopeHandler(tgr *oauth2.TokenGenerateRequest) (allowed bool, err error) {
	ctx := context.Background()
	if tgr.Request != nil {
		ctx = tgr.Request.Context()
	}
	c, err := s.lookup(ctx, tgr.ClientID)
	if err != nil {
		return false, err
	}
	if tgr.Scope == "" {
		tgr.Scope = c.Metadata.Scope
		return true, nil
	}
	registered := strings.Fields(c.Metadata.Scope)
	for _, sc := range strings.Split(tgr.Scope, " ") {
		if !slices.Contains(registered, sc) {
			return false, nil
		}
	}
	return true, nil
}

// ClientInfo is a clientreg client as go-oauth2 sees it. It implements
// oauth2.ClientPasswordVerifier, which go-oauth2's manager calls instead
// of comparing GetSecret.
type ClientInfo struct {
	h *clientreg.Handler
	c *clientreg.Client
}

var (
	_ oauth2.ClientInfo             = (*ClientInfo)(nil)
	_ oauth2.ClientPasswordVerifier = (*ClientInfo)(nil)
)

// Registration returns the clientreg client, as read by GetByID. The
// caller must not change it.
func (ci *ClientInfo) Registration() *clientreg.Client { return ci.c }

// GetID returns the client_id.
func (ci *ClientInfo) GetID() string { return ci.c.ID }

// GetSecret returns "": clientreg keeps only a keyed hash of the secret,
// which VerifyPassword checks.
func (ci *ClientInfo) GetSecret() string { return "" }

// GetDomain returns the client's first registered redirect URI, "" when
// it registered none. go-oauth2 checks redirect URIs against it by host
// only (manage.DefaultValidateURI), which is weaker than the exact match
// of the registered redirect_uris that OAuth requires; see clientreg's
// README before serving go-oauth2's authorization endpoint.
func (ci *ClientInfo) GetDomain() string {
	if len(ci.c.Metadata.RedirectURIs) == 0 {
		return ""
	}
	return ci.c.Metadata.RedirectURIs[0]
}

// IsPublic reports whether the client registered token_endpoint_auth_method
// none.
func (ci *ClientInfo) IsPublic() bool { return ci.c.Metadata.TokenEndpointAuthMethod == "none" }

// GetUserID returns "": a registered client belongs to no user.
func (ci *ClientInfo) GetUserID() string { return "" }

// VerifyPassword reports whether secret authenticates the client now, as
// clientreg's token endpoint decides for client_secret_basic and
// client_secret_post (clientreg.Handler.TokenSecretHashes: the current
// secret unless expired, the previous one during the overlap, compared in
// constant time; never for a disabled client). A public client has no
// secret: only "" verifies. A client of another method never verifies.
func (ci *ClientInfo) VerifyPassword(secret string) bool {
	if !ci.c.DisabledAt.IsZero() {
		return false
	}
	if ci.IsPublic() {
		return secret == ""
	}
	return secretMatches(ci.h, ci.c, secret)
}

// secretMatches reports whether secret's keyed hash is one of those that
// authenticate c now, comparing every one.
func secretMatches(h *clientreg.Handler, c *clientreg.Client, secret string) bool {
	want := h.ClientSecretHash(secret)
	ok := false
	for _, hash := range h.TokenSecretHashes(c) {
		if hmac.Equal(hash, want) {
			ok = true
		}
	}
	return ok
}
