package sqlite

import (
	"context"
	"fmt"

	"github.com/clientreg/clientreg/store"
)

// Ping checks that the database can be read, for readiness checks: it reads
// the schema version through a read-only connection, so a write in progress
// does not delay it. Any failure, including ctx ending first and a closed
// Store, wraps store.ErrUnavailable (and the cause, a context error
// included).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: ping: %w: store is closed", store.ErrUnavailable)
	}
	var n int64
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: ping: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}
