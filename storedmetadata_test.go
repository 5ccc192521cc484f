package clientreg_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres"
	"github.com/clientreg/clientreg/store/postgres/pgtest"
)

// The handler encodes a client's metadata before a store writes it and
// decodes it after a store read it; the stores keep the bytes. These tests
// check that round trip over every backend, PostgreSQL included: what the
// storetest suite checks of the bytes, they check of the Metadata.

// postgresBackend opens a store on a PostgreSQL schema of the test's own.
// pgtest.DSN skips the test when no server is configured (and fails it when
// CI is set).
var postgresBackend = backend{name: "postgres", open: func(t testing.TB) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("postgres Close: %v", err)
		}
	})
	return s
}}

// forEachStoredBackend runs f once per backend, PostgreSQL included, as a
// subtest named after it.
func forEachStoredBackend(t *testing.T, f func(t *testing.T, s store.Store)) {
	t.Helper()
	for _, b := range append(backends[:len(backends):len(backends)], postgresBackend) {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}

// storedClient returns a client with the metadata m, ready to be created.
func storedClient(id string, m clientreg.Metadata) *clientreg.Client {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &clientreg.Client{
		Client: store.Client{
			ID: id, IssuedAt: now, UpdatedAt: now, Revision: 1,
			SecretHash: []byte("secret " + id), TokenHash: []byte("token " + id),
		},
		Metadata: m,
	}
}

func mustCreateStored(t *testing.T, s store.Store, c *clientreg.Client) {
	t.Helper()
	if err := clientreg.CreateClient(context.Background(), s, c, store.CreateOptions{}); err != nil {
		t.Fatalf("CreateClient(%q): %v", c.ID, err)
	}
}

func mustGetStored(t *testing.T, s store.Store, id string) *clientreg.Client {
	t.Helper()
	c, err := clientreg.GetClient(context.Background(), s, id)
	if err != nil {
		t.Fatalf("GetClient(%q): %v", id, err)
	}
	return c
}

// wantMetadata fails the test unless got equals want by reflect.DeepEqual,
// so that nil and empty differ.
func wantMetadata(t *testing.T, what string, got, want clientreg.Metadata) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: Metadata differs\n got: %#v\nwant: %#v", what, got, want)
	}
}

// TestStoredMetadataRoundTrip stores metadata with every member set, and
// then updates it to other values: it reads back equal.
func TestStoredMetadataRoundTrip(t *testing.T) {
	forEachStoredBackend(t, func(t *testing.T, s store.Store) {
		m := clientreg.Metadata{
			RedirectURIs:            []string{"https://app.example/cb", "https://app.example/cb?x=1&y=2"},
			TokenEndpointAuthMethod: "client_secret_basic",
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			ResponseTypes:           []string{"code"},
			ClientName:              "Client full",
			ClientURI:               "https://app.example/",
			LogoURI:                 "https://app.example/logo.png",
			Scope:                   "openid profile",
			Contacts:                []string{"ops@app.example", "security@app.example"},
			TOSURI:                  "https://app.example/tos",
			PolicyURI:               "https://app.example/privacy",
			JWKSURI:                 "https://app.example/jwks.json",
			JWKS:                    json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`),
			SoftwareID:              "4NRB1-0XZABZI9E6-5SM3R",
			SoftwareVersion:         "2.1.0",
			SoftwareStatement:       "eyJhbGciOiJSUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6IjEifQ.c2ln",
			Localized: map[string]string{
				"client_name#fr":         "Client français full",
				"client_name#ja-Jpan-JP": "クライアント full",
				"tos_uri#de":             "https://app.example/agb",
			},
			Extensions: map[string]json.RawMessage{
				"example_flag":   json.RawMessage(`true`),
				"example_object": json.RawMessage(`{"b":[1,2.50,null],"a":"x"}`),
			},
		}
		c := storedClient("full", m.Clone())
		mustCreateStored(t, s, c)
		wantMetadata(t, "GetClient", mustGetStored(t, s, "full").Metadata, m)

		u := mustGetStored(t, s, "full")
		u.Metadata = clientreg.Metadata{
			RedirectURIs:            []string{"https://new.example/cb"},
			TokenEndpointAuthMethod: "private_key_jwt",
			GrantTypes:              []string{"client_credentials"},
			ResponseTypes:           []string{},
			ClientName:              "New name",
			ClientURI:               "https://new.example/",
			LogoURI:                 "https://new.example/logo.svg",
			Scope:                   "read",
			Contacts:                []string{"new@new.example"},
			TOSURI:                  "https://new.example/tos",
			PolicyURI:               "https://new.example/privacy",
			JWKSURI:                 "https://new.example/jwks",
			JWKS:                    json.RawMessage(`{"keys":[]}`),
			SoftwareID:              "new-id",
			SoftwareVersion:         "3",
			SoftwareStatement:       "a.b.c",
			Localized:               map[string]string{"client_name#de-CH": "Neuer Name"},
			Extensions:              map[string]json.RawMessage{"example_n": json.RawMessage(`42`)},
		}
		want := u.Metadata.Clone()
		if err := clientreg.UpdateClient(context.Background(), s, u); err != nil {
			t.Fatalf("UpdateClient: %v", err)
		}
		if u.Revision != 2 {
			t.Errorf("UpdateClient set Revision = %d, want 2", u.Revision)
		}
		wantMetadata(t, "GetClient after update", mustGetStored(t, s, "full").Metadata, want)
	})
}

// TestStoredMetadataNilVersusEmpty stores metadata whose members are absent
// (nil) and metadata whose lists are present and empty, and swaps the two
// with updates: each reads back as it was written.
func TestStoredMetadataNilVersusEmpty(t *testing.T) {
	forEachStoredBackend(t, func(t *testing.T, s store.Store) {
		nils := storedClient("nils", clientreg.Metadata{ClientName: "nils"})
		empties := storedClient("empties", clientreg.Metadata{
			RedirectURIs:  []string{},
			GrantTypes:    []string{},
			ResponseTypes: []string{},
			Contacts:      []string{},
		})
		check := func(what string, got, want clientreg.Metadata) {
			t.Helper()
			wantMetadata(t, what, got, want)
			for _, f := range []struct {
				name      string
				got, want []string
			}{
				{"RedirectURIs", got.RedirectURIs, want.RedirectURIs},
				{"GrantTypes", got.GrantTypes, want.GrantTypes},
				{"ResponseTypes", got.ResponseTypes, want.ResponseTypes},
				{"Contacts", got.Contacts, want.Contacts},
			} {
				if (f.got == nil) != (f.want == nil) || len(f.got) != len(f.want) {
					t.Errorf("%s: %s = %#v, want %#v", what, f.name, f.got, f.want)
				}
			}
			if (got.Localized == nil) != (want.Localized == nil) {
				t.Errorf("%s: Localized = %#v, want %#v", what, got.Localized, want.Localized)
			}
			if (got.Extensions == nil) != (want.Extensions == nil) {
				t.Errorf("%s: Extensions = %#v, want %#v", what, got.Extensions, want.Extensions)
			}
			if (got.JWKS == nil) != (want.JWKS == nil) {
				t.Errorf("%s: JWKS = %#v, want %#v", what, got.JWKS, want.JWKS)
			}
		}

		mustCreateStored(t, s, nils)
		mustCreateStored(t, s, empties)
		check("nils", mustGetStored(t, s, "nils").Metadata, nils.Metadata)
		check("empties", mustGetStored(t, s, "empties").Metadata, empties.Metadata)

		// Swap the two shapes with updates.
		ctx := context.Background()
		u := mustGetStored(t, s, "nils")
		u.Metadata = empties.Metadata.Clone()
		if err := clientreg.UpdateClient(ctx, s, u); err != nil {
			t.Fatal(err)
		}
		check("nils updated to empties", mustGetStored(t, s, "nils").Metadata, empties.Metadata)
		u = mustGetStored(t, s, "empties")
		u.Metadata = nils.Metadata.Clone()
		if err := clientreg.UpdateClient(ctx, s, u); err != nil {
			t.Fatal(err)
		}
		check("empties updated to nils", mustGetStored(t, s, "empties").Metadata, nils.Metadata)
	})
}

// TestStoredMetadataUnicodeByteExact stores text that a normalizing or
// escaping encoding would change: it reads back byte for byte.
func TestStoredMetadataUnicodeByteExact(t *testing.T) {
	names := []string{
		"Emoji 🚀🔐👩‍💻 app",
		"日本語のクライアント 客户端 클라이언트",
		"e\u0301 vs \u00e9, A\u030a, Z\u0351\u0307\u0323",
		`<script>alert("x")</script> & friends`,
		`\u0041 is not A, "quoted", back\slash`,
		"tab\tnew line\nnul\x00end",
		"\u2028line separator\u2029paragraph separator",
		"\uFEFFbom, \U0001F1EF\U0001F1F5 flag, right-to-left \u05E9\u05DC\u05D5\u05DD",
	}
	forEachStoredBackend(t, func(t *testing.T, s store.Store) {
		for i, name := range names {
			id := fmt.Sprintf("unicode-%d", i)
			c := storedClient(id, clientreg.Metadata{
				ClientName: name,
				Localized: map[string]string{
					"client_name#ja-Jpan-JP": "アプリ「" + name + "」",
					"client_name#fr":         "L’application « " + name + " » & co",
					"logo_uri#zh-Hant-TW":    "https://app.example/標誌.png?a=1&b=<2>",
				},
				Extensions: map[string]json.RawMessage{
					"example_string": json.RawMessage(`"<b>\u0041 & \u00e9</b> é 🚀"`),
					"example_spaced": json.RawMessage(`{ "z" : [ 1 , 2 ] ,"a":{"n":null} }`),
					"example_number": json.RawMessage(`1.50e+2`),
				},
			})
			want := c.Metadata.Clone()
			mustCreateStored(t, s, c)
			got := mustGetStored(t, s, id).Metadata
			if got.ClientName != name {
				t.Errorf("ClientName = %+q, want %+q", got.ClientName, name)
			}
			for k, v := range want.Localized {
				if got.Localized[k] != v {
					t.Errorf("Localized[%q] = %+q, want %+q", k, got.Localized[k], v)
				}
			}
			for k, v := range want.Extensions {
				if string(got.Extensions[k]) != string(v) {
					t.Errorf("Extensions[%q] = %+q, want %+q", k, got.Extensions[k], v)
				}
			}
			wantMetadata(t, "client "+id, got, want)
		}
	})
}

// TestStoredMetadataThatCannotBeRead checks that metadata whose encoding
// would not decode is refused before it reaches the store, instead of
// making the client unreadable, and that the error is not mistaken for an
// OAuth error of the request.
func TestStoredMetadataThatCannotBeRead(t *testing.T) {
	forEachStoredBackend(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		c := storedClient("bad", clientreg.Metadata{ClientName: "bad"})
		c.Metadata.Localized = map[string]string{"client_name#not a tag": "x"}
		err := clientreg.CreateClient(ctx, s, c, store.CreateOptions{})
		if err == nil {
			t.Fatal("CreateClient with an invalid language tag succeeded")
		}
		if _, ok := errors.AsType[*clientreg.Error](err); ok {
			t.Errorf("the error is a *clientreg.Error: %v", err)
		}
		if _, err := s.GetClient(ctx, "bad"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetClient: %v, want ErrNotFound", err)
		}

		good := storedClient("good", clientreg.Metadata{ClientName: "good"})
		mustCreateStored(t, s, good)
		good.Metadata.Extensions = map[string]json.RawMessage{"x": nil}
		if err := clientreg.UpdateClient(ctx, s, good); err == nil {
			t.Error("UpdateClient with a nil extension value succeeded")
		}
		if got, err := s.GetClient(ctx, "good"); err != nil || got.Revision != 1 {
			t.Errorf("GetClient: %+v, %v; want revision 1", got, err)
		}
	})
}
