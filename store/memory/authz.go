package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/clientreg/clientreg/store"
)

// authz holds the records of store.AuthorizationStore. Its maps are guarded
// by Store.mu, like the rest of the store.
type authz struct {
	pending map[string]*store.PendingAuthorization // by Hash
	codes   map[string]*store.AuthorizationCode    // by Hash
	grants  map[string]*store.Grant                // by ID
	// refresh maps every refresh token hash of every grant (current,
	// previous and retired) to the grant's ID.
	refresh map[string]string
	// grantTokens holds the hashes of every grant's access tokens, by
	// grant ID, for DeleteGrant.
	grantTokens map[string]map[string]struct{}
	consents    map[consentKey]*store.Consent
	// owned indexes the records above by client ID, for DeleteClient.
	owned map[string]*owned
}

// consentKey identifies a consent.
type consentKey struct{ subject, clientID string }

// owned is what one client owns of the authz records.
type owned struct {
	pending, codes, grants, consents map[string]struct{} // consents by subject
}

func newAuthz() authz {
	return authz{
		pending:     make(map[string]*store.PendingAuthorization),
		codes:       make(map[string]*store.AuthorizationCode),
		grants:      make(map[string]*store.Grant),
		refresh:     make(map[string]string),
		grantTokens: make(map[string]map[string]struct{}),
		consents:    make(map[consentKey]*store.Consent),
		owned:       make(map[string]*owned),
	}
}

// ownedBy returns the records of client id, created empty when missing. The
// caller holds s.mu for writing.
func (s *Store) ownedBy(id string) *owned {
	o := s.owned[id]
	if o == nil {
		o = &owned{
			pending:  make(map[string]struct{}),
			codes:    make(map[string]struct{}),
			grants:   make(map[string]struct{}),
			consents: make(map[string]struct{}),
		}
		s.owned[id] = o
	}
	return o
}

// CreatePendingAuthorization stores a copy of p. It returns
// store.ErrNotFound when no client p.ClientID exists and
// store.ErrAlreadyExists when a request with the same Hash exists.
func (s *Store) CreatePendingAuthorization(ctx context.Context, p *store.PendingAuthorization) error {
	const op = "create pending authorization"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[p.ClientID]; !ok {
		return fmt.Errorf("memory: %s: client %q: %w", op, p.ClientID, store.ErrNotFound)
	}
	h := string(p.Hash)
	if _, ok := s.pending[h]; ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrAlreadyExists)
	}
	d := clonePending(p)
	d.CreatedAt, d.ExpiresAt = d.CreatedAt.UTC(), d.ExpiresAt.UTC()
	s.pending[h] = d
	s.ownedBy(p.ClientID).pending[h] = struct{}{}
	return nil
}

// GetPendingAuthorization returns a copy of the request with the given
// hash, or store.ErrNotFound.
func (s *Store) GetPendingAuthorization(ctx context.Context, hash []byte) (*store.PendingAuthorization, error) {
	const op = "get pending authorization"
	if err := s.usable(ctx, op); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.pending[string(hash)]
	if !ok {
		return nil, fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	return clonePending(p), nil
}

// TakePendingAuthorization removes the request with the given hash and
// returns it, or returns store.ErrNotFound. The lookup and the removal run
// under the store's lock, so of concurrent takes exactly one succeeds.
func (s *Store) TakePendingAuthorization(ctx context.Context, hash []byte) (*store.PendingAuthorization, error) {
	const op = "take pending authorization"
	if err := s.usable(ctx, op); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := string(hash)
	p, ok := s.pending[h]
	if !ok {
		return nil, fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	s.deletePending(h)
	return p, nil // no longer stored: the caller may own it
}

// deletePending removes the request with hash h, which exists. The caller
// holds s.mu for writing.
func (s *Store) deletePending(h string) {
	p := s.pending[h]
	delete(s.pending, h)
	if o := s.owned[p.ClientID]; o != nil {
		delete(o.pending, h)
	}
}

// CreateCode stores a copy of c. It returns store.ErrNotFound when no
// client c.ClientID exists and store.ErrAlreadyExists when a code with the
// same Hash exists.
func (s *Store) CreateCode(ctx context.Context, c *store.AuthorizationCode) error {
	const op = "create code"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ClientID]; !ok {
		return fmt.Errorf("memory: %s: client %q: %w", op, c.ClientID, store.ErrNotFound)
	}
	h := string(c.Hash)
	if _, ok := s.codes[h]; ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrAlreadyExists)
	}
	d := cloneCode(c)
	d.IssuedAt, d.ExpiresAt, d.UsedAt = d.IssuedAt.UTC(), d.ExpiresAt.UTC(), d.UsedAt.UTC()
	s.codes[h] = d
	s.ownedBy(c.ClientID).codes[h] = struct{}{}
	return nil
}

// GetCode returns a copy of the code with the given hash, used or not, or
// store.ErrNotFound.
func (s *Store) GetCode(ctx context.Context, hash []byte) (*store.AuthorizationCode, error) {
	const op = "get code"
	if err := s.usable(ctx, op); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.codes[string(hash)]
	if !ok {
		return nil, fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	return cloneCode(c), nil
}

// RedeemCode marks the code with the given hash used at now, creates a copy
// of g and stores a copy of at (when not nil). Every check (store.ErrNotFound,
// store.ErrUsed, store.ErrAlreadyExists) runs under the store's lock before
// anything is written, so a refusal writes nothing and of concurrent
// redemptions exactly one succeeds.
func (s *Store) RedeemCode(ctx context.Context, hash []byte, now time.Time, g *store.Grant, at *store.AccessToken) error {
	const op = "redeem code"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[string(hash)]
	if !ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	if !c.UsedAt.IsZero() {
		return fmt.Errorf("memory: %s: code used at %v: %w", op, c.UsedAt, store.ErrUsed)
	}
	for _, id := range []string{c.ClientID, g.ClientID} {
		if _, ok := s.clients[id]; !ok {
			return fmt.Errorf("memory: %s: client %q: %w", op, id, store.ErrNotFound)
		}
	}
	if _, ok := s.grants[g.ID]; ok {
		return fmt.Errorf("memory: %s: grant %q: %w", op, g.ID, store.ErrAlreadyExists)
	}
	for _, h := range refreshHashes(g) {
		if _, ok := s.refresh[h]; ok {
			return fmt.Errorf("memory: %s: refresh token hash: %w", op, store.ErrAlreadyExists)
		}
	}
	if at != nil {
		if err := s.checkAccessToken(at, g.ID); err != nil {
			return fmt.Errorf("memory: %s: %w", op, err)
		}
	}
	c.UsedAt = now.UTC()
	s.putGrant(g, g.ClientID, g.Revision)
	if at != nil {
		s.putAccessToken(at)
	}
	return nil
}

// GetGrant returns a copy of the grant with the given ID, or
// store.ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, id string) (*store.Grant, error) {
	const op = "get grant"
	if err := s.usable(ctx, op); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.grants[id]
	if !ok {
		return nil, fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	return cloneGrant(g), nil
}

// GetGrantByRefreshHash returns a copy of the grant that holds the refresh
// token hash, current, previous or retired, or store.ErrNotFound.
func (s *Store) GetGrantByRefreshHash(ctx context.Context, hash []byte) (*store.Grant, error) {
	const op = "get grant by refresh token"
	if err := s.usable(ctx, op); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.refresh[string(hash)]
	if !ok || hash == nil {
		return nil, fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	return cloneGrant(s.grants[id]), nil
}

// UpdateGrant replaces the stored grant g.ID with a copy of g (keeping its
// ClientID) if its stored Revision equals g.Revision, stores a copy of at
// (when not nil), and then sets g.Revision to the new revision. It returns
// store.ErrNotFound, store.ErrConflict and store.ErrAlreadyExists as
// store.GrantStore describes; every check runs before anything is written.
func (s *Store) UpdateGrant(ctx context.Context, g *store.Grant, at *store.AccessToken) error {
	const op = "update grant"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.grants[g.ID]
	if !ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	if old.Revision != g.Revision {
		return fmt.Errorf("memory: %s: revision %d, stored %d: %w", op, g.Revision, old.Revision, store.ErrConflict)
	}
	for _, h := range refreshHashes(g) {
		if id, ok := s.refresh[h]; ok && id != g.ID {
			return fmt.Errorf("memory: %s: refresh token hash: %w", op, store.ErrAlreadyExists)
		}
	}
	if at != nil {
		if err := s.checkAccessToken(at, ""); err != nil {
			return fmt.Errorf("memory: %s: %w", op, err)
		}
	}
	for _, h := range refreshHashes(old) {
		delete(s.refresh, h)
	}
	s.putGrant(g, old.ClientID, g.Revision+1)
	if at != nil {
		s.putAccessToken(at)
	}
	g.Revision++
	return nil
}

// DeleteGrant removes the grant with the given ID, its refresh token hashes
// and its access tokens, or returns store.ErrNotFound.
func (s *Store) DeleteGrant(ctx context.Context, id string) error {
	const op = "delete grant"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.grants[id]; !ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	s.deleteGrant(id)
	return nil
}

// putGrant stores a copy of g, times in UTC, with the given client ID and
// revision, and indexes its refresh token hashes. The caller holds s.mu for
// writing and has checked the hashes.
func (s *Store) putGrant(g *store.Grant, clientID string, revision int64) {
	d := cloneGrant(g)
	d.ClientID, d.Revision = clientID, revision
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	d.ExpiresAt, d.IdleExpiresAt = d.ExpiresAt.UTC(), d.IdleExpiresAt.UTC()
	d.PreviousRefreshExpiresAt = d.PreviousRefreshExpiresAt.UTC()
	s.grants[d.ID] = d
	for _, h := range refreshHashes(d) {
		s.refresh[h] = d.ID
	}
	s.ownedBy(clientID).grants[d.ID] = struct{}{}
}

// deleteGrant removes the grant id, which exists, with its refresh token
// hashes and access tokens. The caller holds s.mu for writing.
func (s *Store) deleteGrant(id string) {
	g := s.grants[id]
	for _, h := range refreshHashes(g) {
		delete(s.refresh, h)
	}
	for h := range s.grantTokens[id] {
		s.deleteAccessToken(h)
	}
	delete(s.grantTokens, id)
	delete(s.grants, id)
	if o := s.owned[g.ClientID]; o != nil {
		delete(o.grants, id)
	}
}

// PutConsent stores a copy of c, replacing the record of the same subject
// and client, or returns store.ErrNotFound when no client c.ClientID
// exists.
func (s *Store) PutConsent(ctx context.Context, c *store.Consent) error {
	const op = "put consent"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ClientID]; !ok {
		return fmt.Errorf("memory: %s: client %q: %w", op, c.ClientID, store.ErrNotFound)
	}
	d := cloneConsent(c)
	d.GrantedAt, d.ExpiresAt = d.GrantedAt.UTC(), d.ExpiresAt.UTC()
	s.consents[consentKey{c.Subject, c.ClientID}] = d
	s.ownedBy(c.ClientID).consents[c.Subject] = struct{}{}
	return nil
}

// GetConsent returns a copy of the record of subject for clientID, or
// store.ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	const op = "get consent"
	if err := s.usable(ctx, op); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.consents[consentKey{subject, clientID}]
	if !ok {
		return nil, fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	return cloneConsent(c), nil
}

// DeleteConsent removes the record of subject for clientID, or returns
// store.ErrNotFound.
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	const op = "delete consent"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := consentKey{subject, clientID}
	if _, ok := s.consents[k]; !ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	s.deleteConsent(k)
	return nil
}

// deleteConsent removes the consent k, which exists. The caller holds s.mu
// for writing.
func (s *Store) deleteConsent(k consentKey) {
	delete(s.consents, k)
	if o := s.owned[k.clientID]; o != nil {
		delete(o.consents, k.subject)
	}
}

// deleteClientAuthz removes everything client id owns of the authz records.
// The caller holds s.mu for writing.
func (s *Store) deleteClientAuthz(id string) {
	o := s.owned[id]
	if o == nil {
		return
	}
	for h := range o.pending {
		delete(s.pending, h)
	}
	for h := range o.codes {
		delete(s.codes, h)
	}
	for gid := range o.grants {
		s.deleteGrant(gid)
	}
	for sub := range o.consents {
		delete(s.consents, consentKey{sub, id})
	}
	delete(s.owned, id)
}

// deleteExpiredAuthz removes the authz records expired before now (see
// store.AccessTokenStore.DeleteExpired) and returns how many it removed.
// The caller holds s.mu for writing and has removed the expired access
// tokens first, so that the ones an expired grant takes with it are those
// that are not counted.
func (s *Store) deleteExpiredAuthz(now time.Time) int64 {
	var n int64
	for h, p := range s.pending {
		if p.ExpiresAt.Before(now) {
			s.deletePending(h)
			n++
		}
	}
	for h, c := range s.codes {
		if c.ExpiresAt.Before(now) {
			delete(s.codes, h)
			if o := s.owned[c.ClientID]; o != nil {
				delete(o.codes, h)
			}
			n++
		}
	}
	for id, g := range s.grants {
		if expired(g.ExpiresAt, now) || expired(g.IdleExpiresAt, now) {
			s.deleteGrant(id)
			n++
		}
	}
	for k, c := range s.consents {
		if expired(c.ExpiresAt, now) {
			s.deleteConsent(k)
			n++
		}
	}
	return n
}

// expired reports whether the optional expiry t (zero for none) is before
// now.
func expired(t, now time.Time) bool {
	return !t.IsZero() && t.Before(now)
}

// refreshHashes returns every refresh token hash of g as map keys.
func refreshHashes(g *store.Grant) []string {
	hs := make([]string, 0, len(g.RefreshHashes)+1+len(g.RetiredRefreshHashes))
	for _, h := range g.RefreshHashes {
		hs = append(hs, string(h))
	}
	if g.PreviousRefreshHash != nil {
		hs = append(hs, string(g.PreviousRefreshHash))
	}
	for _, h := range g.RetiredRefreshHashes {
		hs = append(hs, string(h))
	}
	return hs
}

func clonePending(p *store.PendingAuthorization) *store.PendingAuthorization {
	d := *p
	d.Hash = bytes.Clone(p.Hash)
	d.BrowserHash = bytes.Clone(p.BrowserHash)
	d.Resources = slices.Clone(p.Resources)
	return &d
}

func cloneCode(c *store.AuthorizationCode) *store.AuthorizationCode {
	d := *c
	d.Hash = bytes.Clone(c.Hash)
	d.Resources = slices.Clone(c.Resources)
	d.Claims = bytes.Clone(c.Claims)
	return &d
}

func cloneGrant(g *store.Grant) *store.Grant {
	d := *g
	d.Resources = slices.Clone(g.Resources)
	d.Claims = bytes.Clone(g.Claims)
	d.RefreshHashes = cloneHashList(g.RefreshHashes)
	d.PreviousRefreshHash = bytes.Clone(g.PreviousRefreshHash)
	d.RetiredRefreshHashes = cloneHashList(g.RetiredRefreshHashes)
	return &d
}

func cloneHashList(hs [][]byte) [][]byte {
	if hs == nil {
		return nil
	}
	d := make([][]byte, len(hs))
	for i, h := range hs {
		d[i] = bytes.Clone(h)
	}
	return d
}

func cloneConsent(c *store.Consent) *store.Consent {
	d := *c
	d.Resources = slices.Clone(c.Resources)
	return &d
}
