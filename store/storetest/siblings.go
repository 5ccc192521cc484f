package storetest

import (
	"context"
	"testing"

	"github.com/clientreg/clientreg/store"
)

// testSiblingTokenHashes checks Client.SiblingTokenHashes: they round-trip
// in order, find their client, collide with every token hash of another
// client in both directions, are replaced by UpdateClient and go with
// DeleteClient.
func testSiblingTokenHashes(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newClient("a")
	a.SiblingTokenHashes = [][]byte{hash("sibling 2 a"), hash("sibling 1 a"), hash("sibling 3 a")}
	mustCreate(t, s, a)
	wantClient(t, "client a with siblings", mustGet(t, s, "a"), a)
	for _, h := range append([][]byte{a.TokenHash, a.PreviousTokenHash}, a.SiblingTokenHashes...) {
		got, err := s.GetClientByTokenHash(ctx, h)
		if err != nil {
			t.Fatalf("GetClientByTokenHash(%x): %v", h, err)
		}
		wantClient(t, "client a by a token hash", got, a)
	}

	// Creating a client with a hash of a's, in any field, is refused.
	for name, set := range map[string]func(c *store.Client){
		"sibling=TokenHash":         func(c *store.Client) { c.SiblingTokenHashes = [][]byte{hash("token a")} },
		"sibling=PreviousTokenHash": func(c *store.Client) { c.SiblingTokenHashes = [][]byte{hash("previous token a")} },
		"sibling=sibling":           func(c *store.Client) { c.SiblingTokenHashes = [][]byte{hash("x"), hash("sibling 3 a")} },
		"TokenHash=sibling":         func(c *store.Client) { c.TokenHash = hash("sibling 1 a") },
		"PreviousTokenHash=sibling": func(c *store.Client) { c.PreviousTokenHash = hash("sibling 2 a") },
	} {
		b := newClient("b")
		set(b)
		wantErr(t, "CreateClient with "+name, s.CreateClient(ctx, b, store.CreateOptions{}), store.ErrAlreadyExists)
		wantNoClient(t, "CreateClient with "+name, s, "b")
		if _, err := s.GetClientByTokenHash(ctx, hash("x")); err == nil {
			t.Errorf("CreateClient with %s stored a sibling", name)
		}
	}
	b := newClient("b")
	mustCreate(t, s, b)
	for name, set := range map[string]func(c *store.Client){
		"sibling=TokenHash":         func(c *store.Client) { c.SiblingTokenHashes = [][]byte{hash("token a")} },
		"sibling=PreviousTokenHash": func(c *store.Client) { c.SiblingTokenHashes = [][]byte{hash("previous token a")} },
		"sibling=sibling":           func(c *store.Client) { c.SiblingTokenHashes = [][]byte{hash("x"), hash("sibling 3 a")} },
		"TokenHash=sibling":         func(c *store.Client) { c.TokenHash = hash("sibling 1 a") },
		"PreviousTokenHash=sibling": func(c *store.Client) { c.PreviousTokenHash = hash("sibling 2 a") },
	} {
		u := mustGet(t, s, "b")
		u.Metadata = metadata("must not be stored")
		set(u)
		wantErr(t, "UpdateClient with "+name, s.UpdateClient(ctx, u), store.ErrAlreadyExists)
		if u.Revision != 1 {
			t.Errorf("failed UpdateClient with %s set Revision = %d, want 1", name, u.Revision)
		}
		wantClient(t, "client b after UpdateClient with "+name, mustGet(t, s, "b"), b)
	}
	wantClient(t, "client a", mustGet(t, s, "a"), a)

	// A sibling that becomes the client's TokenHash is no collision, and
	// the siblings an update leaves out are gone.
	u := mustGet(t, s, "a")
	u.TokenHash, u.SiblingTokenHashes = hash("sibling 1 a"), [][]byte{hash("sibling 4 a")}
	mustUpdate(t, s, u)
	wantClient(t, "client a after its siblings changed", mustGet(t, s, "a"), u)
	for _, gone := range []string{"token a", "sibling 2 a", "sibling 3 a"} {
		if _, err := s.GetClientByTokenHash(ctx, hash(gone)); err == nil {
			t.Errorf("GetClientByTokenHash(%s) after the update: found", gone)
		}
	}
	// The freed hashes are another client's to take.
	v := mustGet(t, s, "b")
	v.SiblingTokenHashes = [][]byte{hash("sibling 2 a"), hash("token a")}
	mustUpdate(t, s, v)
	wantClient(t, "client b with a's old hashes as siblings", mustGet(t, s, "b"), v)

	// No siblings: nil, also after an update with an empty list.
	u.SiblingTokenHashes = [][]byte{}
	mustUpdate(t, s, u)
	u.SiblingTokenHashes = nil
	wantClient(t, "client a without siblings", mustGet(t, s, "a"), u)

	// DeleteClient releases the siblings.
	if err := s.DeleteClient(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetClientByTokenHash(ctx, hash("sibling 2 a")); err == nil {
		t.Error("a deleted client's sibling still finds it")
	}
	c := newClient("c")
	c.SiblingTokenHashes = [][]byte{hash("sibling 2 a")}
	mustCreate(t, s, c)
}
