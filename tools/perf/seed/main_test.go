package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/bench"
	"github.com/clientreg/clientreg/store/sqlite"
)

// counts returns the rows of the clients, grants, refresh_tokens and
// access_tokens tables of the SQLite database at path.
func counts(t *testing.T, path string) [4]int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n [4]int
	err = db.QueryRow(`SELECT (SELECT count(*) FROM clients), (SELECT count(*) FROM grants),
		(SELECT count(*) FROM refresh_tokens), (SELECT count(*) FROM access_tokens)`).Scan(&n[0], &n[1], &n[2], &n[3])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readClients(t *testing.T, path string) []bench.Client {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs, err := bench.ReadClients(f)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestSeed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	body := filepath.Join(dir, "body.json")
	os.WriteFile(body, []byte(`{"client_name":"web","redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_basic"}`), 0o600)
	const issuer = "http://127.0.0.1:18092"
	first := filepath.Join(dir, "first.jsonl")
	if err := run(ctx, options{db: db, issuer: issuer, body: body, clientsOut: first, clients: 20, grants: 30, conc: 3, sample: 5}); err != nil {
		t.Fatal(err)
	}
	if n := counts(t, db); n != [4]int{20, 30, 30, 30} {
		t.Errorf("after the first run: clients, grants, refresh tokens, access tokens = %v, want 20 30 30 30", n)
	}
	// A second run adds to the database, under the same key; without
	// -sample it writes every client it registered.
	second := filepath.Join(dir, "second.jsonl")
	if err := run(ctx, options{db: db, issuer: issuer, clientsOut: second, clients: 7, grants: 2, conc: 2}); err != nil {
		t.Fatal(err)
	}
	if n := counts(t, db); n != [4]int{27, 32, 32, 32} {
		t.Errorf("after the second run: %v, want 27 32 32 32", n)
	}

	sampled, all := readClients(t, first), readClients(t, second)
	if len(sampled) != 5 || len(all) != 7 {
		t.Fatalf("clients written: %d and %d, want 5 and 7", len(sampled), len(all))
	}
	keyHex, err := os.ReadFile(db + ".key")
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(keyHex)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := clientreg.New(clientreg.Config{Issuer: issuer, Store: st, SecretKey: key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range append(sampled, all...) {
		if seen[c.ID] {
			t.Errorf("client %s written twice", c.ID)
		}
		seen[c.ID] = true
		if c.URI != h.ClientURI(c.ID) || !strings.HasPrefix(c.URI, issuer+"/") {
			t.Errorf("client %s: registration_client_uri %q, want %q", c.ID, c.URI, h.ClientURI(c.ID))
		}
		// What a later clientreg-bench -clients-in does first: read it
		// with its registration access token, under the server's key.
		info, err := h.Read(ctx, c.Token, c.ID)
		if err != nil {
			t.Fatalf("client %s: read with its token: %v", c.ID, err)
		}
		confidential := i < len(sampled)
		if got := info.Metadata.TokenEndpointAuthMethod; confidential && got != "client_secret_basic" || !confidential && got != "none" {
			t.Errorf("client %s: token_endpoint_auth_method %q", c.ID, got)
		}
		if confidential != (c.Secret != "") {
			t.Errorf("client %s: secret %t, want %t", c.ID, c.Secret != "", confidential)
		}
		if want := "seeded client "; !confidential && !strings.HasPrefix(info.Metadata.ClientName, want) {
			t.Errorf("client %s: client_name %q, want %q and its index", c.ID, info.Metadata.ClientName, want)
		}
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"redirect_uris":5}`), 0o600)
	for _, o := range []options{
		{db: db, clients: 0, conc: 1},
		{db: db, clients: 3, conc: 1, sample: 4, clientsOut: first},
		{db: db, clients: 3, conc: 1, body: filepath.Join(dir, "missing.json")},
		{db: db, clients: 3, conc: 1, body: bad},
		{db: "postgres://127.0.0.1:1/x", clients: 1, conc: 1},
	} {
		if err := run(ctx, o); err == nil {
			t.Errorf("run(%+v): no error", o)
		}
	}
}
