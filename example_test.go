package clientreg_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/memory"
)

// Mount the registration, configuration and metadata endpoints on a mux and
// register a client over HTTP.
func Example() {
	key := make([]byte, 32) // in production: load it from a file or a secret manager
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()

	h, err := clientreg.New(clientreg.Config{
		Issuer:    issuer,
		Store:     memory.New(),
		SecretKey: key,
		Metadata: &clientreg.ServerMetadata{
			ScopesSupported: []string{"read", "write"},
		},
		DefaultScopes: []string{"read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h) // or only the paths it serves: /register, /register/, /.well-known/
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	defer srv.Close()

	res, err := http.Post(issuer+"/register", "application/json",
		strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9999/callback"],"client_name":"Example"}`))
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.Status)
	fmt.Println(strings.Contains(string(body), `"registration_access_token"`))
	fmt.Println(strings.Contains(string(body), `"scope":"read"`))
	// Output:
	// 201 Created
	// true
	// true
}

// Use the typed operations from Go, without HTTP.
func ExampleHandler_Register() {
	h, err := clientreg.New(clientreg.Config{
		Issuer:    "https://as.example.com",
		Store:     memory.New(),
		SecretKey: []byte("0123456789abcdef0123456789abcdef"), // use 32 random bytes
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	info, err := h.Register(ctx, "", clientreg.Metadata{
		RedirectURIs: []string{"https://app.example.com/cb"},
		ClientName:   "My App",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Metadata.GrantTypes, info.Metadata.TokenEndpointAuthMethod, info.ClientSecret != "")

	// Update: a full replacement of the metadata, authorized by the token.
	info, err = h.Update(ctx, info.RegistrationAccessToken, info.ClientID, clientreg.UpdateRequest{
		ClientID: info.ClientID,
		Metadata: clientreg.Metadata{RedirectURIs: []string{"javascript:alert(1)"}},
	})
	var oe *clientreg.Error
	fmt.Println(info == nil, errors.As(err, &oe) && oe.Code == "invalid_redirect_uri")
	// Output:
	// [authorization_code] client_secret_basic true
	// true true
}

// auditStore is a custom Store: it wraps another Store and records every
// client created and deleted.
type auditStore struct {
	store.Store // everything not overridden is delegated

	mu  sync.Mutex
	log []string
}

func (s *auditStore) CreateClient(ctx context.Context, c *store.Client, opts store.CreateOptions) error {
	err := s.Store.CreateClient(ctx, c, opts)
	if err == nil {
		s.record("created " + clientName(c))
	}
	return err
}

func (s *auditStore) DeleteClient(ctx context.Context, id string) error {
	c, err := s.Store.GetClient(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteClient(ctx, id); err != nil {
		return err
	}
	s.record("deleted " + clientName(c))
	return nil
}

// clientName returns the client_name of c. A store keeps the metadata
// opaque, in the form that Metadata.UnmarshalJSON reads.
func clientName(c *store.Client) string {
	var m clientreg.Metadata
	if err := m.UnmarshalJSON(c.Metadata); err != nil {
		return "?"
	}
	return m.ClientName
}

func (s *auditStore) record(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, e)
}

// Plug in a custom Store. Any implementation must pass the conformance
// suite: storetest.Run(t, func(t *testing.T) store.Store { ... }).
func ExampleConfig_store() {
	audit := &auditStore{Store: memory.New()}
	h, err := clientreg.New(clientreg.Config{
		Issuer:    "https://as.example.com",
		Store:     audit,
		SecretKey: []byte("0123456789abcdef0123456789abcdef"),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	info, err := h.Register(ctx, "", clientreg.Metadata{
		GrantTypes: []string{"client_credentials"},
		ClientName: "batch job",
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Delete(ctx, info.RegistrationAccessToken, info.ClientID); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(audit.log, "; "))
	// Output:
	// created batch job; deleted batch job
}
