package clientreg_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/resource"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/clientreg/clientreg/store/sqlite"
)

// The resource server's per-request cost (docs/behaviour.md §13):
// in-process verification of an opaque token and of a JWT, on the memory and the
// SQLite store, and the middleware around it. In parallel, as a busy MCP
// server verifies. Run them with:
//
//	go test -run '^$' -bench 'Verify|Middleware' -benchmem .

const benchResource = benchIssuer + "/mcp"

// benchVerifyToken returns a handler over st and a client_credentials token for
// benchResource.
func benchVerifyToken(b *testing.B, st store.Store, mutate ...func(*clientreg.Config)) (*clientreg.Handler, string) {
	b.Helper()
	cfg := clientreg.Config{
		Issuer: benchIssuer, Store: st, SecretKey: bytes.Repeat([]byte{7}, 32),
		ServeTokenEndpoints: true, Limits: clientreg.Limits{Disabled: true},
		Resources: clientreg.ResourcePolicy{Default: []string{benchResource}},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := clientreg.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	info, err := h.Register(ctx, "", clientreg.Metadata{ClientName: "svc", GrantTypes: []string{"client_credentials"}, Scope: "tools"})
	if err != nil {
		b.Fatal(err)
	}
	c, err := h.LookupClient(ctx, info.ClientID)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := h.IssueClientCredentialsToken(ctx, c, "")
	if err != nil {
		b.Fatal(err)
	}
	return h, tok.AccessToken
}

func benchSQLite(b *testing.B) store.Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func BenchmarkVerifyOpaque(b *testing.B) {
	for _, bc := range []struct {
		name string
		open func(*testing.B) store.Store
	}{{"memory", func(*testing.B) store.Store { return memory.New() }}, {"sqlite", benchSQLite}} {
		b.Run(bc.name, func(b *testing.B) {
			h, tok := benchVerifyToken(b, bc.open(b))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := h.VerifyAccessToken(ctx, tok, benchResource); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkMiddleware(b *testing.B) {
	h, tok := benchVerifyToken(b, benchSQLite(b))
	rs, err := resource.New(resource.Config{Resource: benchResource, AuthorizationServers: []string{h.Issuer()}, Verifier: h})
	if err != nil {
		b.Fatal(err)
	}
	protected := rs.Middleware("tools")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if resource.TokenFromContext(r.Context()) == nil {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, benchResource, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			protected.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("middleware: %d %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkVerifyJWT is BenchmarkVerifyOpaque for JWT access tokens (RFC
// 9068): the signature and claims checked with the cached key, then the
// same one store read.
func BenchmarkVerifyJWT(b *testing.B) {
	for _, bc := range []struct {
		name, alg string
		open      func(*testing.B) store.Store
	}{
		{"memory/RS256", clientreg.SigningAlgRS256, func(*testing.B) store.Store { return memory.New() }},
		{"memory/ES256", clientreg.SigningAlgES256, func(*testing.B) store.Store { return memory.New() }},
		{"sqlite/RS256", clientreg.SigningAlgRS256, benchSQLite},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, tok := benchVerifyToken(b, bc.open(b), func(c *clientreg.Config) {
				c.AccessTokenFormat = clientreg.TokenFormatJWT
				c.AccessTokenSigningAlg = bc.alg
			})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := h.VerifyAccessToken(ctx, tok, benchResource); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
