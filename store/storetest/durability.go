package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// Durable is what RunDurability needs to know about a backend: how to get a
// database, how to open a store on it, and how to look behind the store at
// its schema. Only Open is required; a backend that keeps nothing across
// stores (such as store/memory) sets Open alone, and the subtests that need
// the rest are skipped.
type Durable struct {
	// Open opens a store on the database db (a name that Database
	// returned, or "" when Database is nil), creating or migrating its
	// schema, and returns it or the error of opening it. The suite closes
	// every store it opens.
	Open func(t *testing.T, db string) (store.Store, error)

	// Database returns a new, empty database for one subtest: a name
	// that Open understands, such as a file path or a DSN. It may register
	// cleanups with t. Nil means the backend keeps nothing once a store is
	// closed: the subtests that reopen a database are skipped.
	Database func(t *testing.T) string
	// Migrated, if non-nil, fails t unless the schema of db records every
	// migration of the backend exactly once. The suite calls it after a
	// store was reopened and after an upgrade.
	Migrated func(t *testing.T, db string)
	// RecordNewerSchema, if non-nil, records in db, whose schema is up to
	// date and on which no store is open, a schema version newer than the
	// backend's latest, as a later release would have migrated it. Nil
	// skips the subtest that Open refuses such a database.
	RecordNewerSchema func(t *testing.T, db string)
	// CreateFirstSchema, if non-nil, creates in the empty database db the
	// schema of the backend's first migration (0001) alone, recorded as
	// applied, with one client stored the way that release stored it: ID
	// "old", Revision 3, metadata {"client_name":"old"}, SecretHash 0x01,
	// TokenHash 0x02 and any IssuedAt and UpdatedAt. Nil skips the upgrade
	// subtest.
	CreateFirstSchema func(t *testing.T, db string)
}

// RunDurability runs the suite of a store's life cycle against the backend
// d describes:
//
//   - ClosedIsUnavailable: Ping succeeds on an open store; after Close every
//     method and Ping fail with ErrUnavailable, and a second Close succeeds;
//   - CanceledContext: every method called with a canceled context, or one
//     past its deadline, returns an error that wraps the context's (and not
//     ErrUnavailable), and writes nothing; Ping's error then wraps both;
//   - Reopen: a store opened again on the same database finds every client,
//     token, authorization record and signing key written before the first
//     was closed, as last written;
//   - NewerSchemaRefused: Open refuses a database whose schema is newer than
//     the backend knows, with an error that is not ErrUnavailable;
//   - UpgradeFromFirstSchema: Open migrates a database of the first schema
//     to the latest, and the client stored there reads back with the fields
//     that later migrations added unset, and can be updated and given
//     access tokens and assertion records; signing keys can be stored.
func RunDurability(t *testing.T, d Durable) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d Durable)
	}{
		{"ClosedIsUnavailable", testClosedIsUnavailable},
		{"CanceledContext", testDurableCanceledContext},
		{"Reopen", testReopen},
		{"NewerSchemaRefused", testNewerSchemaRefused},
		{"UpgradeFromFirstSchema", testUpgradeFromFirstSchema},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, d) })
	}
}

// database returns a new database of d, or "" when d has none.
func (d Durable) database(t *testing.T) string {
	if d.Database == nil {
		return ""
	}
	return d.Database(t)
}

// open opens a store on db and closes it when the test ends.
func (d Durable) open(t *testing.T, db string) store.Store {
	t.Helper()
	s, err := d.Open(t, db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// allOps calls every method of s once and returns the errors by name. c is
// a stored client; the calls that write would create the client "new", the
// initial access token "new", the access token "at" and the signing key
// "new" of generation 2, would delete the signing key "key" and the
// initial access token "iat", and would disable c.
func allOps(ctx context.Context, s store.Store, c *store.Client) map[string]error {
	now := time.Now()
	errs := make(map[string]error)
	errs["CreateClient"] = s.CreateClient(ctx, newClient("new"), store.CreateOptions{})
	_, errs["GetClient"] = s.GetClient(ctx, c.ID)
	_, errs["GetClientByTokenHash"] = s.GetClientByTokenHash(ctx, c.TokenHash)
	errs["UpdateClient"] = s.UpdateClient(ctx, c.Clone())
	errs["DeleteClient"] = s.DeleteClient(ctx, c.ID)
	errs["CreateInitialToken"] = s.CreateInitialToken(ctx, &store.InitialToken{Hash: hash("new"), CreatedAt: now})
	_, errs["GetInitialToken"] = s.GetInitialToken(ctx, hash("iat"))
	_, errs["UseInitialToken"] = s.UseInitialToken(ctx, hash("iat"), now)
	errs["CreateAccessToken"] = s.CreateAccessToken(ctx, &store.AccessToken{
		Hash: hash("at"), ClientID: c.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	_, errs["GetAccessToken"] = s.GetAccessToken(ctx, hash("at"))
	errs["DeleteAccessToken"] = s.DeleteAccessToken(ctx, hash("at"))
	errs["UseAssertionID"] = s.UseAssertionID(ctx, c.ID, "jti", now.Add(time.Hour), now)
	_, errs["DeleteExpired"] = s.DeleteExpired(ctx, now)
	code := newCode("new", c.ID)
	for name, err := range authzOps(ctx, s, newPending("p", c.ID), code, newGrant(code)) {
		errs[name] = err
	}
	for name, err := range signingKeyOps(ctx, s, newSigningKey("key", 1, base)) {
		errs[name] = err
	}
	for name, err := range adminOps(ctx, s, c.ID, hash("iat")) {
		errs[name] = err
	}
	return errs
}

func testClosedIsUnavailable(t *testing.T, d Durable) {
	ctx := context.Background()
	s, err := d.Open(t, d.database(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c := newClient("c")
	mustCreate(t, s, c)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, err := range allOps(ctx, s, c) {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a closed store: got %v, want ErrUnavailable", name, err)
		}
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping on a closed store: got %v, want ErrUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func testDurableCanceledContext(t *testing.T, d Durable) {
	s := d.open(t, d.database(t))
	c := newClient("c")
	mustCreate(t, s, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range allOps(ctx, s, c) {
		if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with a canceled context: got %v, want context.Canceled", name, err)
		}
	}
	if err := s.Ping(ctx); !errors.Is(err, context.Canceled) || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping with a canceled context: got %v, want context.Canceled and ErrUnavailable", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for name, err := range allOps(ctx, s, c) {
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s past its deadline: got %v, want context.DeadlineExceeded", name, err)
		}
	}

	// Nothing was written.
	bg := context.Background()
	wantClient(t, "GetClient afterwards", mustGet(t, s, "c"), c)
	if _, err := s.GetClient(bg, "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateClient with a canceled context stored the client: GetClient error %v", err)
	}
	if _, err := s.GetInitialToken(bg, hash("new")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateInitialToken with a canceled context stored the token: GetInitialToken error %v", err)
	}
	if _, err := s.GetAccessToken(bg, hash("at")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateAccessToken with a canceled context stored the token: GetAccessToken error %v", err)
	}
	if err := s.UseAssertionID(bg, c.ID, "jti", time.Now().Add(time.Hour), time.Now()); err != nil {
		t.Errorf("UseAssertionID of the jti used with a canceled context: %v", err)
	}
	wantSigningKeys(t, "signing keys after the canceled calls", s, base)
}

func testReopen(t *testing.T, d Durable) {
	if d.Database == nil {
		t.Skip("the backend keeps nothing once closed (Durable.Database is nil)")
	}
	ctx := context.Background()
	db := d.Database(t)
	s, err := d.Open(t, db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c := newClient("keep")
	mustCreate(t, s, c)
	c.Metadata = metadata("updated")
	mustUpdate(t, s, c)
	tok := &store.InitialToken{Hash: hash("iat"), CreatedAt: c.IssuedAt, MaxUses: 3}
	mustCreateToken(t, s, tok)
	if _, err := s.UseInitialToken(ctx, tok.Hash, c.IssuedAt); err != nil {
		t.Fatal(err)
	}
	p := newPending("keep", c.ID)
	mustCreatePending(t, s, p)
	unused := newCode("unused", c.ID)
	mustCreateCode(t, s, unused)
	g, at := mustRedeem(t, s, "redeemed", c.ID)
	g.RefreshHashes = [][]byte{hash("rotated")}
	if err := s.UpdateGrant(ctx, g, nil); err != nil {
		t.Fatal(err)
	}
	consent := &store.Consent{Subject: "user", ClientID: c.ID, Scope: "openid", Resources: []string{}, GrantedAt: base}
	if err := s.PutConsent(ctx, consent); err != nil {
		t.Fatal(err)
	}
	// Signing keys: one kept, one deleted, one replaced by the next of its
	// generation.
	key1, key2 := newSigningKey("key 1", 1, base), newSigningKey("key 2", 2, base.Add(time.Hour))
	key2.Algorithm = "RS256"
	deleted, lapsed := newSigningKey("deleted", 3, base), newSigningKey("lapsed", 4, base.Add(-30*24*time.Hour))
	for _, k := range []*store.SigningKey{key1, key2, deleted, lapsed} {
		mustCreateSigningKey(t, s, k)
	}
	if err := s.DeleteSigningKey(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	key4 := newSigningKey("key 4", 4, base.Add(2*time.Hour))
	mustCreateSigningKey(t, s, key4)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = d.open(t, db)
	got, err := s.GetClient(ctx, "keep")
	if err != nil {
		t.Fatalf("GetClient after reopening: %v", err)
	}
	if got.Revision != 2 || !bytes.Equal(got.Metadata, metadata("updated")) || !got.IssuedAt.Equal(c.IssuedAt) {
		t.Errorf("after reopening: %+v, want %+v", got, c)
	}
	wantClient(t, "GetClient after reopening", got, c)
	gotTok, err := s.GetInitialToken(ctx, tok.Hash)
	if err != nil || gotTok.Uses != 1 {
		t.Errorf("GetInitialToken after reopening: %+v, %v; want 1 use", gotTok, err)
	}
	wantPending(t, "pending request after reopening", s, p)
	wantCode(t, "code after reopening", s, unused)
	redeemed := newCode("redeemed", c.ID)
	redeemed.UsedAt = base
	wantCode(t, "redeemed code after reopening", s, redeemed)
	wantGrant(t, "grant after reopening", s, g)
	wantRefresh(t, "refresh token after reopening", s, hash("rotated"), g.ID)
	wantAccessToken(t, "access token of the grant after reopening", s, at)
	if got, err := s.GetConsent(ctx, "user", c.ID); err != nil {
		t.Errorf("GetConsent after reopening: %v", err)
	} else {
		wantRecord(t, "consent after reopening", got, consent, consentTimes)
	}
	wantSigningKeys(t, "signing keys after reopening", s, lapsed.CreatedAt, key1, key2, key4)
	wantErr(t, "CreateSigningKey of a kept generation after reopening",
		s.CreateSigningKey(ctx, newSigningKey("again", 2, base)), store.ErrAlreadyExists)
	if d.Migrated != nil {
		d.Migrated(t, db)
	}
}

func testNewerSchemaRefused(t *testing.T, d Durable) {
	if d.Database == nil || d.RecordNewerSchema == nil {
		t.Skip("the backend has no schema (Durable.Database or RecordNewerSchema is nil)")
	}
	db := d.Database(t)
	s, err := d.Open(t, db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	d.RecordNewerSchema(t, db)
	s, err = d.Open(t, db)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open of a database with a newer schema: %v is ErrUnavailable", err)
	}
	t.Logf("Open: %v", err)
}

func testUpgradeFromFirstSchema(t *testing.T, d Durable) {
	if d.Database == nil || d.CreateFirstSchema == nil {
		t.Skip("the backend has no schema to upgrade (Durable.Database or CreateFirstSchema is nil)")
	}
	ctx := context.Background()
	db := d.Database(t)
	d.CreateFirstSchema(t, db)

	s := d.open(t, db)
	c, err := s.GetClient(ctx, "old")
	if err != nil {
		t.Fatalf("GetClient after the upgrade: %v", err)
	}
	if c.Revision != 3 || string(c.Metadata) != `{"client_name":"old"}` || string(c.SecretHash) != "\x01" || string(c.TokenHash) != "\x02" ||
		c.SecretCiphertext != nil || c.PreviousSecretHash != nil || c.PreviousSecretCiphertext != nil || !c.PreviousSecretExpiresAt.IsZero() || c.Policy != "" {
		t.Errorf("client after the upgrade: %+v", c)
	}
	c.PreviousSecretHash, c.PreviousSecretExpiresAt = c.SecretHash, time.Now()
	if err := s.UpdateClient(ctx, c); err != nil {
		t.Errorf("UpdateClient after the upgrade: %v", err)
	}
	tok := &store.AccessToken{Hash: []byte("at"), ClientID: "old", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateAccessToken(ctx, tok); err != nil {
		t.Errorf("CreateAccessToken after the upgrade: %v", err)
	}
	if err := s.UseAssertionID(ctx, "old", "jti", time.Now().Add(time.Hour), time.Now()); err != nil {
		t.Errorf("UseAssertionID after the upgrade: %v", err)
	}
	k := newSigningKey("key", 1, base)
	if err := s.CreateSigningKey(ctx, k); err != nil {
		t.Errorf("CreateSigningKey after the upgrade: %v", err)
	}
	wantSigningKeys(t, "signing keys after the upgrade", s, base, k)
	if d.Migrated != nil {
		d.Migrated(t, db)
	}
}
