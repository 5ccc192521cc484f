package sqlite

// The lifecycle of clients (migration 0010): TouchClient and PurgeClients.
// A purge's selection and its deletions are one write operation, run by
// the writer goroutine under the database's write lock, so that two
// purges, in this process or another, never remove the same client.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

var _ store.ClientLifecycleStore = (*Store)(nil)

func init() {
	writeQueries = append(writeQueries, queryTouchClient, queryPurgeCandidates)
}

// TouchClient sets the LastUsedAt of client id to at when the stored one is
// NULL or before staleBefore; the condition is in the UPDATE, so a client
// used recently costs no write.
func (s *Store) TouchClient(ctx context.Context, id string, at, staleBefore time.Time) error {
	return s.write(ctx, "touch client", func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, queryTouchClient, at.UnixMicro(), id, staleBefore.UnixMicro())
		return err
	})
}

// PurgeClients removes at most q.Limit clients that q selects, oldest
// first, and returns them (see store.ClientLifecycleStore).
func (s *Store) PurgeClients(ctx context.Context, q store.ClientPurge) ([]*store.Client, error) {
	const op = "purge clients"
	if q.Limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit %d is not positive", op, q.Limit)
	}
	var out []*store.Client
	err := s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		out = nil
		rows, err := tx.StmtContext(ctx, s.prepared[queryPurgeCandidates]).QueryContext(ctx,
			","+strings.Join(q.Origins, ",")+",", nullMicro(q.UnusedBefore), nullMicro(q.IdleBefore), q.Now.UnixMicro(), q.Limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			c, err := s.scanClient(s.queryRow(ctx, tx, queryClientByID, id))
			if err != nil {
				return err
			}
			c.SiblingTokenHashes = nil
			out = append(out, c)
			if q.DryRun {
				continue
			}
			for _, dq := range []string{queryDeleteClient, queryDeleteClientTokens, queryDeleteClientAssertions, queryDeleteSiblings} {
				if _, err := s.exec(ctx, tx, dq, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// The write statements of the lifecycle, prepared on the writer at Open.
const (
	queryTouchClient = `UPDATE clients SET last_used_at = ?1
WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)`
	// queryPurgeCandidates selects the enabled clients of origins ?1
	// (",a,b,") never used and issued before ?2, or last used before ?3,
	// without a grant live at ?4, oldest first, at most ?5.
	queryPurgeCandidates = `SELECT id FROM clients
WHERE instr(?1, ',' || origin || ',') > 0 AND origin <> '' AND disabled_at IS NULL
	AND ((last_used_at IS NULL AND issued_at < ?2) OR last_used_at < ?3)
	AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = clients.id
		AND (g.expires_at IS NULL OR g.expires_at >= ?4)
		AND (g.idle_expires_at IS NULL OR g.idle_expires_at >= ?4))
ORDER BY issued_at, id LIMIT ?5`
)
