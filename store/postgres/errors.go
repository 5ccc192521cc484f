package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// mapErr turns an error of a database operation into the error the store
// returns for operation op:
//
//   - an error that already is one of the clientreg storage errors, that
//     error (the store's own verdicts, such as a lost compare-and-swap);
//   - when ctx is done, the context's error;
//   - pgx.ErrNoRows, store.ErrNotFound;
//   - a unique_violation (SQLSTATE 23505), store.ErrAlreadyExists;
//   - an unreachable or unusable server, a broken connection or a closed
//     store, store.ErrUnavailable (see unavailable);
//   - anything else, err itself.
//
// The result wraps err too, so that errors.As finds the driver's error,
// except when err holds a context error that is not ctx's, such as the
// driver's connect_timeout: errors.Is(result, context.DeadlineExceeded) then
// stays false.
func (s *Store) mapErr(ctx context.Context, op string, err error) error {
	for _, sentinel := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrConflict, store.ErrUnavailable} {
		if errors.Is(err, sentinel) {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("postgres: %s: %w: %w", op, ctxErr, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrNotFound, err)
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23505" {
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrAlreadyExists, err)
	}
	if s.closed.Load() || unavailable(err) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// A timeout of the driver's own (connect_timeout), not of ctx:
			// the context error stays out of the chain, so that callers do
			// not take it for their context's.
			return fmt.Errorf("postgres: %s: %w: %v", op, store.ErrUnavailable, err)
		}
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable reports whether err says that the database cannot serve
// requests right now, rather than that a request is wrong. The caller has
// checked that its own context is not done, so a context error inside err is
// a timeout of the driver's (connect_timeout), not the caller's.
func unavailable(err error) bool {
	// A failed connection attempt: refused, timed out, the server starting
	// up or shutting down, too many connections, a failed authentication.
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return unavailableCode(pgErr.Code)
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true // a socket error: reset, refused, timed out
	}
	return pgconn.SafeToRetry(err) || // failed before anything was sent
		pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// unavailableCode reports whether the SQLSTATE code says that the server
// cannot serve requests right now.
func unavailableCode(code string) bool {
	switch code {
	case "57014", // query_canceled: statement_timeout, or canceled by an administrator
		"55P03", // lock_not_available: lock_timeout
		"40001", // serialization_failure
		"40P01", // deadlock_detected
		"25006": // read_only_sql_transaction: a standby, or a failover under way
		return true
	}
	for _, class := range []string{
		"08",  // connection_exception
		"53",  // insufficient_resources: too_many_connections, disk_full, out_of_memory
		"57P", // admin_shutdown, crash_shutdown, cannot_connect_now, database_dropped
		"58",  // system_error, io_error
	} {
		if strings.HasPrefix(code, class) {
			return true
		}
	}
	return false
}
