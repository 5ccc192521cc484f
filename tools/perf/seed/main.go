// Command seed fills a clientreg SQLite database (or a PostgreSQL one) with
// many clients and live refresh tokens, for tools/perf/scale.sh: the scale
// targets of docs/performance.md are measured with 1,000,000 of each
// stored, which registering and authorizing over HTTP would take most of an
// hour to make.
//
//	go run ./tools/perf/seed -db perf.db -clients 1000000 -grants 1000000
//
// Clients are registered with clientreg's own Handler.Register (so their
// records are what the server writes: validated metadata, keyed hashes
// under the server's key, which the key file next to the database holds,
// created as `clientreg serve` would create it). Grants are written
// through the store contract as the token endpoint writes them (an
// authorization code, redeemed into a grant with one refresh token and one
// access token): their tokens are random and nobody holds them, which is
// what a large population of other users' grants is to the requests being
// measured. Grants go round-robin to the clients seeded.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres"
	"github.com/clientreg/clientreg/store/sqlite"
)

func main() {
	db := flag.String("db", "", "the SQLite database file, or a postgres:// URL (then -secret-key-file is required)")
	keyFile := flag.String("secret-key-file", "", "the server key file (default: the SQLite path + .key, created when missing)")
	nClients := flag.Int("clients", 1000, "clients to register")
	nGrants := flag.Int("grants", 0, "grants (each with one live refresh token and one access token) to create")
	conc := flag.Int("c", 4, "concurrent writers")
	flag.Parse()
	if err := run(context.Background(), *db, *keyFile, *nClients, *nGrants, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, db, keyFile string, nClients, nGrants, conc int) error {
	if db == "" || nClients < 1 || nGrants < 0 || conc < 1 {
		return errors.New("want -db, -clients >= 1, -grants >= 0, -c >= 1")
	}
	pg := strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
	if keyFile == "" {
		if pg {
			return errors.New("a postgres:// database needs -secret-key-file")
		}
		keyFile = db + ".key"
	}
	key, err := loadOrCreateKey(keyFile)
	if err != nil {
		return err
	}
	var st store.Store
	if pg {
		st, err = postgres.Open(ctx, db)
	} else {
		st, err = sqlite.Open(ctx, db)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	h, err := clientreg.New(clientreg.Config{Issuer: "http://127.0.0.1", Store: st, SecretKey: key,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	start := time.Now()
	ids := make([]string, nClients)
	err = parallel(nClients, conc, func(i int) error {
		info, err := h.Register(ctx, "", clientreg.Metadata{
			ClientName:              fmt.Sprintf("seeded client %d", i),
			RedirectURIs:            []string{"http://127.0.0.1:9/callback"},
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			ResponseTypes:           []string{"code"},
			TokenEndpointAuthMethod: "none",
		})
		if err != nil {
			return err
		}
		ids[i] = info.ClientID
		return nil
	})
	if err != nil {
		return fmt.Errorf("registering clients: %w", err)
	}
	fmt.Fprintf(os.Stderr, "seed: %d clients in %s\n", nClients, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	now := time.Now().UTC().Truncate(time.Microsecond)
	err = parallel(nGrants, conc, func(i int) error {
		client := ids[i%nClients]
		grantID := rand.Text()
		code := &store.AuthorizationCode{Hash: random(32), GrantID: grantID, ClientID: client,
			RedirectURI: "http://127.0.0.1:9/callback", RedirectURIGiven: true,
			CodeChallenge: rand.Text() + rand.Text(), CodeChallengeMethod: "S256",
			Subject: fmt.Sprintf("user-%d", i), IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := st.CreateCode(ctx, code); err != nil {
			return err
		}
		g := &store.Grant{ID: grantID, ClientID: client, Subject: code.Subject, CreatedAt: now, UpdatedAt: now,
			ExpiresAt: now.Add(clientreg.DefaultRefreshTokenLifetime), IdleExpiresAt: now.Add(clientreg.DefaultRefreshTokenIdleLifetime),
			Revision: 1, RefreshHashes: [][]byte{random(32)}}
		at := &store.AccessToken{Hash: random(32), ClientID: client, IssuedAt: now,
			ExpiresAt: now.Add(clientreg.DefaultAccessTokenLifetime), GrantID: grantID, Subject: code.Subject}
		return st.RedeemCode(ctx, code.Hash, now, g, at)
	})
	if err != nil {
		return fmt.Errorf("creating grants: %w", err)
	}
	fmt.Fprintf(os.Stderr, "seed: %d grants in %s\n", nGrants, time.Since(start).Round(time.Millisecond))
	return nil
}

// parallel calls f(0) ... f(n-1) from conc goroutines and returns the first
// error (the others stop at their next item).
func parallel(n, conc int, f func(int) error) error {
	var next atomic.Int64
	var failed atomic.Bool
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					failed.Store(true)
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// loadOrCreateKey reads the key file of `clientreg serve` (64 hexadecimal
// digits and a newline, mode 0600), creating it with a new key as the
// server does when it does not exist.
func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := random(32)
		if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, err
		}
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s: not a clientreg key file", path)
	}
	return key, nil
}
