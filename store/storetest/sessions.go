package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// RunSessions runs the conformance suite of store.SessionStore against the
// stores that newStore returns; Run runs it too, as its subtest Sessions.
// Each subtest calls newStore once and expects an empty store. It checks
// exact round trips (UTC times to the microsecond, nil claims, values owned
// by the caller), ErrAlreadyExists and ErrNotFound, that TouchSession moves
// only LastSeenAt and IdleExpiresAt, that a session belongs to no client
// (DeleteClient leaves it), and that DeleteExpired removes exactly the
// sessions whose idle or absolute lifetime has passed, and counts them.
func RunSessions(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionErrors", testSessionErrors},
		{"SessionTouch", testSessionTouch},
		{"SessionNoClient", testSessionNoClient},
		{"SessionDeleteExpired", testSessionDeleteExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// newSession returns a session whose hash derives from id, created at base,
// idle until base+idle and ended at base+abs.
func newSession(id string, idle, abs time.Duration) *store.Session {
	return &store.Session{
		Hash:          hash("session " + id),
		Subject:       "https://idp.example|" + id,
		Name:          "Ünïcode " + id + " <user@example.com>",
		Claims:        []byte(`{"email":"` + id + `@example.com"}`),
		CreatedAt:     base,
		LastSeenAt:    base,
		IdleExpiresAt: base.Add(idle),
		ExpiresAt:     base.Add(abs),
	}
}

func testSessionRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	want := newSession("a", time.Hour, 24*time.Hour)
	if err := s.CreateSession(ctx, want); err != nil {
		t.Fatal(err)
	}
	in := *want
	want.Claims[0] = 'X' // the store kept its own copy
	want.Claims[0] = '{'
	got, err := s.GetSession(ctx, want.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &in) {
		t.Fatalf("GetSession = %+v, want %+v", got, &in)
	}
	got.Claims[0] = 'X'
	again, err := s.GetSession(ctx, want.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if again.Claims[0] != '{' {
		t.Error("GetSession returned the store's own claims slice")
	}
	for _, tm := range []time.Time{again.CreatedAt, again.LastSeenAt, again.IdleExpiresAt, again.ExpiresAt} {
		if tm.Location() != time.UTC {
			t.Errorf("time %v is not in UTC", tm)
		}
	}

	nilClaims := newSession("b", time.Hour, 24*time.Hour)
	nilClaims.Claims = nil
	if err := s.CreateSession(ctx, nilClaims); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetSession(ctx, nilClaims.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Claims != nil {
		t.Errorf("nil claims came back as %q", got.Claims)
	}
}

func testSessionErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	se := newSession("a", time.Hour, 24*time.Hour)
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	dup := newSession("a", 2*time.Hour, 48*time.Hour)
	dup.Subject = "someone else"
	if err := s.CreateSession(ctx, dup); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateSession with a taken hash: %v, want ErrAlreadyExists", err)
	}
	if got, err := s.GetSession(ctx, se.Hash); err != nil || got.Subject != se.Subject {
		t.Errorf("a refused CreateSession changed the session: %+v, %v", got, err)
	}
	missing := hash("no such session")
	if _, err := s.GetSession(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession of a missing session: %v", err)
	}
	if err := s.TouchSession(ctx, missing, base, base.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession of a missing session: %v", err)
	}
	if err := s.DeleteSession(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSession of a missing session: %v", err)
	}
	if err := s.DeleteSession(ctx, se.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, se.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession after DeleteSession: %v", err)
	}
	if err := s.DeleteSession(ctx, se.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSession twice: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.CreateSession(canceled, newSession("c", time.Hour, time.Hour)); err == nil {
		t.Error("CreateSession with a canceled context succeeded")
	}
	if _, err := s.GetSession(ctx, hash("session c")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a canceled CreateSession stored the session: %v", err)
	}
}

func testSessionTouch(t *testing.T, s store.Store) {
	ctx := context.Background()
	se := newSession("a", time.Hour, 24*time.Hour)
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	seen := base.Add(30 * time.Minute).In(time.FixedZone("x", 3600))
	if err := s.TouchSession(ctx, se.Hash, seen, seen.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, se.Hash)
	if err != nil {
		t.Fatal(err)
	}
	want := *se
	want.LastSeenAt, want.IdleExpiresAt = seen.UTC(), seen.Add(time.Hour).UTC()
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("after TouchSession: %+v, want %+v", got, &want)
	}
}

func testSessionNoClient(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("client-a")
	if err := s.CreateClient(ctx, c, store.CreateOptions{Now: base}); err != nil {
		t.Fatal(err)
	}
	se := newSession("a", time.Hour, 24*time.Hour)
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSession(ctx, se.Hash); err != nil || !bytes.Equal(got.Hash, se.Hash) {
		t.Errorf("DeleteClient took a session with it: %v", err)
	}
}

func testSessionDeleteExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := base.Add(2 * time.Hour)
	live := newSession("live", 3*time.Hour, 24*time.Hour)
	idle := newSession("idle", time.Hour, 24*time.Hour)       // idle lifetime over
	ended := newSession("ended", 5*time.Hour, 90*time.Minute) // absolute lifetime over
	edge := newSession("edge", 2*time.Hour, 24*time.Hour)     // ends exactly now: kept
	for _, se := range []*store.Session{live, idle, ended, edge} {
		if err := s.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("DeleteExpired removed %d records, want 2", n)
	}
	for _, se := range []*store.Session{live, edge} {
		if _, err := s.GetSession(ctx, se.Hash); err != nil {
			t.Errorf("DeleteExpired removed a live session %q: %v", se.Subject, err)
		}
	}
	for _, se := range []*store.Session{idle, ended} {
		if _, err := s.GetSession(ctx, se.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteExpired kept the expired session %q: %v", se.Subject, err)
		}
	}
}
