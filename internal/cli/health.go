package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientreg/clientreg/store"
)

// defaultRequestTimeout is the default of --request-timeout.
const defaultRequestTimeout = 10 * time.Second

// errRequestTimeout is the cause of a request context that outlived
// --request-timeout.
var errRequestTimeout = errors.New("the request took longer than --request-timeout")

// withDeadline gives every request's context a deadline d from now, with the
// cause errRequestTimeout, so that no request waits for the database for
// longer than d; the handler answers a store call cut off by the deadline
// with 503 temporarily_unavailable. Requests that run out of time are
// logged.
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

// writeProbeInterval is how long /readyz reuses the outcome of its last
// write probe.
const writeProbeInterval = 5 * time.Second

// probeJTI is the assertion record that the write probe rewrites, under the
// client ID "", which no client has.
const probeJTI = "clientreg readiness write probe"

// writeProbe checks that the store takes writes, not only reads (a full
// disk, a read-only database or replica): it records the assertion probeJTI
// of client "" (store.AccessTokenStore.UseAssertionID), expired at once, so
// that the next probe replaces the same record and DeleteExpired sweeps it.
// It writes at most once per writeProbeInterval; within it, readiness checks
// get the last outcome.
type writeProbe struct {
	st  store.Store
	mu  sync.Mutex
	at  time.Time // when the last probe ran, zero before the first
	err error     // its outcome
}

func (p *writeProbe) check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !p.at.IsZero() && now.Sub(p.at) < writeProbeInterval {
		return p.err
	}
	err := p.st.UseAssertionID(ctx, "", probeJTI, now, now)
	if errors.Is(err, store.ErrAlreadyExists) {
		err = nil // the record of a probe at this very instant
	}
	if ctx.Err() == nil {
		p.at, p.err = now, err
	}
	return err
}

// readyz answers GET /readyz (a readiness check): 200 {"status":"ok"} when
// st answers a ping and takes a write (see writeProbe) within the request
// deadline, else 503 {"status":"unavailable"}. It logs when readiness
// changes, not on every probe.
func readyz(st store.Store, log *slog.Logger) http.Handler {
	var down atomic.Bool
	probe := &writeProbe{st: st}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := st.Ping(r.Context())
		if err == nil {
			if err = probe.check(r.Context()); err != nil {
				err = fmt.Errorf("write probe: %w", err)
			}
		}
		if err != nil {
			if !down.Swap(true) {
				log.WarnContext(r.Context(), "not ready: the database is unreachable or takes no writes", "err", err)
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
