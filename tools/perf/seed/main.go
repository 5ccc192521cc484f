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
//
// A run adds to what the database holds, so a population can be seeded in
// chunks (scale.sh measures registration between them). -body gives the
// registration request (default: a public client with a loopback redirect
// URI and the authorization_code and refresh_token grants, as an MCP
// client registers); each client's client_name gets its index appended.
// -clients-out writes the registered clients (JSON lines, as
// clientreg-bench -clients-out writes them, for its -clients-in), or with
// -sample K, K of them chosen at random, in random order; their
// registration_client_uri is under -issuer, which must be the issuer the
// server will run with (clientreg serve: http://ADDR).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/bench"
	"github.com/clientreg/clientreg/internal/cli"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres"
	"github.com/clientreg/clientreg/store/sqlite"
)

func main() {
	var o options
	flag.StringVar(&o.db, "db", "", "the SQLite database file, or a postgres:// URL (then -secret-key-file is required)")
	flag.StringVar(&o.keyFile, "secret-key-file", "", "the server key file (default: the SQLite path + .key, created when missing)")
	flag.IntVar(&o.clients, "clients", 1000, "clients to register")
	flag.IntVar(&o.grants, "grants", 0, "grants (each with one live refresh token and one access token) to create")
	flag.IntVar(&o.conc, "c", 4, "concurrent writers")
	flag.StringVar(&o.issuer, "issuer", "http://127.0.0.1", "the server's issuer `URL` (the clients' registration_client_uri is under it)")
	flag.StringVar(&o.body, "body", "", "`file` with the JSON registration request (default: a public client with authorization_code and refresh_token)")
	flag.StringVar(&o.clientsOut, "clients-out", "", "write the registered clients to `file` (JSON lines, as clientreg-bench -clients-out)")
	flag.IntVar(&o.sample, "sample", 0, "with -clients-out, write only this many clients, chosen at random (0: all)")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	db, keyFile, issuer, body, clientsOut string
	clients, grants, conc, sample         int
}

// defaultMetadata is what a client registers without -body.
var defaultMetadata = clientreg.Metadata{
	ClientName:              "seeded client",
	RedirectURIs:            []string{"http://127.0.0.1:9/callback"},
	GrantTypes:              []string{"authorization_code", "refresh_token"},
	ResponseTypes:           []string{"code"},
	TokenEndpointAuthMethod: "none",
}

func run(ctx context.Context, o options) error {
	db, keyFile, nClients, nGrants, conc := o.db, o.keyFile, o.clients, o.grants, o.conc
	if db == "" || nClients < 1 || nGrants < 0 || conc < 1 || o.sample < 0 || o.sample > nClients {
		return errors.New("want -db, -clients >= 1, -grants >= 0, -c >= 1, 0 <= -sample <= -clients")
	}
	meta := defaultMetadata
	if o.body != "" {
		b, err := os.ReadFile(o.body)
		if err != nil {
			return err
		}
		meta = clientreg.Metadata{}
		if err := json.Unmarshal(b, &meta); err != nil {
			return fmt.Errorf("%s: %w", o.body, err)
		}
	}
	// slot[i] is where client i goes in picked, or -1.
	var slot []int32
	var picked []bench.Client
	if o.clientsOut != "" {
		k := o.sample
		if k == 0 {
			k = nClients
		}
		slot = make([]int32, nClients)
		for i := range slot {
			slot[i] = -1
		}
		for j, i := range mrand.Perm(nClients)[:k] {
			slot[i] = int32(j)
		}
		picked = make([]bench.Client, k)
	}
	pg := strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
	if keyFile == "" {
		if pg {
			return errors.New("a postgres:// database needs -secret-key-file")
		}
		keyFile = db + ".key"
	}
	key, _, err := cli.LoadOrCreateKey(keyFile)
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
	h, err := clientreg.New(clientreg.Config{Issuer: o.issuer, Store: st, SecretKey: key,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	start := time.Now()
	ids := make([]string, nClients)
	err = parallel(nClients, conc, func(i int) error {
		m := meta.Clone()
		m.ClientName = strings.TrimSpace(fmt.Sprintf("%s %d", m.ClientName, i))
		info, err := h.Register(ctx, "", m)
		if err != nil {
			return err
		}
		ids[i] = info.ClientID
		if slot != nil && slot[i] >= 0 {
			picked[slot[i]] = bench.Client{ID: info.ClientID, Secret: info.ClientSecret,
				URI: info.RegistrationClientURI, Token: info.RegistrationAccessToken}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("registering clients: %w", err)
	}
	fmt.Fprintf(os.Stderr, "seed: %d clients in %s\n", nClients, time.Since(start).Round(time.Millisecond))
	if o.clientsOut != "" {
		if err := writeClients(o.clientsOut, picked); err != nil {
			return err
		}
	}
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

func writeClients(path string, cs []bench.Client) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.WriteClients(f, cs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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
