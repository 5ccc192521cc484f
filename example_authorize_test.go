package clientreg_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/memory"
)

// The authorization code flow with PKCE: the handler owns OAuth, the
// application owns login and consent. The Authorizer sends the browser to
// the application's login page with the pending request's ID; the page
// (here it signs "ada" in at once) completes the request and redirects the
// browser back to the client with the code, which the client exchanges
// at the token endpoint.
func Example_authorizationCode() {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()

	var h *clientreg.Handler
	h, err = clientreg.New(clientreg.Config{
		Issuer:              issuer,
		Store:               memory.New(),
		SecretKey:           key,
		ServeTokenEndpoints: true,
		Metadata:            &clientreg.ServerMetadata{ScopesSupported: []string{"read", "write"}},
		// Validated requests go to the application's login page.
		Authorizer: clientreg.AuthorizerFunc(func(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest) {
			http.Redirect(w, r, "/login?id="+url.QueryEscape(req.ID), http.StatusSeeOther)
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		req, err := h.PendingAuthorization(r, id) // what a consent page shows
		if err != nil {
			h.ErrorPage(w, r, err)
			return
		}
		// ... sign the user in, show req.ClientName, req.RedirectHost,
		// req.Scopes and req.Resources, and ask for consent ...
		to, err := h.CompleteAuthorization(w, r, req.ID, clientreg.Approval{Subject: "ada"})
		if err != nil {
			h.ErrorPage(w, r, err)
			return
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	// The client: registers (RFC 7591) as a public client with a loopback
	// redirect URI, on which it listens for the code.
	cb, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	redirectURI := "http://" + cb.Addr().String() + "/callback"
	codes := make(chan url.Values, 1)
	go http.Serve(cb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query()
	}))
	res, err := http.Post(issuer+"/register", "application/json", strings.NewReader(fmt.Sprintf(
		`{"redirect_uris":[%q],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"scope":"read write","client_name":"Example"}`,
		redirectURI)))
	if err != nil {
		log.Fatal(err)
	}
	var client struct {
		ClientID string `json:"client_id"`
	}
	json.NewDecoder(res.Body).Decode(&client)
	res.Body.Close()

	// PKCE (RFC 7636): the verifier stays with the client.
	verifier := base64.RawURLEncoding.EncodeToString(key) // any 43+ random characters
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	// The browser: follows the redirects, keeping the binding cookie.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err = browser.Get(issuer + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {client.ClientID}, "redirect_uri": {redirectURI},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "scope": {"read"},
		"state": {"xyz"}, "resource": {"https://mcp.example/"},
	}.Encode())
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	answer := <-codes
	fmt.Println("state:", answer.Get("state"), "iss matches:", answer.Get("iss") == issuer)

	// The client exchanges the code.
	res, err = http.PostForm(issuer+"/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {client.ClientID}, "code": {answer.Get("code")},
		"code_verifier": {verifier}, "redirect_uri": {redirectURI},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var tok clientreg.TokenResponse
	json.NewDecoder(res.Body).Decode(&tok)
	fmt.Println(res.StatusCode, tok.TokenType, tok.Scope, tok.RefreshToken != "")
	// Output:
	// state: xyz iss matches: true
	// 200 Bearer read true
}
