package gooauth2clients_test

import (
	"crypto/rand"
	"log"
	"net/http"

	"github.com/clientreg/clientreg"
	gooauth2clients "github.com/clientreg/clientreg/adapters/gooauth2"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
)

// newServer returns a go-oauth2 server, and its manager, whose clients are
// clientreg's: the ClientStore in the manager, its two hooks in the
// server, go-oauth2's tokens in memory.
func newServer(clients *gooauth2clients.ClientStore) (*server.Server, *manage.Manager) {
	manager := manage.NewDefaultManager()
	manager.MapClientStorage(clients)
	manager.MustTokenStorage(store.NewMemoryTokenStore())
	srv := server.NewServer(server.NewConfig(), manager)
	srv.ClientInfoHandler = clients.ClientInfoHandler
	srv.ClientScopeHandler = clients.ClientScopeHandler
	return srv, manager
}

// A server where clients register with clientreg (RFC 7591) and get
// client_credentials tokens from go-oauth2.
func Example() {
	key := make([]byte, clientreg.MinSecretKeyLen)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	h, err := clientreg.New(clientreg.Config{Issuer: "https://as.example", Store: memory.New(), SecretKey: key})
	if err != nil {
		log.Fatal(err)
	}
	srv, _ := newServer(gooauth2clients.NewClientStore(h))

	mux := http.NewServeMux()
	mux.Handle("/", h) // /register, /register/{client_id}, the metadata
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = srv.HandleTokenRequest(w, r) // it has written the error response
	})
	_ = http.Server{Addr: ":8443", Handler: mux}
}
