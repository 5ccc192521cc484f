package sqlite

// The records of store.AuthorizationStore (migration 0006). Each belongs to
// its client through a foreign key with ON DELETE CASCADE, so DeleteClient
// removes a client's pending requests, codes, grants and consents, and a
// grant's refresh token rows and access tokens go with the grant (the
// store's connections set foreign_keys=ON). Writes run through the writer
// goroutine like every other (see write): each method's statements are one
// operation of a group-committed batch, and a failed operation rolls back
// to its savepoint, so a refused RedeemCode or UpdateGrant writes nothing.

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func init() {
	writeQueries = append(writeQueries,
		queryInsertPending, queryTakePending,
		queryInsertCode, queryUseCode, queryCodeUsed,
		queryInsertGrant, queryGrantForUpdate, queryUpdateGrant,
		queryInsertRefresh, queryDeleteRefresh, queryDeleteGrant,
		queryPutConsent, queryDeleteConsent,
		queryDeleteExpiredPending, queryDeleteExpiredCodes, queryDeleteExpiredGrants, queryDeleteExpiredConsents)
}

// CreatePendingAuthorization stores p. It returns store.ErrNotFound when
// no client p.ClientID exists and store.ErrAlreadyExists when a request
// with the same Hash exists.
func (s *Store) CreatePendingAuthorization(ctx context.Context, p *store.PendingAuthorization) error {
	return s.write(ctx, "create pending authorization", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryInsertPending,
			p.Hash, p.BrowserHash, p.RedirectURI, p.RedirectURIGiven, p.Scope, encodeStrings(p.Resources),
			p.State, p.CodeChallenge, p.CodeChallengeMethod, p.CreatedAt.UnixMicro(), p.ExpiresAt.UnixMicro(), p.ClientID)
		if err != nil {
			return fkNotFound(err, "client %q", p.ClientID)
		}
		return wantRow(res, fmt.Sprintf("client %q", p.ClientID), store.ErrNotFound)
	})
}

// GetPendingAuthorization returns the request with the given hash, or
// store.ErrNotFound.
func (s *Store) GetPendingAuthorization(ctx context.Context, hash []byte) (*store.PendingAuthorization, error) {
	p, err := scanPending(s.readRow(ctx, `SELECT `+pendingColumns+` FROM pending_authorizations WHERE hash = ?`, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get pending authorization", err)
	}
	return p, nil
}

// TakePendingAuthorization removes the request with the given hash and
// returns it, or returns store.ErrNotFound. The removal and the read are one
// statement (DELETE ... RETURNING), and writes run one at a time, so of
// concurrent takes exactly one finds the row.
func (s *Store) TakePendingAuthorization(ctx context.Context, hash []byte) (*store.PendingAuthorization, error) {
	var taken *store.PendingAuthorization
	err := s.write(ctx, "take pending authorization", func(ctx context.Context, tx *sql.Tx) error {
		p, err := scanPending(s.queryRow(ctx, tx, queryTakePending, hash))
		taken = p
		return err
	})
	if err != nil {
		return nil, err
	}
	return taken, nil
}

// CreateCode stores c. It returns store.ErrNotFound when no client
// c.ClientID exists and store.ErrAlreadyExists when a code with the same
// Hash exists.
func (s *Store) CreateCode(ctx context.Context, c *store.AuthorizationCode) error {
	return s.write(ctx, "create code", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryInsertCode,
			c.Hash, c.GrantID, c.RedirectURI, c.RedirectURIGiven, c.CodeChallenge, c.CodeChallengeMethod,
			c.Subject, c.Scope, encodeStrings(c.Resources), c.Claims,
			c.IssuedAt.UnixMicro(), c.ExpiresAt.UnixMicro(), nullMicro(c.UsedAt), c.ClientID)
		if err != nil {
			return fkNotFound(err, "client %q", c.ClientID)
		}
		return wantRow(res, fmt.Sprintf("client %q", c.ClientID), store.ErrNotFound)
	})
}

// GetCode returns the code with the given hash, used or not, or
// store.ErrNotFound.
func (s *Store) GetCode(ctx context.Context, hash []byte) (*store.AuthorizationCode, error) {
	c, err := scanCode(s.readRow(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE hash = ?`, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get code", err)
	}
	return c, nil
}

// RedeemCode marks the code used at now, creates g and stores at (when not
// nil), in one operation of the writer: the first statement sets used_at
// only where it is NULL, so of concurrent redemptions, which run one at a
// time, exactly one succeeds. Any refusal (store.ErrUsed,
// store.ErrNotFound, store.ErrAlreadyExists) rolls back all of it.
func (s *Store) RedeemCode(ctx context.Context, hash []byte, now time.Time, g *store.Grant, at *store.AccessToken) error {
	return s.write(ctx, "redeem code", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryUseCode, now.UnixMicro(), hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var used bool
			err := s.queryRow(ctx, tx, queryCodeUsed, hash).Scan(&used)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("code: %w", store.ErrNotFound)
			case err != nil:
				return err
			}
			return fmt.Errorf("code: %w", store.ErrUsed)
		}
		res, err = s.exec(ctx, tx, queryInsertGrant,
			g.ID, g.Subject, g.Scope, encodeStrings(g.Resources), g.Claims,
			g.CreatedAt.UnixMicro(), g.UpdatedAt.UnixMicro(), nullMicro(g.ExpiresAt), nullMicro(g.IdleExpiresAt), g.Revision,
			encodeList(g.RefreshHashes), g.PreviousRefreshHash, nullMicro(g.PreviousRefreshExpiresAt), encodeList(g.RetiredRefreshHashes),
			g.ClientID)
		if err != nil {
			return fkNotFound(err, "client %q", g.ClientID)
		}
		if err := wantRow(res, fmt.Sprintf("client %q", g.ClientID), store.ErrNotFound); err != nil {
			return err
		}
		for h := range refreshSet(g) {
			if _, err := s.exec(ctx, tx, queryInsertRefresh, []byte(h), g.ID); err != nil {
				return err
			}
		}
		if at != nil {
			return s.insertAccessToken(ctx, tx, at)
		}
		return nil
	})
}

// GetGrant returns the grant with the given ID, or store.ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, id string) (*store.Grant, error) {
	g, err := scanGrant(s.readRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = ?`, id))
	if err != nil {
		return nil, s.mapErr(ctx, "get grant", err)
	}
	return g, nil
}

// GetGrantByRefreshHash returns the grant that holds the refresh token
// hash, current, previous or retired, or store.ErrNotFound: one lookup of
// the primary key of refresh_tokens, then of grants.
func (s *Store) GetGrantByRefreshHash(ctx context.Context, hash []byte) (*store.Grant, error) {
	g, err := scanGrant(s.readRow(ctx,
		`SELECT `+grantColumns+` FROM refresh_tokens r JOIN grants ON grants.id = r.grant_id WHERE r.hash = ?`, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get grant by refresh token", err)
	}
	return g, nil
}

// UpdateGrant replaces the stored grant g.ID with g (keeping its client) if
// its stored revision equals g.Revision, stores at (when not nil), and then
// sets g.Revision to the new revision. It returns store.ErrNotFound,
// store.ErrConflict and store.ErrAlreadyExists as store.GrantStore
// describes, and then writes nothing. Only the refresh token rows that
// change are written: a rotation inserts the new hash and deletes the one
// that falls off the retired list.
func (s *Store) UpdateGrant(ctx context.Context, g *store.Grant, at *store.AccessToken) error {
	err := s.write(ctx, "update grant", func(ctx context.Context, tx *sql.Tx) error {
		var (
			rev                                 int64
			oldCurrent, oldPrevious, oldRetired []byte
		)
		err := s.queryRow(ctx, tx, queryGrantForUpdate, g.ID).Scan(&rev, &oldCurrent, &oldPrevious, &oldRetired)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("grant %q: %w", g.ID, store.ErrNotFound)
		case err != nil:
			return err
		case rev != g.Revision:
			return fmt.Errorf("grant %q: revision %d, stored %d: %w", g.ID, g.Revision, rev, store.ErrConflict)
		}
		// The stored hashes; an empty previous hash reads back as nil, and
		// counts as none, like a nil one.
		stored := store.Grant{PreviousRefreshHash: oldPrevious}
		if stored.RefreshHashes, err = decodeList(oldCurrent); err != nil {
			return err
		}
		if stored.RetiredRefreshHashes, err = decodeList(oldRetired); err != nil {
			return err
		}
		old := refreshSet(&stored)
		res, err := s.exec(ctx, tx, queryUpdateGrant,
			g.Subject, g.Scope, encodeStrings(g.Resources), g.Claims,
			g.CreatedAt.UnixMicro(), g.UpdatedAt.UnixMicro(), nullMicro(g.ExpiresAt), nullMicro(g.IdleExpiresAt),
			encodeList(g.RefreshHashes), g.PreviousRefreshHash, nullMicro(g.PreviousRefreshExpiresAt), encodeList(g.RetiredRefreshHashes),
			g.ID, g.Revision)
		if err != nil {
			return err
		}
		if err := wantRow(res, fmt.Sprintf("grant %q", g.ID), store.ErrConflict); err != nil {
			return err // not expected: the row was read in this transaction
		}
		next := refreshSet(g)
		for h := range old {
			if _, ok := next[h]; !ok {
				if _, err := s.exec(ctx, tx, queryDeleteRefresh, []byte(h), g.ID); err != nil {
					return err
				}
			}
		}
		for h := range next {
			if _, ok := old[h]; !ok {
				if _, err := s.exec(ctx, tx, queryInsertRefresh, []byte(h), g.ID); err != nil {
					return err
				}
			}
		}
		if at != nil {
			return s.insertAccessToken(ctx, tx, at)
		}
		return nil
	})
	if err != nil {
		return err
	}
	g.Revision++
	return nil
}

// DeleteGrant removes the grant with the given ID and, by the foreign keys'
// cascade, its refresh token rows and access tokens, or returns
// store.ErrNotFound.
func (s *Store) DeleteGrant(ctx context.Context, id string) error {
	return s.write(ctx, "delete grant", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryDeleteGrant, id)
		if err != nil {
			return err
		}
		return wantRow(res, fmt.Sprintf("grant %q", id), store.ErrNotFound)
	})
}

// PutConsent stores c, replacing the record of the same subject and client
// (an upsert), or returns store.ErrNotFound when no client c.ClientID
// exists.
func (s *Store) PutConsent(ctx context.Context, c *store.Consent) error {
	return s.write(ctx, "put consent", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryPutConsent,
			c.Subject, c.Scope, encodeStrings(c.Resources), c.GrantedAt.UnixMicro(), nullMicro(c.ExpiresAt), c.ClientID)
		if err != nil {
			return fkNotFound(err, "client %q", c.ClientID)
		}
		return wantRow(res, fmt.Sprintf("client %q", c.ClientID), store.ErrNotFound)
	})
}

// GetConsent returns the record of subject for clientID, or
// store.ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	const op = "get consent"
	var (
		c         store.Consent
		resources []byte
		granted   int64
		expires   sql.NullInt64
	)
	err := s.readRow(ctx,
		`SELECT client_id, subject, scope, resources, granted_at, expires_at FROM consents WHERE client_id = ? AND subject = ?`,
		clientID, subject).Scan(&c.ClientID, &c.Subject, &c.Scope, &resources, &granted, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	if err == nil {
		c.Resources, err = decodeStrings(resources)
	}
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	c.GrantedAt, c.ExpiresAt = fromMicro(granted), fromNullMicro(expires)
	return &c, nil
}

// DeleteConsent removes the record of subject for clientID, or returns
// store.ErrNotFound.
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	return s.write(ctx, "delete consent", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryDeleteConsent, clientID, subject)
		if err != nil {
			return err
		}
		return wantRow(res, "consent", store.ErrNotFound)
	})
}

// fkNotFound returns err as store.ErrNotFound, described by format and
// args, when it is a foreign key violation, and err otherwise. The inserts
// read the client row, so a violation is not expected; it is kept in case
// another program changed the database without the store.
func fkNotFound(err error, format string, args ...any) error {
	if se, ok := errors.AsType[*sqlitedrv.Error](err); ok && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return fmt.Errorf("%s: %w: %w", fmt.Sprintf(format, args...), store.ErrNotFound, err)
	}
	return err
}

// refreshSet returns the distinct refresh token hashes of g as map keys.
func refreshSet(g *store.Grant) map[string]struct{} {
	set := make(map[string]struct{}, len(g.RefreshHashes)+1+len(g.RetiredRefreshHashes))
	for _, h := range g.RefreshHashes {
		set[string(h)] = struct{}{}
	}
	if g.PreviousRefreshHash != nil {
		set[string(g.PreviousRefreshHash)] = struct{}{}
	}
	for _, h := range g.RetiredRefreshHashes {
		set[string(h)] = struct{}{}
	}
	return set
}

// encodeList encodes a list of byte strings into one blob: nil for a nil
// list, else a version byte (1) and each element as its length (a uvarint)
// and its bytes. An empty list is the version byte alone, so that it is not
// the empty blob, which the driver reads back as NULL would be. Elements
// keep their bytes; a nil element reads back empty.
func encodeList(l [][]byte) []byte {
	if l == nil {
		return nil
	}
	n := 1
	for _, e := range l {
		n += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 1, n)
	b[0] = 1
	for _, e := range l {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// decodeList decodes what encodeList encoded.
func decodeList(b []byte) ([][]byte, error) {
	if b == nil {
		return nil, nil
	}
	if b[0] != 1 {
		return nil, fmt.Errorf("list encoding version %d", b[0])
	}
	l := [][]byte{}
	for b = b[1:]; len(b) > 0; {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errors.New("truncated list encoding")
		}
		l = append(l, append([]byte{}, b[k:k+int(n)]...))
		b = b[k+int(n):]
	}
	return l, nil
}

// encodeStrings is encodeList of a list of strings.
func encodeStrings(l []string) []byte {
	if l == nil {
		return nil
	}
	bs := make([][]byte, len(l))
	for i, s := range l {
		bs[i] = []byte(s)
	}
	return encodeList(bs)
}

// decodeStrings decodes what encodeStrings encoded.
func decodeStrings(b []byte) ([]string, error) {
	bs, err := decodeList(b)
	if bs == nil || err != nil {
		return nil, err
	}
	l := make([]string, len(bs))
	for i, e := range bs {
		l[i] = string(e)
	}
	return l, nil
}

// emptyIfSet sets *b to an empty slice when the column was set (not NULL)
// but the driver returned nil for an empty blob.
func emptyIfSet(b *[]byte, set bool) {
	if set && *b == nil {
		*b = []byte{}
	}
}

const pendingColumns = `hash, browser_hash, browser_hash IS NOT NULL, client_id, redirect_uri, redirect_uri_given,
	scope, resources, state, code_challenge, code_challenge_method, created_at, expires_at`

// scanPending reads the pendingColumns of row. A missing row is
// store.ErrNotFound.
func scanPending(row *sql.Row) (*store.PendingAuthorization, error) {
	var (
		p                store.PendingAuthorization
		hasBrowser       bool
		resources        []byte
		created, expires int64
	)
	err := row.Scan(&p.Hash, &p.BrowserHash, &hasBrowser, &p.ClientID, &p.RedirectURI, &p.RedirectURIGiven,
		&p.Scope, &resources, &p.State, &p.CodeChallenge, &p.CodeChallengeMethod, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("pending authorization: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if p.Resources, err = decodeStrings(resources); err != nil {
		return nil, err
	}
	emptyIfSet(&p.Hash, true)
	emptyIfSet(&p.BrowserHash, hasBrowser)
	p.CreatedAt, p.ExpiresAt = fromMicro(created), fromMicro(expires)
	return &p, nil
}

const codeColumns = `hash, grant_id, client_id, redirect_uri, redirect_uri_given, code_challenge, code_challenge_method,
	subject, scope, resources, claims, claims IS NOT NULL, issued_at, expires_at, used_at`

// scanCode reads the codeColumns of row. A missing row is
// store.ErrNotFound.
func scanCode(row *sql.Row) (*store.AuthorizationCode, error) {
	var (
		c               store.AuthorizationCode
		resources       []byte
		hasClaims       bool
		issued, expires int64
		used            sql.NullInt64
	)
	err := row.Scan(&c.Hash, &c.GrantID, &c.ClientID, &c.RedirectURI, &c.RedirectURIGiven, &c.CodeChallenge, &c.CodeChallengeMethod,
		&c.Subject, &c.Scope, &resources, &c.Claims, &hasClaims, &issued, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("code: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if c.Resources, err = decodeStrings(resources); err != nil {
		return nil, err
	}
	emptyIfSet(&c.Hash, true)
	emptyIfSet(&c.Claims, hasClaims)
	c.IssuedAt, c.ExpiresAt, c.UsedAt = fromMicro(issued), fromMicro(expires), fromNullMicro(used)
	return &c, nil
}

const grantColumns = `grants.id, grants.client_id, grants.subject, grants.scope, grants.resources,
	grants.claims, grants.claims IS NOT NULL, grants.created_at, grants.updated_at,
	grants.expires_at, grants.idle_expires_at, grants.revision,
	grants.refresh_hashes, grants.prev_refresh_hash, grants.prev_refresh_hash IS NOT NULL,
	grants.prev_refresh_expires_at, grants.retired_refresh_hashes`

// scanGrant reads the grantColumns of row. A missing row is
// store.ErrNotFound.
func scanGrant(row *sql.Row) (*store.Grant, error) {
	var (
		g                           store.Grant
		resources, current, retired []byte
		hasClaims, hasPrev          bool
		created, updated            int64
		expires, idle, prevExpires  sql.NullInt64
	)
	err := row.Scan(&g.ID, &g.ClientID, &g.Subject, &g.Scope, &resources,
		&g.Claims, &hasClaims, &created, &updated,
		&expires, &idle, &g.Revision,
		&current, &g.PreviousRefreshHash, &hasPrev,
		&prevExpires, &retired)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grant: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if g.Resources, err = decodeStrings(resources); err != nil {
		return nil, err
	}
	if g.RefreshHashes, err = decodeList(current); err != nil {
		return nil, err
	}
	if g.RetiredRefreshHashes, err = decodeList(retired); err != nil {
		return nil, err
	}
	emptyIfSet(&g.Claims, hasClaims)
	emptyIfSet(&g.PreviousRefreshHash, hasPrev)
	g.CreatedAt, g.UpdatedAt = fromMicro(created), fromMicro(updated)
	g.ExpiresAt, g.IdleExpiresAt = fromNullMicro(expires), fromNullMicro(idle)
	g.PreviousRefreshExpiresAt = fromNullMicro(prevExpires)
	return &g, nil
}

// The write statements of the authorization records, prepared on the writer
// at Open (see init). The inserts of a client's records read the client row
// (INSERT ... SELECT), so an unknown client inserts no row.
const (
	queryInsertPending = `INSERT INTO pending_authorizations (hash, browser_hash, redirect_uri, redirect_uri_given,
	scope, resources, state, code_challenge, code_challenge_method, created_at, expires_at, client_id)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, id FROM clients WHERE id = ?`
	queryTakePending = `DELETE FROM pending_authorizations WHERE hash = ? RETURNING ` + pendingColumns

	queryInsertCode = `INSERT INTO authorization_codes (hash, grant_id, redirect_uri, redirect_uri_given,
	code_challenge, code_challenge_method, subject, scope, resources, claims, issued_at, expires_at, used_at, client_id)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, id FROM clients WHERE id = ?`
	queryUseCode  = `UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL`
	queryCodeUsed = `SELECT used_at IS NOT NULL FROM authorization_codes WHERE hash = ?`

	queryInsertGrant = `INSERT INTO grants (id, subject, scope, resources, claims, created_at, updated_at,
	expires_at, idle_expires_at, revision, refresh_hashes, prev_refresh_hash, prev_refresh_expires_at,
	retired_refresh_hashes, client_id)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, id FROM clients WHERE id = ?`
	queryGrantForUpdate = `SELECT revision, refresh_hashes, prev_refresh_hash, retired_refresh_hashes FROM grants WHERE id = ?`
	queryUpdateGrant    = `UPDATE grants SET subject = ?, scope = ?, resources = ?, claims = ?, created_at = ?, updated_at = ?,
	expires_at = ?, idle_expires_at = ?, refresh_hashes = ?, prev_refresh_hash = ?, prev_refresh_expires_at = ?,
	retired_refresh_hashes = ?, revision = revision + 1
WHERE id = ? AND revision = ?`
	queryInsertRefresh = `INSERT INTO refresh_tokens (hash, grant_id) VALUES (?, ?)`
	queryDeleteRefresh = `DELETE FROM refresh_tokens WHERE hash = ? AND grant_id = ?`
	queryDeleteGrant   = `DELETE FROM grants WHERE id = ?`

	queryPutConsent = `INSERT INTO consents (subject, scope, resources, granted_at, expires_at, client_id)
SELECT ?, ?, ?, ?, ?, id FROM clients WHERE id = ?
ON CONFLICT (client_id, subject) DO UPDATE SET scope = excluded.scope, resources = excluded.resources,
	granted_at = excluded.granted_at, expires_at = excluded.expires_at`
	queryDeleteConsent = `DELETE FROM consents WHERE client_id = ? AND subject = ?`

	// DeleteExpired's, after the access tokens': an expired grant takes
	// its remaining access tokens and refresh token rows with it, which the
	// count leaves out (changes() counts no foreign key action).
	queryDeleteExpiredPending  = `DELETE FROM pending_authorizations WHERE expires_at < ?`
	queryDeleteExpiredCodes    = `DELETE FROM authorization_codes WHERE expires_at < ?`
	queryDeleteExpiredGrants   = `DELETE FROM grants WHERE expires_at < ?1 OR idle_expires_at < ?1`
	queryDeleteExpiredConsents = `DELETE FROM consents WHERE expires_at < ?`
)
