// Command mcp-server is a Go MCP server with one tool, whoami, protected
// by clientreg in the same process: clientreg is the authorization server
// (registration, authorization with PKCE, tokens), the MCP endpoint at
// /mcp accepts only clientreg's tokens issued for it, and whoami answers
// the subject of the token it was called with.
//
// DEMO ONLY: its login trusts a header. Whoever sends X-Demo-User to the
// authorization endpoint from loopback is signed in as that user and
// approves at once, with no consent page. A real server signs users in
// (clientreg serve --login header behind a sign-in proxy, or its own
// Authorizer) and keeps its store and secret key (here in memory).
//
// With -authorization-server ISSUER it runs no authorization server of
// its own (and no demo login): its protected resource metadata names
// ISSUER, a separate authorization server such as `clientreg serve
// --access-token-format jwt`, and it verifies that server's JWT access
// tokens offline with resource.NewJWTVerifier (the keys of its JWKS,
// discovered from its metadata). Users then sign in and consent at that
// server.
//
// Usage: go run ./examples/mcp-server [-addr 127.0.0.1:8090] [-authorization-server ISSUER]
//
// It prints "listening on URL" once it serves; an MCP client connects to
// URL/mcp.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"

	"github.com/clientreg/clientreg"
	mcpauth "github.com/clientreg/clientreg/adapters/mcp"
	"github.com/clientreg/clientreg/resource"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	external := flag.String("authorization-server", "", "issuer `URL` of a separate authorization server issuing JWT access tokens\n(clientreg serve --access-token-format jwt); default: clientreg in this process, with the demo login")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	mcpURL := base + "/mcp"

	var (
		issuer   string
		verifier resource.Verifier
		authz    http.Handler // the in-process authorization server, or nil
	)
	if *external != "" {
		// Another process issues the tokens; they are verified offline.
		issuer = *external
		verifier, err = resource.NewJWTVerifier(resource.JWTVerifierConfig{Issuer: issuer})
		if err != nil {
			log.Fatal(err)
		}
	} else {
		// The authorization server: every token is for the MCP endpoint.
		key := make([]byte, 32)
		rand.Read(key)
		var h *clientreg.Handler
		h, err = clientreg.New(clientreg.Config{
			Issuer: base, Store: memory.New(), SecretKey: key,
			ServeTokenEndpoints: true,
			Resources:           clientreg.ResourcePolicy{Allowed: []string{mcpURL}, Default: []string{mcpURL}},
			Authorizer: clientreg.AuthorizerFunc(func(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest) {
				demoLogin(h, w, r, req)
			}),
		})
		if err != nil {
			log.Fatal(err)
		}
		issuer, verifier, authz = h.Issuer(), h, h
	}

	// The MCP server and its one tool.
	server := mcp.NewServer(&mcp.Implementation{Name: "clientreg-example", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Tells who the access token acts for."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			t := mcpauth.Info(req.Extra.TokenInfo)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "you are " + t.Subject + " (client " + t.ClientID + ")"}}}, nil, nil
		})

	// The glue: RFC 9728 metadata, and /mcp behind a bearer token.
	rs, err := resource.New(resource.Config{Resource: mcpURL, AuthorizationServers: []string{issuer}, Verifier: verifier})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range rs.MetadataPaths() {
		mux.Handle(p, rs.MetadataHandler())
	}
	requireToken := auth.RequireBearerToken(mcpauth.TokenVerifier(verifier, mcpURL), &auth.RequireBearerTokenOptions{ResourceMetadataURL: rs.MetadataURL()})
	mux.Handle("/mcp", requireToken(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	if authz != nil {
		mux.Handle("/", authz) // registration, metadata, authorize, token, ...
	}

	fmt.Println("listening on", base)
	log.Fatal(http.Serve(ln, mux))
}

// demoLogin signs in the user named by X-Demo-User, from loopback only,
// and approves the request at once. DEMO ONLY.
func demoLogin(h *clientreg.Handler, w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest) {
	user := r.Header.Get("X-Demo-User")
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if user == "" || err != nil || !ap.Addr().IsLoopback() {
		http.Error(w, "demo login: send X-Demo-User from loopback", http.StatusUnauthorized)
		return
	}
	to, err := h.CompleteAuthorization(w, r, req.ID, clientreg.Approval{Subject: user})
	if err != nil {
		h.ErrorPage(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
