package clientreg_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

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
		{"negative secret lifetime", func(c *clientreg.Config) { c.SecretLifetime = -time.Hour }, "SecretLifetime"},
		{"negative token grace other than Off", func(c *clientreg.Config) { c.TokenGrace = -2 }, "TokenGrace"},
		{"access token lifetime Off", func(c *clientreg.Config) { c.AccessTokenLifetime = clientreg.Off }, "AccessTokenLifetime cannot be Off"},
		{"body limit Off", func(c *clientreg.Config) { c.MaxBodyBytes = clientreg.Off }, "MaxBodyBytes cannot be Off"},
		{"fetch timeout negative", func(c *clientreg.Config) { c.Fetch.Timeout = -time.Second }, "Fetch.Timeout"},
		{"request limit Off", func(c *clientreg.Config) { c.Limits.MaxContacts = clientreg.Off }, "MaxContacts cannot be Off"},
		{"rate limit negative other than Off", func(c *clientreg.Config) { c.Limits.RegistrationsPerMinute = -0.5 }, "RegistrationsPerMinute"},
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
			if tc.name == "no store" || tc.name == "no key" {
				return // Validate leaves the resources to New
			}
			verr := cfg.Validate()
			if verr == nil || verr.Error() != err.Error() {
				t.Fatalf("Validate = %v, want New's error %q", verr, err)
			}
		})
	}
}

// Validate checks a Config as New does, without the resources New is given:
// a program can check its configuration before it opens the store or reads
// the key.
func TestValidateWithoutResources(t *testing.T) {
	cfg := clientreg.Config{Issuer: "https://as.test"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate without Store and SecretKey: %v", err)
	}
	cfg.Policies = []clientreg.Policy{{Name: "p", DefaultScopes: []string{"a b"}}}
	if err := cfg.Validate(); err == nil {
		t.Fatal("Validate accepted a policy with an invalid scope")
	}
}

// Off turns off what its field's documentation says it can: every such
// field accepts it, and New builds a handler.
func TestOffIsAccepted(t *testing.T) {
	cfg := clientreg.Config{
		Issuer: "https://as.test", Store: memory.New(), SecretKey: bytes.Repeat([]byte{9}, 32),
		TokenGrace: clientreg.Off, SecretOverlap: clientreg.Off, SecretLifetime: clientreg.Off,
		StatementSkew: clientreg.Off,
		Limits:        clientreg.Limits{RegistrationsPerMinute: clientreg.Off, FailedAuthBurst: clientreg.Off},
	}
	if _, err := clientreg.New(cfg); err != nil {
		t.Fatalf("New: %v", err)
	}
}
