package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serverMetrics are the server's own Prometheus registry (never the global
// one) and the sweeper's counter; nil without --metrics-addr.
type serverMetrics struct {
	reg     *prometheus.Registry
	expired prometheus.Counter // records store.DeleteExpired removed
	purged  prometheus.Counter // expired clients purged
}

func newServerMetrics() *serverMetrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	removed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "clientreg", Name: "sweeper_removed_total",
		Help: "Records the sweeper removed: expired (tokens, codes, grants, sessions and the like, store.DeleteExpired) and clients (expired clients purged).",
	}, []string{"kind"})
	reg.MustRegister(removed)
	return &serverMetrics{reg: reg, expired: removed.WithLabelValues("expired"), purged: removed.WithLabelValues("clients")}
}

// swept counts one sweep's removals.
func (m *serverMetrics) swept(expired int64, purged int) {
	if m == nil {
		return
	}
	m.expired.Add(float64(expired))
	m.purged.Add(float64(purged))
}

// metricsServer serves GET /metrics of m on its own listener, apart from
// the public port; every other path is 404.
func metricsServer(m *serverMetrics, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serveMetrics serves srv on ln until ctx ends, then shuts it down.
func serveMetrics(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger) {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("serving metrics failed", "err", err)
	}
}
