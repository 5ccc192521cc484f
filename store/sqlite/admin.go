package sqlite

// The operator's tools (store.ClientAdminStore, migration 0011): listing
// clients, disabling them, revoking what a client holds, and listing and
// deleting initial access tokens. The writes are operations of the writer
// goroutine like every other (see write), so each runs alone under the
// database's write lock: a disable and a concurrent CreateAccessToken,
// through this store or another process's, run one after the other, and
// the token's INSERT, which selects the client only while it is enabled,
// either runs first, and the disable removes the token, or finds the client
// disabled.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

var _ store.ClientAdminStore = (*Store)(nil)

func init() {
	writeQueries = append(writeQueries,
		queryEnableClient, queryDisableClient,
		queryDeleteClientCodes, queryDeleteClientRefresh, queryDeleteClientGrants,
		queryDeleteInitialToken)
}

// ListClients returns at most q.Limit clients that q selects, in the byte
// order of their IDs (see store.ClientAdminStore).
//
// Its query reads the clients in one of two ways, chosen for q, and both
// hold at most Limit clients at a time:
//
//   - It walks the primary key index from q.AfterID in ID order and stops
//     at the Limit-th client that q selects. It never sorts, and a caller
//     paging through every client reads each row once, whatever the
//     filters; but a page costs every row read before the Limit-th
//     selected one, a few microseconds each (a table lookup per row), so
//     a filter that selects few clients of many makes it slow: seconds for
//     a million.
//   - It reads the clients that an index finds for q and sorts them by ID:
//     clients_policy for q's policies, or clients_origin_last_used, which
//     holds the origin, LastUsedAt and IssuedAt of every client, for q's
//     origins, NeverUsed and IssuedAt bounds (without origins, it reads the
//     whole index, a narrow table, sequentially: a fifth of a second for a
//     million). A page costs the clients found, which are few.
//
// The choice (listIndex) counts, in the indexes alone, the clients each
// would find, up to listIndexThreshold, and reads the index that finds
// fewer than that, if one does: otherwise the filters that it could search
// select at least that many clients, which the walk meets often enough.
// SQLite keeps no statistics to choose for itself, and would take an index
// for selective whatever it holds (a common origin is nearly every
// client), so the conditions of a query are kept off the indexes it does
// not read (the unary +). With a million clients (BenchmarkListClientsMillion)
// a page costs a millisecond or two, a few tens when the counting reads
// much of an index, and a fifth of a second when a query reads the whole
// index of origins; only a filter that no index searches and that selects
// few clients (the policy "" when most clients have one, say) leaves the
// walk slow.
func (s *Store) ListClients(ctx context.Context, q store.ClientQuery) ([]*store.Client, error) {
	const op = "list clients"
	if q.Limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit %d is not positive", op, q.Limit)
	}
	index, err := s.listIndex(ctx, q)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	out, err := s.listClients(ctx, q, index)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return out, nil
}

// listClients runs the query of ListClients that reads index ("" for the
// primary key).
func (s *Store) listClients(ctx context.Context, q store.ClientQuery, index string) ([]*store.Client, error) {
	query, args := listClientsQuery(q, index)
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*store.Client{}
	for rows.Next() {
		c, err := s.scanClient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// The indexes that ListClients may read instead of the primary key, and
// the most clients it reads through one of them.
const (
	indexPolicy        = "clients_policy"           // (policy) WHERE policy <> ''
	indexOrigin        = "clients_origin_last_used" // (origin, last_used_at, issued_at)
	listIndexThreshold = 10000
)

// listIndex returns the index that ListClients reads for q: the one of
// indexPolicy and indexOrigin that finds the fewest clients for q, if it
// finds fewer than listIndexThreshold, else "" (the primary key). It counts
// in each index, without reading the table, the entries the query would
// read, up to the threshold.
func (s *Store) listIndex(ctx context.Context, q store.ClientQuery) (string, error) {
	if (q.Policies != nil && len(q.Policies) == 0) || (q.Origins != nil && len(q.Origins) == 0) {
		// IN (): SQLite sees the WHERE is false before it reads a row, and
		// refuses an INDEXED BY it then has no use for.
		return "", nil
	}
	best, fewest := "", int64(listIndexThreshold)
	for _, index := range []string{indexPolicy, indexOrigin} {
		var l listQuery
		if !l.indexConditions(q, index) {
			continue
		}
		var n int64
		err := s.reader.QueryRowContext(ctx,
			`SELECT COUNT(*) FROM (SELECT 1 FROM clients INDEXED BY `+index+` WHERE `+strings.Join(l.where, " AND ")+` LIMIT ?)`,
			append(l.args, fewest)...).Scan(&n)
		if err != nil {
			return "", err
		}
		if n < fewest {
			best, fewest = index, n
		}
	}
	return best, nil
}

// listQuery gathers the conditions of a query of ListClients and their
// arguments.
type listQuery struct {
	where []string
	args  []any
}

// add appends the condition cond, whose placeholders are args.
func (l *listQuery) add(cond string, args ...any) {
	l.where = append(l.where, cond)
	l.args = append(l.args, args...)
}

// in appends the condition that column (an expression) is one of values,
// one placeholder per value: an empty list is IN (), which selects
// nothing, as ClientQuery.Selects does.
func (l *listQuery) in(column string, values []string) {
	ps := make([]string, len(values))
	for i, v := range values {
		ps[i] = "?"
		l.args = append(l.args, v)
	}
	l.where = append(l.where, column+" IN ("+strings.Join(ps, ", ")+")")
}

// indexConditions appends the conditions of q on the columns of index, as
// that index can search them, and reports whether it can serve q:
// indexPolicy if q names policies, none of them "" (it holds no client of
// no policy); indexOrigin if q names origins, NeverUsed or a bound of
// IssuedAt.
func (l *listQuery) indexConditions(q store.ClientQuery, index string) bool {
	switch index {
	case indexPolicy:
		if len(q.Policies) == 0 || slices.Contains(q.Policies, "") {
			return false
		}
		l.in("policy", q.Policies)
		l.add("policy <> ''") // implies the index's WHERE
	case indexOrigin:
		if len(q.Origins) == 0 && !q.NeverUsed && q.IssuedAfter.IsZero() && q.IssuedBefore.IsZero() {
			return false
		}
		if q.Origins != nil {
			l.in("origin", q.Origins)
		}
		if q.NeverUsed {
			l.add("last_used_at IS NULL")
		}
		l.issued(q, "")
	default:
		return false
	}
	return true
}

// issued appends the conditions of q on IssuedAt, with prefix before the
// column. IssuedAt is stored in whole microseconds: it is not before t
// exactly when it is not before t rounded up to the microsecond, and
// before t exactly when before that.
func (l *listQuery) issued(q store.ClientQuery, prefix string) {
	if !q.IssuedAfter.IsZero() {
		l.add(prefix+"issued_at >= ?", ceilMicro(q.IssuedAfter))
	}
	if !q.IssuedBefore.IsZero() {
		l.add(prefix+"issued_at < ?", ceilMicro(q.IssuedBefore))
	}
}

// listClientsQuery returns the SELECT of ListClients for q that reads index
// ("" for the primary key, walked from q.AfterID), and its arguments. The
// conditions that index cannot search carry a unary +, which keeps SQLite
// from searching another index for them.
func listClientsQuery(q store.ClientQuery, index string) (string, []any) {
	l := listQuery{where: []string{"id > ?"}, args: []any{q.AfterID}}
	from := "clients"
	if index != "" {
		from += " INDEXED BY " + index
		l.indexConditions(q, index)
	}
	if q.Policies != nil && index != indexPolicy {
		l.in("+policy", q.Policies)
	}
	if index != indexOrigin {
		if q.Origins != nil {
			l.in("+origin", q.Origins)
		}
		if q.NeverUsed {
			l.add("+last_used_at IS NULL")
		}
		l.issued(q, "+")
	}
	return `SELECT ` + clientColumns + ` FROM ` + from + ` WHERE ` + strings.Join(l.where, " AND ") +
		` ORDER BY id LIMIT ?`, append(l.args, q.Limit)
}

// ceilMicro returns t in Unix microseconds, rounded up.
func ceilMicro(t time.Time) int64 {
	us := t.UnixMicro() // rounded down: the nanoseconds of a second are never negative
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

// SetClientDisabled disables client id at disabledAt, keeping an earlier
// time of a client already disabled, and removes what the client holds as
// RevokeClientTokens does, in one operation; or, when disabledAt is zero,
// enables it. It returns store.ErrNotFound when no such client exists.
// Neither changes the revision or updated_at.
func (s *Store) SetClientDisabled(ctx context.Context, id string, disabledAt time.Time) error {
	return s.write(ctx, "set client disabled", func(ctx context.Context, tx *sql.Tx) error {
		if disabledAt.IsZero() {
			res, err := s.exec(ctx, tx, queryEnableClient, id)
			if err != nil {
				return err
			}
			return wantRow(res, fmt.Sprintf("client %q", id), store.ErrNotFound)
		}
		res, err := s.exec(ctx, tx, queryDisableClient, disabledAt.UnixMicro(), id)
		if err != nil {
			return err
		}
		if err := wantRow(res, fmt.Sprintf("client %q", id), store.ErrNotFound); err != nil {
			return err
		}
		if _, err := s.revokeClient(ctx, tx, id); err != nil {
			return err
		}
		// A request the user has not answered yet dies with the disabling,
		// so that enabling the client again does not revive it.
		_, err = s.exec(ctx, tx, `DELETE FROM pending_authorizations WHERE client_id = ?`, id)
		return err
	})
}

// RevokeClientTokens removes every access token, grant (with its refresh
// token rows) and authorization code of client id, in one operation, and
// returns how many access tokens and grants it removed, or
// store.ErrNotFound when no such client exists.
func (s *Store) RevokeClientTokens(ctx context.Context, id string) (int64, error) {
	var n int64
	err := s.write(ctx, "revoke client tokens", func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		var revision int64
		err := s.queryRow(ctx, tx, queryClientRevision, id).Scan(&revision)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("client %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		n, err = s.revokeClient(ctx, tx, id)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// revokeClient deletes, in tx, the authorization codes, access tokens and
// grants of client id, with the grants' refresh token rows, and returns how
// many access tokens and grants it deleted. The access tokens go first, so
// that those of the grants are counted (a foreign key's cascade is not);
// the refresh token rows are deleted explicitly, as DeleteClient deletes
// the client's tokens, so that none is left to find a grant even on a
// connection without foreign_keys=ON.
func (s *Store) revokeClient(ctx context.Context, tx *sql.Tx, id string) (int64, error) {
	var total int64
	for _, q := range []string{queryDeleteClientCodes, queryDeleteClientTokens, queryDeleteClientRefresh, queryDeleteClientGrants} {
		res, err := s.exec(ctx, tx, q, id)
		if err != nil {
			return 0, err
		}
		if q == queryDeleteClientTokens || q == queryDeleteClientGrants {
			n, err := res.RowsAffected()
			if err != nil {
				return 0, err
			}
			total += n
		}
	}
	return total, nil
}

// ListInitialTokens returns every initial access token, in the order of
// their CreatedAt, then Hash (byte order, as SQLite compares blobs).
func (s *Store) ListInitialTokens(ctx context.Context) ([]*store.InitialToken, error) {
	const op = "list initial tokens"
	rows, err := s.reader.QueryContext(ctx, `SELECT `+tokenColumns+` FROM initial_tokens ORDER BY created_at, hash`)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	defer rows.Close()
	out := []*store.InitialToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, s.mapErr(ctx, op, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return out, nil
}

// DeleteInitialToken removes the initial access token with the given hash,
// or returns store.ErrNotFound. Clients refer to no initial token, so the
// clients registered with it stay.
func (s *Store) DeleteInitialToken(ctx context.Context, hash []byte) error {
	return s.write(ctx, "delete initial token", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryDeleteInitialToken, hash)
		if err != nil {
			return err
		}
		return wantRow(res, "initial token", store.ErrNotFound)
	})
}

// The write statements of the operator's tools, prepared on the writer at
// Open (see init). Each searches an index: the primary keys, and the
// indexes on client_id and grant_id (TestAdminQueryPlans).
const (
	queryEnableClient = `UPDATE clients SET disabled_at = NULL WHERE id = ?`
	// queryDisableClient keeps the time of a client already disabled; it
	// updates the row either way, so that RowsAffected tells whether the
	// client exists.
	queryDisableClient       = `UPDATE clients SET disabled_at = coalesce(disabled_at, ?1) WHERE id = ?2`
	queryDeleteClientCodes   = `DELETE FROM authorization_codes WHERE client_id = ?`
	queryDeleteClientRefresh = `DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE client_id = ?)`
	queryDeleteClientGrants  = `DELETE FROM grants WHERE client_id = ?`
	queryDeleteInitialToken  = `DELETE FROM initial_tokens WHERE hash = ?`
)
