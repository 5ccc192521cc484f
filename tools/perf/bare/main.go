// Command bare is the ceiling of the token phases on this machine: the
// least an OAuth server can do for clientreg-bench's token and introspect
// phases, a net/http server over two maps guarded by a mutex. It registers
// confidential clients (RFC 7591, client_secret_basic, the request body
// not validated), issues client_credentials tokens (RFC 6749 §4.4, the
// secret compared in constant time) and introspects them (RFC 7662), with
// nothing stored on disk, no keyed hashes, no validation and no log.
// tools/perf/run.sh measures it beside clientreg (TOKEN_SERVERS="...
// bare"), so that what the load generator and net/http alone take of the
// two cores is on record in the same run: a target above its figure is
// one no server can meet here. It is a measuring stick, not a server:
// never run it anywhere else.
//
//	go run ./tools/perf/bare -addr 127.0.0.1:18090
package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

type server struct {
	issuer  string
	mu      sync.RWMutex
	clients map[string]string // client_id -> secret
	tokens  map[string]string // access token -> client_id
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen `address` (loopback)")
	flag.Parse()
	s := &server{issuer: "http://" + *addr, clients: map[string]string{}, tokens: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("POST /register", s.register)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /introspect", s.introspect)
	fmt.Fprintln(os.Stderr, "listening on", s.issuer)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *server) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{"issuer": s.issuer, "registration_endpoint": s.issuer + "/register",
		"token_endpoint": s.issuer + "/token", "introspection_endpoint": s.issuer + "/introspect",
		"grant_types_supported": []string{"client_credentials"}, "token_endpoint_auth_methods_supported": []string{"client_secret_basic"}})
}

func (s *server) register(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&m) != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_client_metadata"})
		return
	}
	id, secret := rand.Text(), rand.Text()
	s.mu.Lock()
	s.clients[id] = secret
	s.mu.Unlock()
	m["client_id"], m["client_secret"], m["token_endpoint_auth_method"] = id, secret, "client_secret_basic"
	writeJSON(w, 201, m)
}

// client authenticates the request's Basic credentials.
func (s *server) client(r *http.Request) (string, bool) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	s.mu.RLock()
	want, found := s.clients[id]
	s.mu.RUnlock()
	return id, found && subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
}

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	id, ok := s.client(r)
	if !ok {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	if r.PostFormValue("grant_type") != "client_credentials" {
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	tok := rand.Text()
	s.mu.Lock()
	s.tokens[tok] = id
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func (s *server) introspect(w http.ResponseWriter, r *http.Request) {
	id, ok := s.client(r)
	if !ok {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	s.mu.RLock()
	owner, found := s.tokens[r.PostFormValue("token")]
	s.mu.RUnlock()
	if !found || owner != id {
		writeJSON(w, 200, map[string]any{"active": false})
		return
	}
	writeJSON(w, 200, map[string]any{"active": true, "client_id": owner, "token_type": "Bearer"})
}
