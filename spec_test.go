package clientreg_test

// The conformance suite of docs/behaviour.md: each spec_*_test.go file proves one
// section through the public HTTP interface (spec_discovery §1,
// spec_request §2, spec_metadata §3, spec_response §4, spec_config §5,
// spec_errors §6, spec_secrets §7). This file checks that the Go API
// (Handler.Register, Read, Update, Delete) answers with the same *Error
// values, matched with errors.Is, and shares its state with HTTP.

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/clientreg/clientreg"
)

// TestGoAPIErrors proves that the typed methods return *clientreg.Error
// values that match their sentinels with errors.Is and carry the RFC code,
// status and an ASCII description.
func TestGoAPIErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		good := clientreg.Metadata{RedirectURIs: []string{testRedirect}}
		info, err := e.h.Register(ctx, "", good)
		if err != nil {
			t.Fatalf("Register: %v", err)
		}

		_, err = e.h.Register(ctx, "", clientreg.Metadata{RedirectURIs: []string{"http://example.com/cb"}})
		oe := asError(t, err, clientreg.ErrInvalidRedirectURI)
		if oe.Code != "invalid_redirect_uri" || oe.Status != http.StatusBadRequest {
			t.Errorf("Register: %+v", oe)
		}
		if errors.Is(err, clientreg.ErrInvalidClientMetadata) {
			t.Errorf("invalid_redirect_uri matches invalid_client_metadata")
		}
		_, err = e.h.Register(ctx, "", clientreg.Metadata{RedirectURIs: []string{testRedirect}, Scope: "a  b"})
		asError(t, err, clientreg.ErrInvalidClientMetadata)
		_, err = e.h.Register(ctx, "", clientreg.Metadata{RedirectURIs: []string{testRedirect}, SoftwareStatement: "x"})
		asError(t, err, clientreg.ErrInvalidSoftwareStatement)
		if n := e.store.created(); n != 1 {
			t.Errorf("%d clients stored, want 1", n)
		}

		_, err = e.h.Read(ctx, "", info.ClientID)
		asError(t, err, clientreg.ErrMissingToken)
		_, err = e.h.Read(ctx, "wrong", info.ClientID)
		oe = asError(t, err, clientreg.ErrInvalidToken)
		if oe.Status != http.StatusUnauthorized {
			t.Errorf("invalid_token status %d", oe.Status)
		}
		_, err = e.h.Update(ctx, info.RegistrationAccessToken, info.ClientID, clientreg.UpdateRequest{ClientID: "other", Metadata: good})
		asError(t, err, clientreg.ErrInvalidRequest)
		_, err = e.h.Update(ctx, info.RegistrationAccessToken, info.ClientID, clientreg.UpdateRequest{ClientID: info.ClientID,
			Metadata: clientreg.Metadata{RedirectURIs: []string{"javascript:x"}}})
		asError(t, err, clientreg.ErrInvalidRedirectURI)
		_, err = e.h.Update(ctx, info.RegistrationAccessToken, info.ClientID, clientreg.UpdateRequest{ClientID: info.ClientID,
			ClientSecret: "not-it", Metadata: good})
		asError(t, err, clientreg.ErrInvalidRequest)
		err = e.h.Delete(ctx, "wrong", info.ClientID)
		asError(t, err, clientreg.ErrInvalidToken)

		tok := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.RequireInitialToken = true }))
		_, err = tok.h.Register(ctx, "", good)
		asError(t, err, clientreg.ErrMissingToken)
		_, err = tok.h.Register(ctx, "wrong", good)
		asError(t, err, clientreg.ErrInvalidToken)

		nodel := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.DisableDelete = true }))
		ni, err := nodel.h.Register(ctx, "", good)
		if err != nil {
			t.Fatal(err)
		}
		asError(t, nodel.h.Delete(ctx, ni.RegistrationAccessToken, ni.ClientID), clientreg.ErrMethodNotAllowed)
	})
}

// TestGoAPISharesStateWithHTTP proves that a client registered, updated
// and deleted through the Go API is the same client the HTTP interface
// serves.
func TestGoAPISharesStateWithHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		info, err := e.h.Register(ctx, "", clientreg.Metadata{RedirectURIs: []string{testRedirect}, ClientName: "api"})
		if err != nil {
			t.Fatal(err)
		}
		if info.ClientSecret == "" || !info.HasSecret || info.RegistrationClientURI != e.h.ClientURI(info.ClientID) {
			t.Errorf("Register returned %+v", info)
		}
		c := &registered{ID: info.ClientID, Token: info.RegistrationAccessToken, URI: info.RegistrationClientURI}
		if got := e.mustGet(c, c.Token).mustStr(t, "client_name"); got != "api" {
			t.Errorf("client_name over HTTP = %q", got)
		}
		upd, err := e.h.Update(ctx, c.Token, c.ID, clientreg.UpdateRequest{ClientID: c.ID, ClientSecret: info.ClientSecret,
			Metadata: clientreg.Metadata{RedirectURIs: []string{testRedirect}, ClientName: "api2"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.mustGet(c, upd.RegistrationAccessToken).mustStr(t, "client_name"); got != "api2" {
			t.Errorf("client_name over HTTP after Update = %q", got)
		}
		read, err := e.h.Read(ctx, upd.RegistrationAccessToken, c.ID)
		if err != nil || read.Metadata.ClientName != "api2" || read.ClientSecret != "" {
			t.Errorf("Read = %+v, %v", read, err)
		}
		if err := e.h.Delete(ctx, upd.RegistrationAccessToken, c.ID); err != nil {
			t.Fatal(err)
		}
		wantInvalidToken(t, e.get(c.URI, upd.RegistrationAccessToken))
	})
}
