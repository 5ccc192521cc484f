// Package fositeclients serves the clients that clientreg registers to an
// authorization server built with github.com/ory/fosite: Manager is the
// fosite.ClientManager of the provider's storage, reading each client from
// a *clientreg.Handler (so from its Store, the metadata decoded), and
// Hasher is the fosite.Hasher that compares client secrets with the keyed
// hashes clientreg keeps (fosite's default, bcrypt, cannot).
//
//	h, _ := clientreg.New(clientreg.Config{Issuer: issuer, Store: st, SecretKey: key})
//	clients := fositeclients.NewManager(h, st)
//	config := &fosite.Config{
//		ClientSecretsHasher:         fositeclients.NewHasher(h),
//		ScopeStrategy:               fosite.ExactScopeStrategy, // clientreg's scopes are exact
//		EnforcePKCEForPublicClients: true,
//		TokenURL:                    issuer + "/oauth2/token",
//		GlobalSecret:                globalSecret, // 32 bytes
//	}
//	provider := compose.Compose(config, storage{memory, clients}, compose.NewOAuth2HMACStrategy(config),
//		compose.OAuth2AuthorizeExplicitFactory, compose.OAuth2PKCEFactory, compose.OAuth2RefreshTokenGrantFactory)
//
// where storage keeps fosite's sessions (storage.MemoryStore or a
// database) and forwards GetClient, ClientAssertionJWTValid and
// SetClientAssertionJWT to the Manager.
//
// fosite then enforces each client's registration: its
// token_endpoint_auth_method (client_secret_basic, client_secret_post,
// none, or private_key_jwt, whose assertion fosite verifies), its secret
// as clientreg's token endpoint accepts it (the current one unless
// expired, the previous one during the overlap after a rotation; see
// clientreg.Handler.TokenSecretHashes), its redirect_uris, grant_types,
// response_types and scope. A deleted or disabled client is unknown to
// fosite. client_secret_jwt clients cannot authenticate (fosite does not
// support the method).
//
// The package is the module github.com/clientreg/clientreg/adapters/fosite,
// so that the core module does not depend on fosite.
package fositeclients

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
)

// AssertionNamespace is the client ID under which Manager records the jti
// of client assertions (store.AccessTokenStore.UseAssertionID): fosite
// hands the ClientManager the jti alone, not the client it belongs to, so
// a jti is single use across all of fosite's clients. It is no client ID
// clientreg issues.
const AssertionNamespace = "fosite client assertions"

// Manager is a fosite.ClientManager over the clients of a clientreg
// Handler. It is safe for concurrent use.
type Manager struct {
	h    *clientreg.Handler
	jtis store.AccessTokenStore
}

// NewManager returns the fosite.ClientManager of the clients of h. st is
// the Store of h's Config: it records the jti of every client assertion
// (private_key_jwt), so that an assertion is used once across every
// instance sharing the store.
func NewManager(h *clientreg.Handler, st store.AccessTokenStore) *Manager {
	return &Manager{h: h, jtis: st}
}

var _ fosite.ClientManager = (*Manager)(nil)

// GetClient returns the client id as h reads it now (clientreg's
// LookupClient: a registered client, or a Client ID Metadata Document
// when those are on). An unknown, deleted or disabled client is an error
// wrapping fosite.ErrNotFound, which fosite answers invalid_client;
// another failure (the store) is returned wrapped.
func (m *Manager) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := m.h.LookupClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("client %q: %w", id, fosite.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if !c.DisabledAt.IsZero() {
		return nil, fmt.Errorf("client %q is disabled: %w", id, fosite.ErrNotFound)
	}
	return newClient(m.h, c), nil
}

// ClientAssertionJWTValid returns nil: the store has no lookup without
// use, so the check that a jti is new is SetClientAssertionJWT's, which
// fosite calls before it accepts the assertion.
func (m *Manager) ClientAssertionJWTValid(context.Context, string) error {
	return nil
}

// SetClientAssertionJWT records the jti of a client assertion valid until
// exp (store.AccessTokenStore.UseAssertionID, under AssertionNamespace),
// and returns fosite.ErrJTIKnown when it was used before and has not
// expired: of several simultaneous uses, on every instance, one succeeds.
func (m *Manager) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	err := m.jtis.UseAssertionID(ctx, AssertionNamespace, jti, exp, time.Now())
	if errors.Is(err, store.ErrAlreadyExists) {
		return fosite.ErrJTIKnown.WithHint("Claim 'jti' from 'client_assertion' MUST only be used once.")
	}
	if err != nil {
		return fmt.Errorf("record client assertion jti: %w", err)
	}
	return nil
}

// Client is a clientreg client as fosite sees it: a fosite.Client with
// secret rotation (fosite.ClientWithSecretRotation) and the members of
// fosite.OpenIDConnectClient that fosite's client authentication reads.
type Client struct {
	c      *clientreg.Client
	hashes [][]byte
	jwks   *jose.JSONWebKeySet
}

var (
	_ fosite.ClientWithSecretRotation = (*Client)(nil)
	_ fosite.OpenIDConnectClient      = (*Client)(nil)
)

func newClient(h *clientreg.Handler, c *clientreg.Client) *Client {
	fc := &Client{c: c, hashes: h.TokenSecretHashes(c)}
	if c.Metadata.JWKS != nil {
		var ks jose.JSONWebKeySet
		if json.Unmarshal(c.Metadata.JWKS, &ks) == nil {
			fc.jwks = &ks
		}
	}
	return fc
}

// Registration returns the clientreg client, as read by GetClient, for
// the application's own checks (its name for a consent page, its policy).
// The caller must not change it.
func (c *Client) Registration() *clientreg.Client { return c.c }

// GetID returns the client_id.
func (c *Client) GetID() string { return c.c.ID }

// GetHashedSecret returns the keyed hash of a secret that authenticates
// the client now (see clientreg.Handler.TokenSecretHashes), nil when none
// does: a public client, a client whose secret expired, a method that
// sends no secret.
func (c *Client) GetHashedSecret() []byte {
	if len(c.hashes) == 0 {
		return nil
	}
	return c.hashes[0]
}

// GetRotatedHashes returns the other hashes that authenticate the client
// now: the previous secret's, during the overlap after a rotation.
func (c *Client) GetRotatedHashes() [][]byte {
	if len(c.hashes) < 2 {
		return nil
	}
	return c.hashes[1:]
}

// GetRedirectURIs returns the registered redirect_uris.
func (c *Client) GetRedirectURIs() []string { return c.c.Metadata.RedirectURIs }

// GetGrantTypes returns the registered grant_types.
func (c *Client) GetGrantTypes() fosite.Arguments { return c.c.Metadata.GrantTypes }

// GetResponseTypes returns the registered response_types.
func (c *Client) GetResponseTypes() fosite.Arguments { return c.c.Metadata.ResponseTypes }

// GetScopes returns the scopes of the registered scope.
func (c *Client) GetScopes() fosite.Arguments { return strings.Fields(c.c.Metadata.Scope) }

// IsPublic reports whether the client registered token_endpoint_auth_method
// none.
func (c *Client) IsPublic() bool { return c.c.Metadata.TokenEndpointAuthMethod == "none" }

// GetAudience returns nil: clientreg registers no audience for a client,
// so fosite refuses a request that names one (the audience parameter).
func (c *Client) GetAudience() fosite.Arguments { return nil }

// GetRequestURIs returns the registered request_uris.
func (c *Client) GetRequestURIs() []string { return c.c.Metadata.RequestURIs }

// GetJSONWebKeys returns the registered jwks, nil when the client
// registered none (or a jwks_uri).
func (c *Client) GetJSONWebKeys() *jose.JSONWebKeySet { return c.jwks }

// GetJSONWebKeysURI returns the registered jwks_uri. fosite fetches it
// with its own fosite.Config.JWKSFetcherStrategy, not clientreg's guarded
// fetcher.
func (c *Client) GetJSONWebKeysURI() string { return c.c.Metadata.JWKSURI }

// GetRequestObjectSigningAlgorithm returns the registered
// request_object_signing_alg.
func (c *Client) GetRequestObjectSigningAlgorithm() string {
	return c.c.Metadata.RequestObjectSigningAlg
}

// GetTokenEndpointAuthMethod returns the registered
// token_endpoint_auth_method, which fosite enforces.
func (c *Client) GetTokenEndpointAuthMethod() string {
	return c.c.Metadata.TokenEndpointAuthMethod
}

// GetTokenEndpointAuthSigningAlgorithm returns the registered
// token_endpoint_auth_signing_alg, or RS256 when the client registered
// none (fosite accepts only the one algorithm this names).
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string {
	if alg := c.c.Metadata.TokenEndpointAuthSigningAlg; alg != "" {
		return alg
	}
	return "RS256"
}

// Hasher is the fosite.Hasher of clientreg's client secrets
// (fosite.Config.ClientSecretsHasher): a hash is clientreg's keyed hash
// (clientreg.Handler.ClientSecretHash), not bcrypt.
type Hasher struct {
	h *clientreg.Handler
}

var _ fosite.Hasher = Hasher{}

// NewHasher returns the Hasher of h's client secrets.
func NewHasher(h *clientreg.Handler) Hasher { return Hasher{h: h} }

// errMismatch is Compare's answer to a secret that does not match.
var errMismatch = errors.New("fositeclients: the client secret does not match")

// Compare returns nil when data is the secret whose keyed hash is hash,
// compared in constant time, and an error otherwise (an empty hash, which
// GetHashedSecret returns when no secret authenticates the client, never
// matches).
func (x Hasher) Compare(_ context.Context, hash, data []byte) error {
	if len(hash) == 0 || !hmac.Equal(x.h.ClientSecretHash(string(data)), hash) {
		return errMismatch
	}
	return nil
}

// Hash returns the keyed hash of data, the value clientreg would store as
// the SecretHash of that secret. fosite itself never calls it.
func (x Hasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return x.h.ClientSecretHash(string(data)), nil
}
