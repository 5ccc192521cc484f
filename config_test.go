package clientreg_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/memory"
)

// New rejects a configuration that lacks a required part or contradicts
// itself, naming what is wrong, at start-up rather than at the first request.
func TestNewRejectsBadConfig(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	ok := func() clientreg.Config {
		return clientreg.Config{Issuer: "https://as.test", Store: memory.New(), SecretKey: key}
	}
	cases := []struct {
		name   string
		mutate func(*clientreg.Config)
		want   string
	}{
		{"no store", func(c *clientreg.Config) { c.Store = nil }, "Store"},
		{"no key", func(c *clientreg.Config) { c.SecretKey = nil }, "SecretKey"},
		{"short key", func(c *clientreg.Config) { c.SecretKey = key[:31] }, "SecretKey"},
		{"no issuer", func(c *clientreg.Config) { c.Issuer = "" }, "Issuer"},
		{"relative issuer", func(c *clientreg.Config) { c.Issuer = "/as" }, "Issuer"},
		{"issuer with query", func(c *clientreg.Config) { c.Issuer = "https://as.test/?x=1" }, "Issuer"},
		{"registration endpoint without path", func(c *clientreg.Config) { c.RegistrationEndpoint = "https://as.test" }, "RegistrationEndpoint"},
		{"unknown rotation", func(c *clientreg.Config) { c.TokenRotation = 7 }, "TokenRotation"},
		{"negative secret lifetime", func(c *clientreg.Config) { c.SecretLifetime = -1 }, "SecretLifetime"},
		{"default scope not supported", func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"read"}}
			c.DefaultScopes = []string{"write"}
		}, "default scope"},
		{"invalid scope token", func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"a b"}}
		}, "scope"},
		{"response type whose grant is not supported", func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ResponseTypesSupported: []string{"code", "token"}}
		}, "implicit"},
		{"extension clashing with a standard member", func(c *clientreg.Config) {
			c.Extensions = []clientreg.Extension{{Name: "client_name"}}
		}, "extension"},
		{"unknown redirect preset", func(c *clientreg.Config) { c.RedirectPreset = "strict" }, "RedirectPreset"},
		{"nil *ServerMetadata", func(c *clientreg.Config) { c.Metadata = (*clientreg.ServerMetadata)(nil) }, "Metadata"},
	}
	if _, err := clientreg.New(ok()); err != nil {
		t.Fatalf("the base configuration is rejected: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.mutate(&cfg)
			h, err := clientreg.New(cfg)
			if err == nil || h != nil {
				t.Fatalf("New accepted the configuration")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}
