package fositeclients_test

import (
	"context"
	"crypto/rand"
	"log"
	"net/http"
	"time"

	"github.com/clientreg/clientreg"
	fositeclients "github.com/clientreg/clientreg/adapters/fosite"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
)

// providerStorage is the storage of a fosite provider whose clients are
// clientreg's: fosite's sessions, codes and tokens in its MemoryStore (a
// database in production), the clients from the Manager. Both have the
// three methods of fosite.ClientManager, so they are forwarded explicitly.
type providerStorage struct {
	*storage.MemoryStore
	clients *fositeclients.Manager
}

func (s providerStorage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	return s.clients.GetClient(ctx, id)
}

func (s providerStorage) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	return s.clients.ClientAssertionJWTValid(ctx, jti)
}

func (s providerStorage) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	return s.clients.SetClientAssertionJWT(ctx, jti, exp)
}

// newProvider composes a fosite provider for the authorization code flow
// with PKCE, refresh tokens and introspection over the clients of h, whose
// Store is st. tokenURL is the provider's token endpoint.
func newProvider(h *clientreg.Handler, st *memory.Store, tokenURL string) fosite.OAuth2Provider {
	secret := make([]byte, 32) // the HMAC key of fosite's codes and tokens
	if _, err := rand.Read(secret); err != nil {
		panic(err)
	}
	config := &fosite.Config{
		ClientSecretsHasher:            fositeclients.NewHasher(h),
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{}, // every client that registered refresh_token gets one
		TokenURL:                       tokenURL,
		GlobalSecret:                   secret,
		AccessTokenLifespan:            time.Hour,
	}
	return compose.Compose(config,
		providerStorage{MemoryStore: storage.NewMemoryStore(), clients: fositeclients.NewManager(h, st)},
		compose.NewOAuth2HMACStrategy(config),
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2PKCEFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
	)
}

// A server where clients register with clientreg (RFC 7591) and get
// tokens from fosite.
func Example() {
	st := memory.New()
	key := make([]byte, clientreg.MinSecretKeyLen)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	issuer := "https://as.example"
	h, err := clientreg.New(clientreg.Config{Issuer: issuer, Store: st, SecretKey: key})
	if err != nil {
		log.Fatal(err)
	}
	provider := newProvider(h, st, issuer+"/oauth2/token")

	mux := http.NewServeMux()
	mux.Handle("/", h) // /register, /register/{client_id}, the metadata
	mux.HandleFunc("/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewAccessRequest(ctx, r, new(fosite.DefaultSession))
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		resp, err := provider.NewAccessResponse(ctx, ar)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		provider.WriteAccessResponse(ctx, w, ar, resp)
	})
	// ... /oauth2/auth: provider.NewAuthorizeRequest, the application's
	// login and consent, provider.NewAuthorizeResponse.
	_ = http.Server{Addr: ":8443", Handler: mux}
}
