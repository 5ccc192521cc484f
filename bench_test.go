package clientreg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/sqlite"
)

// The benchmarks drive the handler in-process (no network) on the default
// SQLite store, with the dcrload default request body, in parallel as the
// standalone server is driven. Run them with:
//
//	go test -run '^$' -bench . -benchmem .

const benchBody = `{"redirect_uris":["https://client.example.org/cb"],"client_name":"bench","grant_types":["authorization_code"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_basic"}`

func benchHandler(b *testing.B) *clientreg.Handler {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h, err := clientreg.New(clientreg.Config{
		Issuer:    benchIssuer,
		Store:     st,
		SecretKey: bytes.Repeat([]byte{7}, 32),
		Limits:    clientreg.Limits{Disabled: true}, // one address makes every request
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

type benchClient struct {
	id, token, uri string
}

// benchRegister registers a client; it may run on a RunParallel goroutine,
// so it reports failure with Error, never Fatal.
func benchRegister(b *testing.B, h http.Handler) (benchClient, bool) {
	req := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(benchBody))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Errorf("register: %d %s", rec.Code, rec.Body)
		return benchClient{}, false
	}
	var r struct {
		ID    string `json:"client_id"`
		Token string `json:"registration_access_token"`
		URI   string `json:"registration_client_uri"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		b.Error(err)
		return benchClient{}, false
	}
	return benchClient{r.ID, r.Token, strings.TrimPrefix(r.URI, benchIssuer)}, true
}

func BenchmarkRegister(b *testing.B) {
	h := benchHandler(b)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := benchRegister(b, h); !ok {
				return
			}
		}
	})
}

// benchClients registers n clients outside the timer.
func benchClients(b *testing.B, h http.Handler, n int) []benchClient {
	cs := make([]benchClient, n)
	for i := range cs {
		var ok bool
		if cs[i], ok = benchRegister(b, h); !ok {
			b.FailNow()
		}
	}
	return cs
}

func BenchmarkRead(b *testing.B) {
	h := benchHandler(b)
	cs := benchClients(b, h, 1000)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := cs[next.Add(1)%int64(len(cs))]
			req := httptest.NewRequest(http.MethodGet, c.uri, nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("read: %d %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	h := benchHandler(b)
	var worker atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine owns one client and follows its token rotation,
		// as an RFC 7592 client must.
		c, ok := benchRegister(b, h)
		if !ok {
			return
		}
		n := worker.Add(1)
		for i := 0; pb.Next(); i++ {
			body := `{"client_id":"` + c.id + `",` + strings.TrimPrefix(strings.Replace(benchBody, `"bench"`, `"bench-`+string(rune('a'+n%26))+`"`, 1), "{")
			req := httptest.NewRequest(http.MethodPut, c.uri, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+c.token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("update: %d %s", rec.Code, rec.Body)
				return
			}
			var r struct {
				Token string `json:"registration_access_token"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				b.Error(err)
				return
			}
			c.token = r.Token
		}
	})
}

func BenchmarkDelete(b *testing.B) {
	h := benchHandler(b)
	cs := benchClients(b, h, b.N)
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := cs[next.Add(1)-1]
			req := httptest.NewRequest(http.MethodDelete, c.uri, nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				b.Errorf("delete: %d %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkDecodeValidate measures the request decoder and the validation
// pipeline alone.
func BenchmarkDecodeValidate(b *testing.B) {
	h := benchHandler(b)
	ctx := context.Background()
	body := []byte(benchBody)
	for b.Loop() {
		var m clientreg.Metadata
		if err := json.Unmarshal(body, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := h.ValidateMetadata(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}
