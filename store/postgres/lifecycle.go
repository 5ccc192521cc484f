package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
)

var _ store.ClientLifecycleStore = (*Store)(nil)

// TouchClient sets the LastUsedAt of client id to at when the stored one is
// NULL or before staleBefore; the condition is in the UPDATE, so a client
// used recently costs no write.
func (s *Store) TouchClient(ctx context.Context, id string, at, staleBefore time.Time) error {
	if !storableID(id) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE clients SET last_used_at = $1
WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`, at, id, staleBefore)
	if err != nil {
		return s.mapErr(ctx, "touch client", err)
	}
	return nil
}

// purgeCondition is the selection of PurgeClients on a row of clients: the
// origins $1, not disabled, never used and issued before $2 or last used
// before $3, no grant live at $4.
const purgeCondition = `clients.origin = ANY($1) AND clients.origin <> '' AND clients.disabled_at IS NULL
	AND ((clients.last_used_at IS NULL AND clients.issued_at < $2) OR clients.last_used_at < $3)
	AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = clients.id
		AND (g.expires_at IS NULL OR g.expires_at >= $4)
		AND (g.idle_expires_at IS NULL OR g.idle_expires_at >= $4))`

// PurgeClients removes at most q.Limit clients that q selects, oldest
// first, and returns them (see store.ClientLifecycleStore).
//
// The candidates are locked with FOR UPDATE SKIP LOCKED, so that
// concurrent purges from other instances take other clients instead of
// waiting; the DELETE repeats the condition, so that a client used or
// granted since the selection stays, and RETURNING reports only the rows
// this transaction removed: no client is counted twice.
func (s *Store) PurgeClients(ctx context.Context, q store.ClientPurge) ([]*store.Client, error) {
	const op = "purge clients"
	if q.Limit <= 0 {
		return nil, fmt.Errorf("postgres: %s: limit %d is not positive", op, q.Limit)
	}
	origins := q.Origins
	if origins == nil {
		origins = []string{}
	}
	args := []any{origins, nullTime(q.UnusedBefore), nullTime(q.IdleBefore), q.Now, q.Limit}
	var out []*store.Client
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		out = nil
		var sql string
		if q.DryRun {
			sql = `SELECT ` + clientColumns + ` FROM clients WHERE ` + purgeCondition + ` ORDER BY issued_at, id LIMIT $5`
		} else {
			sql = `WITH picked AS (SELECT clients.id FROM clients WHERE ` + purgeCondition + `
	ORDER BY issued_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
DELETE FROM clients WHERE id IN (SELECT id FROM picked) AND ` + purgeCondition + `
RETURNING ` + clientColumns
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Client, error) { return scanClient(row) })
		if err != nil {
			return err
		}
		for _, c := range out {
			c.SiblingTokenHashes = nil
			if q.DryRun {
				continue
			}
			if _, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE client_id = $1`, c.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM assertion_ids WHERE client_id = $1`, c.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *store.Client) int {
		return cmp.Or(a.IssuedAt.Compare(b.IssuedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}
