package postgres

// The records of store.AuthorizationStore (migration 0005). Each belongs to
// its client through a foreign key with ON DELETE CASCADE, so DeleteClient
// removes a client's pending requests, codes, grants and consents, and a
// grant's refresh token rows and access tokens go with the grant. Every
// insert of a client's record reads the client row FOR KEY SHARE, as
// CreateAccessToken does, so that a concurrent DeleteClient either has
// committed, and nothing is inserted, or waits and then deletes the record.
//
// Statements run at READ COMMITTED (the pool sets it, and inTx asks for it),
// whatever the server's default: a statement that waited for a row lock sees
// the row as the other transaction committed it, which the single-use and
// compare-and-swap guarantees below rely on.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what pgx.Tx and the pool have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CreatePendingAuthorization stores p. It returns store.ErrNotFound when
// no client p.ClientID exists and store.ErrAlreadyExists when a request
// with the same Hash exists.
func (s *Store) CreatePendingAuthorization(ctx context.Context, p *store.PendingAuthorization) error {
	const op = "create pending authorization"
	if !storableID(p.ClientID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO pending_authorizations (hash, browser_hash, redirect_uri, redirect_uri_given,
	scope, resources, state, code_challenge, code_challenge_method, created_at, expires_at, client_id)
SELECT $1::bytea, $2::bytea, $3::text, $4::boolean, $5::text, $6::text[], $7::bytea, $8::text, $9::text,
	$10::timestamptz, $11::timestamptz, id FROM clients WHERE id = $12 FOR KEY SHARE`,
		p.Hash, p.BrowserHash, p.RedirectURI, p.RedirectURIGiven, p.Scope, p.Resources, []byte(p.State),
		p.CodeChallenge, p.CodeChallengeMethod, p.CreatedAt, p.ExpiresAt, p.ClientID)
	return s.inserted(ctx, op, tag, err, p.ClientID)
}

// inserted returns the result of an INSERT ... SELECT of a record of client
// clientID: store.ErrNotFound when it inserted no row (no such client) or
// violated a foreign key, err as mapErr maps it otherwise.
func (s *Store) inserted(ctx context.Context, op string, tag pgconn.CommandTag, err error, clientID string) error {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23503" {
		return fmt.Errorf("postgres: %s: client %q: %w: %w", op, clientID, store.ErrNotFound, err)
	}
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: client %q: %w", op, clientID, store.ErrNotFound)
	}
	return nil
}

// GetPendingAuthorization returns the request with the given hash, or
// store.ErrNotFound.
func (s *Store) GetPendingAuthorization(ctx context.Context, hash []byte) (*store.PendingAuthorization, error) {
	p, err := scanPending(s.pool.QueryRow(ctx, `SELECT `+pendingColumns+` FROM pending_authorizations WHERE hash = $1`, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get pending authorization", err)
	}
	return p, nil
}

// TakePendingAuthorization removes the request with the given hash and
// returns it, or returns store.ErrNotFound. It is one DELETE ... RETURNING:
// concurrent takes wait for the first's commit and then find no row.
func (s *Store) TakePendingAuthorization(ctx context.Context, hash []byte) (*store.PendingAuthorization, error) {
	p, err := scanPending(s.pool.QueryRow(ctx, `DELETE FROM pending_authorizations WHERE hash = $1 RETURNING `+pendingColumns, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "take pending authorization", err)
	}
	return p, nil
}

// CreateCode stores c. It returns store.ErrNotFound when no client
// c.ClientID exists and store.ErrAlreadyExists when a code with the same
// Hash exists.
func (s *Store) CreateCode(ctx context.Context, c *store.AuthorizationCode) error {
	const op = "create code"
	if !storableID(c.ClientID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO authorization_codes (hash, grant_id, redirect_uri, redirect_uri_given,
	code_challenge, code_challenge_method, subject, scope, resources, claims, issued_at, expires_at, used_at, client_id)
SELECT $1::bytea, $2::text, $3::text, $4::boolean, $5::text, $6::text, $7::text, $8::text, $9::text[], $10::bytea,
	$11::timestamptz, $12::timestamptz, $13::timestamptz, id FROM clients WHERE id = $14 FOR KEY SHARE`,
		c.Hash, c.GrantID, c.RedirectURI, c.RedirectURIGiven, c.CodeChallenge, c.CodeChallengeMethod,
		c.Subject, c.Scope, c.Resources, c.Claims, c.IssuedAt, c.ExpiresAt, nullTime(c.UsedAt), c.ClientID)
	return s.inserted(ctx, op, tag, err, c.ClientID)
}

// GetCode returns the code with the given hash, used or not, or
// store.ErrNotFound.
func (s *Store) GetCode(ctx context.Context, hash []byte) (*store.AuthorizationCode, error) {
	c, err := scanCode(s.pool.QueryRow(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE hash = $1`, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get code", err)
	}
	return c, nil
}

// RedeemCode marks the code used at now, creates g and stores at (when not
// nil), in one transaction. Setting used_at only where it is NULL makes
// concurrent redemptions wait for the first's commit, then find used_at
// set and update nothing, so exactly one succeeds. Any refusal
// (store.ErrUsed, store.ErrNotFound, store.ErrAlreadyExists) rolls back all
// of it; a disabled client gets no access token (see CreateAccessToken), so
// a redemption with one is refused with store.ErrNotFound.
//
// Before any other row it locks the client's row FOR KEY SHARE (see
// lockClientFirst).
func (s *Store) RedeemCode(ctx context.Context, hash []byte, now time.Time, g *store.Grant, at *store.AccessToken) error {
	const op = "redeem code"
	if !storableID(g.ClientID) || !storableID(g.ID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		if err := lockClientFirst(ctx, tx, g.ClientID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE authorization_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`, now, hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var used bool
			err := tx.QueryRow(ctx, `SELECT used_at IS NOT NULL FROM authorization_codes WHERE hash = $1`, hash).Scan(&used)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("code: %w", store.ErrNotFound)
			case err != nil:
				return err
			}
			return fmt.Errorf("code: %w", store.ErrUsed)
		}
		tag, err = tx.Exec(ctx, `INSERT INTO grants (id, subject, scope, resources, claims, created_at, updated_at,
	expires_at, idle_expires_at, revision, refresh_hashes, prev_refresh_hash, prev_refresh_expires_at,
	retired_refresh_hashes, client_id)
SELECT $1::text, $2::text, $3::text, $4::text[], $5::bytea, $6::timestamptz, $7::timestamptz, $8::timestamptz,
	$9::timestamptz, $10::bigint, $11::bytea[], $12::bytea, $13::timestamptz, $14::bytea[], id
FROM clients WHERE id = $15 FOR KEY SHARE`,
			g.ID, g.Subject, g.Scope, g.Resources, g.Claims, g.CreatedAt, g.UpdatedAt,
			nullTime(g.ExpiresAt), nullTime(g.IdleExpiresAt), g.Revision,
			g.RefreshHashes, g.PreviousRefreshHash, nullTime(g.PreviousRefreshExpiresAt), g.RetiredRefreshHashes,
			g.ClientID)
		if err := s.inserted(ctx, "insert grant", tag, err, g.ClientID); err != nil {
			return err
		}
		if err := insertRefresh(ctx, tx, g.ID, setMinus(refreshSet(g), nil)); err != nil {
			return err
		}
		if at != nil {
			return s.insertAccessToken(ctx, tx, at)
		}
		return nil
	})
}

// lockClientFirst locks the row of client id FOR KEY SHARE, if there is
// one, as the first lock of a transaction that goes on to lock rows the
// client owns (a code, a grant) and then to insert an access token, which
// locks the client's row anyway. SetClientDisabled and DeleteClient lock the
// client's row before its codes, grants and tokens; a transaction that
// locked a code or a grant first and then waited for the client's row
// would deadlock with them. Taken first, the lock makes it wait for them,
// or them for it, before either holds anything the other needs. A missing
// client is not an error here: the statements that follow report it as
// they always have.
func lockClientFirst(ctx context.Context, tx pgx.Tx, id string) error {
	if !storableID(id) {
		return nil // no such client; insertAccessToken says so
	}
	_, err := tx.Exec(ctx, `SELECT 1 FROM clients WHERE id = $1 FOR KEY SHARE`, id)
	return err
}

// insertRefresh inserts the refresh token rows of grant id, one per hash.
func insertRefresh(ctx context.Context, tx pgx.Tx, id string, hashes [][]byte) error {
	if len(hashes) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, grant_id) SELECT h, $2 FROM unnest($1::bytea[]) AS h`, hashes, id)
	return err
}

// GetGrant returns the grant with the given ID, or store.ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, id string) (*store.Grant, error) {
	const op = "get grant"
	if !storableID(id) {
		return nil, fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	g, err := scanGrant(s.pool.QueryRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id))
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return g, nil
}

// GetGrantByRefreshHash returns the grant that holds the refresh token
// hash, current, previous or retired, or store.ErrNotFound: a lookup of the
// primary key of refresh_tokens, then of grants.
func (s *Store) GetGrantByRefreshHash(ctx context.Context, hash []byte) (*store.Grant, error) {
	g, err := scanGrant(s.pool.QueryRow(ctx,
		`SELECT `+grantColumns+` FROM refresh_tokens r JOIN grants ON grants.id = r.grant_id WHERE r.hash = $1`, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get grant by refresh token", err)
	}
	return g, nil
}

// UpdateGrant replaces the stored grant g.ID with g (keeping its client) if
// its stored revision equals g.Revision, stores at (when not nil), and then
// sets g.Revision to the new revision. It returns store.ErrNotFound,
// store.ErrConflict and store.ErrAlreadyExists as store.GrantStore
// describes, and then writes nothing.
//
// It reads the grant FOR UPDATE: concurrent updates wait for each other,
// and each then reads the revision as the other committed it, so of several
// updates from the same read exactly one succeeds. Only the refresh token
// rows that change are written: a rotation inserts the new hash and deletes
// the one that falls off the retired list. With an access token to store,
// it first locks the token's client (see lockClientFirst); a disabled
// client gets no token (see CreateAccessToken), and the update is refused
// with store.ErrNotFound.
func (s *Store) UpdateGrant(ctx context.Context, g *store.Grant, at *store.AccessToken) error {
	const op = "update grant"
	if !storableID(g.ID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		if at != nil {
			if err := lockClientFirst(ctx, tx, at.ClientID); err != nil {
				return err
			}
		}
		var stored store.Grant
		err := tx.QueryRow(ctx, `SELECT revision, refresh_hashes, prev_refresh_hash, retired_refresh_hashes
FROM grants WHERE id = $1 FOR UPDATE`, g.ID).Scan(&stored.Revision, &stored.RefreshHashes, &stored.PreviousRefreshHash, &stored.RetiredRefreshHashes)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("grant %q: %w", g.ID, store.ErrNotFound)
		case err != nil:
			return err
		case stored.Revision != g.Revision:
			return fmt.Errorf("grant %q: revision %d, stored %d: %w", g.ID, g.Revision, stored.Revision, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE grants SET subject = $1, scope = $2, resources = $3, claims = $4,
	created_at = $5, updated_at = $6, expires_at = $7, idle_expires_at = $8, refresh_hashes = $9,
	prev_refresh_hash = $10, prev_refresh_expires_at = $11, retired_refresh_hashes = $12, revision = revision + 1
WHERE id = $13`,
			g.Subject, g.Scope, g.Resources, g.Claims, g.CreatedAt, g.UpdatedAt,
			nullTime(g.ExpiresAt), nullTime(g.IdleExpiresAt), g.RefreshHashes,
			g.PreviousRefreshHash, nullTime(g.PreviousRefreshExpiresAt), g.RetiredRefreshHashes, g.ID); err != nil {
			return err
		}
		old, next := refreshSet(&stored), refreshSet(g)
		if gone := setMinus(old, next); len(gone) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE hash = ANY($1::bytea[]) AND grant_id = $2`, gone, g.ID); err != nil {
				return err
			}
		}
		if err := insertRefresh(ctx, tx, g.ID, setMinus(next, old)); err != nil {
			return err
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
	const op = "delete grant"
	if !storableID(id) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM grants WHERE id = $1`, id)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// PutConsent stores c, replacing the record of the same subject and client
// (an upsert), or returns store.ErrNotFound when no client c.ClientID
// exists.
func (s *Store) PutConsent(ctx context.Context, c *store.Consent) error {
	const op = "put consent"
	if !storableID(c.ClientID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO consents (subject, scope, resources, granted_at, expires_at, client_id)
SELECT $1::text, $2::text, $3::text[], $4::timestamptz, $5::timestamptz, id FROM clients WHERE id = $6 FOR KEY SHARE
ON CONFLICT (client_id, subject) DO UPDATE SET scope = EXCLUDED.scope, resources = EXCLUDED.resources,
	granted_at = EXCLUDED.granted_at, expires_at = EXCLUDED.expires_at`,
		c.Subject, c.Scope, c.Resources, c.GrantedAt, nullTime(c.ExpiresAt), c.ClientID)
	return s.inserted(ctx, op, tag, err, c.ClientID)
}

// GetConsent returns the record of subject for clientID, or
// store.ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	const op = "get consent"
	if !storableID(subject) || !storableID(clientID) {
		return nil, fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var (
		c       store.Consent
		expires = nullTime(time.Time{})
	)
	err := s.pool.QueryRow(ctx,
		`SELECT client_id, subject, scope, resources, granted_at, expires_at FROM consents WHERE client_id = $1 AND subject = $2`,
		clientID, subject).Scan(&c.ClientID, &c.Subject, &c.Scope, &c.Resources, &c.GrantedAt, &expires)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	c.GrantedAt, c.ExpiresAt = c.GrantedAt.UTC(), fromNullTime(expires)
	return &c, nil
}

// DeleteConsent removes the record of subject for clientID, or returns
// store.ErrNotFound.
func (s *Store) DeleteConsent(ctx context.Context, subject, clientID string) error {
	const op = "delete consent"
	if !storableID(subject) || !storableID(clientID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM consents WHERE client_id = $1 AND subject = $2`, clientID, subject)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// deleteExpiredAuthz are DeleteExpired's statements of the authorization
// records, run after the access tokens': an expired grant takes its
// remaining access tokens and refresh token rows with it, which the count
// leaves out (a foreign key's cascade is not counted).
var deleteExpiredAuthz = []string{
	`DELETE FROM pending_authorizations WHERE expires_at < $1`,
	`DELETE FROM authorization_codes WHERE expires_at < $1`,
	`DELETE FROM grants WHERE expires_at < $1 OR idle_expires_at < $1`,
	`DELETE FROM consents WHERE expires_at < $1`,
	`DELETE FROM sessions WHERE idle_expires_at < $1 OR expires_at < $1`,
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

// setMinus returns the keys of a that b lacks.
func setMinus(a, b map[string]struct{}) [][]byte {
	var l [][]byte
	for h := range a {
		if _, ok := b[h]; !ok {
			l = append(l, []byte(h))
		}
	}
	return l
}

const pendingColumns = `hash, browser_hash, client_id, redirect_uri, redirect_uri_given, scope, resources,
	state, code_challenge, code_challenge_method, created_at, expires_at`

// scanPending reads the pendingColumns of row; pgx.ErrNoRows is
// store.ErrNotFound for mapErr.
func scanPending(row pgx.Row) (*store.PendingAuthorization, error) {
	var (
		p     store.PendingAuthorization
		state []byte
	)
	if err := row.Scan(&p.Hash, &p.BrowserHash, &p.ClientID, &p.RedirectURI, &p.RedirectURIGiven, &p.Scope, &p.Resources,
		&state, &p.CodeChallenge, &p.CodeChallengeMethod, &p.CreatedAt, &p.ExpiresAt); err != nil {
		return nil, err
	}
	p.State = string(state)
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	return &p, nil
}

const codeColumns = `hash, grant_id, client_id, redirect_uri, redirect_uri_given, code_challenge, code_challenge_method,
	subject, scope, resources, claims, issued_at, expires_at, used_at`

// scanCode reads the codeColumns of row.
func scanCode(row pgx.Row) (*store.AuthorizationCode, error) {
	var (
		c    store.AuthorizationCode
		used = nullTime(time.Time{})
	)
	if err := row.Scan(&c.Hash, &c.GrantID, &c.ClientID, &c.RedirectURI, &c.RedirectURIGiven, &c.CodeChallenge, &c.CodeChallengeMethod,
		&c.Subject, &c.Scope, &c.Resources, &c.Claims, &c.IssuedAt, &c.ExpiresAt, &used); err != nil {
		return nil, err
	}
	c.IssuedAt, c.ExpiresAt, c.UsedAt = c.IssuedAt.UTC(), c.ExpiresAt.UTC(), fromNullTime(used)
	return &c, nil
}

const grantColumns = `grants.id, grants.client_id, grants.subject, grants.scope, grants.resources, grants.claims,
	grants.created_at, grants.updated_at, grants.expires_at, grants.idle_expires_at, grants.revision,
	grants.refresh_hashes, grants.prev_refresh_hash, grants.prev_refresh_expires_at, grants.retired_refresh_hashes`

// scanGrant reads the grantColumns of row.
func scanGrant(row pgx.Row) (*store.Grant, error) {
	var (
		g                          store.Grant
		expires, idle, prevExpires = nullTime(time.Time{}), nullTime(time.Time{}), nullTime(time.Time{})
	)
	if err := row.Scan(&g.ID, &g.ClientID, &g.Subject, &g.Scope, &g.Resources, &g.Claims,
		&g.CreatedAt, &g.UpdatedAt, &expires, &idle, &g.Revision,
		&g.RefreshHashes, &g.PreviousRefreshHash, &prevExpires, &g.RetiredRefreshHashes); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	g.ExpiresAt, g.IdleExpiresAt = fromNullTime(expires), fromNullTime(idle)
	g.PreviousRefreshExpiresAt = fromNullTime(prevExpires)
	return &g, nil
}
