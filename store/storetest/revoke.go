package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// testUpdateRevokesAccessTokens checks Client.RevokeAccessTokens: a
// successful UpdateClient deletes the selected access tokens of the client,
// and only those; a failed one deletes none; the instruction is not stored.
func testUpdateRevokesAccessTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := newClient("a"), newClient("b")
	a.RevokeAccessTokens = &store.AccessTokenRevocation{All: true} // CreateClient ignores it
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	exp := base.Add(time.Hour)
	tok := func(name, client, scope string) *store.AccessToken {
		at := newAccessToken(name, client, exp)
		at.Scope = scope
		mustCreateAccessToken(t, s, at)
		return at
	}
	wide, read, none, write := tok("wide", "a", "read write"), tok("read", "a", "read"), tok("none", "a", ""), tok("write", "a", "write")
	other := tok("other", "b", "read write")
	if got := mustGet(t, s, "a"); got.RevokeAccessTokens != nil {
		t.Errorf("GetClient after CreateClient: RevokeAccessTokens = %+v, want nil", got.RevokeAccessTokens)
	}

	// A failed update deletes nothing.
	u := mustGet(t, s, "a")
	u.Revision = 7
	u.RevokeAccessTokens = &store.AccessTokenRevocation{All: true}
	wantErr(t, "UpdateClient of a stale revision", s.UpdateClient(ctx, u), store.ErrConflict)
	for _, at := range []*store.AccessToken{wide, read, none, write, other} {
		wantAccessToken(t, "after a failed update", s, at)
	}

	// Narrowing to "read" deletes the tokens with another scope token.
	u = mustGet(t, s, "a")
	u.RevokeAccessTokens = &store.AccessTokenRevocation{Scope: []string{"read", "unused"}}
	mustUpdate(t, s, u)
	wantNoAccessToken(t, "token of scope \"read write\" after narrowing", s, wide.Hash)
	wantNoAccessToken(t, "token of scope \"write\" after narrowing", s, write.Hash)
	for _, at := range []*store.AccessToken{read, none, other} {
		wantAccessToken(t, "after narrowing", s, at)
	}
	got := mustGet(t, s, "a")
	if got.RevokeAccessTokens != nil {
		t.Errorf("GetClient after UpdateClient: RevokeAccessTokens = %+v, want nil", got.RevokeAccessTokens)
	}
	u.RevokeAccessTokens = nil
	wantClient(t, "client a after narrowing", got, u)

	// The zero value keeps only tokens without scope.
	u = mustGet(t, s, "a")
	u.RevokeAccessTokens = &store.AccessTokenRevocation{}
	mustUpdate(t, s, u)
	wantNoAccessToken(t, "token of scope \"read\" after revoking every scope", s, read.Hash)
	wantAccessToken(t, "token without scope after revoking every scope", s, none)

	// All deletes every token of the client, and no other client's.
	u = mustGet(t, s, "a")
	u.RevokeAccessTokens = &store.AccessTokenRevocation{All: true}
	mustUpdate(t, s, u)
	wantNoAccessToken(t, "token without scope after revoking all", s, none.Hash)
	wantAccessToken(t, "another client's token", s, other)
	mustCreateAccessToken(t, s, newAccessToken("after", "a", exp))
}
