package postgres

// The operator's tools (store.ClientAdminStore, migration 0010): listing
// clients, disabling them, revoking what a client holds, and listing and
// deleting initial access tokens.
//
// Locks. SetClientDisabled and RevokeClientTokens lock, in this order, the
// client's row, its codes (by deleting them), its grants (FOR UPDATE, by
// ID) and then its access tokens, the order in which DeleteClient (the
// client's row, then the cascade), DeleteGrant (the grant, then its tokens
// by the cascade), RedeemCode and UpdateGrant (the client's row first: see
// lockClientFirst) take theirs, so that none of them waits for a lock that
// the other holds while it waits for one of its own.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
)

var _ store.ClientAdminStore = (*Store)(nil)

// ListClients returns at most q.Limit clients that q selects, in the byte
// order of their IDs (the "C" collation of clients.id; see
// store.ClientAdminStore).
//
// It is one SELECT ... WHERE id > $1 ... ORDER BY id LIMIT, with every
// condition of q in SQL: the planner walks the primary key from the cursor
// and stops at the Limit-th client selected, or, for a condition it knows
// to be selective (a rare policy or origin, by its statistics), reads that
// condition's index and sorts only the few clients it finds. It never
// holds more than Limit clients.
func (s *Store) ListClients(ctx context.Context, q store.ClientQuery) ([]*store.Client, error) {
	const op = "list clients"
	if q.Limit <= 0 {
		return nil, fmt.Errorf("postgres: %s: limit %d is not positive", op, q.Limit)
	}
	query, args, none := listClientsQuery(q)
	if none {
		if s.closed.Load() {
			return nil, fmt.Errorf("postgres: %s: %w: store is closed", op, store.ErrUnavailable)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", op, err)
		}
		return []*store.Client{}, nil
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Client, error) { return scanClient(row) })
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	if out == nil {
		out = []*store.Client{}
	}
	return out, nil
}

// listClientsQuery returns the SELECT of ListClients for q and its
// arguments, or none when q selects no client that PostgreSQL can store
// (an AfterID after every storable ID).
//
// A text column holds neither NUL nor invalid UTF-8, so no stored client
// has such a policy, origin or ID: the lists leave those values out (an
// empty, non-nil list selects nothing, as ClientQuery.Selects does), and an
// AfterID with them becomes the storable bound that selects the same
// clients (see idCursor).
func listClientsQuery(q store.ClientQuery) (query string, args []any, none bool) {
	var b strings.Builder
	b.WriteString(`SELECT ` + clientColumns + ` FROM clients WHERE `)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	bound, inclusive, none := idCursor(q.AfterID)
	if none {
		return "", nil, true
	}
	if inclusive {
		b.WriteString(`id >= ` + arg(bound))
	} else {
		b.WriteString(`id > ` + arg(bound))
	}
	if q.Policies != nil {
		b.WriteString(` AND policy = ANY(` + arg(storable(q.Policies)) + `::text[])`)
	}
	if q.Origins != nil {
		b.WriteString(` AND origin = ANY(` + arg(storable(q.Origins)) + `::text[])`)
	}
	// timestamptz keeps microseconds, and pgx sends a time rounded down to
	// them: IssuedAt is not before t exactly when it is not before t
	// rounded up, and before t exactly when before that.
	if !q.IssuedAfter.IsZero() {
		b.WriteString(` AND issued_at >= ` + arg(ceilMicro(q.IssuedAfter)))
	}
	if !q.IssuedBefore.IsZero() {
		b.WriteString(` AND issued_at < ` + arg(ceilMicro(q.IssuedBefore)))
	}
	if q.NeverUsed {
		b.WriteString(` AND last_used_at IS NULL`)
	}
	b.WriteString(` ORDER BY id LIMIT ` + arg(q.Limit))
	return b.String(), args, false
}

// storable returns the values of l that a text column can hold, never nil.
func storable(l []string) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		if storableID(v) {
			out = append(out, v)
		}
	}
	return out
}

// ceilMicro returns t rounded up to the microsecond.
func ceilMicro(t time.Time) time.Time {
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		return r.Add(time.Microsecond)
	}
	return t
}

// idCursor turns the cursor after (ClientQuery.AfterID) into a condition on
// the stored IDs, which are valid UTF-8 without NUL: id > bound, or id >=
// bound when inclusive, selects exactly the storable IDs that sort after
// after in byte order, and bound is storable; none reports that no
// storable ID sorts after it. A storable after is its own bound.
//
// Otherwise let p be the longest prefix of after made of whole valid runes
// other than NUL, and rest the remainder, which starts with NUL or with
// bytes that begin no valid rune. An ID that does not start with p
// compares with after as with p, within p's length. An ID p+s, s not
// empty, sorts after after when the encoding of s's first rune sorts after
// rest (they differ within that encoding, or rest is a prefix of it), which
// holds from some rune r0 upwards, as UTF-8 keeps the order of code points:
//
//   - rest starts with NUL: every rune of s sorts after it, so the IDs
//     after after are those after p;
//   - there is such an r0: they are those from p+string(r0) on;
//   - there is none (rest starts with a byte above every rune's first,
//     0xF5 to 0xFF): they are those after every ID that starts with p,
//     from p with its last rune incremented on (see nextPrefix).
func idCursor(after string) (bound string, inclusive, none bool) {
	if storableID(after) {
		return after, false, false
	}
	i := 0
	for i < len(after) {
		r, size := utf8.DecodeRuneInString(after[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			break
		}
		i += size
	}
	p, rest := after[:i], after[i:]
	if rest[0] == 0 {
		return p, false, false
	}
	// The runes other than NUL in code point order, the surrogates (which
	// UTF-8 cannot encode) left out.
	const surrogates = 0xE000 - 0xD800
	runeAt := func(k int) rune {
		if r := rune(k + 1); r < 0xD800 {
			return r
		}
		return rune(k + 1 + surrogates)
	}
	n := int(utf8.MaxRune - surrogates)
	k := sort.Search(n, func(k int) bool { return string(runeAt(k)) > rest })
	if k < n {
		return p + string(runeAt(k)), true, false
	}
	next, ok := nextPrefix(p)
	return next, true, !ok
}

// nextPrefix returns the least string that sorts after every string that
// starts with p, a storable string: p with its last rune incremented, or,
// when that rune is utf8.MaxRune, nextPrefix of p without it. ok is false
// when there is none (p is empty, or only of utf8.MaxRune).
func nextPrefix(p string) (next string, ok bool) {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r == utf8.MaxRune {
			continue
		}
		r++
		if r == 0xD800 {
			r = 0xE000 // past the surrogates
		}
		return p + string(r), true
	}
	return "", false
}

// SetClientDisabled disables client id at disabledAt, keeping an earlier
// time of a client already disabled, and removes what the client holds as
// RevokeClientTokens does, in one transaction; or, when disabledAt is zero,
// enables it (one UPDATE). It returns store.ErrNotFound when no such client
// exists. Neither changes the revision or updated_at.
//
// Disabling locks the client's row FOR UPDATE before it sets disabled_at:
// an UPDATE of a column that is no key takes FOR NO KEY UPDATE, which does
// not conflict with the FOR KEY SHARE that an access token's INSERT takes
// (see CreateAccessToken); FOR UPDATE does. So a concurrent
// CreateAccessToken either committed its token before the lock was
// granted, and the DELETE of the client's tokens, a later statement that
// sees every commit before it, removes it, or waits for this commit and
// then finds the client disabled.
func (s *Store) SetClientDisabled(ctx context.Context, id string, disabledAt time.Time) error {
	const op = "set client disabled"
	if !storableID(id) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	if disabledAt.IsZero() {
		tag, err := s.pool.Exec(ctx, `UPDATE clients SET disabled_at = NULL WHERE id = $1`, id)
		if err != nil {
			return s.mapErr(ctx, op, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: %s: client %q: %w", op, id, store.ErrNotFound)
		}
		return nil
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		var disabled bool
		err := tx.QueryRow(ctx, `SELECT disabled_at IS NOT NULL FROM clients WHERE id = $1 FOR UPDATE`, id).Scan(&disabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("client %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !disabled { // an earlier time stays
			if _, err := tx.Exec(ctx, `UPDATE clients SET disabled_at = $2 WHERE id = $1`, id, disabledAt); err != nil {
				return err
			}
		}
		if _, err := revokeClient(ctx, tx, id); err != nil {
			return err
		}
		// A request the user has not answered yet dies with the disabling,
		// so that enabling the client again does not revive it.
		_, err = tx.Exec(ctx, `DELETE FROM pending_authorizations WHERE client_id = $1`, id)
		return err
	})
}

// RevokeClientTokens removes every access token, grant (with its refresh
// token rows) and authorization code of client id, in one transaction, and
// returns how many access tokens and grants it removed, or
// store.ErrNotFound when no such client exists. It locks the client's row
// FOR KEY SHARE, which keeps the client from being deleted meanwhile and
// lets tokens be issued to it: one issued while it runs may stay, as one
// issued just after it would.
func (s *Store) RevokeClientTokens(ctx context.Context, id string) (int64, error) {
	const op = "revoke client tokens"
	if !storableID(id) {
		return 0, fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var n int64
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		n = 0
		tag, err := tx.Exec(ctx, `SELECT 1 FROM clients WHERE id = $1 FOR KEY SHARE`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("client %q: %w", id, store.ErrNotFound)
		}
		n, err = revokeClient(ctx, tx, id)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// revokeClient deletes, in tx, the authorization codes, access tokens and
// grants of client id (the grants' refresh token rows go with them, by the
// foreign key's cascade), and returns how many access tokens and grants it
// deleted. The grants are locked before the tokens, in the order of
// DeleteGrant, whose cascade deletes a grant's tokens after the grant; the
// tokens are deleted before the grants, so that those of the grants are
// counted (a cascade is not).
func revokeClient(ctx context.Context, tx pgx.Tx, id string) (int64, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM authorization_codes WHERE client_id = $1`, id); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM grants WHERE client_id = $1 ORDER BY id FOR UPDATE`, id); err != nil {
		return 0, err
	}
	tokens, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE client_id = $1`, id)
	if err != nil {
		return 0, err
	}
	grants, err := tx.Exec(ctx, `DELETE FROM grants WHERE client_id = $1`, id)
	if err != nil {
		return 0, err
	}
	return tokens.RowsAffected() + grants.RowsAffected(), nil
}

// ListInitialTokens returns every initial access token, in the order of
// their CreatedAt, then Hash (bytea compares byte for byte).
func (s *Store) ListInitialTokens(ctx context.Context) ([]*store.InitialToken, error) {
	const op = "list initial tokens"
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM initial_tokens ORDER BY created_at, hash`)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.InitialToken, error) { return scanToken(row) })
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	if out == nil {
		out = []*store.InitialToken{}
	}
	return out, nil
}

// DeleteInitialToken removes the initial access token with the given hash,
// or returns store.ErrNotFound. Clients refer to no initial token, so the
// clients registered with it stay.
func (s *Store) DeleteInitialToken(ctx context.Context, hash []byte) error {
	const op = "delete initial token"
	tag, err := s.pool.Exec(ctx, `DELETE FROM initial_tokens WHERE hash = $1`, hash)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}
