package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// RunAuthorization runs the conformance suite of store.AuthorizationStore
// against the stores that newStore returns; Run runs it too, as its subtest
// Authorization. Each subtest calls newStore once and expects an empty
// store. It checks:
//
//   - exact round trips of pending requests, codes, grants, consents and
//     the grant fields of access tokens (nil versus empty slices, UTC times
//     to the microsecond, values owned by the caller);
//   - ErrNotFound for records of an unknown or deleted client, and for an
//     access token of an unknown grant; ErrAlreadyExists for a taken hash;
//   - TakePendingAuthorization and RedeemCode succeed once, also among
//     concurrent calls, and a refused redemption (ErrUsed, ErrNotFound,
//     ErrAlreadyExists) writes nothing;
//   - the refresh token lookup by current, previous and retired hashes,
//     which follows every UpdateGrant;
//   - UpdateGrant's compare-and-swap and its errors, which write nothing;
//   - DeleteGrant, DeleteClient and DeleteExpired remove exactly what they
//     should, and DeleteExpired counts it;
//   - a canceled context and a closed store write nothing.
func RunAuthorization(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PendingRoundTrip", testPendingRoundTrip},
		{"PendingErrors", testPendingErrors},
		{"PendingConcurrentTake", testPendingConcurrentTake},
		{"CodeRoundTrip", testCodeRoundTrip},
		{"CodeErrors", testCodeErrors},
		{"RedeemCode", testRedeemCode},
		{"RedeemCodeRefused", testRedeemCodeRefused},
		{"RedeemCodeConcurrent", testRedeemCodeConcurrent},
		{"GrantNilVersusEmpty", testGrantNilVersusEmpty},
		{"RefreshHashLookup", testRefreshHashLookup},
		{"UpdateGrant", testUpdateGrant},
		{"UpdateGrantHashTaken", testUpdateGrantHashTaken},
		{"UpdateGrantRace", testUpdateGrantRace},
		{"DeleteGrant", testDeleteGrant},
		{"AccessTokenGrant", testAccessTokenGrant},
		{"Consent", testConsent},
		{"DeleteClientCascades", testDeleteClientCascades},
		{"DeleteExpiredAuthorization", testDeleteExpiredAuthorization},
		{"AuthorizationCanceledContext", testAuthzCanceledContext},
		{"AuthorizationClosed", testAuthzClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// zone is a time zone other than UTC: times given in it come back in UTC.
var zone = time.FixedZone("UTC+05:30", 5*3600+1800)

func newPending(name, clientID string) *store.PendingAuthorization {
	return &store.PendingAuthorization{
		Hash:                hash("pending " + name),
		BrowserHash:         hash("browser " + name),
		ClientID:            clientID,
		RedirectURI:         "https://app.example/cb?x=1&y=é",
		RedirectURIGiven:    true,
		Scope:               "openid profile offline_access",
		Resources:           []string{"https://api.example/", "https://files.example/"},
		State:               "state \x00 " + name,
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		CreatedAt:           base.In(zone),
		ExpiresAt:           base.Add(10*time.Minute + time.Microsecond).In(zone),
	}
}

func newCode(name, clientID string) *store.AuthorizationCode {
	return &store.AuthorizationCode{
		Hash:                hash("code " + name),
		GrantID:             "grant " + name,
		ClientID:            clientID,
		RedirectURI:         "https://app.example/cb",
		RedirectURIGiven:    true,
		CodeChallenge:       "challenge " + name,
		CodeChallengeMethod: "S256",
		Subject:             "user " + name,
		Scope:               "openid offline_access",
		Resources:           []string{"https://api.example/"},
		Claims:              []byte(`{"auth_time":1748781045, "acr":"1"}`),
		IssuedAt:            base.In(zone),
		ExpiresAt:           base.Add(time.Minute + time.Microsecond).In(zone),
	}
}

// newGrant returns the grant that redeeming c creates, every field set,
// whose refresh token hashes derive from c's GrantID.
func newGrant(c *store.AuthorizationCode) *store.Grant {
	return &store.Grant{
		ID:                       c.GrantID,
		ClientID:                 c.ClientID,
		Subject:                  c.Subject,
		Scope:                    c.Scope,
		Resources:                append([]string(nil), c.Resources...),
		Claims:                   append([]byte(nil), c.Claims...),
		CreatedAt:                base.Add(time.Second).In(zone),
		UpdatedAt:                base.Add(2 * time.Second).In(zone),
		ExpiresAt:                base.Add(30 * 24 * time.Hour),
		IdleExpiresAt:            base.Add(7*24*time.Hour + 999999*time.Microsecond),
		Revision:                 1,
		RefreshHashes:            [][]byte{hash("refresh " + c.GrantID)},
		PreviousRefreshHash:      hash("previous refresh " + c.GrantID),
		PreviousRefreshExpiresAt: base.Add(time.Minute),
		RetiredRefreshHashes:     [][]byte{hash("retired refresh 1 " + c.GrantID), hash("retired refresh 2 " + c.GrantID)},
	}
}

// grantToken returns an access token of grant g whose hash derives from
// name.
func grantToken(name string, g *store.Grant) *store.AccessToken {
	return &store.AccessToken{
		Hash:      hash("access " + name),
		ClientID:  g.ClientID,
		Scope:     "openid",
		IssuedAt:  base.In(zone),
		ExpiresAt: base.Add(time.Hour),
		GrantID:   g.ID,
		Subject:   g.Subject,
		Resources: []string{"https://api.example/"},
	}
}

// wantRecord fails the test unless got equals want: the times that times
// returns by time.Equal, zero as zero and in UTC, everything else by
// reflect.DeepEqual, so that nil and empty differ.
func wantRecord[T any](t *testing.T, what string, got, want *T, times func(*T) map[string]*time.Time) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil", what)
		return
	}
	g, w := *got, *want
	gt, wt := times(&g), times(&w)
	for name, p := range gt {
		if !p.Equal(*wt[name]) || p.IsZero() != wt[name].IsZero() || p.Location() != time.UTC {
			t.Errorf("%s: %s = %v, want %v in UTC", what, name, *p, *wt[name])
		}
		*p, *wt[name] = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: differs\n got: %#v\nwant: %#v", what, g, w)
	}
}

func pendingTimes(p *store.PendingAuthorization) map[string]*time.Time {
	return map[string]*time.Time{"CreatedAt": &p.CreatedAt, "ExpiresAt": &p.ExpiresAt}
}

func codeTimes(c *store.AuthorizationCode) map[string]*time.Time {
	return map[string]*time.Time{"IssuedAt": &c.IssuedAt, "ExpiresAt": &c.ExpiresAt, "UsedAt": &c.UsedAt}
}

func grantTimes(g *store.Grant) map[string]*time.Time {
	return map[string]*time.Time{"CreatedAt": &g.CreatedAt, "UpdatedAt": &g.UpdatedAt, "ExpiresAt": &g.ExpiresAt,
		"IdleExpiresAt": &g.IdleExpiresAt, "PreviousRefreshExpiresAt": &g.PreviousRefreshExpiresAt}
}

func consentTimes(c *store.Consent) map[string]*time.Time {
	return map[string]*time.Time{"GrantedAt": &c.GrantedAt, "ExpiresAt": &c.ExpiresAt}
}

func mustCreatePending(t *testing.T, s store.Store, p *store.PendingAuthorization) {
	t.Helper()
	if err := s.CreatePendingAuthorization(context.Background(), p); err != nil {
		t.Fatalf("CreatePendingAuthorization(client %q): %v", p.ClientID, err)
	}
}

func mustCreateCode(t *testing.T, s store.Store, c *store.AuthorizationCode) {
	t.Helper()
	if err := s.CreateCode(context.Background(), c); err != nil {
		t.Fatalf("CreateCode(client %q): %v", c.ClientID, err)
	}
}

// mustRedeem creates a code for the client and redeems it, and returns
// the grant and access token the redemption stored.
func mustRedeem(t *testing.T, s store.Store, name, clientID string) (*store.Grant, *store.AccessToken) {
	t.Helper()
	c := newCode(name, clientID)
	mustCreateCode(t, s, c)
	g := newGrant(c)
	at := grantToken(name, g)
	if err := s.RedeemCode(context.Background(), c.Hash, base, g, at); err != nil {
		t.Fatalf("RedeemCode(%q): %v", name, err)
	}
	return g, at
}

func wantPending(t *testing.T, what string, s store.Store, want *store.PendingAuthorization) {
	t.Helper()
	got, err := s.GetPendingAuthorization(context.Background(), want.Hash)
	if err != nil {
		t.Errorf("%s: GetPendingAuthorization: %v", what, err)
		return
	}
	wantRecord(t, what, got, want, pendingTimes)
}

func wantCode(t *testing.T, what string, s store.Store, want *store.AuthorizationCode) {
	t.Helper()
	got, err := s.GetCode(context.Background(), want.Hash)
	if err != nil {
		t.Errorf("%s: GetCode: %v", what, err)
		return
	}
	wantRecord(t, what, got, want, codeTimes)
}

func wantGrant(t *testing.T, what string, s store.Store, want *store.Grant) {
	t.Helper()
	got, err := s.GetGrant(context.Background(), want.ID)
	if err != nil {
		t.Errorf("%s: GetGrant(%q): %v", what, want.ID, err)
		return
	}
	wantRecord(t, what, got, want, grantTimes)
}

func wantNoGrant(t *testing.T, what string, s store.Store, id string) {
	t.Helper()
	_, err := s.GetGrant(context.Background(), id)
	wantErr(t, what+": GetGrant", err, store.ErrNotFound)
}

// wantRefresh fails the test unless the refresh token hash h finds the
// grant id ("" for none).
func wantRefresh(t *testing.T, what string, s store.Store, h []byte, id string) {
	t.Helper()
	g, err := s.GetGrantByRefreshHash(context.Background(), h)
	switch {
	case id == "":
		wantErr(t, what+": GetGrantByRefreshHash", err, store.ErrNotFound)
	case err != nil:
		t.Errorf("%s: GetGrantByRefreshHash: %v, want grant %q", what, err, id)
	case g.ID != id:
		t.Errorf("%s: GetGrantByRefreshHash found grant %q, want %q", what, g.ID, id)
	}
}

// allRefreshHashes returns every refresh token hash of g.
func allRefreshHashes(g *store.Grant) [][]byte {
	hs := append([][]byte(nil), g.RefreshHashes...)
	if g.PreviousRefreshHash != nil {
		hs = append(hs, g.PreviousRefreshHash)
	}
	return append(hs, g.RetiredRefreshHashes...)
}

func testPendingRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	p := newPending("p", "c")
	mustCreatePending(t, s, p)
	empty := newPending("empty", "c")
	empty.Resources, empty.BrowserHash, empty.RedirectURIGiven = []string{}, []byte{}, false
	empty.State, empty.Scope, empty.CodeChallenge, empty.CodeChallengeMethod = "", "", "", ""
	mustCreatePending(t, s, empty)
	none := newPending("nil", "c")
	none.Resources, none.BrowserHash = nil, nil
	mustCreatePending(t, s, none)

	// The caller owns what it passed and what it got.
	p.Resources[0], p.BrowserHash[0] = "scribbled", p.BrowserHash[0]^1
	p = newPending("p", "c")
	got, err := s.GetPendingAuthorization(ctx, p.Hash)
	if err != nil {
		t.Fatalf("GetPendingAuthorization: %v", err)
	}
	wantRecord(t, "pending", got, p, pendingTimes)
	got.Resources[0], got.Hash[0] = "scribbled", got.Hash[0]^1
	wantPending(t, "pending after scribbling on a copy", s, p)
	wantPending(t, "empty slices", s, empty)
	wantPending(t, "nil slices", s, none)

	got, err = s.TakePendingAuthorization(ctx, p.Hash)
	if err != nil {
		t.Fatalf("TakePendingAuthorization: %v", err)
	}
	wantRecord(t, "taken", got, p, pendingTimes)
	_, err = s.TakePendingAuthorization(ctx, p.Hash)
	wantErr(t, "second TakePendingAuthorization", err, store.ErrNotFound)
	_, err = s.GetPendingAuthorization(ctx, p.Hash)
	wantErr(t, "GetPendingAuthorization of a taken request", err, store.ErrNotFound)
	wantPending(t, "another request after the take", s, empty)
	_, err = s.TakePendingAuthorization(ctx, hash("no such request"))
	wantErr(t, "TakePendingAuthorization of an unknown request", err, store.ErrNotFound)
	// A taken request's hash is free again.
	mustCreatePending(t, s, p)
}

func testPendingErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	wantErr(t, "CreatePendingAuthorization for an unknown client",
		s.CreatePendingAuthorization(ctx, newPending("ghost", "ghost")), store.ErrNotFound)
	_, err := s.GetPendingAuthorization(ctx, hash("pending ghost"))
	wantErr(t, "request of an unknown client", err, store.ErrNotFound)

	mustCreate(t, s, newClient("gone"))
	if err := s.DeleteClient(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreatePendingAuthorization for a deleted client",
		s.CreatePendingAuthorization(ctx, newPending("gone", "gone")), store.ErrNotFound)

	mustCreate(t, s, newClient("a"))
	mustCreate(t, s, newClient("b"))
	p := newPending("p", "a")
	mustCreatePending(t, s, p)
	dup := newPending("p", "b")
	dup.State = "other"
	wantErr(t, "CreatePendingAuthorization of a taken hash", s.CreatePendingAuthorization(ctx, dup), store.ErrAlreadyExists)
	wantPending(t, "the first request", s, p)
	wantDeleteExpired(t, "one request stored", s, farFuture, 1)
}

func testPendingConcurrentTake(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	const rounds, takers = 20, 8
	for round := range rounds {
		p := newPending(fmt.Sprint(round), "c")
		mustCreatePending(t, s, p)
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [takers]error
		)
		for i := range errs {
			wg.Go(func() {
				<-start
				var got *store.PendingAuthorization
				got, errs[i] = s.TakePendingAuthorization(ctx, p.Hash)
				if errs[i] == nil && got.State != p.State {
					errs[i] = fmt.Errorf("took state %q, want %q", got.State, p.State)
				}
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrNotFound):
				t.Fatalf("round %d: take %d: %v, want nil or ErrNotFound", round, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of %d concurrent takes succeeded, want 1", round, ok, takers)
		}
	}
}

func testCodeRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	c := newCode("c", "c")
	mustCreateCode(t, s, c)
	c.Resources[0], c.Claims[0] = "scribbled", 'x'
	c = newCode("c", "c")
	got, err := s.GetCode(ctx, c.Hash)
	if err != nil {
		t.Fatalf("GetCode: %v", err)
	}
	wantRecord(t, "code", got, c, codeTimes)
	got.Claims[0], got.Resources[0] = 'x', "scribbled"
	wantCode(t, "code after scribbling on a copy", s, c)

	empty := newCode("empty", "c")
	empty.Resources, empty.Claims, empty.RedirectURIGiven, empty.Scope = []string{}, []byte{}, false, ""
	mustCreateCode(t, s, empty)
	wantCode(t, "empty slices", s, empty)
	none := newCode("nil", "c")
	none.Resources, none.Claims = nil, nil
	mustCreateCode(t, s, none)
	wantCode(t, "nil slices", s, none)
	// A code stored used reads back used.
	used := newCode("used", "c")
	used.UsedAt = base.Add(time.Second + time.Microsecond).In(zone)
	mustCreateCode(t, s, used)
	wantCode(t, "used code", s, used)
	wantErr(t, "RedeemCode of a code stored used", s.RedeemCode(ctx, used.Hash, base, newGrant(used), nil), store.ErrUsed)
}

func testCodeErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	wantErr(t, "CreateCode for an unknown client", s.CreateCode(ctx, newCode("ghost", "ghost")), store.ErrNotFound)
	_, err := s.GetCode(ctx, hash("code ghost"))
	wantErr(t, "code of an unknown client", err, store.ErrNotFound)
	mustCreate(t, s, newClient("Case"))
	for _, id := range []string{"case", "Case ", ""} {
		wantErr(t, fmt.Sprintf("CreateCode for client %q", id), s.CreateCode(ctx, newCode("near "+id, id)), store.ErrNotFound)
	}
	c := newCode("c", "Case")
	mustCreateCode(t, s, c)
	dup := newCode("c", "Case")
	dup.Subject = "someone else"
	wantErr(t, "CreateCode of a taken hash", s.CreateCode(ctx, dup), store.ErrAlreadyExists)
	wantCode(t, "the first code", s, c)
	wantDeleteExpired(t, "one code stored", s, farFuture, 1)
}

func testRedeemCode(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	c := newCode("c", "c")
	mustCreateCode(t, s, c)
	g := newGrant(c)
	at := grantToken("c", g)
	now := base.Add(30*time.Second + time.Microsecond).In(zone)
	if err := s.RedeemCode(ctx, c.Hash, now, g, at); err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	c.UsedAt = now
	wantCode(t, "redeemed code", s, c)
	wantGrant(t, "grant of the redemption", s, g)
	wantAccessToken(t, "access token of the redemption", s, at)
	for i, h := range allRefreshHashes(g) {
		wantRefresh(t, fmt.Sprintf("refresh token hash %d", i), s, h, g.ID)
	}

	// A second use writes nothing: no second grant, no second token, the
	// first use's time kept.
	g2 := newGrant(newCode("second", "c"))
	g2.ID = c.GrantID
	at2 := grantToken("second", g2)
	wantErr(t, "second RedeemCode", s.RedeemCode(ctx, c.Hash, now.Add(time.Minute), g2, at2), store.ErrUsed)
	g2.ID = "grant second"
	at2.GrantID = g2.ID
	wantErr(t, "second RedeemCode with another grant ID", s.RedeemCode(ctx, c.Hash, now.Add(time.Minute), g2, at2), store.ErrUsed)
	wantCode(t, "code after the second use", s, c)
	wantGrant(t, "grant after the second use", s, g)
	wantNoGrant(t, "grant of the second use", s, g2.ID)
	wantNoAccessToken(t, "access token of the second use", s, at2.Hash)
	wantRefresh(t, "refresh token of the second use", s, g2.RefreshHashes[0], "")

	// The grant and token are the caller's: changing them changes nothing
	// stored.
	g.Resources[0], g.RefreshHashes[0][0], g.Claims[0] = "scribbled", g.RefreshHashes[0][0]^1, 'x'
	wantGrant(t, "grant after scribbling on the caller's copy", s, newGrant(c))
	got, err := s.GetGrant(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.RetiredRefreshHashes[0][0] ^= 1
	wantGrant(t, "grant after scribbling on a copy", s, newGrant(c))

	// Without an access token.
	c3 := newCode("no token", "c")
	mustCreateCode(t, s, c3)
	if err := s.RedeemCode(ctx, c3.Hash, base, newGrant(c3), nil); err != nil {
		t.Fatalf("RedeemCode without an access token: %v", err)
	}
	wantGrant(t, "grant redeemed without an access token", s, newGrant(c3))
}

func testRedeemCodeRefused(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	wantErr(t, "RedeemCode of an unknown code",
		s.RedeemCode(ctx, hash("no such code"), base, newGrant(newCode("x", "c")), nil), store.ErrNotFound)

	// A deleted client's code is gone.
	mustCreate(t, s, newClient("gone"))
	gone := newCode("gone", "gone")
	mustCreateCode(t, s, gone)
	if err := s.DeleteClient(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	gg := newGrant(gone)
	wantErr(t, "RedeemCode of a deleted client's code", s.RedeemCode(ctx, gone.Hash, base, gg, grantToken("gone", gg)), store.ErrNotFound)
	wantNoGrant(t, "grant of a deleted client", s, gg.ID)
	wantNoAccessToken(t, "access token of a deleted client", s, hash("access gone"))

	existing, existingAt := mustRedeem(t, s, "existing", "c")

	// Each refusal leaves the code unused and stores nothing.
	refuse := func(what string, mod func(g *store.Grant, at *store.AccessToken)) {
		t.Helper()
		c := newCode(what, "c")
		mustCreateCode(t, s, c)
		g := newGrant(c)
		at := grantToken(what, g)
		mod(g, at)
		wantErr(t, "RedeemCode with "+what, s.RedeemCode(ctx, c.Hash, base, g, at), store.ErrAlreadyExists)
		wantCode(t, "code after RedeemCode with "+what, s, c)
		if g.ID != existing.ID {
			wantNoGrant(t, "grant after RedeemCode with "+what, s, g.ID)
		}
		if !bytesEqual(at.Hash, existingAt.Hash) {
			wantNoAccessToken(t, "access token after RedeemCode with "+what, s, at.Hash)
		}
		for _, h := range allRefreshHashes(g) {
			if _, err := s.GetGrantByRefreshHash(ctx, h); err == nil {
				if g2, _ := s.GetGrantByRefreshHash(ctx, h); g2.ID != existing.ID {
					t.Errorf("RedeemCode with %s stored refresh token hash %x for grant %q", what, h, g2.ID)
				}
			}
		}
	}
	refuse("a taken grant ID", func(g *store.Grant, at *store.AccessToken) { g.ID, at.GrantID = existing.ID, existing.ID })
	refuse("a taken access token hash", func(_ *store.Grant, at *store.AccessToken) { at.Hash = existingAt.Hash })
	refuse("a taken refresh token hash", func(g *store.Grant, _ *store.AccessToken) {
		g.RefreshHashes = append(g.RefreshHashes, existing.RefreshHashes[0])
	})
	refuse("a taken previous refresh token hash", func(g *store.Grant, _ *store.AccessToken) {
		g.PreviousRefreshHash = existing.RetiredRefreshHashes[1]
	})
	refuse("a taken retired refresh token hash", func(g *store.Grant, _ *store.AccessToken) {
		g.RetiredRefreshHashes = [][]byte{existing.PreviousRefreshHash}
	})
	wantGrant(t, "the existing grant", s, existing)
	wantAccessToken(t, "the existing access token", s, existingAt)
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func testRedeemCodeConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	const rounds, redeemers = 20, 8
	for round := range rounds {
		c := newCode(fmt.Sprint(round), "c")
		mustCreateCode(t, s, c)
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [redeemers]error
			ats   [redeemers]*store.AccessToken
		)
		for i := range errs {
			g := newGrant(c)
			g.RefreshHashes = [][]byte{hash(fmt.Sprintf("refresh %d/%d", round, i))}
			g.PreviousRefreshHash, g.RetiredRefreshHashes = nil, nil
			ats[i] = grantToken(fmt.Sprintf("%d/%d", round, i), g)
			wg.Go(func() {
				<-start
				errs[i] = s.RedeemCode(ctx, c.Hash, base, g, ats[i])
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: redemptions %d and %d both succeeded", round, winner, i)
			case !errors.Is(err, store.ErrUsed):
				t.Fatalf("round %d: redemption %d: %v, want nil or ErrUsed", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no redemption succeeded", round)
		}
		for i, at := range ats {
			if i == winner {
				wantAccessToken(t, "the winner's access token", s, at)
				wantRefresh(t, "the winner's refresh token", s, hash(fmt.Sprintf("refresh %d/%d", round, i)), c.GrantID)
			} else {
				wantNoAccessToken(t, "a loser's access token", s, at.Hash)
				wantRefresh(t, "a loser's refresh token", s, hash(fmt.Sprintf("refresh %d/%d", round, i)), "")
			}
		}
	}
}

func testGrantNilVersusEmpty(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	redeem := func(name string, mod func(g *store.Grant)) *store.Grant {
		t.Helper()
		c := newCode(name, "c")
		mustCreateCode(t, s, c)
		g := newGrant(c)
		mod(g)
		if err := s.RedeemCode(ctx, c.Hash, base, g, nil); err != nil {
			t.Fatalf("RedeemCode(%s): %v", name, err)
		}
		wantGrant(t, name, s, g)
		return g
	}
	nils := redeem("nils", func(g *store.Grant) {
		g.Resources, g.Claims, g.RefreshHashes, g.PreviousRefreshHash, g.RetiredRefreshHashes = nil, nil, nil, nil, nil
		g.ExpiresAt, g.IdleExpiresAt, g.PreviousRefreshExpiresAt = time.Time{}, time.Time{}, time.Time{}
		g.Subject, g.Scope = "", ""
	})
	empties := redeem("empties", func(g *store.Grant) {
		g.Resources, g.Claims, g.RefreshHashes, g.RetiredRefreshHashes = []string{}, []byte{}, [][]byte{}, [][]byte{}
		g.PreviousRefreshHash = nil
	})

	// Swap the two shapes with updates.
	nils.Resources, nils.Claims, nils.RefreshHashes, nils.RetiredRefreshHashes = []string{}, []byte{}, [][]byte{}, [][]byte{}
	if err := s.UpdateGrant(ctx, nils, nil); err != nil {
		t.Fatalf("UpdateGrant: %v", err)
	}
	wantGrant(t, "nils updated to empties", s, nils)
	empties.Resources, empties.Claims, empties.RefreshHashes, empties.RetiredRefreshHashes = nil, nil, nil, nil
	if err := s.UpdateGrant(ctx, empties, nil); err != nil {
		t.Fatalf("UpdateGrant: %v", err)
	}
	wantGrant(t, "empties updated to nils", s, empties)
}

func testRefreshHashLookup(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	a, _ := mustRedeem(t, s, "a", "c")
	b, _ := mustRedeem(t, s, "b", "c")
	a.RefreshHashes = append(a.RefreshHashes, hash("sibling a"))
	if err := s.UpdateGrant(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*store.Grant{a, b} {
		for i, h := range allRefreshHashes(g) {
			wantRefresh(t, fmt.Sprintf("grant %q, hash %d", g.ID, i), s, h, g.ID)
		}
	}
	wantRefresh(t, "unknown hash", s, hash("no such refresh"), "")
	wantRefresh(t, "nil hash", s, nil, "")
	wantRefresh(t, "a truncated hash", s, a.RefreshHashes[0][:16], "")

	// A rotation: the current becomes the previous, the previous retired,
	// the oldest retired dropped.
	old := allRefreshHashes(a)
	dropped := a.RetiredRefreshHashes[1]
	sibling := a.RefreshHashes[1]
	a.RetiredRefreshHashes = [][]byte{a.PreviousRefreshHash, a.RetiredRefreshHashes[0]}
	a.PreviousRefreshHash = a.RefreshHashes[0]
	a.RefreshHashes = [][]byte{hash("rotated a")}
	if err := s.UpdateGrant(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	for i, h := range allRefreshHashes(a) {
		wantRefresh(t, fmt.Sprintf("after rotation, hash %d", i), s, h, a.ID)
	}
	wantRefresh(t, "the dropped retired hash", s, dropped, "")
	wantRefresh(t, "the dropped sibling", s, sibling, "")
	if len(old) != len(allRefreshHashes(a))+1 {
		t.Fatalf("test bug: %d hashes before, %d after", len(old), len(allRefreshHashes(a)))
	}
	// A dropped hash is free: another grant may take it.
	b.RetiredRefreshHashes = append(b.RetiredRefreshHashes, dropped)
	if err := s.UpdateGrant(ctx, b, nil); err != nil {
		t.Fatalf("UpdateGrant taking a dropped hash: %v", err)
	}
	wantRefresh(t, "the dropped hash, taken by the other grant", s, dropped, b.ID)
	// Dropping every hash.
	a.RefreshHashes, a.PreviousRefreshHash, a.RetiredRefreshHashes = nil, nil, nil
	if err := s.UpdateGrant(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	for i, h := range old {
		if !bytesEqual(h, dropped) {
			wantRefresh(t, fmt.Sprintf("every hash dropped, hash %d", i), s, h, "")
		}
	}
	wantGrant(t, "grant without refresh tokens", s, a)
}

func testUpdateGrant(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	mustCreate(t, s, newClient("other"))
	g, _ := mustRedeem(t, s, "g", "c")

	u := newGrant(newCode("g", "c"))
	u.Scope, u.Subject, u.Resources, u.Claims = "openid", "user renamed", []string{"https://other.example/"}, []byte(`{}`)
	u.UpdatedAt = base.Add(time.Hour + time.Microsecond).In(zone)
	u.IdleExpiresAt, u.ExpiresAt = base.Add(8*24*time.Hour), time.Time{}
	u.PreviousRefreshExpiresAt = time.Time{}
	at := grantToken("refreshed", u)
	at.Resources = nil
	if err := s.UpdateGrant(ctx, u, at); err != nil {
		t.Fatalf("UpdateGrant: %v", err)
	}
	if u.Revision != 2 {
		t.Errorf("UpdateGrant set Revision %d, want 2", u.Revision)
	}
	wantGrant(t, "updated grant", s, u)
	wantAccessToken(t, "access token of the update", s, at)

	// A stale revision writes nothing, also not the access token.
	stale := newGrant(newCode("g", "c"))
	stale.Scope = "stale"
	staleAt := grantToken("stale", stale)
	wantErr(t, "UpdateGrant of a stale revision", s.UpdateGrant(ctx, stale, staleAt), store.ErrConflict)
	if stale.Revision != 1 {
		t.Errorf("failed UpdateGrant set Revision %d", stale.Revision)
	}
	stale.Revision = 3
	wantErr(t, "UpdateGrant of a future revision", s.UpdateGrant(ctx, stale, staleAt), store.ErrConflict)
	wantGrant(t, "grant after refused updates", s, u)
	wantNoAccessToken(t, "access token of a refused update", s, staleAt.Hash)

	// The grant keeps its client.
	moved := *u
	moved.ClientID = "other"
	if err := s.UpdateGrant(ctx, &moved, nil); err != nil {
		t.Fatalf("UpdateGrant naming another client: %v", err)
	}
	got, err := s.GetGrant(ctx, g.ID)
	if err != nil || got.ClientID != "c" || got.Revision != 3 {
		t.Errorf("grant after an update naming another client: %+v, %v; want client %q, revision 3", got, err, "c")
	}

	// A missing grant: ErrNotFound first, whatever the revision.
	ghost := newGrant(newCode("ghost", "c"))
	wantErr(t, "UpdateGrant of an unknown grant", s.UpdateGrant(ctx, ghost, grantToken("ghost", ghost)), store.ErrNotFound)
	wantNoAccessToken(t, "access token of the unknown grant's update", s, hash("access ghost"))
	wantNoGrant(t, "unknown grant", s, ghost.ID)
	if err := s.DeleteGrant(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "UpdateGrant of a deleted grant", s.UpdateGrant(ctx, got, nil), store.ErrNotFound)
	wantNoGrant(t, "deleted grant after UpdateGrant", s, g.ID)
}

func testUpdateGrantHashTaken(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	a, aAt := mustRedeem(t, s, "a", "c")
	b, _ := mustRedeem(t, s, "b", "c")

	refuse := func(what string, mod func(g *store.Grant, at *store.AccessToken)) {
		t.Helper()
		g, err := s.GetGrant(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		at := grantToken("refused "+what, g)
		g.Scope = "changed"
		g.PreviousRefreshHash, g.RefreshHashes = g.RefreshHashes[0], [][]byte{hash("new " + what)}
		mod(g, at)
		wantErr(t, "UpdateGrant with "+what, s.UpdateGrant(ctx, g, at), store.ErrAlreadyExists)
		if g.Revision != a.Revision {
			t.Errorf("UpdateGrant with %s set Revision %d", what, g.Revision)
		}
		wantGrant(t, "grant after UpdateGrant with "+what, s, a)
		for _, h := range allRefreshHashes(a) {
			wantRefresh(t, "refresh token after UpdateGrant with "+what, s, h, a.ID)
		}
		for _, h := range allRefreshHashes(b) {
			wantRefresh(t, "other grant's refresh token after UpdateGrant with "+what, s, h, b.ID)
		}
		wantRefresh(t, "new refresh token of the refused update", s, hash("new "+what), "")
		if !bytesEqual(at.Hash, aAt.Hash) {
			wantNoAccessToken(t, "access token of the refused update", s, at.Hash)
		}
	}
	refuse("another grant's current hash", func(g *store.Grant, _ *store.AccessToken) {
		g.RefreshHashes = append(g.RefreshHashes, b.RefreshHashes[0])
	})
	refuse("another grant's previous hash", func(g *store.Grant, _ *store.AccessToken) {
		g.RetiredRefreshHashes = append(g.RetiredRefreshHashes, b.PreviousRefreshHash)
	})
	refuse("another grant's retired hash", func(g *store.Grant, _ *store.AccessToken) {
		g.PreviousRefreshHash = b.RetiredRefreshHashes[0]
	})
	refuse("a taken access token hash", func(_ *store.Grant, at *store.AccessToken) { at.Hash = aAt.Hash })
	wantAccessToken(t, "the existing access token", s, aAt)

	// Its own hashes, moved between the fields, are no conflict.
	a.PreviousRefreshHash, a.RetiredRefreshHashes = a.RetiredRefreshHashes[0], [][]byte{a.PreviousRefreshHash, a.RefreshHashes[0]}
	a.RefreshHashes = [][]byte{a.RetiredRefreshHashes[1]}
	if err := s.UpdateGrant(ctx, a, nil); err != nil {
		t.Fatalf("UpdateGrant moving its own hashes: %v", err)
	}
	wantGrant(t, "grant with its hashes moved", s, a)
}

// testUpdateGrantRace has several writers update one grant from the same
// read: exactly one succeeds, the others get ErrConflict.
func testUpdateGrantRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	g, _ := mustRedeem(t, s, "g", "c")
	const rounds, writers = 10, 6
	for round := range rounds {
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [writers]error
			gs    [writers]*store.Grant
		)
		for i := range gs {
			u, err := s.GetGrant(ctx, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			u.RefreshHashes = [][]byte{hash(fmt.Sprintf("race %d/%d", round, i))}
			u.Scope = fmt.Sprintf("writer %d", i)
			gs[i] = u
			wg.Go(func() {
				<-start
				errs[i] = s.UpdateGrant(ctx, u, grantToken(fmt.Sprintf("race %d/%d", round, i), u))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: updates %d and %d both succeeded", round, winner, i)
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: update %d: %v, want nil or ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no update succeeded", round)
		}
		wantGrant(t, fmt.Sprintf("round %d: the winner's update", round), s, gs[winner])
		for i, u := range gs {
			at := hash(fmt.Sprintf("access race %d/%d", round, i))
			h := u.RefreshHashes[0]
			if i == winner {
				wantRefresh(t, "the winner's refresh token", s, h, g.ID)
				if _, err := s.GetAccessToken(ctx, at); err != nil {
					t.Errorf("round %d: the winner's access token: %v", round, err)
				}
			} else {
				wantRefresh(t, "a loser's refresh token", s, h, "")
				wantNoAccessToken(t, "a loser's access token", s, at)
			}
		}
	}
}

func testDeleteGrant(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	a, aAt := mustRedeem(t, s, "a", "c")
	b, bAt := mustRedeem(t, s, "b", "c")
	a2 := grantToken("a2", a)
	mustCreateAccessToken(t, s, a2)
	a.RefreshHashes = [][]byte{hash("rotated a")}
	a3 := grantToken("a3", a)
	if err := s.UpdateGrant(ctx, a, a3); err != nil {
		t.Fatal(err)
	}
	cc := newAccessToken("client credentials", "c", base.Add(time.Hour))
	mustCreateAccessToken(t, s, cc)

	if err := s.DeleteGrant(ctx, a.ID); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	wantNoGrant(t, "deleted grant", s, a.ID)
	for _, at := range []*store.AccessToken{aAt, a2, a3} {
		wantNoAccessToken(t, "access token of the deleted grant", s, at.Hash)
	}
	for _, h := range allRefreshHashes(a) {
		wantRefresh(t, "refresh token of the deleted grant", s, h, "")
	}
	wantErr(t, "second DeleteGrant", s.DeleteGrant(ctx, a.ID), store.ErrNotFound)
	wantErr(t, "DeleteGrant of an unknown grant", s.DeleteGrant(ctx, "no such grant"), store.ErrNotFound)
	wantErr(t, "CreateAccessToken for the deleted grant", s.CreateAccessToken(ctx, grantToken("a4", a)), store.ErrNotFound)
	wantNoAccessToken(t, "access token of the deleted grant, created after", s, hash("access a4"))

	wantGrant(t, "the other grant", s, b)
	wantAccessToken(t, "the other grant's access token", s, bAt)
	wantAccessToken(t, "the client's own access token", s, cc)
	for _, h := range allRefreshHashes(b) {
		wantRefresh(t, "refresh token of the other grant", s, h, b.ID)
	}
	// Its hashes are free again.
	b.RetiredRefreshHashes = append(b.RetiredRefreshHashes, a.RefreshHashes[0])
	if err := s.UpdateGrant(ctx, b, grantToken("a", b)); err != nil {
		t.Fatalf("UpdateGrant taking the hashes of a deleted grant: %v", err)
	}
	// Only b's tokens (b, a) and the client's are left, and b's grant
	// (expiring) and two codes.
	wantDeleteExpired(t, "what is left", s, farFuture, 3+1+2)
}

func testAccessTokenGrant(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	g, _ := mustRedeem(t, s, "g", "c")
	at := grantToken("x", g)
	at.IssuedAt = base.Add(time.Microsecond).In(zone)
	mustCreateAccessToken(t, s, at)
	wantAccessToken(t, "access token of a grant", s, at)
	empty := grantToken("empty", g)
	empty.Resources, empty.Subject = []string{}, ""
	mustCreateAccessToken(t, s, empty)
	wantAccessToken(t, "empty resources", s, empty)

	ghost := grantToken("ghost", g)
	ghost.GrantID = "no such grant"
	wantErr(t, "CreateAccessToken of an unknown grant", s.CreateAccessToken(ctx, ghost), store.ErrNotFound)
	wantNoAccessToken(t, "access token of an unknown grant", s, ghost.Hash)
	ghost.GrantID = g.ID + " "
	wantErr(t, "CreateAccessToken of a near grant ID", s.CreateAccessToken(ctx, ghost), store.ErrNotFound)

	got, err := s.GetAccessToken(ctx, at.Hash)
	if err != nil {
		t.Fatal(err)
	}
	got.Resources[0] = "scribbled"
	wantAccessToken(t, "access token after scribbling on a copy", s, at)
}

func testConsent(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("a"))
	mustCreate(t, s, newClient("b"))
	c := &store.Consent{
		Subject:   "user ü",
		ClientID:  "a",
		Scope:     "openid profile",
		Resources: []string{"https://api.example/"},
		GrantedAt: base.In(zone),
		ExpiresAt: base.Add(365*24*time.Hour + time.Microsecond).In(zone),
	}
	wantConsent := func(what string, want *store.Consent) {
		t.Helper()
		got, err := s.GetConsent(ctx, want.Subject, want.ClientID)
		if err != nil {
			t.Errorf("%s: GetConsent: %v", what, err)
			return
		}
		wantRecord(t, what, got, want, consentTimes)
	}
	if err := s.PutConsent(ctx, c); err != nil {
		t.Fatalf("PutConsent: %v", err)
	}
	wantConsent("consent", c)
	for _, k := range [][2]string{{"user u", "a"}, {"user ü", "b"}, {"user ü ", "a"}, {"", ""}} {
		_, err := s.GetConsent(ctx, k[0], k[1])
		wantErr(t, fmt.Sprintf("GetConsent(%q, %q)", k[0], k[1]), err, store.ErrNotFound)
	}
	other := *c
	other.ClientID, other.Resources, other.ExpiresAt = "b", []string{}, time.Time{}
	if err := s.PutConsent(ctx, &other); err != nil {
		t.Fatal(err)
	}
	wantConsent("another client's, empty resources and no expiry", &other)

	// PutConsent replaces.
	r := *c
	r.Scope, r.Resources, r.GrantedAt = "openid", nil, base.Add(time.Hour)
	if err := s.PutConsent(ctx, &r); err != nil {
		t.Fatalf("PutConsent replacing: %v", err)
	}
	wantConsent("replaced consent", &r)
	wantConsent("the other client's consent", &other)

	ghost := *c
	ghost.ClientID = "ghost"
	wantErr(t, "PutConsent for an unknown client", s.PutConsent(ctx, &ghost), store.ErrNotFound)
	_, err := s.GetConsent(ctx, ghost.Subject, "ghost")
	wantErr(t, "consent of an unknown client", err, store.ErrNotFound)

	if err := s.DeleteConsent(ctx, c.Subject, "a"); err != nil {
		t.Fatalf("DeleteConsent: %v", err)
	}
	_, err = s.GetConsent(ctx, c.Subject, "a")
	wantErr(t, "deleted consent", err, store.ErrNotFound)
	wantErr(t, "second DeleteConsent", s.DeleteConsent(ctx, c.Subject, "a"), store.ErrNotFound)
	wantConsent("the other client's consent after the delete", &other)
	wantDeleteExpired(t, "a consent that never expires", s, farFuture, 0)
}

func testDeleteClientCascades(t *testing.T, s store.Store) {
	ctx := context.Background()
	type records struct {
		pending *store.PendingAuthorization
		code    *store.AuthorizationCode
		grant   *store.Grant
		at, cc  *store.AccessToken
		consent *store.Consent
	}
	add := func(id string) records {
		mustCreate(t, s, newClient(id))
		r := records{pending: newPending(id, id), code: newCode(id+" unused", id)}
		mustCreatePending(t, s, r.pending)
		mustCreateCode(t, s, r.code)
		r.grant, r.at = mustRedeem(t, s, id, id)
		r.cc = newAccessToken(id+" client credentials", id, base.Add(time.Hour))
		mustCreateAccessToken(t, s, r.cc)
		r.consent = &store.Consent{Subject: "user", ClientID: id, Scope: "openid", GrantedAt: base, ExpiresAt: base.Add(time.Hour)}
		if err := s.PutConsent(ctx, r.consent); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := add("a"), add("b")
	if err := s.DeleteClient(ctx, "a"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	gone := func(what string) {
		t.Helper()
		_, err := s.GetPendingAuthorization(ctx, a.pending.Hash)
		wantErr(t, what+": pending request", err, store.ErrNotFound)
		for _, h := range [][]byte{a.code.Hash, hash("code a")} {
			_, err = s.GetCode(ctx, h)
			wantErr(t, what+": code", err, store.ErrNotFound)
		}
		wantNoGrant(t, what+": grant", s, a.grant.ID)
		for _, h := range allRefreshHashes(a.grant) {
			wantRefresh(t, what+": refresh token", s, h, "")
		}
		wantNoAccessToken(t, what+": access token of the grant", s, a.at.Hash)
		wantNoAccessToken(t, what+": client's access token", s, a.cc.Hash)
		_, err = s.GetConsent(ctx, "user", "a")
		wantErr(t, what+": consent", err, store.ErrNotFound)
	}
	gone("deleted client")
	// A new client with the same ID finds nothing of the old one.
	mustCreate(t, s, newClient("a"))
	gone("new client with the deleted one's ID")
	_, err := s.TakePendingAuthorization(ctx, a.pending.Hash)
	wantErr(t, "TakePendingAuthorization of the deleted client's request", err, store.ErrNotFound)
	wantErr(t, "RedeemCode of the deleted client's code", s.RedeemCode(ctx, a.code.Hash, base, newGrant(a.code), nil), store.ErrNotFound)

	wantPending(t, "other client's request", s, b.pending)
	wantCode(t, "other client's code", s, b.code)
	wantGrant(t, "other client's grant", s, b.grant)
	wantAccessToken(t, "other client's grant's access token", s, b.at)
	wantAccessToken(t, "other client's access token", s, b.cc)
	if _, err := s.GetConsent(ctx, "user", "b"); err != nil {
		t.Errorf("other client's consent: %v", err)
	}
	// Nothing of a was left behind, even hidden: b's request, two codes,
	// two tokens, grant and consent.
	wantDeleteExpired(t, "everything of the other client", s, farFuture, 1+2+2+1+1)
}

func testDeleteExpiredAuthorization(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := base.Add(24 * time.Hour)
	mustCreate(t, s, newClient("c"))

	type rec struct {
		name    string
		expired bool
		exists  func() error
	}
	var recs []rec
	pending := func(name string, exp time.Time, expired bool) {
		p := newPending(name, "c")
		p.ExpiresAt = exp
		mustCreatePending(t, s, p)
		recs = append(recs, rec{"pending " + name, expired, func() error {
			_, err := s.GetPendingAuthorization(ctx, p.Hash)
			return err
		}})
	}
	pending("expired", now.Add(-time.Microsecond), true)
	pending("expires now", now, false)
	pending("valid", now.Add(time.Minute), false)

	code := func(name string, exp time.Time, used, expired bool) {
		c := newCode(name, "c")
		c.ExpiresAt = exp
		mustCreateCode(t, s, c)
		if used {
			if err := s.RedeemCode(ctx, c.Hash, base, newGrant(c), nil); err != nil {
				t.Fatal(err)
			}
		}
		recs = append(recs, rec{"code " + name, expired, func() error {
			_, err := s.GetCode(ctx, c.Hash)
			return err
		}})
	}
	code("expired unused", now.Add(-time.Hour), false, true)
	code("valid", now.Add(time.Minute), false, false)

	// Codes redeemed into grants of every kind of expiry; their unexpired
	// access tokens go with an expired grant, uncounted.
	var tokens []*store.AccessToken
	grant := func(name string, exp, idle time.Time, expired bool) {
		c := newCode(name, "c")
		c.ExpiresAt = now.Add(-time.Hour) // the code itself expired: counted
		mustCreateCode(t, s, c)
		g := newGrant(c)
		g.ExpiresAt, g.IdleExpiresAt = exp, idle
		at := grantToken(name, g)
		at.ExpiresAt = now.Add(time.Hour)
		if err := s.RedeemCode(ctx, c.Hash, base, g, at); err != nil {
			t.Fatal(err)
		}
		if expired {
			tokens = append(tokens, at)
		}
		recs = append(recs, rec{"grant " + name, expired, func() error {
			_, err := s.GetGrant(ctx, g.ID)
			if err == nil {
				_, err = s.GetGrantByRefreshHash(ctx, g.RefreshHashes[0])
			}
			if err == nil {
				_, err = s.GetAccessToken(ctx, at.Hash)
			}
			return err
		}})
	}
	grant("absolute expired", now.Add(-time.Microsecond), now.Add(time.Hour), true)
	grant("idle expired", now.Add(time.Hour), now.Add(-time.Microsecond), true)
	grant("both expired", now.Add(-time.Hour), now.Add(-time.Hour), true)
	grant("no expiry", time.Time{}, time.Time{}, false)
	grant("absolute only", now.Add(time.Hour), time.Time{}, false)
	grant("idle only", time.Time{}, now, false)

	consent := func(subject string, exp time.Time, expired bool) {
		c := &store.Consent{Subject: subject, ClientID: "c", Scope: "openid", GrantedAt: base, ExpiresAt: exp}
		if err := s.PutConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec{"consent " + subject, expired, func() error {
			_, err := s.GetConsent(ctx, subject, "c")
			return err
		}})
	}
	consent("expired", now.Add(-time.Microsecond), true)
	consent("never", time.Time{}, false)
	consent("valid", now.Add(time.Hour), false)

	// 1 request, 1 + 6 codes, 3 grants, 1 consent.
	wantDeleteExpired(t, "at now", s, now, 1+7+3+1)
	for _, r := range recs {
		err := r.exists()
		switch {
		case r.expired && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: expired, but still there (%v)", r.name, err)
		case !r.expired && err != nil:
			t.Errorf("%s: not expired, but %v", r.name, err)
		}
	}
	for _, at := range tokens {
		wantNoAccessToken(t, "unexpired access token of an expired grant", s, at.Hash)
	}
	wantDeleteExpired(t, "again at now", s, now, 0)
	// Later: the requests, the code, three tokens and three grants with an
	// expiry, and a consent.
	wantDeleteExpired(t, "at far future", s, farFuture, 2+1+3+2+1)
}

// testAuthzCanceledContext calls every method with a canceled context: each
// returns an error wrapping context.Canceled and writes nothing.
func testAuthzCanceledContext(t *testing.T, s store.Store) {
	bg := context.Background()
	mustCreate(t, s, newClient("c"))
	p := newPending("p", "c")
	mustCreatePending(t, s, p)
	c := newCode("c", "c")
	mustCreateCode(t, s, c)
	g, _ := mustRedeem(t, s, "g", "c")
	consent := &store.Consent{Subject: "user", ClientID: "c", Scope: "openid", GrantedAt: base}
	if err := s.PutConsent(bg, consent); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(bg)
	cancel()
	for name, err := range authzOps(ctx, s, p, c, g) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: got %v, want context.Canceled", name, err)
		}
	}
	wantPending(t, "request after a canceled take", s, p)
	wantCode(t, "code after a canceled redemption", s, c)
	wantGrant(t, "grant after a canceled update", s, g)
	if got, err := s.GetConsent(bg, "user", "c"); err != nil || got.Scope != "openid" {
		t.Errorf("consent after a canceled put and delete: %+v, %v", got, err)
	}
	for _, h := range [][]byte{hash("pending new"), hash("code new")} {
		if _, err := s.GetPendingAuthorization(bg, h); err == nil {
			t.Errorf("CreatePendingAuthorization with a canceled context stored the request")
		}
		if _, err := s.GetCode(bg, h); err == nil {
			t.Errorf("CreateCode with a canceled context stored the code")
		}
	}
	wantNoGrant(t, "grant of a canceled redemption", s, "grant c")
	wantNoAccessToken(t, "access token of a canceled redemption", s, hash("access canceled redeem"))
	wantNoAccessToken(t, "access token of a canceled update", s, hash("access canceled update"))
}

// authzOps calls every method of store.AuthorizationStore once, on the
// stored request p, unused code c and grant g, and returns the errors by
// name.
func authzOps(ctx context.Context, s store.AuthorizationStore, p *store.PendingAuthorization, c *store.AuthorizationCode, g *store.Grant) map[string]error {
	errs := make(map[string]error)
	np := newPending("new", p.ClientID)
	errs["CreatePendingAuthorization"] = s.CreatePendingAuthorization(ctx, np)
	_, errs["GetPendingAuthorization"] = s.GetPendingAuthorization(ctx, p.Hash)
	_, errs["TakePendingAuthorization"] = s.TakePendingAuthorization(ctx, p.Hash)
	errs["CreateCode"] = s.CreateCode(ctx, newCode("new", c.ClientID))
	_, errs["GetCode"] = s.GetCode(ctx, c.Hash)
	ng := newGrant(c)
	errs["RedeemCode"] = s.RedeemCode(ctx, c.Hash, base, ng, grantToken("canceled redeem", ng))
	_, errs["GetGrant"] = s.GetGrant(ctx, g.ID)
	_, errs["GetGrantByRefreshHash"] = s.GetGrantByRefreshHash(ctx, g.RefreshHashes[0])
	u := *g
	u.Scope = "changed"
	errs["UpdateGrant"] = s.UpdateGrant(ctx, &u, grantToken("canceled update", g))
	errs["DeleteGrant"] = s.DeleteGrant(ctx, g.ID)
	errs["PutConsent"] = s.PutConsent(ctx, &store.Consent{Subject: "user", ClientID: c.ClientID, Scope: "changed", GrantedAt: base})
	_, errs["GetConsent"] = s.GetConsent(ctx, "user", c.ClientID)
	errs["DeleteConsent"] = s.DeleteConsent(ctx, "user", c.ClientID)
	return errs
}

func testAuthzClosed(t *testing.T, s store.Store) {
	mustCreate(t, s, newClient("c"))
	p := newPending("p", "c")
	mustCreatePending(t, s, p)
	c := newCode("c", "c")
	mustCreateCode(t, s, c)
	g, _ := mustRedeem(t, s, "g", "c")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, err := range authzOps(context.Background(), s, p, c, g) {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a closed store: got %v, want ErrUnavailable", name, err)
		}
	}
}

// sharedRace runs calls, half through a and half through b, at once, and
// returns their errors.
func sharedRace(a, b store.Store, n int, call func(s store.Store, i int) error) []error {
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make([]error, n)
	)
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			errs[i] = call(s, i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner fails the test unless exactly one of errs is nil and the others
// wrap loser, and returns the winner's index.
func oneWinner(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Fatalf("%s: calls %d and %d both succeeded", what, winner, i)
		case !errors.Is(err, loser):
			t.Fatalf("%s: call %d: %v, want nil or %v", what, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no call succeeded", what)
	}
	return winner
}

func testSharedTakePending(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	mustCreate(t, a, newClient("c"))
	for round := range 20 {
		p := newPending(fmt.Sprint(round), "c")
		mustCreatePending(t, a, p)
		errs := sharedRace(a, b, 6, func(s store.Store, _ int) error {
			_, err := s.TakePendingAuthorization(ctx, p.Hash)
			return err
		})
		oneWinner(t, fmt.Sprintf("round %d", round), errs, store.ErrNotFound)
		for _, s := range []store.Store{a, b} {
			_, err := s.GetPendingAuthorization(ctx, p.Hash)
			wantErr(t, "taken request", err, store.ErrNotFound)
		}
	}
}

func testSharedRedeemCode(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	mustCreate(t, a, newClient("c"))
	const redeemers = 6
	for round := range 20 {
		c := newCode(fmt.Sprint(round), "c")
		mustCreateCode(t, b, c)
		ats := make([]*store.AccessToken, redeemers)
		errs := sharedRace(a, b, redeemers, func(s store.Store, i int) error {
			g := newGrant(c)
			g.RefreshHashes = [][]byte{hash(fmt.Sprintf("refresh %d/%d", round, i))}
			g.PreviousRefreshHash, g.RetiredRefreshHashes = nil, nil
			ats[i] = grantToken(fmt.Sprintf("%d/%d", round, i), g)
			return s.RedeemCode(ctx, c.Hash, base, g, ats[i])
		})
		winner := oneWinner(t, fmt.Sprintf("round %d", round), errs, store.ErrUsed)
		for _, s := range []store.Store{a, b} {
			for i, at := range ats {
				h := hash(fmt.Sprintf("refresh %d/%d", round, i))
				if i == winner {
					wantAccessToken(t, "the winner's access token", s, at)
					wantRefresh(t, "the winner's refresh token", s, h, c.GrantID)
				} else {
					wantNoAccessToken(t, "a loser's access token", s, at.Hash)
					wantRefresh(t, "a loser's refresh token", s, h, "")
				}
			}
		}
	}
}

func testSharedUpdateGrant(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	mustCreate(t, a, newClient("c"))
	g, _ := mustRedeem(t, a, "g", "c")
	const writers = 6
	for round := range 20 {
		gs := make([]*store.Grant, writers)
		for i := range gs {
			s := a
			if i%2 == 1 {
				s = b
			}
			u, err := s.GetGrant(ctx, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			u.PreviousRefreshHash, u.RefreshHashes = u.RefreshHashes[0], [][]byte{hash(fmt.Sprintf("race %d/%d", round, i))}
			gs[i] = u
		}
		errs := sharedRace(a, b, writers, func(s store.Store, i int) error {
			return s.UpdateGrant(ctx, gs[i], grantToken(fmt.Sprintf("race %d/%d", round, i), gs[i]))
		})
		winner := oneWinner(t, fmt.Sprintf("round %d", round), errs, store.ErrConflict)
		for _, s := range []store.Store{a, b} {
			wantGrant(t, fmt.Sprintf("round %d: the winner's update", round), s, gs[winner])
			for i, u := range gs {
				at := hash(fmt.Sprintf("access race %d/%d", round, i))
				if i == winner {
					wantRefresh(t, "the winner's refresh token", s, u.RefreshHashes[0], g.ID)
					if _, err := s.GetAccessToken(ctx, at); err != nil {
						t.Errorf("round %d: the winner's access token: %v", round, err)
					}
				} else {
					wantRefresh(t, "a loser's refresh token", s, u.RefreshHashes[0], "")
					wantNoAccessToken(t, "a loser's access token", s, at)
				}
			}
		}
	}
}
