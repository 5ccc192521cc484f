package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/clientreg/clientreg"
)

// defaultRequestTimeout is the default of --request-timeout.
const defaultRequestTimeout = 10 * time.Second

// errRequestTimeout is the cause of a request context that outlived
// --request-timeout.
var errRequestTimeout = errors.New("the request took longer than --request-timeout")

// withDeadline gives every request's context a deadline d from now, with the
// cause errRequestTimeout, so that no request waits for the database for
// longer than d; deadlineStore turns the resulting errors into
// clientreg.ErrUnavailable. Requests that run out of time are logged.
func withDeadline(d time.Duration, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeoutCause(r.Context(), d, errRequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
		if errors.Is(context.Cause(ctx), errRequestTimeout) {
			log.LogAttrs(ctx, slog.LevelWarn, "request timed out waiting for the database",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Duration("request_timeout", d))
		}
	})
}

// deadlineStore is a Store whose errors caused by the end of the request
// deadline that withDeadline sets wrap clientreg.ErrUnavailable, which the
// handler answers with 503 temporarily_unavailable. (The backends return the
// context's error when the context ends, which the handler would answer with
// 500 server_error.) It declares every method of clientreg.Store itself, so
// that none is promoted unwrapped from the embedded Store; a test checks
// that this stays so when the interface grows.
type deadlineStore struct{ clientreg.Store }

// timedOut returns err, wrapped in clientreg.ErrUnavailable when it comes
// from the request deadline of ctx.
func timedOut(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, context.DeadlineExceeded) && errors.Is(context.Cause(ctx), errRequestTimeout) &&
		!errors.Is(err, clientreg.ErrUnavailable) {
		return fmt.Errorf("%w: %w: %w", clientreg.ErrUnavailable, errRequestTimeout, err)
	}
	return err
}

// CreateClient implements clientreg.ClientStore.
func (s deadlineStore) CreateClient(ctx context.Context, c *clientreg.Client) error {
	return timedOut(ctx, s.Store.CreateClient(ctx, c))
}

// GetClient implements clientreg.ClientStore.
func (s deadlineStore) GetClient(ctx context.Context, id string) (*clientreg.Client, error) {
	c, err := s.Store.GetClient(ctx, id)
	return c, timedOut(ctx, err)
}

// GetClientByTokenHash implements clientreg.ClientStore.
func (s deadlineStore) GetClientByTokenHash(ctx context.Context, hash []byte) (*clientreg.Client, error) {
	c, err := s.Store.GetClientByTokenHash(ctx, hash)
	return c, timedOut(ctx, err)
}

// UpdateClient implements clientreg.ClientStore.
func (s deadlineStore) UpdateClient(ctx context.Context, c *clientreg.Client) error {
	return timedOut(ctx, s.Store.UpdateClient(ctx, c))
}

// DeleteClient implements clientreg.ClientStore.
func (s deadlineStore) DeleteClient(ctx context.Context, id string) error {
	return timedOut(ctx, s.Store.DeleteClient(ctx, id))
}

// CreateInitialToken implements clientreg.InitialTokenStore.
func (s deadlineStore) CreateInitialToken(ctx context.Context, t *clientreg.InitialToken) error {
	return timedOut(ctx, s.Store.CreateInitialToken(ctx, t))
}

// GetInitialToken implements clientreg.InitialTokenStore.
func (s deadlineStore) GetInitialToken(ctx context.Context, hash []byte) (*clientreg.InitialToken, error) {
	t, err := s.Store.GetInitialToken(ctx, hash)
	return t, timedOut(ctx, err)
}

// UseInitialToken implements clientreg.InitialTokenStore.
func (s deadlineStore) UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*clientreg.InitialToken, error) {
	t, err := s.Store.UseInitialToken(ctx, hash, now)
	return t, timedOut(ctx, err)
}

// CreateAccessToken implements clientreg.AccessTokenStore.
func (s deadlineStore) CreateAccessToken(ctx context.Context, t *clientreg.AccessToken) error {
	return timedOut(ctx, s.Store.CreateAccessToken(ctx, t))
}

// GetAccessToken implements clientreg.AccessTokenStore.
func (s deadlineStore) GetAccessToken(ctx context.Context, hash []byte) (*clientreg.AccessToken, error) {
	t, err := s.Store.GetAccessToken(ctx, hash)
	return t, timedOut(ctx, err)
}

// DeleteAccessToken implements clientreg.AccessTokenStore.
func (s deadlineStore) DeleteAccessToken(ctx context.Context, hash []byte) error {
	return timedOut(ctx, s.Store.DeleteAccessToken(ctx, hash))
}

// UseAssertionID implements clientreg.AccessTokenStore.
func (s deadlineStore) UseAssertionID(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error {
	return timedOut(ctx, s.Store.UseAssertionID(ctx, clientID, jti, expiresAt, now))
}

// DeleteExpired implements clientreg.AccessTokenStore.
func (s deadlineStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.Store.DeleteExpired(ctx, now)
	return n, timedOut(ctx, err)
}

// Health check paths, outside the issuer's paths.
const (
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
)

// healthz answers GET /healthz: 200 {"status":"ok"} while the process
// serves HTTP, whatever the state of the database (a liveness check).
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeStatus(w, http.StatusOK, "ok")
}

// readyz answers GET /readyz (a readiness check): 200 {"status":"ok"} when
// st answers a ping within the request deadline, else 503
// {"status":"unavailable"}. It logs when readiness changes, not on every
// probe.
func readyz(st interface{ Ping(context.Context) error }, log *slog.Logger) http.Handler {
	var down atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := st.Ping(r.Context()); err != nil {
			if !down.Swap(true) {
				log.WarnContext(r.Context(), "not ready: the database is unreachable", "err", err)
			}
			writeStatus(w, http.StatusServiceUnavailable, "unavailable")
			return
		}
		if down.Swap(false) {
			log.InfoContext(r.Context(), "ready: the database is reachable again")
		}
		writeStatus(w, http.StatusOK, "ok")
	})
}

// writeStatus writes {"status":STATUS} with the HTTP status code.
func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"status":%q}`, status)
}
