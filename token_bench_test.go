package clientreg_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/memory"
)

// The token endpoint's per-request cost for a confidential client:
// client_credentials (client authentication, a token issued and stored)
// and introspection of a token (client authentication, one token read),
// through ServeHTTP, on the memory and the SQLite store, in parallel as a
// loaded server runs them:
//
//	go test -run '^$' -bench 'ClientCredentials|Introspect' -benchmem .

// benchConfidential returns a handler over st and a confidential client's
// id and secret, with client_secret_basic.
func benchConfidential(b *testing.B, st store.Store) (h *clientreg.Handler, id, secret string) {
	b.Helper()
	h, _ = benchVerifyToken(b, st)
	info, err := h.Register(context.Background(), "", clientreg.Metadata{ClientName: "svc",
		GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic", Scope: "tools"})
	if err != nil {
		b.Fatal(err)
	}
	return h, info.ClientID, info.ClientSecret
}

// benchPost posts form to path with the client's basic credentials and
// returns the JSON response, failing unless it is 200.
func benchPost(b *testing.B, h http.Handler, path, id, secret string, form url.Values) map[string]any {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return m
}

func benchStores() []struct {
	name string
	open func(*testing.B) store.Store
} {
	return []struct {
		name string
		open func(*testing.B) store.Store
	}{
		{"memory", func(*testing.B) store.Store { return memory.New() }},
		{"sqlite", benchSQLite},
	}
}

func BenchmarkClientCredentials(b *testing.B) {
	for _, bs := range benchStores() {
		b.Run(bs.name, func(b *testing.B) {
			h, id, secret := benchConfidential(b, bs.open(b))
			form := url.Values{"grant_type": {"client_credentials"}}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if m := benchPost(b, h, "/token", id, secret, form); m["access_token"] == nil {
						b.Fatal("no access_token")
					}
				}
			})
		})
	}
}

func BenchmarkIntrospect(b *testing.B) {
	for _, bs := range benchStores() {
		b.Run(bs.name, func(b *testing.B) {
			h, id, secret := benchConfidential(b, bs.open(b))
			tok := benchPost(b, h, "/token", id, secret, url.Values{"grant_type": {"client_credentials"}})["access_token"].(string)
			form := url.Values{"token": {tok}}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if m := benchPost(b, h, "/introspect", id, secret, form); m["active"] != true {
						b.Fatalf("introspection: %v", m)
					}
				}
			})
		})
	}
}
