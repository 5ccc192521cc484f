package clientreg_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/memory"
)

// Route MCP desktop clients to a registration policy with an initial access
// token: they get the policy's default scope, may only register public
// clients with loopback redirect URIs, and stay under the policy when they
// update their registration later.
func ExamplePolicy() {
	h, err := clientreg.New(clientreg.Config{
		Issuer:              "https://as.example.com",
		Store:               memory.New(),
		SecretKey:           []byte("0123456789abcdef0123456789abcdef"), // use 32 random bytes
		RequireInitialToken: true,
		Policies: []clientreg.Policy{{
			Name:                 "mcp-desktop",
			AllowedScopes:        []string{"tools", "resources"},
			DefaultScopes:        []string{"tools"},
			AllowedAuthMethods:   []string{"none"},
			AllowedRedirectHosts: []string{"loopback"},
			MaxClients:           1000,
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	iat, _, err := h.CreateInitialToken(ctx, clientreg.InitialTokenOptions{Policy: "mcp-desktop"})
	if err != nil {
		log.Fatal(err)
	}
	info, err := h.Register(ctx, iat, clientreg.Metadata{RedirectURIs: []string{"http://127.0.0.1:33418/callback"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Metadata.Scope, info.Metadata.TokenEndpointAuthMethod)

	_, err = h.Register(ctx, iat, clientreg.Metadata{RedirectURIs: []string{"https://evil.example/callback"}})
	var oe *clientreg.Error
	fmt.Println(errors.As(err, &oe) && oe.Code == "invalid_redirect_uri")
	// Output:
	// tools none
	// true
}
