package sqlite

// TEMPORARY (replaced by the branch wt-store before any merge to a landing):
// the ClientAdminStore methods, refusing, so that the tree builds while the
// real ones are written.

import (
	"context"
	"errors"
	"time"

	"github.com/clientreg/clientreg/store"
)

func (s *Store) ListClients(ctx context.Context, q store.ClientQuery) ([]*store.Client, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) SetClientDisabled(ctx context.Context, id string, disabledAt time.Time) error {
	return errors.ErrUnsupported
}

func (s *Store) RevokeClientTokens(ctx context.Context, id string) (int64, error) {
	return 0, errors.ErrUnsupported
}

func (s *Store) ListInitialTokens(ctx context.Context) ([]*store.InitialToken, error) {
	return nil, errors.ErrUnsupported
}

func (s *Store) DeleteInitialToken(ctx context.Context, hash []byte) error {
	return errors.ErrUnsupported
}
