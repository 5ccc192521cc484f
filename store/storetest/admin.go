package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// RunAdmin runs the conformance suite of store.ClientAdminStore against the
// stores that newStore returns; Run runs it too, as its subtest Admin. It
// checks that:
//
//   - ListClients: every filter of ClientQuery, alone and combined, selects
//     exactly the clients ClientQuery.Selects selects, in the byte order of
//     their IDs (upper case before lower case, "a" before "a-1" before
//     "a0"), after AfterID (one no client has, and ones that no store can
//     hold as an ID, with NUL or invalid UTF-8, included); paging with
//     Limit 1 and 2 returns every selected client once, in order; each
//     client is as GetClient returns it; a Limit that is not positive is an
//     error;
//   - DisabledAt: CreateClient stores it, UpdateClient keeps the stored one,
//     GetClient, GetClientByTokenHash, ListClients and PurgeClients return
//     it, and CreateAccessToken refuses a disabled client;
//   - SetClientDisabled: disabling removes the client's access tokens,
//     grants (whose refresh tokens then find nothing) and codes, not the
//     client nor another client's records, and changes neither Revision
//     nor UpdatedAt; a second disabling keeps the first time; no token is
//     stored for a disabled client, by CreateAccessToken or RedeemCode;
//     enabling clears DisabledAt and tokens are stored again; an unknown
//     client is ErrNotFound;
//   - RevokeClientTokens: it removes the same as a disabling, counts the
//     access tokens (those of grants among them) and grants it removed, and
//     leaves the client enabled and other clients' records alone;
//   - InitialTokens: ListInitialTokens returns every token, used up and
//     expired ones too, by CreatedAt and then Hash; DeleteInitialToken
//     removes one (ErrNotFound for an unknown one) and the clients
//     registered with it stay;
//   - DisableRace: a SetClientDisabled racing CreateAccessToken, RedeemCode
//     and UpdateGrant calls that store tokens of the same client leaves no
//     token and no grant of it, and no call fails otherwise than with
//     ErrNotFound or, for UpdateGrant, ErrConflict (a deadlock would);
//   - CanceledContext and Closed: every method with a done context returns
//     the context's error and writes nothing, and after Close
//     ErrUnavailable.
//
// RunSharing runs DisableRace across two stores on one database too.
func RunAdmin(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ListClients", testListClients},
		{"ListClientsPaging", testListClientsPaging},
		{"DisabledAt", testDisabledAt},
		{"SetClientDisabled", testSetClientDisabled},
		{"RevokeClientTokens", testRevokeClientTokens},
		{"InitialTokens", testAdminInitialTokens},
		{"DisableRace", func(t *testing.T, s store.Store) { testDisableRace(t, s, s) }},
		{"CanceledContext", testAdminCanceledContext},
		{"Closed", testAdminClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// listed is a client of the listing tests.
type listed struct {
	id, policy, origin string
	issued, used       time.Duration // after base; used < 0: never used
}

// listedClients are the clients of the listing tests, in no order. Their
// IDs in byte order: B, Z9, a, a-1, a0, aé, b, é, 日本.
var listedClients = []listed{
	{"a", "", store.OriginAnonymous, 0, -1},
	{"B", "gold", store.OriginAnonymous, time.Hour, 2 * time.Hour},
	{"a0", "gold", store.OriginInitialToken, 2 * time.Hour, -1},
	{"aé", "silver", store.OriginOperator, 3 * time.Hour, 4 * time.Hour},
	{"b", "", store.OriginMetadataDocument, 4 * time.Hour, -1},
	{"Z9", "silver", store.OriginAnonymous, 5 * time.Hour, 6 * time.Hour},
	{"é", "gold", "", 6 * time.Hour, -1},
	{"日本", "", store.OriginAnonymous, 7 * time.Hour, 8 * time.Hour},
	{"a-1", "gold", store.OriginOperator, time.Hour, -1},
}

// createListed stores listedClients in s and returns them as stored. One
// has sibling token hashes and one is disabled, so that ListClients is
// seen to return them.
func createListed(t *testing.T, s store.Store) []*store.Client {
	t.Helper()
	var cs []*store.Client
	for _, l := range listedClients {
		var used time.Time
		if l.used >= 0 {
			used = base.Add(l.used)
		}
		c := lifecycleClient(l.id, l.origin, base.Add(l.issued), used)
		c.Policy = l.policy
		switch l.id {
		case "a0":
			c.SiblingTokenHashes = [][]byte{hash("sibling 1 a0"), hash("sibling 2 a0")}
		case "aé":
			c.DisabledAt = base.Add(9 * time.Hour)
		}
		mustCreate(t, s, c)
		cs = append(cs, mustGet(t, s, l.id))
	}
	return cs
}

// selected returns the IDs of the clients of cs that q selects, after
// q.AfterID and at most q.Limit of them, in byte order: what ListClients
// must return.
func selected(cs []*store.Client, q store.ClientQuery) []string {
	var ids []string
	for _, c := range cs {
		if c.ID > q.AfterID && q.Selects(c) {
			ids = append(ids, c.ID)
		}
	}
	slices.Sort(ids)
	if len(ids) > q.Limit {
		ids = ids[:q.Limit]
	}
	return ids
}

// wantListed fails the test unless ListClients(q) returns the clients
// wantIDs, each as stored.
func wantListed(t *testing.T, what string, s store.Store, q store.ClientQuery, wantIDs []string, stored map[string]*store.Client) {
	t.Helper()
	got, err := s.ListClients(context.Background(), q)
	if err != nil {
		t.Errorf("%s: ListClients(%+v): %v", what, q, err)
		return
	}
	if ids := purgedIDs(got); !slices.Equal(ids, wantIDs) {
		t.Errorf("%s: ListClients(%+v) = %q, want %q", what, q, ids, wantIDs)
		return
	}
	for _, c := range got {
		wantClient(t, what+": client "+c.ID, c, stored[c.ID])
	}
}

func testListClients(t *testing.T, s store.Store) {
	cs := createListed(t, s)
	stored := make(map[string]*store.Client)
	for _, c := range cs {
		stored[c.ID] = c
	}
	h := func(d time.Duration) time.Time { return base.Add(d * time.Hour) }

	// Expectations written out, so that the suite does not rest on
	// ClientQuery.Selects alone.
	for _, tc := range []struct {
		what string
		q    store.ClientQuery
		want []string
	}{
		{"every client", store.ClientQuery{}, []string{"B", "Z9", "a", "a-1", "a0", "aé", "b", "é", "日本"}},
		{"policy gold", store.ClientQuery{Policies: []string{"gold"}}, []string{"B", "a-1", "a0", "é"}},
		{"no policy", store.ClientQuery{Policies: []string{""}}, []string{"a", "b", "日本"}},
		{"an empty list of policies", store.ClientQuery{Policies: []string{}}, nil},
		{"origins operator and none", store.ClientQuery{Origins: []string{store.OriginOperator, ""}}, []string{"a-1", "aé", "é"}},
		{"issued from 2h", store.ClientQuery{IssuedAfter: h(2)}, []string{"Z9", "a0", "aé", "b", "é", "日本"}},
		{"issued before 2h", store.ClientQuery{IssuedBefore: h(2)}, []string{"B", "a", "a-1"}},
		{"never used", store.ClientQuery{NeverUsed: true}, []string{"a", "a-1", "a0", "b", "é"}},
		{"after a", store.ClientQuery{AfterID: "a"}, []string{"a-1", "a0", "aé", "b", "é", "日本"}},
		{"gold, never used, after a-1", store.ClientQuery{Policies: []string{"gold"}, NeverUsed: true, AfterID: "a-1"}, []string{"a0", "é"}},
	} {
		tc.q.Limit = 100
		if sel := selected(cs, tc.q); !slices.Equal(sel, tc.want) {
			t.Fatalf("%s: the suite expects %q, ClientQuery.Selects selects %q", tc.what, tc.want, sel)
		}
		wantListed(t, tc.what, s, tc.q, tc.want, stored)
	}

	// Every filter alone and combined with others, and the cursors.
	var queries []store.ClientQuery
	for _, p := range [][]string{nil, {"gold"}, {"gold", "silver"}, {""}, {}, {"gold", "none"}, {"gold", "nul\x00", "bad\xff"}} {
		for _, o := range [][]string{nil, {store.OriginAnonymous}, {store.OriginOperator, ""}, {}, {"bad\xff"}} {
			for _, r := range [][2]time.Time{
				{}, {h(2), time.Time{}}, {h(2).Add(time.Nanosecond), time.Time{}}, {time.Time{}, h(2)},
				{time.Time{}, h(2).Add(time.Nanosecond)}, {h(1), h(5)}, {h(5), h(1)},
			} {
				for _, never := range []bool{false, true} {
					queries = append(queries, store.ClientQuery{Policies: p, Origins: o, IssuedAfter: r[0], IssuedBefore: r[1], NeverUsed: never})
				}
			}
		}
	}
	for _, after := range []string{"", "B", "a", "a\x00", "a\xff", "aa", "a\xc3", "b", "\xff", "日本", "日本\x00", "\xf4\x90"} {
		queries = append(queries, store.ClientQuery{AfterID: after}, store.ClientQuery{AfterID: after, Policies: []string{"gold"}})
	}
	for _, q := range queries {
		for _, limit := range []int{100, 3} {
			q.Limit = limit
			wantListed(t, "a query", s, q, selected(cs, q), stored)
		}
	}

	for _, limit := range []int{0, -1} {
		if got, err := s.ListClients(context.Background(), store.ClientQuery{Limit: limit}); err == nil {
			t.Errorf("ListClients with Limit %d = %q, want an error", limit, purgedIDs(got))
		}
	}
}

func testListClientsPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	cs := createListed(t, s)
	for _, q := range []store.ClientQuery{
		{},
		{Policies: []string{"gold"}},
		{NeverUsed: true},
		{Origins: []string{store.OriginAnonymous}, IssuedAfter: base.Add(time.Hour)},
	} {
		want := selected(cs, store.ClientQuery{Policies: q.Policies, Origins: q.Origins,
			IssuedAfter: q.IssuedAfter, IssuedBefore: q.IssuedBefore, NeverUsed: q.NeverUsed, Limit: len(cs)})
		for _, limit := range []int{1, 2} {
			q.Limit, q.AfterID = limit, ""
			var all []string
			for calls := 0; ; calls++ {
				if calls > len(cs) {
					t.Fatalf("paging %+v: no end after %d calls", q, calls)
				}
				page, err := s.ListClients(ctx, q)
				if err != nil {
					t.Fatalf("ListClients(%+v): %v", q, err)
				}
				if len(page) > limit {
					t.Fatalf("ListClients(%+v) returned %d clients", q, len(page))
				}
				all = append(all, purgedIDs(page)...)
				if len(page) < limit {
					break
				}
				q.AfterID = page[len(page)-1].ID
			}
			if !slices.Equal(all, want) {
				t.Errorf("paging with Limit %d through %+v: %q, want %q", limit, q, all, want)
			}
		}
	}
}

func testDisabledAt(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("disabled")
	c.DisabledAt = base.Add(5*time.Minute + 7*time.Microsecond).In(zone)
	want := c.Clone()
	mustCreate(t, s, c)
	wantClient(t, "GetClient of a client created disabled", mustGet(t, s, "disabled"), want)
	got, err := s.GetClientByTokenHash(ctx, c.TokenHash)
	if err != nil {
		t.Fatalf("GetClientByTokenHash: %v", err)
	}
	wantClient(t, "GetClientByTokenHash of a client created disabled", got, want)
	listed, err := s.ListClients(ctx, store.ClientQuery{Limit: 10})
	if err != nil || len(listed) != 1 {
		t.Fatalf("ListClients = %q, %v", purgedIDs(listed), err)
	}
	wantClient(t, "ListClients of a client created disabled", listed[0], want)
	wantErr(t, "CreateAccessToken for a client created disabled",
		s.CreateAccessToken(ctx, newAccessToken("disabled", "disabled", base.Add(time.Hour))), store.ErrNotFound)
	wantNoAccessToken(t, "access token of a client created disabled", s, hash("access disabled"))

	// UpdateClient keeps the stored DisabledAt, whatever it is given.
	for _, d := range []time.Time{{}, base.Add(time.Hour)} {
		u := mustGet(t, s, "disabled")
		u.Metadata, u.DisabledAt = metadata(fmt.Sprint("updated ", d)), d
		mustUpdate(t, s, u)
		u.DisabledAt = want.DisabledAt
		wantClient(t, fmt.Sprintf("client after an update with DisabledAt %v", d), mustGet(t, s, "disabled"), u)
	}
	e := newClient("enabled")
	mustCreate(t, s, e)
	u := mustGet(t, s, "enabled")
	u.DisabledAt = base
	mustUpdate(t, s, u)
	if got := mustGet(t, s, "enabled"); !got.DisabledAt.IsZero() {
		t.Errorf("UpdateClient with a DisabledAt disabled the client: DisabledAt %v", got.DisabledAt)
	}

	// PurgeClients never selects a disabled client (store.ClientPurge),
	// whether it lists or removes; it returns an enabled one with a zero
	// DisabledAt.
	for _, dry := range []bool{true, false} {
		purged, err := s.PurgeClients(ctx, store.ClientPurge{Origins: []string{store.OriginAnonymous},
			UnusedBefore: farFuture, IdleBefore: farFuture, Now: base, Limit: 10, DryRun: dry})
		if err != nil || !slices.Equal(purgedIDs(purged), []string{"enabled"}) {
			t.Fatalf("PurgeClients (dry run %v) = %q, %v; want the enabled client alone", dry, purgedIDs(purged), err)
		}
		if !purged[0].DisabledAt.IsZero() {
			t.Errorf("PurgeClients returned DisabledAt %v, want zero", purged[0].DisabledAt)
		}
	}
	mustGet(t, s, "disabled") // kept
	if _, err := s.GetClient(ctx, "enabled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the enabled client after a purge: %v, want ErrNotFound", err)
	}
}

// holdings are the records a client holds that SetClientDisabled and
// RevokeClientTokens remove, created by holdingsOf.
type holdings struct {
	tokens []*store.AccessToken // every access token, the grants' among them
	grants []*store.Grant
	codes  []*store.AuthorizationCode // redeemed and unused
}

// holdingsOf gives client id, in s, two access tokens of its own, two
// grants (one rotated, with an access token of each of its two updates)
// and an unused code; names derive from id.
func holdingsOf(t *testing.T, s store.Store, id string) holdings {
	t.Helper()
	var h holdings
	for _, n := range []string{"1", "2"} {
		at := newAccessToken(id+" own "+n, id, base.Add(time.Hour))
		mustCreateAccessToken(t, s, at)
		h.tokens = append(h.tokens, at)
	}
	for _, n := range []string{"1", "2"} {
		name := id + " grant " + n
		g, at := mustRedeem(t, s, name, id)
		redeemed := newCode(name, id)
		redeemed.UsedAt = base
		h.grants, h.tokens, h.codes = append(h.grants, g), append(h.tokens, at), append(h.codes, redeemed)
	}
	g := h.grants[1]
	g.RefreshHashes = [][]byte{hash("rotated " + g.ID)}
	at := grantToken(id+" rotated", g)
	if err := s.UpdateGrant(context.Background(), g, at); err != nil {
		t.Fatalf("UpdateGrant: %v", err)
	}
	h.tokens = append(h.tokens, at)
	unused := newCode(id+" unused", id)
	mustCreateCode(t, s, unused)
	h.codes = append(h.codes, unused)
	return h
}

// wantHeld fails the test unless the records of h are stored as created.
func wantHeld(t *testing.T, what string, s store.Store, h holdings) {
	t.Helper()
	for _, at := range h.tokens {
		wantAccessToken(t, what, s, at)
	}
	for _, g := range h.grants {
		wantGrant(t, what, s, g)
		for _, rh := range allRefreshHashes(g) {
			wantRefresh(t, what, s, rh, g.ID)
		}
	}
	for _, c := range h.codes {
		wantCode(t, what, s, c)
	}
}

// wantRemoved fails the test unless none of the records of h is stored,
// and no refresh token of its grants finds a grant.
func wantRemoved(t *testing.T, what string, s store.Store, h holdings) {
	t.Helper()
	for _, at := range h.tokens {
		wantNoAccessToken(t, what, s, at.Hash)
	}
	for _, g := range h.grants {
		wantNoGrant(t, what, s, g.ID)
		for _, rh := range allRefreshHashes(g) {
			wantRefresh(t, what, s, rh, "")
		}
	}
	for _, c := range h.codes {
		_, err := s.GetCode(context.Background(), c.Hash)
		wantErr(t, what+": GetCode", err, store.ErrNotFound)
	}
}

func testSetClientDisabled(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	mustCreate(t, s, newClient("other"))
	held := holdingsOf(t, s, "c")
	others := holdingsOf(t, s, "other")
	before, otherBefore := mustGet(t, s, "c"), mustGet(t, s, "other")
	// A request the user has not answered goes with the disabling, so that
	// enabling the client again does not revive it; another client's stays.
	pending, otherPending := newPending("unanswered", "c"), newPending("unanswered other", "other")
	mustCreatePending(t, s, pending)
	mustCreatePending(t, s, otherPending)

	at := base.Add(time.Hour)
	if err := s.SetClientDisabled(ctx, "c", at.In(zone)); err != nil {
		t.Fatalf("SetClientDisabled: %v", err)
	}
	if _, err := s.GetPendingAuthorization(ctx, pending.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a pending request of the disabled client: GetPendingAuthorization: %v, want ErrNotFound", err)
	}
	if _, err := s.GetPendingAuthorization(ctx, otherPending.Hash); err != nil {
		t.Errorf("another client's pending request after a disabling: %v", err)
	}
	want := before.Clone()
	want.DisabledAt = at
	wantClient(t, "the client disabled", mustGet(t, s, "c"), want)
	wantRemoved(t, "the disabled client's records", s, held)
	wantHeld(t, "another client's records after a disabling", s, others)
	wantClient(t, "another client after a disabling", mustGet(t, s, "other"), otherBefore)

	// A disabled client gets no token, neither by CreateAccessToken nor by
	// redeeming a code (one created since: CreateCode takes it).
	wantErr(t, "CreateAccessToken for a disabled client",
		s.CreateAccessToken(ctx, newAccessToken("while disabled", "c", base.Add(time.Hour))), store.ErrNotFound)
	wantNoAccessToken(t, "access token refused to a disabled client", s, hash("access while disabled"))
	late := newCode("late", "c")
	mustCreateCode(t, s, late)
	lg := newGrant(late)
	wantErr(t, "RedeemCode with an access token for a disabled client",
		s.RedeemCode(ctx, late.Hash, base, lg, grantToken("late", lg)), store.ErrNotFound)
	wantCode(t, "code of a refused redemption", s, late)
	wantNoGrant(t, "grant of a refused redemption", s, lg.ID)
	wantNoAccessToken(t, "access token of a refused redemption", s, hash("access late"))

	// A second disabling keeps the first time, and removes again.
	if err := s.SetClientDisabled(ctx, "c", at.Add(time.Hour)); err != nil {
		t.Fatalf("second SetClientDisabled: %v", err)
	}
	wantClient(t, "the client disabled twice", mustGet(t, s, "c"), want)
	_, err := s.GetCode(ctx, late.Hash)
	wantErr(t, "a code of the disabled client after the second disabling: GetCode", err, store.ErrNotFound)

	// Enabling clears DisabledAt, and tokens are stored again.
	for range 2 {
		if err := s.SetClientDisabled(ctx, "c", time.Time{}); err != nil {
			t.Fatalf("SetClientDisabled(zero): %v", err)
		}
		wantClient(t, "the client enabled", mustGet(t, s, "c"), before)
	}
	again := newAccessToken("enabled again", "c", base.Add(time.Hour))
	mustCreateAccessToken(t, s, again)
	wantAccessToken(t, "access token of the client enabled again", s, again)
	mustRedeem(t, s, "redeemed again", "c")

	wantErr(t, "SetClientDisabled of an unknown client", s.SetClientDisabled(ctx, "missing", at), store.ErrNotFound)
	wantErr(t, "SetClientDisabled(zero) of an unknown client", s.SetClientDisabled(ctx, "missing", time.Time{}), store.ErrNotFound)
	_, err = s.GetClient(ctx, "missing")
	wantErr(t, "GetClient after SetClientDisabled of an unknown client", err, store.ErrNotFound)
	wantHeld(t, "another client's records at the end", s, others)
}

func testRevokeClientTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, newClient("c"))
	mustCreate(t, s, newClient("other"))
	held := holdingsOf(t, s, "c")
	others := holdingsOf(t, s, "other")
	before := mustGet(t, s, "c")

	n, err := s.RevokeClientTokens(ctx, "c")
	if want := int64(len(held.tokens) + len(held.grants)); err != nil || n != want {
		t.Fatalf("RevokeClientTokens = %d, %v; want %d (%d access tokens and %d grants)", n, err, want, len(held.tokens), len(held.grants))
	}
	wantRemoved(t, "the client's records after RevokeClientTokens", s, held)
	wantClient(t, "the client after RevokeClientTokens", mustGet(t, s, "c"), before)
	wantHeld(t, "another client's records after RevokeClientTokens", s, others)

	if n, err := s.RevokeClientTokens(ctx, "c"); err != nil || n != 0 {
		t.Errorf("RevokeClientTokens of a client without tokens = %d, %v; want 0", n, err)
	}
	// The client keeps getting tokens.
	at := newAccessToken("after revoke", "c", base.Add(time.Hour))
	mustCreateAccessToken(t, s, at)
	if n, err := s.RevokeClientTokens(ctx, "c"); err != nil || n != 1 {
		t.Errorf("RevokeClientTokens of a client with one token = %d, %v; want 1", n, err)
	}
	wantNoAccessToken(t, "the token after RevokeClientTokens", s, at.Hash)

	n, err = s.RevokeClientTokens(ctx, "missing")
	wantErr(t, "RevokeClientTokens of an unknown client", err, store.ErrNotFound)
	if n != 0 {
		t.Errorf("RevokeClientTokens of an unknown client = %d, want 0", n)
	}
	wantHeld(t, "another client's records at the end", s, others)
}

func testAdminInitialTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	if got, err := s.ListInitialTokens(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListInitialTokens of an empty store = %d tokens, %v", len(got), err)
	}
	later := newToken("later", 0, time.Time{})
	later.CreatedAt = base.Add(2 * time.Hour)
	usedUp := newToken("used up", 1, time.Time{})
	usedUp.Uses = 1
	expired := newToken("expired", 5, base.Add(-time.Hour))
	plain := newToken("plain", 3, base.Add(48*time.Hour).In(zone))
	plain.Policy = "gold"
	earlier := newToken("earlier", 2, time.Time{})
	earlier.CreatedAt = base.Add(-time.Microsecond).In(zone)
	// usedUp, expired and plain share a CreatedAt: their hashes order them.
	tokens := []*store.InitialToken{later, usedUp, expired, plain, earlier}
	for _, tok := range tokens {
		mustCreateToken(t, s, tok)
	}
	if _, err := s.UseInitialToken(ctx, plain.Hash, base); err != nil {
		t.Fatal(err)
	}
	plain.Uses = 1
	want := slices.Clone(tokens)
	slices.SortFunc(want, func(a, b *store.InitialToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), bytes.Compare(a.Hash, b.Hash))
	})
	if want[0] != earlier || want[4] != later {
		t.Fatalf("the suite's tokens sort as %s", tokenIDs(want))
	}
	wantTokens := func(what string, want []*store.InitialToken) {
		t.Helper()
		got, err := s.ListInitialTokens(ctx)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%s: ListInitialTokens = %d tokens, %v; want %d", what, len(got), err, len(want))
		}
		for i := range got {
			wantToken(t, fmt.Sprintf("%s: token %d", what, i), got[i], want[i])
		}
	}
	wantTokens("every token", want)

	// A client registered with a token stays when the token goes.
	c := newClient("registered")
	if err := s.CreateClient(ctx, c, store.CreateOptions{InitialTokenHash: later.Hash, Now: base}); err != nil {
		t.Fatalf("CreateClient with an initial access token: %v", err)
	}
	if err := s.DeleteInitialToken(ctx, later.Hash); err != nil {
		t.Fatalf("DeleteInitialToken: %v", err)
	}
	_, err := s.GetInitialToken(ctx, later.Hash)
	wantErr(t, "GetInitialToken of a deleted token", err, store.ErrNotFound)
	wantClient(t, "a client registered with the deleted token", mustGet(t, s, "registered"), c)
	wantTokens("the tokens after a deletion", want[:4])
	wantErr(t, "CreateClient with a deleted token",
		s.CreateClient(ctx, newClient("too late"), store.CreateOptions{InitialTokenHash: later.Hash, Now: base}), store.ErrNotFound)
	wantErr(t, "DeleteInitialToken of a deleted token", s.DeleteInitialToken(ctx, later.Hash), store.ErrNotFound)
	wantErr(t, "DeleteInitialToken of an unknown token", s.DeleteInitialToken(ctx, hash("unknown")), store.ErrNotFound)
	wantTokens("the tokens at the end", want[:4])
}

// testDisableRace races SetClientDisabled, through b, against calls that
// store access tokens of the same client, through a and b in turn:
// CreateAccessToken, RedeemCode and UpdateGrant, each with a token of its
// own. Whatever their interleaving, once they have all returned the client
// is disabled and holds no token and no grant; and no call failed but with
// ErrNotFound (the client was disabled first) or, for UpdateGrant,
// ErrConflict (another update won), as a deadlock or a lost lock would.
func testDisableRace(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	const (
		rounds  = 25
		workers = 12
	)
	mustCreate(t, a, newClient("raced"))
	for round := range rounds {
		if err := a.SetClientDisabled(ctx, "raced", time.Time{}); err != nil {
			t.Fatalf("round %d: SetClientDisabled(zero): %v", round, err)
		}
		g, _ := mustRedeem(t, a, fmt.Sprintf("race %d", round), "raced")
		var (
			start  = make(chan struct{})
			wg     sync.WaitGroup
			errs   = make([]error, workers)
			kinds  = make([]string, workers)
			hashes [][]byte
			grants = []string{g.ID}
			calls  []func(store.Store) error
		)
		for i := range workers {
			name := fmt.Sprintf("race %d %d", round, i)
			switch i % 4 {
			case 0, 1:
				at := newAccessToken(name, "raced", base.Add(time.Hour))
				hashes = append(hashes, at.Hash)
				kinds[i] = "CreateAccessToken"
				calls = append(calls, func(s store.Store) error { return s.CreateAccessToken(ctx, at) })
			case 2:
				c := newCode(name, "raced")
				mustCreateCode(t, a, c)
				ng := newGrant(c)
				at := grantToken(name, ng)
				hashes, grants = append(hashes, at.Hash), append(grants, ng.ID)
				kinds[i] = "RedeemCode"
				calls = append(calls, func(s store.Store) error { return s.RedeemCode(ctx, c.Hash, base, ng, at) })
			case 3:
				u := *g
				u.RefreshHashes = [][]byte{hash("refresh " + name)}
				at := grantToken(name, &u)
				hashes = append(hashes, at.Hash)
				kinds[i] = "UpdateGrant"
				calls = append(calls, func(s store.Store) error { return s.UpdateGrant(ctx, &u, at) })
			}
		}
		var disableErr error
		for i, call := range calls {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				<-start
				errs[i] = call(s)
			})
		}
		wg.Go(func() {
			<-start
			disableErr = b.SetClientDisabled(ctx, "raced", base.Add(time.Duration(round)*time.Minute))
		})
		close(start)
		wg.Wait()
		if disableErr != nil {
			t.Fatalf("round %d: SetClientDisabled: %v", round, disableErr)
		}
		for i, err := range errs {
			switch {
			case err == nil, errors.Is(err, store.ErrNotFound):
			case kinds[i] == "UpdateGrant" && errors.Is(err, store.ErrConflict):
			default:
				t.Errorf("round %d: %s racing SetClientDisabled: %v", round, kinds[i], err)
			}
		}
		for _, s := range []store.Store{a, b} {
			for _, h := range hashes {
				if tok, err := s.GetAccessToken(ctx, h); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("round %d: an access token of the disabled client is stored: %+v, %v", round, tok, err)
				}
			}
			for _, id := range grants {
				if g, err := s.GetGrant(ctx, id); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("round %d: a grant of the disabled client is stored: %+v, %v", round, g, err)
				}
			}
		}
		if c := mustGet(t, a, "raced"); c.DisabledAt.IsZero() {
			t.Fatalf("round %d: the client is not disabled", round)
		}
	}
}

// adminOps calls every method of store.ClientAdminStore once and returns
// the errors by name: they would disable client id (and revoke what it
// holds) and delete the initial access token tok.
func adminOps(ctx context.Context, s store.ClientAdminStore, id string, tok []byte) map[string]error {
	errs := make(map[string]error)
	_, errs["ListClients"] = s.ListClients(ctx, store.ClientQuery{Limit: 10})
	_, errs["ListClients with filters"] = s.ListClients(ctx, store.ClientQuery{Policies: []string{}, Origins: []string{"x"},
		IssuedAfter: base, IssuedBefore: farFuture, NeverUsed: true, AfterID: "a\xff", Limit: 10})
	errs["SetClientDisabled"] = s.SetClientDisabled(ctx, id, base)
	errs["SetClientDisabled(zero)"] = s.SetClientDisabled(ctx, id, time.Time{})
	_, errs["RevokeClientTokens"] = s.RevokeClientTokens(ctx, id)
	_, errs["ListInitialTokens"] = s.ListInitialTokens(ctx)
	errs["DeleteInitialToken"] = s.DeleteInitialToken(ctx, tok)
	return errs
}

func testAdminCanceledContext(t *testing.T, s store.Store) {
	bg := context.Background()
	mustCreate(t, s, newClient("c"))
	held := holdingsOf(t, s, "c")
	d := newClient("d")
	d.DisabledAt = base
	mustCreate(t, s, d)
	tok := newToken("t", 0, time.Time{})
	mustCreateToken(t, s, tok)

	for _, done := range []struct {
		err    error
		cancel func() context.Context
	}{
		{context.Canceled, func() context.Context {
			ctx, cancel := context.WithCancel(bg)
			cancel()
			return ctx
		}},
		{context.DeadlineExceeded, func() context.Context {
			ctx, cancel := context.WithDeadline(bg, time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}},
	} {
		ctx := done.cancel()
		for name, err := range adminOps(ctx, s, "c", tok.Hash) {
			if !errors.Is(err, done.err) {
				t.Errorf("%s with a done context: got %v, want %v", name, err, done.err)
			}
		}
		if err := s.SetClientDisabled(ctx, "d", time.Time{}); !errors.Is(err, done.err) {
			t.Errorf("SetClientDisabled(zero) with a done context: got %v, want %v", err, done.err)
		}
	}
	wantHeld(t, "the client's records after canceled calls", s, held)
	if got := mustGet(t, s, "c"); !got.DisabledAt.IsZero() {
		t.Errorf("a canceled SetClientDisabled disabled the client: %v", got.DisabledAt)
	}
	wantClient(t, "a disabled client after a canceled enabling", mustGet(t, s, "d"), d)
	got, err := s.GetInitialToken(bg, tok.Hash)
	if err != nil {
		t.Fatalf("GetInitialToken after a canceled DeleteInitialToken: %v", err)
	}
	wantToken(t, "initial token after a canceled DeleteInitialToken", got, tok)
}

func testAdminClosed(t *testing.T, s store.Store) {
	mustCreate(t, s, newClient("c"))
	tok := newToken("t", 0, time.Time{})
	mustCreateToken(t, s, tok)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, err := range adminOps(context.Background(), s, "c", tok.Hash) {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a closed store: got %v, want ErrUnavailable", name, err)
		}
	}
}

// tokenIDs names initial tokens by their hashes, for failure messages.
func tokenIDs(ts []*store.InitialToken) string {
	var b strings.Builder
	for i, tok := range ts {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%x", tok.Hash[:4])
	}
	return b.String()
}
