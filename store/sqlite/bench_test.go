package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/sqlite"
)

// The benchmarks measure the store's operations on a database file, in
// parallel as the server runs them (SetParallelism(8): 8 goroutines per
// GOMAXPROCS), and one writer alone (the Serial variants). Run them with:
//
//	go test -run '^$' -bench . -benchmem ./store/sqlite

// benchStore opens a store in a temporary directory.
func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchSeq numbers the clients of all benchmarks, so that IDs and token
// hashes never repeat within a database.
var benchSeq atomic.Int64

// benchClient returns a client as the handler stores it after a typical
// registration, with hashes unique to it. Its metadata differ from the other
// clients' as real clients' do (a loopback redirect URI with a port of its
// own, a name), so that no read can profit from another client's encoding.
func benchClient() *store.Client {
	n := benchSeq.Add(1)
	id := fmt.Sprintf("bench-%d", n)
	sum := func(s string) []byte { h := sha256.Sum256([]byte(s + id)); return h[:] }
	now := time.Now().UTC()
	return &store.Client{
		ID: id, IssuedAt: now, UpdatedAt: now, Revision: 1,
		Metadata:   benchMetadata(1024+n%64000, "bench "+id),
		SecretHash: sum("secret"),
		TokenHash:  sum("token"),
	}
}

// benchMetadata returns the stored metadata of a typical registration with
// a loopback redirect URI on port and the client_name name.
func benchMetadata(port int64, name string) []byte {
	return fmt.Appendf(nil, `{"redirect_uris":["http://127.0.0.1:%d/cb"],"token_endpoint_auth_method":"client_secret_basic",`+
		`"grant_types":["authorization_code"],"response_types":["code"],"client_name":%q}`, port, name)
}

// benchCreated stores n clients outside the timer and returns them.
func benchCreated(b *testing.B, s *sqlite.Store, n int) []*store.Client {
	b.Helper()
	cs := make([]*store.Client, n)
	for i := range cs {
		cs[i] = benchClient()
		if err := s.CreateClient(context.Background(), cs[i], store.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return cs
}

// benchParallel runs op in parallel, as the server calls the store
// (SetParallelism(8)), until the benchmark has run b.N times.
func benchParallel(b *testing.B, op func(ctx context.Context) error) {
	b.Helper()
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCreate(b *testing.B) {
	s := benchStore(b)
	benchParallel(b, func(ctx context.Context) error {
		return s.CreateClient(ctx, benchClient(), store.CreateOptions{})
	})
}

func BenchmarkCreateSerial(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for b.Loop() {
		if err := s.CreateClient(ctx, benchClient(), store.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateLimited creates clients with an initial access token and a
// policy limit, which add a write and a count to the transaction. Each
// client has a policy of its own, so that the count, which reads the
// policy's clients up to the limit, costs the same at every iteration.
func BenchmarkCreateLimited(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	tok := &store.InitialToken{Hash: []byte("bench initial token"), CreatedAt: time.Now()}
	if err := s.CreateInitialToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	opts := store.CreateOptions{InitialTokenHash: tok.Hash, Now: time.Now(), MaxClients: 10}
	benchParallel(b, func(ctx context.Context) error {
		c := benchClient()
		c.Policy = c.ID
		return s.CreateClient(ctx, c, opts)
	})
}

func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	cs := benchCreated(b, s, 1000)
	var next atomic.Int64
	benchParallel(b, func(ctx context.Context) error {
		_, err := s.GetClient(ctx, cs[next.Add(1)%int64(len(cs))].ID)
		return err
	})
}

func BenchmarkGetByTokenHash(b *testing.B) {
	s := benchStore(b)
	cs := benchCreated(b, s, 1000)
	var next atomic.Int64
	benchParallel(b, func(ctx context.Context) error {
		_, err := s.GetClientByTokenHash(ctx, cs[next.Add(1)%int64(len(cs))].TokenHash)
		return err
	})
}

func BenchmarkUpdate(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine updates a client of its own, so that no update
		// conflicts.
		c := benchClient()
		if err := s.CreateClient(ctx, c, store.CreateOptions{}); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			c.Metadata = benchMetadata(1024, fmt.Sprintf("bench %d", c.Revision))
			c.UpdatedAt = time.Now().UTC()
			if err := s.UpdateClient(ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUpdateSerial(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	c := benchCreated(b, s, 1)[0]
	for b.Loop() {
		c.UpdatedAt = time.Now().UTC()
		if err := s.UpdateClient(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDelete(b *testing.B) {
	s := benchStore(b)
	cs := benchCreated(b, s, b.N)
	var next atomic.Int64
	benchParallel(b, func(ctx context.Context) error {
		return s.DeleteClient(ctx, cs[next.Add(1)-1].ID)
	})
}

// BenchmarkCreateAccessToken stores access tokens as the client_credentials
// grant does, for 1000 clients in turn: the hot write path of token
// issuance, which checks that the client exists and is not disabled.
func BenchmarkCreateAccessToken(b *testing.B) {
	s := benchStore(b)
	cs := benchCreated(b, s, 1000)
	var next atomic.Int64
	now := time.Now().UTC()
	benchParallel(b, func(ctx context.Context) error {
		n := next.Add(1)
		h := sha256.Sum256(fmt.Appendf(nil, "access token %d", n))
		return s.CreateAccessToken(ctx, &store.AccessToken{
			Hash: h[:], ClientID: cs[n%int64(len(cs))].ID, Scope: "read",
			IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		})
	})
}

func BenchmarkCreateAccessTokenSerial(b *testing.B) {
	s := benchStore(b)
	cs := benchCreated(b, s, 1000)
	ctx := context.Background()
	now := time.Now().UTC()
	var n int64
	for b.Loop() {
		n++
		h := sha256.Sum256(fmt.Appendf(nil, "access token %d", n))
		if err := s.CreateAccessToken(ctx, &store.AccessToken{
			Hash: h[:], ClientID: cs[n%int64(len(cs))].ID, Scope: "read",
			IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		}); err != nil {
			b.Fatal(err)
		}
	}
}
