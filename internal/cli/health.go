package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// readyz answers GET /readyz (a readiness check): 200 {"status":"ok"} when
// st answers a ping within the request deadline, else 503
// {"status":"unavailable"}. It logs when readiness changes, not on every
// probe.
func readyz(st store.Store, log *slog.Logger) http.Handler {
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
