// Package storetest is the conformance suite for implementations of
// store.Store. It imports nothing of the clientreg server: a backend's tests
// depend on the storage contract (package store) alone. Every backend's test
// file hands Run a constructor:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
//	}
//
// Run checks the contract documented in package store: the sentinel errors,
// exact round trips (nil versus empty, UTC times, byte-exact text, metadata
// kept as opaque bytes), compare-and-swap updates, atomic use of initial
// access tokens, access tokens that never outlive their client (even a
// concurrent DeleteClient), replay protection of client assertions that
// admits exactly one of concurrent uses, the conditions of CreateOptions (an
// initial access token used in the same transaction as the client is
// stored, and a per-policy client limit, both exact under concurrency and
// spending nothing on a failure), the removal of expired records, and that
// values are owned by the caller; and, as its subtests Authorization,
// SigningKeys, Idempotency, Lifecycle, Sessions and Admin, the authorization
// records (see RunAuthorization), the signing keys of JWT access tokens
// (see RunSigningKeys), the records of idempotency keys (see
// RunIdempotency), the lifecycle of clients (see RunLifecycle), the
// sessions of signed-in users (see RunSessions) and the operator's tools
// (see RunAdmin).
//
// Two capability suites run beside it. RunDurability checks a store's life
// cycle: a closed store is unavailable, a canceled context writes nothing,
// a reopened database keeps everything, a newer schema is refused and the
// first schema is upgraded (see Durable). RunSharing checks two stores
// opened on one database, as the instances of one deployment are: they see
// each other's writes and the atomic guarantees hold across them.
//
//	func TestDurability(t *testing.T) {
//		storetest.RunDurability(t, storetest.Durable{Open: ..., Database: ...})
//	}
//
//	func TestSharing(t *testing.T) {
//		storetest.RunSharing(t, func(t *testing.T) (a, b store.Store) { ... })
//	}
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// Run runs the conformance suite against the stores that newStore returns.
// Each subtest calls newStore once and expects an empty store; newStore may
// register cleanups with t.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ClientCRUD", testClientCRUD},
		{"MissingClient", testMissingClient},
		{"CreateDuplicateID", testCreateDuplicateID},
		{"CreateTokenHashTaken", testCreateTokenHashTaken},
		{"UpdateTokenHashTaken", testUpdateTokenHashTaken},
		{"SiblingTokenHashes", testSiblingTokenHashes},
		{"UpdateRevokesAccessTokens", testUpdateRevokesAccessTokens},
		{"RoundTripAllFields", testRoundTripAllFields},
		{"ZeroTimes", testZeroTimes},
		{"NilVersusEmpty", testNilVersusEmpty},
		{"UnicodeByteExact", testUnicodeByteExact},
		{"TokenHashLookup", testTokenHashLookup},
		{"DeleteReleasesTokenHashes", testDeleteReleasesTokenHashes},
		{"UpdateRevision", testUpdateRevision},
		{"UpdateRace", testUpdateRace},
		{"ClientOwnership", testClientOwnership},
		{"InitialToken", testInitialToken},
		{"InitialTokenUse", testInitialTokenUse},
		{"InitialTokenOwnership", testInitialTokenOwnership},
		{"InitialTokenConcurrentUse", testInitialTokenConcurrentUse},
		{"PolicyRoundTrip", testPolicyRoundTrip},
		{"CreateWithInitialToken", testCreateWithInitialToken},
		{"CreateMaxClients", testCreateMaxClients},
		{"CreateMaxClientsConcurrent", testCreateMaxClientsConcurrent},
		{"CreateWithInitialTokenConcurrent", testCreateWithInitialTokenConcurrent},
		{"AccessTokenCRUD", testAccessTokenCRUD},
		{"AccessTokenUnknownClient", testAccessTokenUnknownClient},
		{"DeleteClientDeletesTokens", testDeleteClientDeletesTokens},
		{"AccessTokenDeleteRace", testAccessTokenDeleteRace},
		{"AssertionIDReplay", testAssertionIDReplay},
		{"AssertionIDConcurrent", testAssertionIDConcurrent},
		{"DeleteExpired", testDeleteExpired},
		{"CanceledContext", testCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
	t.Run("Authorization", func(t *testing.T) { RunAuthorization(t, newStore) })
	t.Run("SigningKeys", func(t *testing.T) { RunSigningKeys(t, newStore) })
	t.Run("Idempotency", func(t *testing.T) { RunIdempotency(t, newStore) })
	t.Run("Lifecycle", func(t *testing.T) { RunLifecycle(t, newStore) })
	t.Run("Sessions", func(t *testing.T) { RunSessions(t, newStore) })
	t.Run("Admin", func(t *testing.T) { RunAdmin(t, newStore) })
}

// base is the reference time of the suite: in UTC, with microseconds.
var base = time.Date(2025, 6, 1, 12, 30, 45, 123456000, time.UTC)

// hash returns a token or secret hash derived from s.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// newClient returns a client with every field set, Revision 1, whose hashes
// derive from id.
func newClient(id string) *store.Client {
	return &store.Client{
		ID:                       id,
		IssuedAt:                 base,
		UpdatedAt:                base.Add(time.Minute),
		Revision:                 1,
		Metadata:                 fullMetadata(id),
		SecretHash:               hash("secret " + id),
		SecretExpiresAt:          base.Add(90 * 24 * time.Hour),
		SecretCiphertext:         []byte("nonce+ciphertext of the secret of " + id),
		PreviousSecretHash:       hash("previous secret " + id),
		PreviousSecretCiphertext: []byte("nonce+ciphertext of the previous secret of " + id),
		PreviousSecretExpiresAt:  base.Add(7 * 24 * time.Hour),
		TokenHash:                hash("token " + id),
		PreviousTokenHash:        hash("previous token " + id),
		PreviousTokenExpiresAt:   base.Add(10 * time.Minute),
		Origin:                   store.OriginAnonymous,
		LastUsedAt:               base.Add(3 * time.Minute),
	}
}

// fullMetadata returns a stored metadata document whose members derive from
// id: the form clientreg writes (clientreg.Metadata.MarshalJSON), with text
// that a store which parsed or normalized it (as PostgreSQL's jsonb would)
// would change: member order, escapes, white space inside values, numbers
// written as 2.50 and 1.50e+2.
func fullMetadata(id string) []byte {
	return fmt.Appendf(nil, `{"redirect_uris":["https://app.example/cb","https://app.example/cb?x=1\u0026y=2"],`+
		`"token_endpoint_auth_method":"client_secret_basic","grant_types":["authorization_code","refresh_token"],`+
		`"response_types":["code"],"client_name":%s,"client_name#fr":%s,"client_name#ja-Jpan-JP":%s,`+
		`"client_uri":"https://app.example/","logo_uri":"https://app.example/logo.png","scope":"openid profile",`+
		`"contacts":["ops@app.example","security@app.example"],"tos_uri":"https://app.example/tos","tos_uri#de":"https://app.example/agb",`+
		`"policy_uri":"https://app.example/privacy","jwks_uri":"https://app.example/jwks.json",`+
		`"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]},`+
		`"software_id":"4NRB1-0XZABZI9E6-5SM3R","software_version":"2.1.0",`+
		`"software_statement":"eyJhbGciOiJSUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6IjEifQ.c2ln",`+
		`"example_flag":true,"example_object":{"b":[1,2.50,null],"a":"x"},"example_number":1.50e+2}`,
		quote("Client "+id), quote("Client français "+id), quote("クライアント "+id))
}

// metadata returns a small stored metadata document naming the client.
func metadata(name string) []byte {
	return fmt.Appendf(nil, `{"client_name":%s}`, quote(name))
}

// quote returns s as a JSON string.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func mustCreate(t *testing.T, s store.Store, c *store.Client) {
	t.Helper()
	if err := s.CreateClient(context.Background(), c, store.CreateOptions{}); err != nil {
		t.Fatalf("CreateClient(%q): %v", c.ID, err)
	}
}

func mustGet(t *testing.T, s store.Store, id string) *store.Client {
	t.Helper()
	c, err := s.GetClient(context.Background(), id)
	if err != nil {
		t.Fatalf("GetClient(%q): %v", id, err)
	}
	return c
}

func mustUpdate(t *testing.T, s store.Store, c *store.Client) {
	t.Helper()
	if err := s.UpdateClient(context.Background(), c); err != nil {
		t.Fatalf("UpdateClient(%q, revision %d): %v", c.ID, c.Revision, err)
	}
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// wantClient fails the test unless got equals want: times by time.Equal and
// in UTC, everything else by reflect.DeepEqual, so that nil and empty
// differ.
func wantClient(t *testing.T, what string, got, want *store.Client) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil client", what)
		return
	}
	g, w := got.Clone(), want.Clone()
	for _, f := range []struct {
		name     string
		got, wnt *time.Time
	}{
		{"IssuedAt", &g.IssuedAt, &w.IssuedAt},
		{"UpdatedAt", &g.UpdatedAt, &w.UpdatedAt},
		{"SecretExpiresAt", &g.SecretExpiresAt, &w.SecretExpiresAt},
		{"PreviousSecretExpiresAt", &g.PreviousSecretExpiresAt, &w.PreviousSecretExpiresAt},
		{"PreviousTokenExpiresAt", &g.PreviousTokenExpiresAt, &w.PreviousTokenExpiresAt},
		{"LastUsedAt", &g.LastUsedAt, &w.LastUsedAt},
		{"DisabledAt", &g.DisabledAt, &w.DisabledAt},
	} {
		if !f.got.Equal(*f.wnt) {
			t.Errorf("%s: %s = %v, want %v", what, f.name, *f.got, *f.wnt)
		}
		if f.got.IsZero() != f.wnt.IsZero() {
			t.Errorf("%s: %s.IsZero() = %v, want %v", what, f.name, f.got.IsZero(), f.wnt.IsZero())
		}
		if loc := f.got.Location(); loc != time.UTC {
			t.Errorf("%s: %s is in %v, want UTC", what, f.name, loc)
		}
		*f.got, *f.wnt = time.Time{}, time.Time{}
	}
	if !bytes.Equal(g.Metadata, w.Metadata) {
		t.Errorf("%s: Metadata differs\n got: %s\nwant: %s", what, dump(g.Metadata), dump(w.Metadata))
	}
	g.Metadata, w.Metadata = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: client differs\n got: %#v\nwant: %#v", what, g, w)
	}
}

// dump renders stored metadata for a failure message, byte for byte.
func dump(m []byte) string {
	return fmt.Sprintf("%+q", m)
}

func testClientCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("crud")
	mustCreate(t, s, c)
	wantClient(t, "GetClient after create", mustGet(t, s, "crud"), c)

	u := mustGet(t, s, "crud")
	u.Metadata = []byte(`{"redirect_uris":["https://other.example/cb"],"client_name":"Renamed"}`)
	u.UpdatedAt = base.Add(time.Hour)
	mustUpdate(t, s, u)
	if u.Revision != 2 {
		t.Errorf("UpdateClient set Revision = %d, want 2", u.Revision)
	}
	wantClient(t, "GetClient after update", mustGet(t, s, "crud"), u)

	if err := s.DeleteClient(ctx, "crud"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	_, err := s.GetClient(ctx, "crud")
	wantErr(t, "GetClient after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteClient twice", s.DeleteClient(ctx, "crud"), store.ErrNotFound)
	wantErr(t, "UpdateClient after delete", s.UpdateClient(ctx, u), store.ErrNotFound)
}

func testMissingClient(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("present"))

	_, err := s.GetClient(ctx, "missing")
	wantErr(t, "GetClient", err, store.ErrNotFound)
	_, err = s.GetClient(ctx, "")
	wantErr(t, "GetClient(\"\")", err, store.ErrNotFound)
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "missing"), store.ErrNotFound)
	m := newClient("missing")
	wantErr(t, "UpdateClient", s.UpdateClient(ctx, m), store.ErrNotFound)
	if m.Revision != 1 {
		t.Errorf("failed UpdateClient changed Revision to %d", m.Revision)
	}
	if _, err := s.GetClient(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("failed UpdateClient created the client: GetClient error %v", err)
	}
	_, err = s.GetClientByTokenHash(ctx, hash("unknown"))
	wantErr(t, "GetClientByTokenHash", err, store.ErrNotFound)
	wantClient(t, "other client", mustGet(t, s, "present"), newClient("present"))
}

func testCreateDuplicateID(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newClient("dup")
	mustCreate(t, s, a)
	b := newClient("other")
	b.ID = "dup"
	wantErr(t, "CreateClient with a taken ID", s.CreateClient(ctx, b, store.CreateOptions{}), store.ErrAlreadyExists)
	wantClient(t, "original client", mustGet(t, s, "dup"), a)
	for _, h := range [][]byte{b.TokenHash, b.PreviousTokenHash} {
		if _, err := s.GetClientByTokenHash(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the rejected client's token hash is stored: GetClientByTokenHash error %v", err)
		}
	}
}

func testCreateTokenHashTaken(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newClient("a")
	mustCreate(t, s, a)
	cases := []struct {
		name string
		set  func(c *store.Client)
	}{
		{"TokenHash=TokenHash", func(c *store.Client) { c.TokenHash = hash("token a") }},
		{"TokenHash=PreviousTokenHash", func(c *store.Client) { c.TokenHash = hash("previous token a") }},
		{"PreviousTokenHash=TokenHash", func(c *store.Client) { c.PreviousTokenHash = hash("token a") }},
		{"PreviousTokenHash=PreviousTokenHash", func(c *store.Client) { c.PreviousTokenHash = hash("previous token a") }},
	}
	for _, tc := range cases {
		b := newClient("b")
		tc.set(b)
		wantErr(t, "CreateClient with "+tc.name, s.CreateClient(ctx, b, store.CreateOptions{}), store.ErrAlreadyExists)
		if _, err := s.GetClient(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CreateClient with %s stored the client: GetClient error %v", tc.name, err)
		}
	}
	wantClient(t, "client a", mustGet(t, s, "a"), a)
	got, err := s.GetClientByTokenHash(ctx, a.TokenHash)
	if err != nil {
		t.Fatalf("GetClientByTokenHash: %v", err)
	}
	wantClient(t, "client a by token hash", got, a)

	// Without the collision, b is welcome.
	mustCreate(t, s, newClient("b"))
}

func testUpdateTokenHashTaken(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := newClient("a"), newClient("b")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	cases := []struct {
		name string
		set  func(c *store.Client)
	}{
		{"TokenHash=TokenHash", func(c *store.Client) { c.TokenHash = hash("token a") }},
		{"TokenHash=PreviousTokenHash", func(c *store.Client) { c.TokenHash = hash("previous token a") }},
		{"PreviousTokenHash=TokenHash", func(c *store.Client) { c.PreviousTokenHash = hash("token a") }},
		{"PreviousTokenHash=PreviousTokenHash", func(c *store.Client) { c.PreviousTokenHash = hash("previous token a") }},
	}
	for _, tc := range cases {
		u := mustGet(t, s, "b")
		u.Metadata = metadata("must not be stored")
		tc.set(u)
		wantErr(t, "UpdateClient with "+tc.name, s.UpdateClient(ctx, u), store.ErrAlreadyExists)
		if u.Revision != 1 {
			t.Errorf("failed UpdateClient with %s set Revision = %d, want 1", tc.name, u.Revision)
		}
		wantClient(t, "client b after UpdateClient with "+tc.name, mustGet(t, s, "b"), b)
	}
	wantClient(t, "client a", mustGet(t, s, "a"), a)

	// A client's own hashes are not a collision: rotating moves TokenHash
	// into PreviousTokenHash.
	u := mustGet(t, s, "b")
	u.PreviousTokenHash = u.TokenHash
	u.TokenHash = hash("rotated b")
	mustUpdate(t, s, u)
	wantClient(t, "client b after rotation", mustGet(t, s, "b"), u)
}

func testRoundTripAllFields(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("full")
	// Times given in another zone come back in UTC.
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	c.IssuedAt = c.IssuedAt.In(zone)
	c.UpdatedAt = c.UpdatedAt.In(zone)
	c.SecretExpiresAt = c.SecretExpiresAt.In(zone)
	c.PreviousSecretExpiresAt = time.Date(2030, 2, 28, 0, 0, 0, 1000, zone)
	c.PreviousTokenExpiresAt = time.Date(2031, 12, 31, 23, 59, 59, 999999000, zone)
	// Ciphertexts are arbitrary bytes.
	c.SecretCiphertext = []byte{0, 0xff, 0x80, '\'', '"', 0, 0xc3, 0x28}
	c.PreviousSecretCiphertext = []byte{0xfe, 0xff, 0}
	want := c.Clone()
	mustCreate(t, s, c)
	if !reflect.DeepEqual(c, want) {
		t.Errorf("CreateClient modified its argument\n got: %#v\nwant: %#v", c, want)
	}

	wantClient(t, "GetClient", mustGet(t, s, "full"), want)
	for _, h := range [][]byte{c.TokenHash, c.PreviousTokenHash} {
		got, err := s.GetClientByTokenHash(ctx, h)
		if err != nil {
			t.Fatalf("GetClientByTokenHash: %v", err)
		}
		wantClient(t, "GetClientByTokenHash", got, want)
	}

	// Every field changed by an update round-trips too.
	u := mustGet(t, s, "full")
	u.IssuedAt = base.Add(-time.Hour)
	u.UpdatedAt = base.Add(2 * time.Hour)
	u.Metadata = []byte(`{"redirect_uris":["https://new.example/cb"],"token_endpoint_auth_method":"private_key_jwt",` +
		`"grant_types":["client_credentials"],"response_types":[],"client_name":"New name","client_name#de-CH":"Neuer Name",` +
		`"client_uri":"https://new.example/","logo_uri":"https://new.example/logo.svg","scope":"read",` +
		`"contacts":["new@new.example"],"tos_uri":"https://new.example/tos","policy_uri":"https://new.example/privacy",` +
		`"jwks_uri":"https://new.example/jwks","jwks":{"keys":[]},"software_id":"new-id","software_version":"3",` +
		`"software_statement":"a.b.c","example_n":42}`)
	u.PreviousSecretHash = u.SecretHash
	u.PreviousSecretCiphertext = u.SecretCiphertext
	u.PreviousSecretExpiresAt = base.Add(3 * time.Hour)
	u.SecretHash = hash("new secret")
	u.SecretCiphertext = []byte("new ciphertext")
	u.SecretExpiresAt = time.Time{}
	u.PreviousTokenHash = u.TokenHash
	u.PreviousTokenExpiresAt = base.Add(time.Hour)
	u.TokenHash = hash("new token")
	mustUpdate(t, s, u)
	wantClient(t, "GetClient after update", mustGet(t, s, "full"), u)

	// The overlap ends: the previous secret is cleared.
	u.PreviousSecretHash, u.PreviousSecretCiphertext, u.PreviousSecretExpiresAt = nil, nil, time.Time{}
	u.SecretCiphertext = nil
	mustUpdate(t, s, u)
	wantClient(t, "GetClient after clearing the previous secret", mustGet(t, s, "full"), u)
}

func testZeroTimes(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("zero")
	c.IssuedAt, c.UpdatedAt, c.SecretExpiresAt, c.PreviousTokenExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	c.PreviousSecretExpiresAt = time.Time{}
	mustCreate(t, s, c)
	wantClient(t, "GetClient", mustGet(t, s, "zero"), c)

	// Set, then cleared again by updates.
	u := mustGet(t, s, "zero")
	u.SecretExpiresAt, u.PreviousTokenExpiresAt = base, base.Add(time.Second)
	u.PreviousSecretExpiresAt = base.Add(time.Minute)
	mustUpdate(t, s, u)
	wantClient(t, "GetClient after setting times", mustGet(t, s, "zero"), u)
	u.SecretExpiresAt, u.PreviousTokenExpiresAt, u.PreviousSecretExpiresAt = time.Time{}, time.Time{}, time.Time{}
	mustUpdate(t, s, u)
	got := mustGet(t, s, "zero")
	wantClient(t, "GetClient after clearing times", got, u)
	if !got.SecretExpiresAt.IsZero() || !got.PreviousTokenExpiresAt.IsZero() || !got.PreviousSecretExpiresAt.IsZero() {
		t.Errorf("cleared times are not zero: %v, %v, %v", got.SecretExpiresAt, got.PreviousTokenExpiresAt, got.PreviousSecretExpiresAt)
	}
	if _, err := s.GetClientByTokenHash(ctx, c.TokenHash); err != nil {
		t.Errorf("GetClientByTokenHash: %v", err)
	}
}

func testNilVersusEmpty(t *testing.T, s store.Store) {
	nils := newClient("nils")
	nils.Metadata = metadata("nils")
	nils.SecretHash = nil
	nils.SecretExpiresAt = time.Time{}
	nils.SecretCiphertext = nil
	nils.PreviousSecretHash = nil
	nils.PreviousSecretCiphertext = nil
	nils.PreviousSecretExpiresAt = time.Time{}
	nils.PreviousTokenHash = nil
	nils.PreviousTokenExpiresAt = time.Time{}

	empties := newClient("empties")
	empties.Metadata = []byte(`{"redirect_uris":[],"grant_types":[],"response_types":[],"contacts":[]}`)
	empties.SecretHash = []byte{}
	empties.SecretCiphertext = []byte{}
	empties.PreviousSecretHash = []byte{}
	empties.PreviousSecretCiphertext = []byte{}
	empties.PreviousTokenHash = nil

	check := func(what string, got, want *store.Client) {
		t.Helper()
		wantClient(t, what, got, want)
		for _, f := range []struct {
			name      string
			got, want []byte
		}{
			{"SecretHash", got.SecretHash, want.SecretHash},
			{"SecretCiphertext", got.SecretCiphertext, want.SecretCiphertext},
			{"PreviousSecretHash", got.PreviousSecretHash, want.PreviousSecretHash},
			{"PreviousSecretCiphertext", got.PreviousSecretCiphertext, want.PreviousSecretCiphertext},
			{"PreviousTokenHash", got.PreviousTokenHash, want.PreviousTokenHash},
		} {
			if (f.got == nil) != (f.want == nil) {
				t.Errorf("%s: %s = %#v, want %#v", what, f.name, f.got, f.want)
			}
		}
	}

	mustCreate(t, s, nils)
	mustCreate(t, s, empties)
	check("nils", mustGet(t, s, "nils"), nils)
	check("empties", mustGet(t, s, "empties"), empties)

	// Swap the two shapes with updates.
	u := mustGet(t, s, "nils")
	u.Metadata, u.SecretHash = bytes.Clone(empties.Metadata), []byte{}
	u.SecretCiphertext, u.PreviousSecretHash, u.PreviousSecretCiphertext = []byte{}, []byte{}, []byte{}
	mustUpdate(t, s, u)
	check("nils updated to empties", mustGet(t, s, "nils"), u)
	u = mustGet(t, s, "empties")
	u.Metadata, u.SecretHash = bytes.Clone(nils.Metadata), nil
	u.SecretCiphertext, u.PreviousSecretHash, u.PreviousSecretCiphertext = nil, nil, nil
	mustUpdate(t, s, u)
	check("empties updated to nils", mustGet(t, s, "empties"), u)
}

func testUnicodeByteExact(t *testing.T, s store.Store) {
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
	for i, name := range names {
		id := fmt.Sprintf("unicode-%d", i)
		c := newClient(id)
		// The text as encoding/json escapes it, and unescaped: a store
		// keeps either byte for byte.
		c.Metadata = fmt.Appendf(nil, `{"client_name":%s,"client_name#ja-Jpan-JP":"アプリ「%s」",`+
			`"client_name#fr":%s,"logo_uri#zh-Hant-TW":"https://app.example/標誌.png?a=1&b=<2>",`+
			`"example_string":"<b>\u0041 & \u00e9</b> é 🚀","example_spaced":{ "z" : [ 1 , 2 ] ,"a":{"n":null} },`+
			`"example_number":1.50e+2}`,
			quote(name), name, quote("L’application « "+name+" » & co"))
		mustCreate(t, s, c)
		got := mustGet(t, s, id)
		if !bytes.Equal(got.Metadata, c.Metadata) {
			t.Errorf("Metadata = %+q, want %+q", got.Metadata, c.Metadata)
		}
		wantClient(t, "client "+id, got, c)
	}
	// Metadata is opaque: bytes that are not UTF-8, or not JSON, round-trip
	// too.
	c := newClient("opaque")
	c.Metadata = []byte("{\"client_name\":\"\xff\xfe\x00\xc3\x28\"}\x00\x80 not JSON")
	mustCreate(t, s, c)
	wantClient(t, "client with opaque metadata", mustGet(t, s, "opaque"), c)
	u := mustGet(t, s, "opaque")
	u.Metadata = []byte{0xff}
	mustUpdate(t, s, u)
	wantClient(t, "client with opaque metadata, updated", mustGet(t, s, "opaque"), u)
}

func testTokenHashLookup(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := newClient("a"), newClient("b")
	b.PreviousTokenHash, b.PreviousTokenExpiresAt = nil, time.Time{}
	mustCreate(t, s, a)
	mustCreate(t, s, b)

	lookup := func(what string, h []byte, wantID string) {
		t.Helper()
		got, err := s.GetClientByTokenHash(ctx, h)
		if wantID == "" {
			wantErr(t, what, err, store.ErrNotFound)
			return
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if got.ID != wantID {
			t.Errorf("%s: found client %q, want %q", what, got.ID, wantID)
		}
	}
	lookup("a by token", hash("token a"), "a")
	lookup("a by previous token", hash("previous token a"), "a")
	lookup("b by token", hash("token b"), "b")
	lookup("b by its unset previous token", hash("previous token b"), "")
	lookup("unknown hash", hash("unknown"), "")
	lookup("prefix of a hash", hash("token a")[:16], "")

	// Rotation: the current token becomes the previous one.
	u := mustGet(t, s, "a")
	u.PreviousTokenHash = u.TokenHash
	u.TokenHash = hash("token a2")
	mustUpdate(t, s, u)
	lookup("a by new token", hash("token a2"), "a")
	lookup("a by token moved to previous", hash("token a"), "a")
	lookup("a by replaced previous token", hash("previous token a"), "")

	// The previous token is dropped.
	u.PreviousTokenHash, u.PreviousTokenExpiresAt = nil, time.Time{}
	mustUpdate(t, s, u)
	lookup("a by dropped previous token", hash("token a"), "")
	lookup("a by token after drop", hash("token a2"), "a")

	// The token is replaced outright.
	u.TokenHash = hash("token a3")
	mustUpdate(t, s, u)
	lookup("a by replaced token", hash("token a2"), "")
	lookup("a by newest token", hash("token a3"), "a")

	if err := s.DeleteClient(ctx, "a"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	lookup("deleted client by token", hash("token a3"), "")
	lookup("b after deleting a", hash("token b"), "b")
}

func testDeleteReleasesTokenHashes(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newClient("a")
	mustCreate(t, s, a)
	if err := s.DeleteClient(ctx, "a"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	for _, h := range [][]byte{a.TokenHash, a.PreviousTokenHash} {
		_, err := s.GetClientByTokenHash(ctx, h)
		wantErr(t, "GetClientByTokenHash after delete", err, store.ErrNotFound)
	}
	// Deleting released the hashes: another client may take them.
	b := newClient("b")
	b.TokenHash, b.PreviousTokenHash = a.PreviousTokenHash, a.TokenHash
	mustCreate(t, s, b)
	got, err := s.GetClientByTokenHash(ctx, a.TokenHash)
	if err != nil {
		t.Fatalf("GetClientByTokenHash: %v", err)
	}
	wantClient(t, "new owner of the hash", got, b)
}

func testUpdateRevision(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("rev")
	mustCreate(t, s, c)
	if got := mustGet(t, s, "rev"); got.Revision != 1 {
		t.Fatalf("Revision after create = %d, want 1", got.Revision)
	}

	stale := mustGet(t, s, "rev")
	u := mustGet(t, s, "rev")
	u.Metadata = metadata("first update")
	mustUpdate(t, s, u)
	if u.Revision != 2 {
		t.Errorf("UpdateClient set Revision = %d, want 2", u.Revision)
	}
	want := u.Clone()

	stale.Metadata = metadata("lost update")
	stale.TokenHash = hash("lost token")
	wantErr(t, "UpdateClient with a stale revision", s.UpdateClient(ctx, stale), store.ErrConflict)
	if stale.Revision != 1 {
		t.Errorf("failed UpdateClient set Revision = %d, want 1", stale.Revision)
	}
	wantClient(t, "after the conflicting update", mustGet(t, s, "rev"), want)
	if _, err := s.GetClientByTokenHash(ctx, hash("lost token")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the conflicting update's token hash is stored: GetClientByTokenHash error %v", err)
	}

	ahead := want.Clone()
	ahead.Revision = 3
	ahead.Metadata = metadata("from the future")
	wantErr(t, "UpdateClient with a revision ahead", s.UpdateClient(ctx, ahead), store.ErrConflict)
	wantClient(t, "after the update ahead", mustGet(t, s, "rev"), want)

	u = mustGet(t, s, "rev")
	u.Metadata = metadata("second update")
	mustUpdate(t, s, u)
	if got := mustGet(t, s, "rev"); got.Revision != 3 || !bytes.Equal(got.Metadata, metadata("second update")) {
		t.Errorf("after the second update: Revision %d, Metadata %s; want 3, %s", got.Revision, got.Metadata, metadata("second update"))
	}

	// The store keeps whatever revision the caller created the client with.
	seven := newClient("seven")
	seven.Revision = 7
	mustCreate(t, s, seven)
	if got := mustGet(t, s, "seven"); got.Revision != 7 {
		t.Errorf("Revision after create with 7 = %d", got.Revision)
	}
	mustUpdate(t, s, seven)
	if seven.Revision != 8 {
		t.Errorf("UpdateClient set Revision = %d, want 8", seven.Revision)
	}
}

func testUpdateRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("race"))
	const rounds = 50
	for round := range rounds {
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [2]error
			cs    [2]*store.Client
		)
		for i := range cs {
			cs[i] = mustGet(t, s, "race")
			cs[i].Metadata = fmt.Appendf(nil, `{"client_name":"round %d writer %d","contacts":["writer%d@app.example"]}`, round, i, i)
			cs[i].TokenHash = hash(fmt.Sprintf("token %d %d", round, i))
		}
		rev := cs[0].Revision
		for i := range cs {
			wg.Go(func() {
				<-start
				errs[i] = s.UpdateClient(ctx, cs[i])
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both updates of revision %d succeeded", round, rev)
				}
				winner = i
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: writer %d: got error %v, want nil or ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no update succeeded: %v", round, errs)
		}
		loser := 1 - winner
		if cs[winner].Revision != rev+1 || cs[loser].Revision != rev {
			t.Fatalf("round %d: revisions after the race: winner %d, loser %d; want %d, %d",
				round, cs[winner].Revision, cs[loser].Revision, rev+1, rev)
		}
		got := mustGet(t, s, "race")
		wantClient(t, fmt.Sprintf("round %d: stored client", round), got, cs[winner])
		if t.Failed() {
			return
		}
		if _, err := s.GetClientByTokenHash(ctx, cs[loser].TokenHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("round %d: the loser's token hash is stored: GetClientByTokenHash error %v", round, err)
		}
	}
}

func testClientOwnership(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("own")
	want := c.Clone()
	mustCreate(t, s, c)

	// Changing the argument after CreateClient does not reach the store.
	scribble(c)
	wantClient(t, "after changing the created value", mustGet(t, s, "own"), want)

	// Changing returned values does not reach the store.
	got := mustGet(t, s, "own")
	scribble(got)
	wantClient(t, "after changing a GetClient result", mustGet(t, s, "own"), want)
	got, err := s.GetClientByTokenHash(ctx, want.TokenHash)
	if err != nil {
		t.Fatalf("GetClientByTokenHash: %v", err)
	}
	scribble(got)
	wantClient(t, "after changing a GetClientByTokenHash result", mustGet(t, s, "own"), want)

	// Changing the argument after UpdateClient does not reach the store.
	u := mustGet(t, s, "own")
	u.Metadata = metadata("updated")
	mustUpdate(t, s, u)
	want = u.Clone()
	scribble(u)
	wantClient(t, "after changing the updated value", mustGet(t, s, "own"), want)

	// Two results do not share memory either.
	g1, g2 := mustGet(t, s, "own"), mustGet(t, s, "own")
	scribble(g1)
	wantClient(t, "a second GetClient result", g2, want)
}

// scribble changes every slice and hash of c in place, the metadata
// included, and then replaces the metadata.
func scribble(c *store.Client) {
	for _, b := range [][]byte{c.Metadata, c.SecretHash, c.SecretCiphertext, c.PreviousSecretHash, c.PreviousSecretCiphertext, c.TokenHash, c.PreviousTokenHash} {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	c.Metadata = metadata("scribbled")
}

// newToken returns an initial access token derived from name.
func newToken(name string, maxUses int64, expiresAt time.Time) *store.InitialToken {
	return &store.InitialToken{
		Hash:      hash("initial " + name),
		CreatedAt: base,
		ExpiresAt: expiresAt,
		MaxUses:   maxUses,
	}
}

func mustCreateToken(t *testing.T, s store.Store, tok *store.InitialToken) {
	t.Helper()
	if err := s.CreateInitialToken(context.Background(), tok); err != nil {
		t.Fatalf("CreateInitialToken: %v", err)
	}
}

func wantToken(t *testing.T, what string, got, want *store.InitialToken) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil token", what)
		return
	}
	if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("%s: CreatedAt = %v, want %v in UTC", what, got.CreatedAt, want.CreatedAt)
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) || got.ExpiresAt.Location() != time.UTC || got.ExpiresAt.IsZero() != want.ExpiresAt.IsZero() {
		t.Errorf("%s: ExpiresAt = %v, want %v in UTC", what, got.ExpiresAt, want.ExpiresAt)
	}
	g, w := *got, *want
	g.CreatedAt, g.ExpiresAt, w.CreatedAt, w.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: token = %#v, want %#v", what, g, w)
	}
}

func testInitialToken(t *testing.T, s store.Store) {
	ctx := context.Background()
	zone := time.FixedZone("UTC-08:00", -8*3600)
	tok := newToken("a", 5, base.Add(24*time.Hour).In(zone))
	tok.CreatedAt = tok.CreatedAt.In(zone)
	tok.Uses = 2
	want := *tok
	mustCreateToken(t, s, tok)
	got, err := s.GetInitialToken(ctx, tok.Hash)
	if err != nil {
		t.Fatalf("GetInitialToken: %v", err)
	}
	wantToken(t, "GetInitialToken", got, &want)

	never := newToken("never", 0, time.Time{})
	mustCreateToken(t, s, never)
	got, err = s.GetInitialToken(ctx, never.Hash)
	if err != nil {
		t.Fatalf("GetInitialToken: %v", err)
	}
	wantToken(t, "GetInitialToken of a token without expiry", got, never)

	dup := newToken("a", 1, time.Time{})
	wantErr(t, "CreateInitialToken with a taken hash", s.CreateInitialToken(ctx, dup), store.ErrAlreadyExists)
	got, err = s.GetInitialToken(ctx, tok.Hash)
	if err != nil {
		t.Fatalf("GetInitialToken: %v", err)
	}
	wantToken(t, "after the duplicate", got, &want)

	_, err = s.GetInitialToken(ctx, hash("missing"))
	wantErr(t, "GetInitialToken of a missing token", err, store.ErrNotFound)
	_, err = s.UseInitialToken(ctx, hash("missing"), base)
	wantErr(t, "UseInitialToken of a missing token", err, store.ErrNotFound)

	// Initial tokens and registration access tokens are separate.
	c := newClient("c")
	c.TokenHash = tok.Hash
	mustCreate(t, s, c)
	if _, err := s.GetInitialToken(ctx, tok.Hash); err != nil {
		t.Errorf("GetInitialToken after a client took the same hash: %v", err)
	}
}

func testInitialTokenUse(t *testing.T, s store.Store) {
	ctx := context.Background()
	expiry := base.Add(time.Hour)

	use := func(what string, tok *store.InitialToken, now time.Time, wantUses int64) {
		t.Helper()
		got, err := s.UseInitialToken(ctx, tok.Hash, now)
		if wantUses == 0 {
			wantErr(t, what, err, store.ErrNotFound)
			return
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		want := *tok
		want.Uses = wantUses
		wantToken(t, what, got, &want)
	}
	stored := func(what string, tok *store.InitialToken, wantUses int64) {
		t.Helper()
		got, err := s.GetInitialToken(ctx, tok.Hash)
		if err != nil {
			t.Errorf("%s: GetInitialToken: %v", what, err)
			return
		}
		if got.Uses != wantUses {
			t.Errorf("%s: stored Uses = %d, want %d", what, got.Uses, wantUses)
		}
	}

	limited := newToken("limited", 2, expiry)
	mustCreateToken(t, s, limited)
	use("first use", limited, base, 1)
	use("second use", limited, base, 2)
	use("use beyond MaxUses", limited, base, 0)
	stored("used up", limited, 2)

	expiring := newToken("expiring", 0, expiry)
	mustCreateToken(t, s, expiring)
	use("use just before expiry", expiring, expiry.Add(-time.Microsecond), 1)
	use("use at expiry", expiring, expiry, 0)
	use("use after expiry", expiring, expiry.Add(time.Hour), 0)
	stored("expired", expiring, 1)

	unlimited := newToken("unlimited", 0, time.Time{})
	mustCreateToken(t, s, unlimited)
	for i := range int64(25) {
		use("unlimited use", unlimited, base.AddDate(100, 0, 0), i+1)
	}
	stored("unlimited", unlimited, 25)

	// A token created used up, or created already expired, is not usable.
	full := newToken("full", 3, time.Time{})
	full.Uses = 3
	mustCreateToken(t, s, full)
	use("use of a token created used up", full, base, 0)
	stored("created used up", full, 3)
	past := newToken("past", 1, base.Add(-time.Second))
	mustCreateToken(t, s, past)
	use("use of a token created expired", past, base, 0)
	stored("created expired", past, 0)
}

func testInitialTokenOwnership(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := newToken("own", 3, base.Add(time.Hour))
	h := append([]byte{}, tok.Hash...)
	mustCreateToken(t, s, tok)
	tok.Hash[0] ^= 0xff
	tok.Uses = 99

	got, err := s.GetInitialToken(ctx, h)
	if err != nil {
		t.Fatalf("GetInitialToken after changing the created value: %v", err)
	}
	if got.Uses != 0 {
		t.Errorf("stored Uses = %d after changing the created value", got.Uses)
	}
	got.Hash[0] ^= 0xff
	got.Uses = 99
	used, err := s.UseInitialToken(ctx, h, base)
	if err != nil {
		t.Fatalf("UseInitialToken after changing a returned value: %v", err)
	}
	if used.Uses != 1 {
		t.Errorf("Uses = %d, want 1", used.Uses)
	}
	used.Hash[0] ^= 0xff
	if got, err := s.GetInitialToken(ctx, h); err != nil || got.Uses != 1 {
		t.Errorf("GetInitialToken after changing a UseInitialToken result: %+v, %v", got, err)
	}
}

func testInitialTokenConcurrentUse(t *testing.T, s store.Store) {
	ctx := context.Background()
	const maxUses, workers = 7, 40
	tok := newToken("concurrent", maxUses, base.Add(time.Hour))
	mustCreateToken(t, s, tok)

	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		mu    sync.Mutex
		uses  = make(map[int64]int)
		other []error
	)
	for range workers {
		wg.Go(func() {
			<-start
			got, err := s.UseInitialToken(ctx, tok.Hash, base)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				uses[got.Uses]++
			case !errors.Is(err, store.ErrNotFound):
				other = append(other, err)
			}
		})
	}
	close(start)
	wg.Wait()

	if len(other) > 0 {
		t.Errorf("unexpected errors (want nil or ErrNotFound): %v", other)
	}
	// Each success saw a distinct count: 1, 2, ..., maxUses.
	for n := int64(1); n <= maxUses; n++ {
		if uses[n] != 1 {
			t.Errorf("Uses = %d was returned %d times, want once", n, uses[n])
		}
	}
	if len(uses) != maxUses {
		t.Errorf("successful uses returned the counts %v, want 1..%d once each", uses, maxUses)
	}
	got, err := s.GetInitialToken(ctx, tok.Hash)
	if err != nil {
		t.Fatalf("GetInitialToken: %v", err)
	}
	if got.Uses != maxUses {
		t.Errorf("stored Uses = %d, want %d", got.Uses, maxUses)
	}
}

// testCanceledContext calls every method with a canceled context. Backends
// that do no I/O may ignore the context, so the test asks only that nothing
// panics and that no write is reported as done when it was not.
func testCanceledContext(t *testing.T, s store.Store) {
	bg := context.Background()
	ctx, cancel := context.WithCancel(bg)
	cancel()

	c := newClient("ctx")
	if err := s.CreateClient(ctx, c, store.CreateOptions{}); err == nil {
		got, err := s.GetClient(bg, "ctx")
		if err != nil {
			t.Fatalf("CreateClient with a canceled context reported success, but GetClient: %v", err)
		}
		wantClient(t, "client created with a canceled context", got, c)
	} else {
		t.Logf("CreateClient with a canceled context: %v", err)
		mustCreate(t, s, c)
	}

	if got, err := s.GetClient(ctx, "ctx"); err == nil {
		wantClient(t, "GetClient with a canceled context", got, c)
	}
	if got, err := s.GetClientByTokenHash(ctx, c.TokenHash); err == nil {
		wantClient(t, "GetClientByTokenHash with a canceled context", got, c)
	}

	u := mustGet(t, s, "ctx")
	u.Metadata = metadata("updated with a canceled context")
	if err := s.UpdateClient(ctx, u); err == nil {
		wantClient(t, "client updated with a canceled context", mustGet(t, s, "ctx"), u)
	} else if u.Revision != 1 {
		t.Errorf("UpdateClient failed (%v) but set Revision = %d", err, u.Revision)
	}

	if err := s.DeleteClient(ctx, "ctx"); err == nil {
		if _, err := s.GetClient(bg, "ctx"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteClient with a canceled context reported success, but GetClient: %v", err)
		}
	}

	tok := newToken("ctx", 0, time.Time{})
	if err := s.CreateInitialToken(ctx, tok); err == nil {
		if _, err := s.GetInitialToken(bg, tok.Hash); err != nil {
			t.Errorf("CreateInitialToken with a canceled context reported success, but GetInitialToken: %v", err)
		}
	} else {
		mustCreateToken(t, s, tok)
	}
	if got, err := s.UseInitialToken(ctx, tok.Hash, base); err == nil {
		stored, err := s.GetInitialToken(bg, tok.Hash)
		if err != nil || stored.Uses != got.Uses || got.Uses != 1 {
			t.Errorf("UseInitialToken with a canceled context returned Uses %d; stored %+v, %v", got.Uses, stored, err)
		}
	}
	if _, err := s.GetInitialToken(ctx, tok.Hash); err != nil {
		t.Logf("GetInitialToken with a canceled context: %v", err)
	}

	mustCreate(t, s, newClient("ctx-tokens"))
	at := newAccessToken("ctx", "ctx-tokens", base.Add(time.Hour))
	if err := s.CreateAccessToken(ctx, at); err == nil {
		wantAccessToken(t, "access token created with a canceled context", s, at)
	} else {
		mustCreateAccessToken(t, s, at)
	}
	if got, err := s.GetAccessToken(ctx, at.Hash); err == nil {
		checkAccessToken(t, "GetAccessToken with a canceled context", got, at)
	}
	if err := s.UseAssertionID(ctx, "ctx-tokens", "jti", base.Add(time.Hour), base); err == nil {
		wantErr(t, "UseAssertionID with a canceled context reported success, but a replay",
			s.UseAssertionID(bg, "ctx-tokens", "jti", base.Add(time.Hour), base), store.ErrAlreadyExists)
	}
	if err := s.DeleteAccessToken(ctx, at.Hash); err == nil {
		wantNoAccessToken(t, "DeleteAccessToken with a canceled context reported success", s, at.Hash)
	}
	if n, err := s.DeleteExpired(ctx, farFuture); err == nil {
		wantDeleteExpired(t, "DeleteExpired with a canceled context reported success", s, farFuture, 0)
	} else if n != 0 {
		t.Errorf("DeleteExpired failed (%v) but returned %d", err, n)
	}
}

// farFuture is after every expiry the suite uses: DeleteExpired at farFuture
// removes, and counts, every access token and assertion record.
var farFuture = base.AddDate(100, 0, 0)

// newAccessToken returns an access token of client clientID whose hash
// derives from name, issued at base.
func newAccessToken(name, clientID string, expiresAt time.Time) *store.AccessToken {
	return &store.AccessToken{
		Hash:      hash("access " + name),
		ClientID:  clientID,
		Scope:     "openid profile",
		IssuedAt:  base,
		ExpiresAt: expiresAt,
	}
}

func cloneAccessToken(t *store.AccessToken) *store.AccessToken {
	c := *t
	c.Hash = append([]byte(nil), t.Hash...)
	return &c
}

func mustCreateAccessToken(t *testing.T, s store.Store, tok *store.AccessToken) {
	t.Helper()
	if err := s.CreateAccessToken(context.Background(), tok); err != nil {
		t.Fatalf("CreateAccessToken(client %q): %v", tok.ClientID, err)
	}
}

// wantAccessToken fails the test unless the stored access token with want's
// hash equals want: times by time.Equal and in UTC, everything else exactly.
func wantAccessToken(t *testing.T, what string, s store.Store, want *store.AccessToken) {
	t.Helper()
	got, err := s.GetAccessToken(context.Background(), want.Hash)
	if err != nil {
		t.Errorf("%s: GetAccessToken: %v", what, err)
		return
	}
	checkAccessToken(t, what, got, want)
}

// checkAccessToken fails the test unless got equals want: times by
// time.Equal and in UTC, everything else exactly.
func checkAccessToken(t *testing.T, what string, got, want *store.AccessToken) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"IssuedAt", got.IssuedAt, want.IssuedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
	} {
		if !f.got.Equal(f.want) || f.got.Location() != time.UTC {
			t.Errorf("%s: %s = %v, want %v in UTC", what, f.name, f.got, f.want)
		}
	}
	g, w := *got, *want
	g.IssuedAt, g.ExpiresAt, w.IssuedAt, w.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: access token = %#v, want %#v", what, g, w)
	}
}

// wantNoAccessToken fails the test unless no access token has the hash.
func wantNoAccessToken(t *testing.T, what string, s store.Store, hash []byte) {
	t.Helper()
	_, err := s.GetAccessToken(context.Background(), hash)
	wantErr(t, what+": GetAccessToken", err, store.ErrNotFound)
}

// wantDeleteExpired fails the test unless DeleteExpired at now removes n
// rows.
func wantDeleteExpired(t *testing.T, what string, s store.Store, now time.Time, n int64) {
	t.Helper()
	got, err := s.DeleteExpired(context.Background(), now)
	if err != nil {
		t.Errorf("%s: DeleteExpired: %v", what, err)
	} else if got != n {
		t.Errorf("%s: DeleteExpired removed %d rows, want %d", what, got, n)
	}
}

func testAccessTokenCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("owner"))
	mustCreate(t, s, newClient("other"))

	// Times given in another zone come back in UTC, to the microsecond.
	zone := time.FixedZone("UTC-03:00", -3*3600)
	tok := newAccessToken("a", "owner", base.Add(time.Hour+999999*time.Microsecond).In(zone))
	tok.IssuedAt = tok.IssuedAt.In(zone)
	tok.Scope = "openid profile email"
	want := cloneAccessToken(tok)
	mustCreateAccessToken(t, s, tok)
	if !reflect.DeepEqual(tok, want) {
		t.Errorf("CreateAccessToken modified its argument\n got: %#v\nwant: %#v", tok, want)
	}
	wantAccessToken(t, "after create", s, want)

	// An empty scope, and a second token of the same client.
	none := newAccessToken("no scope", "owner", base.Add(time.Minute))
	none.Scope = ""
	mustCreateAccessToken(t, s, none)
	wantAccessToken(t, "token without scope", s, none)

	// A taken hash, also for another client, changes nothing.
	dup := newAccessToken("a", "other", base.Add(2*time.Hour))
	dup.Scope = "admin"
	wantErr(t, "CreateAccessToken with a taken hash", s.CreateAccessToken(ctx, dup), store.ErrAlreadyExists)
	wantAccessToken(t, "after the duplicate", s, want)

	// Access tokens, registration access tokens and initial access tokens
	// are separate: the same hash may be each of them.
	reg := newAccessToken("reg", "owner", base.Add(time.Hour))
	reg.Hash = hash("token owner")
	mustCreateAccessToken(t, s, reg)
	if got, err := s.GetClientByTokenHash(ctx, reg.Hash); err != nil || got.ID != "owner" {
		t.Errorf("GetClientByTokenHash after an access token took the same hash: %v, %v", got, err)
	}
	mustCreateToken(t, s, &store.InitialToken{Hash: tok.Hash, CreatedAt: base})
	wantAccessToken(t, "after an initial token took the same hash", s, want)

	// Values are the caller's: changing them does not reach the store.
	tok.Hash[0] ^= 0xff
	tok.ClientID, tok.Scope = "other", "scribbled"
	wantAccessToken(t, "after changing the created value", s, want)
	got, err := s.GetAccessToken(ctx, want.Hash)
	if err != nil {
		t.Fatalf("GetAccessToken: %v", err)
	}
	got.Hash[0] ^= 0xff
	got.Scope = "scribbled"
	wantAccessToken(t, "after changing a returned value", s, want)

	// Missing tokens.
	_, err = s.GetAccessToken(ctx, hash("missing"))
	wantErr(t, "GetAccessToken of a missing token", err, store.ErrNotFound)
	wantErr(t, "DeleteAccessToken of a missing token", s.DeleteAccessToken(ctx, hash("missing")), store.ErrNotFound)

	// Delete, once.
	if err := s.DeleteAccessToken(ctx, want.Hash); err != nil {
		t.Fatalf("DeleteAccessToken: %v", err)
	}
	wantNoAccessToken(t, "after delete", s, want.Hash)
	wantErr(t, "DeleteAccessToken twice", s.DeleteAccessToken(ctx, want.Hash), store.ErrNotFound)
	wantAccessToken(t, "the other token after delete", s, none)
	if _, err := s.GetInitialToken(ctx, want.Hash); err != nil {
		t.Errorf("GetInitialToken after deleting the access token with the same hash: %v", err)
	}
	// The hash is free again.
	mustCreateAccessToken(t, s, dup)
	wantAccessToken(t, "token created with a freed hash", s, dup)
}

func testAccessTokenUnknownClient(t *testing.T, s store.Store) {
	ctx := context.Background()
	exp := base.Add(time.Hour)
	tok := newAccessToken("ghost", "ghost", exp)
	wantErr(t, "CreateAccessToken for a client that never existed", s.CreateAccessToken(ctx, tok), store.ErrNotFound)
	wantNoAccessToken(t, "token of a client that never existed", s, tok.Hash)

	mustCreate(t, s, newClient("gone"))
	if err := s.DeleteClient(ctx, "gone"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	tok = newAccessToken("gone", "gone", exp)
	wantErr(t, "CreateAccessToken for a deleted client", s.CreateAccessToken(ctx, tok), store.ErrNotFound)
	wantNoAccessToken(t, "token of a deleted client", s, tok.Hash)

	// Client IDs compare byte for byte.
	mustCreate(t, s, newClient("Case"))
	for _, id := range []string{"case", "Case ", "Cas", ""} {
		tok := newAccessToken("near "+id, id, exp)
		wantErr(t, fmt.Sprintf("CreateAccessToken for client %q", id), s.CreateAccessToken(ctx, tok), store.ErrNotFound)
	}
	wantDeleteExpired(t, "nothing was stored", s, farFuture, 0)
}

func testDeleteClientDeletesTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	exp := base.Add(time.Hour)
	mustCreate(t, s, newClient("a"))
	mustCreate(t, s, newClient("b"))
	a1, a2, b1 := newAccessToken("a1", "a", exp), newAccessToken("a2", "a", exp), newAccessToken("b1", "b", exp)
	for _, tok := range []*store.AccessToken{a1, a2, b1} {
		mustCreateAccessToken(t, s, tok)
	}
	for _, u := range []struct{ client, jti string }{{"a", "jti-1"}, {"a", "jti-2"}, {"b", "jti-1"}} {
		if err := s.UseAssertionID(ctx, u.client, u.jti, exp, base); err != nil {
			t.Fatalf("UseAssertionID(%q, %q): %v", u.client, u.jti, err)
		}
	}

	if err := s.DeleteClient(ctx, "a"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	wantNoAccessToken(t, "first token of the deleted client", s, a1.Hash)
	wantNoAccessToken(t, "second token of the deleted client", s, a2.Hash)
	wantErr(t, "DeleteAccessToken of a token of the deleted client", s.DeleteAccessToken(ctx, a1.Hash), store.ErrNotFound)
	wantAccessToken(t, "token of the other client", s, b1)

	// A new client with the same ID starts afresh: no token, no jti.
	mustCreate(t, s, newClient("a"))
	wantNoAccessToken(t, "token of the deleted client, after a new client took its ID", s, a1.Hash)
	if err := s.UseAssertionID(ctx, "a", "jti-1", exp, base); err != nil {
		t.Errorf("UseAssertionID of a jti of the deleted client, by a new client with its ID: %v", err)
	}
	wantErr(t, "UseAssertionID of the other client's jti", s.UseAssertionID(ctx, "b", "jti-1", exp, base), store.ErrAlreadyExists)

	// Nothing of the deleted client was left behind, even hidden: removing
	// everything finds b1, b's jti-1 and the new a's jti-1 only.
	wantDeleteExpired(t, "every row", s, farFuture, 3)
}

// testAccessTokenDeleteRace creates access tokens while their client is
// being deleted. Whatever the order, no token may outlive the client: a
// token either is created before the delete, which then deletes it too, or
// is refused with ErrNotFound.
func testAccessTokenDeleteRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const rounds, creators = 30, 4
	exp := base.Add(time.Hour)
	var created, refused int
	for round := range rounds {
		id := fmt.Sprintf("race-%d", round)
		mustCreate(t, s, newClient(id))
		var (
			start  = make(chan struct{})
			wg     sync.WaitGroup
			toks   [creators]*store.AccessToken
			errs   [creators]error
			delErr error
		)
		for i := range toks {
			toks[i] = newAccessToken(fmt.Sprintf("%s/%d", id, i), id, exp)
			wg.Go(func() {
				<-start
				errs[i] = s.CreateAccessToken(ctx, toks[i])
			})
		}
		wg.Go(func() {
			<-start
			delErr = s.DeleteClient(ctx, id)
		})
		close(start)
		wg.Wait()

		if delErr != nil {
			t.Fatalf("round %d: DeleteClient: %v", round, delErr)
		}
		if _, err := s.GetClient(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("round %d: GetClient after DeleteClient: got error %v, want ErrNotFound", round, err)
		}
		for i, err := range errs {
			switch {
			case err == nil:
				created++
			case errors.Is(err, store.ErrNotFound):
				refused++
			default:
				t.Fatalf("round %d: CreateAccessToken %d: got error %v, want nil or ErrNotFound", round, i, err)
			}
			if _, err := s.GetAccessToken(ctx, toks[i].Hash); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("round %d: token %d (CreateAccessToken error %v) outlived its client: GetAccessToken error %v",
					round, i, errs[i], err)
			}
		}
	}
	t.Logf("%d tokens created before the delete, %d refused after it", created, refused)
	wantDeleteExpired(t, "no token of a deleted client is left", s, farFuture, 0)
}

func testAssertionIDReplay(t *testing.T, s store.Store) {
	ctx := context.Background()
	use := func(what, clientID, jti string, expiresAt, now time.Time, want error) {
		t.Helper()
		err := s.UseAssertionID(ctx, clientID, jti, expiresAt, now)
		if want == nil {
			if err != nil {
				t.Errorf("%s: UseAssertionID(%q, %q): %v", what, clientID, jti, err)
			}
			return
		}
		wantErr(t, fmt.Sprintf("%s: UseAssertionID(%q, %q)", what, clientID, jti), err, want)
	}
	mustCreate(t, s, newClient("a"))
	mustCreate(t, s, newClient("b"))
	exp := base.Add(5 * time.Minute)

	use("first use", "a", "jti-1", exp, base, nil)
	use("replay", "a", "jti-1", exp, base.Add(time.Minute), store.ErrAlreadyExists)
	use("replay just before expiry", "a", "jti-1", exp, exp.Add(-time.Microsecond), store.ErrAlreadyExists)
	use("replay with another expiry", "a", "jti-1", exp.Add(time.Hour), base, store.ErrAlreadyExists)
	use("the same jti by another client", "b", "jti-1", exp, base, nil)
	use("replay by the other client", "b", "jti-1", exp, base, store.ErrAlreadyExists)
	use("another jti", "a", "jti-2", exp, base, nil)

	// JWT IDs and client IDs compare byte for byte.
	variants := []string{"jti-1 ", "JTI-1", "jti-1\x00", "jti-1\x00x", "jti-\u00e9", "jti-e\u0301", "ジェイティーアイ"}
	for _, jti := range variants {
		use("first use of a near jti", "a", jti, exp, base, nil)
	}
	for _, jti := range variants {
		use("replay of a near jti", "a", jti, exp, base, store.ErrAlreadyExists)
	}
	use("a client ID that differs in case", "A", "jti-1", exp, base, nil)

	// At its expiry the record is expired, and a use replaces it.
	exp2 := exp.Add(time.Hour)
	use("use at the expiry of the record", "a", "jti-1", exp2, exp, nil)
	use("replay after the replacement", "a", "jti-1", exp2, exp.Add(time.Minute), store.ErrAlreadyExists)
	use("replay just before the new expiry", "a", "jti-1", exp2, exp2.Add(-time.Microsecond), store.ErrAlreadyExists)
	use("use after the new expiry", "a", "jti-1", exp2.Add(time.Hour), exp2.Add(time.Second), nil)
	use("replay after the second replacement", "a", "jti-1", exp2.Add(time.Hour), exp2.Add(time.Minute), store.ErrAlreadyExists)
	// The other client's record is untouched.
	use("replay by the other client before its expiry", "b", "jti-1", exp, exp.Add(-time.Microsecond), store.ErrAlreadyExists)
}

func testAssertionIDConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers = 20
	mustCreate(t, s, newClient("a"))
	race := func(what, jti string, now time.Time) {
		t.Helper()
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			mu    sync.Mutex
			ok    int
			other []error
		)
		for range workers {
			wg.Go(func() {
				<-start
				err := s.UseAssertionID(ctx, "a", jti, base.Add(time.Hour), now)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, store.ErrAlreadyExists):
					other = append(other, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(other) > 0 {
			t.Errorf("%s: unexpected errors (want nil or ErrAlreadyExists): %v", what, other)
		}
		if ok != 1 {
			t.Errorf("%s: %d of %d concurrent uses succeeded, want exactly 1", what, ok, workers)
		}
	}
	for round := range 5 {
		race(fmt.Sprintf("round %d: a new jti", round), fmt.Sprintf("jti-%d", round), base)
	}
	// A use that replaces an expired record is one of a kind too.
	if err := s.UseAssertionID(ctx, "a", "expired", base, base.Add(-time.Hour)); err != nil {
		t.Fatalf("UseAssertionID: %v", err)
	}
	race("an expired jti", "expired", base.Add(time.Second))
}

func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := base
	then := base.Add(-48 * time.Hour) // when everything was recorded
	mustCreate(t, s, newClient("a"))
	mustCreate(t, s, newClient("b"))

	toks := []struct {
		tok     *store.AccessToken
		expired bool
	}{
		{newAccessToken("long gone", "a", now.Add(-24*time.Hour)), true},
		{newAccessToken("just expired", "b", now.Add(-time.Microsecond)), true},
		{newAccessToken("expires now", "a", now), false},
		{newAccessToken("valid", "a", now.Add(time.Hour)), false},
	}
	for _, tc := range toks {
		mustCreateAccessToken(t, s, tc.tok)
	}
	jtis := []struct {
		clientID, jti string
		expiresAt     time.Time
		expired       bool
	}{
		{"a", "old", now.Add(-time.Minute), true},
		{"b", "old", now.Add(-time.Microsecond), true},
		{"no such client", "old", now.Add(-time.Hour), true},
		{"a", "now", now, false},
		{"a", "new", now.Add(time.Hour), false},
	}
	for _, j := range jtis {
		if err := s.UseAssertionID(ctx, j.clientID, j.jti, j.expiresAt, then); err != nil {
			t.Fatalf("UseAssertionID(%q, %q): %v", j.clientID, j.jti, err)
		}
	}

	wantDeleteExpired(t, "at now", s, now, 2+3)
	for _, tc := range toks {
		if tc.expired {
			wantNoAccessToken(t, "expired token", s, tc.tok.Hash)
		} else {
			wantAccessToken(t, "unexpired token", s, tc.tok)
		}
	}
	// A record that is still there refuses a use at then, when it was
	// valid; a removed one accepts it, and is recorded again.
	for _, j := range jtis {
		err := s.UseAssertionID(ctx, j.clientID, j.jti, j.expiresAt, then)
		switch {
		case j.expired && err != nil:
			t.Errorf("UseAssertionID(%q, %q) after DeleteExpired: got error %v, want the record removed", j.clientID, j.jti, err)
		case !j.expired && !errors.Is(err, store.ErrAlreadyExists):
			t.Errorf("UseAssertionID(%q, %q) after DeleteExpired: got error %v, want the record kept (ErrAlreadyExists)", j.clientID, j.jti, err)
		}
	}
	wantDeleteExpired(t, "the expired records recorded again", s, now, 3)
	wantDeleteExpired(t, "again at now", s, now, 0)
	wantDeleteExpired(t, "an hour later", s, now.Add(time.Hour), 2)
	wantDeleteExpired(t, "just after the last expiry", s, now.Add(time.Hour+time.Microsecond), 2)
	wantDeleteExpired(t, "nothing left", s, farFuture, 0)
	for _, id := range []string{"a", "b"} {
		if _, err := s.GetClient(ctx, id); err != nil {
			t.Errorf("GetClient(%q) after DeleteExpired: %v", id, err)
		}
	}
}

// storedUses returns the stored Uses of the initial token with hash h.
func storedUses(t *testing.T, s store.Store, h []byte) int64 {
	t.Helper()
	got, err := s.GetInitialToken(context.Background(), h)
	if err != nil {
		t.Fatalf("GetInitialToken: %v", err)
	}
	return got.Uses
}

// wantNoClient fails the test unless no client id is stored.
func wantNoClient(t *testing.T, what string, s store.Store, id string) {
	t.Helper()
	if _, err := s.GetClient(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: client %q is stored (GetClient error %v)", what, id, err)
	}
}

func testPolicyRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("pol")
	c.Policy = "partners · ünïcode"
	mustCreate(t, s, c)
	wantClient(t, "GetClient", mustGet(t, s, "pol"), c)
	got, err := s.GetClientByTokenHash(ctx, c.TokenHash)
	if err != nil {
		t.Fatalf("GetClientByTokenHash: %v", err)
	}
	wantClient(t, "GetClientByTokenHash", got, c)

	// An update stores the Policy it is given: unchanged, then another.
	u := mustGet(t, s, "pol")
	u.Metadata = metadata("renamed")
	mustUpdate(t, s, u)
	wantClient(t, "after an update keeping the policy", mustGet(t, s, "pol"), u)
	u.Policy = "other"
	mustUpdate(t, s, u)
	wantClient(t, "after an update changing the policy", mustGet(t, s, "pol"), u)
	u.Policy = ""
	mustUpdate(t, s, u)
	wantClient(t, "after an update clearing the policy", mustGet(t, s, "pol"), u)

	none := newClient("none")
	mustCreate(t, s, none)
	wantClient(t, "client without policy", mustGet(t, s, "none"), none)

	tok := newToken("pol", 3, base.Add(time.Hour))
	tok.Policy = "partners"
	mustCreateToken(t, s, tok)
	gotTok, err := s.GetInitialToken(ctx, tok.Hash)
	if err != nil {
		t.Fatalf("GetInitialToken: %v", err)
	}
	wantToken(t, "GetInitialToken", gotTok, tok)
	used, err := s.UseInitialToken(ctx, tok.Hash, base)
	if err != nil {
		t.Fatalf("UseInitialToken: %v", err)
	}
	want := *tok
	want.Uses = 1
	wantToken(t, "UseInitialToken", used, &want)
}

func testCreateWithInitialToken(t *testing.T, s store.Store) {
	ctx := context.Background()
	expiry := base.Add(time.Hour)
	tok := newToken("create", 2, expiry)
	tok.Policy = "p"
	mustCreateToken(t, s, tok)
	opts := store.CreateOptions{InitialTokenHash: tok.Hash, Now: base}

	a := newClient("a")
	a.Policy = "p"
	if err := s.CreateClient(ctx, a, opts); err != nil {
		t.Fatalf("CreateClient with a usable token: %v", err)
	}
	wantClient(t, "client created with a token", mustGet(t, s, "a"), a)
	if n := storedUses(t, s, tok.Hash); n != 1 {
		t.Errorf("after one registration: Uses = %d, want 1", n)
	}

	// Failures of the insert spend no use.
	dupID := newClient("other")
	dupID.ID = "a"
	wantErr(t, "CreateClient with a token and a taken ID", s.CreateClient(ctx, dupID, opts), store.ErrAlreadyExists)
	dupHash := newClient("b")
	dupHash.PreviousTokenHash = a.TokenHash
	wantErr(t, "CreateClient with a token and a taken token hash", s.CreateClient(ctx, dupHash, opts), store.ErrAlreadyExists)
	wantNoClient(t, "refused for a taken token hash", s, "b")
	// Nor does a refusal by the limit.
	limited := opts
	limited.MaxClients = 1
	b := newClient("b")
	b.Policy = "p"
	wantErr(t, "CreateClient with a token, over the limit", s.CreateClient(ctx, b, limited), store.ErrLimitReached)
	wantNoClient(t, "refused by the limit", s, "b")
	if n := storedUses(t, s, tok.Hash); n != 1 {
		t.Errorf("after failed registrations: Uses = %d, want 1", n)
	}
	wantClient(t, "client a after failed registrations", mustGet(t, s, "a"), a)

	limited.MaxClients = 2
	if err := s.CreateClient(ctx, b, limited); err != nil {
		t.Fatalf("CreateClient with the token's last use, within the limit: %v", err)
	}
	if n := storedUses(t, s, tok.Hash); n != 2 {
		t.Errorf("after two registrations: Uses = %d, want 2", n)
	}
	c := newClient("c")
	wantErr(t, "CreateClient with a used-up token", s.CreateClient(ctx, c, opts), store.ErrNotFound)
	wantNoClient(t, "refused for a used-up token", s, "c")
	if n := storedUses(t, s, tok.Hash); n != 2 {
		t.Errorf("after a refused use: Uses = %d, want 2", n)
	}

	unknown := store.CreateOptions{InitialTokenHash: hash("no such token"), Now: base}
	wantErr(t, "CreateClient with an unknown token", s.CreateClient(ctx, c, unknown), store.ErrNotFound)
	wantNoClient(t, "refused for an unknown token", s, "c")

	expiring := newToken("expiring", 0, expiry)
	mustCreateToken(t, s, expiring)
	for _, now := range []time.Time{expiry, expiry.Add(time.Hour)} {
		o := store.CreateOptions{InitialTokenHash: expiring.Hash, Now: now}
		wantErr(t, fmt.Sprintf("CreateClient with a token expired at %v", now), s.CreateClient(ctx, c, o), store.ErrNotFound)
		wantNoClient(t, "refused for an expired token", s, "c")
	}
	if n := storedUses(t, s, expiring.Hash); n != 0 {
		t.Errorf("expired token: Uses = %d, want 0", n)
	}
	o := store.CreateOptions{InitialTokenHash: expiring.Hash, Now: expiry.Add(-time.Microsecond)}
	if err := s.CreateClient(ctx, c, o); err != nil {
		t.Fatalf("CreateClient with a token just before its expiry: %v", err)
	}
	wantClient(t, "client created just before the token's expiry", mustGet(t, s, "c"), c)
	if n := storedUses(t, s, expiring.Hash); n != 1 {
		t.Errorf("token without MaxUses: Uses = %d, want 1", n)
	}
	// The registration used only its own token.
	if n := storedUses(t, s, tok.Hash); n != 2 {
		t.Errorf("other token: Uses = %d, want 2", n)
	}
}

func testCreateMaxClients(t *testing.T, s store.Store) {
	ctx := context.Background()
	create := func(id, policy string, maxClients int64) error {
		c := newClient(id)
		c.Policy = policy
		return s.CreateClient(ctx, c, store.CreateOptions{MaxClients: maxClients})
	}
	for i := range 3 {
		if err := create(fmt.Sprintf("p%d", i), "p", 3); err != nil {
			t.Fatalf("CreateClient %d of 3 in policy p: %v", i+1, err)
		}
	}
	wantErr(t, "CreateClient beyond the limit", create("p3", "p", 3), store.ErrLimitReached)
	wantNoClient(t, "refused by the limit", s, "p3")
	wantErr(t, "CreateClient with a lower limit", create("p3", "p", 2), store.ErrLimitReached)
	wantNoClient(t, "refused by the lower limit", s, "p3")

	// Other policies, and clients of no policy, do not count.
	if err := create("q0", "q", 1); err != nil {
		t.Errorf("CreateClient in policy q: %v", err)
	}
	wantErr(t, "CreateClient beyond policy q's limit", create("q1", "q", 1), store.ErrLimitReached)
	for i := range 4 {
		if err := create(fmt.Sprintf("n%d", i), "", 0); err != nil {
			t.Fatalf("CreateClient without a policy: %v", err)
		}
	}
	if err := create("p3", "p", 4); err != nil {
		t.Errorf("CreateClient in policy p, within a raised limit: %v", err)
	}
	// Without a limit, a client is stored whatever the count; with one, a
	// count above it refuses as well.
	if err := create("p4", "p", 0); err != nil {
		t.Errorf("CreateClient without a limit: %v", err)
	}
	wantErr(t, "CreateClient with a limit the count exceeds", create("p5", "p", 4), store.ErrLimitReached)
	// The clients of no policy count for the policy "".
	wantErr(t, "CreateClient without a policy, beyond the limit", create("n4", "", 4), store.ErrLimitReached)
	if err := create("n4", "", 5); err != nil {
		t.Errorf("CreateClient without a policy, within the limit: %v", err)
	}

	// Deleting a client, or moving it to another policy, frees a place.
	if err := s.DeleteClient(ctx, "p0"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	wantErr(t, "CreateClient after one delete", create("p5", "p", 4), store.ErrLimitReached)
	u := mustGet(t, s, "p1")
	u.Policy = "q"
	mustUpdate(t, s, u)
	if err := create("p5", "p", 4); err != nil {
		t.Errorf("CreateClient after a client left the policy: %v", err)
	}
	wantErr(t, "CreateClient in q after a client joined it", create("q1", "q", 2), store.ErrLimitReached)
	wantNoClient(t, "refused in q", s, "q1")
}

// concurrentCreates runs workers goroutines at once, each creating one client
// of policy "race" with opts, and returns how many succeeded, the IDs of
// those that did and the errors other than want.
func concurrentCreates(t *testing.T, s store.Store, workers int, opts store.CreateOptions, want error) (ok []string, other []error) {
	t.Helper()
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		mu    sync.Mutex
	)
	for i := range workers {
		wg.Go(func() {
			c := newClient(fmt.Sprintf("race%02d", i))
			c.Policy = "race"
			<-start
			err := s.CreateClient(context.Background(), c, opts)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok = append(ok, c.ID)
			case !errors.Is(err, want):
				other = append(other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, id := range ok {
		mustGet(t, s, id)
	}
	return ok, other
}

func testCreateMaxClientsConcurrent(t *testing.T, s store.Store) {
	const limit, workers = 10, 40
	mustCreate(t, s, newClient("no policy")) // counts for no limit
	ok, other := concurrentCreates(t, s, workers, store.CreateOptions{MaxClients: limit}, store.ErrLimitReached)
	if len(other) > 0 {
		t.Errorf("unexpected errors (want nil or ErrLimitReached): %v", other)
	}
	if len(ok) != limit {
		t.Errorf("%d of %d concurrent registrations with MaxClients %d succeeded, want %d", len(ok), workers, limit, limit)
	}
	stored := 0
	for i := range workers {
		if _, err := s.GetClient(context.Background(), fmt.Sprintf("race%02d", i)); err == nil {
			stored++
		}
	}
	if stored != limit {
		t.Errorf("%d clients of the policy are stored, want %d", stored, limit)
	}
}

func testCreateWithInitialTokenConcurrent(t *testing.T, s store.Store) {
	const maxUses, workers = 10, 40
	tok := newToken("race", maxUses, base.Add(time.Hour))
	mustCreateToken(t, s, tok)
	opts := store.CreateOptions{InitialTokenHash: tok.Hash, Now: base}
	ok, other := concurrentCreates(t, s, workers, opts, store.ErrNotFound)
	if len(other) > 0 {
		t.Errorf("unexpected errors (want nil or ErrNotFound): %v", other)
	}
	if len(ok) != maxUses {
		t.Errorf("%d of %d concurrent registrations with a token of MaxUses %d succeeded, want %d", len(ok), workers, maxUses, maxUses)
	}
	if n := storedUses(t, s, tok.Hash); n != maxUses {
		t.Errorf("stored Uses = %d, want %d", n, maxUses)
	}
}
