package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clientreg/clientreg"
)

// Limits of the HTTP server. Registration requests are small (the handler
// caps bodies at clientreg.DefaultMaxBodyBytes), so the timeouts are short.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// shutdownTimeout is how long a shutdown waits for requests in flight
	// before it closes their connections.
	shutdownTimeout = 15 * time.Second
)

// storeFlags are the flags that locate the database and the server key;
// serve and iat create share them.
type storeFlags struct {
	dbSpec, dbPath *string
	keyFile        *string
}

func addStoreFlags(fs *flagSet) storeFlags {
	var sf storeFlags
	sf.dbSpec, sf.dbPath = newDB(fs)
	sf.keyFile = fs.String("secret-key-file", "",
		"`path` of the file holding the 32-byte server key that keys the stored\n"+
			"hashes of secrets and tokens (default: the database path + \".key\").\n"+
			"Created with mode 0600 if missing; back it up: without it no issued\n"+
			"secret or token works")
	return sf
}

// open loads (or creates) the server key and opens the database.
func (sf storeFlags) open(ctx context.Context, log *slog.Logger) ([]byte, storeCloser, error) {
	keyPath := *sf.keyFile
	if keyPath == "" {
		keyPath = *sf.dbPath + ".key"
	}
	key, created, err := loadOrCreateKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	if created {
		log.Info("created a new server key; back it up together with the database", "key_file", keyPath)
	}
	st, err := openStore(ctx, *sf.dbPath)
	if err != nil {
		return nil, nil, err
	}
	return key, st, nil
}

// serveOptions are the flags of clientreg serve.
type serveOptions struct {
	addr, issuer, authzEndpoint       *string
	registration, rotation, logFormat *string
	scopes, defaultScopes, grantTypes *[]string
	ratGrace, secretLifetime          *time.Duration
	store                             storeFlags
}

func serveFlags() (*flagSet, *serveOptions) {
	fs := newFlagSet("serve", "clientreg serve [flags]",
		"Serves OAuth 2.0 Dynamic Client Registration (RFC 7591), client management\n"+
			"(RFC 7592) and the server metadata document (RFC 8414) over HTTP.\n"+
			"Prints \"listening on ISSUER\" to stderr when ready; SIGINT or SIGTERM\n"+
			"shut it down gracefully.")
	o := &serveOptions{}
	o.addr = fs.String("addr", "127.0.0.1:8080", "TCP `address` to listen on")
	o.issuer = newURL(fs, "issuer",
		"issuer `URL` (RFC 8414), e.g. https://auth.example.com; clients are told to\n"+
			"use ISSUER/register (default: http:// and the address actually listened on)")
	o.store = addStoreFlags(fs)
	o.registration = newChoice(fs, "registration", "open",
		"who may register (`mode`): open (anyone) or token (an initial access\n"+
			"token from \"clientreg iat create\" is required)", "open", "token")
	o.scopes = newList(fs, "scopes", nil,
		"comma-separated `scopes` clients may register and that discovery lists\n"+
			"(default: any well-formed scope)")
	o.defaultScopes = newList(fs, "default-scopes", nil,
		"comma-separated `scopes` given to clients that register none")
	o.grantTypes = newList(fs, "grant-types", clientreg.DefaultGrantTypes,
		"comma-separated grant `types` clients may register")
	o.rotation = newChoice(fs, "rat-rotation", "on-update",
		"when the registration access token is replaced (`mode`): on-update\n"+
			"(on every PUT) or never", "on-update", "never")
	o.ratGrace = newDuration(fs, "rat-grace", clientreg.DefaultTokenGrace,
		"how long (`duration`) a rotated registration access token keeps working\n"+
			"unless the new one is used first; 0 means no grace")
	o.secretLifetime = newDuration(fs, "secret-lifetime", 0,
		"lifetime (`duration`) of new client secrets; 0 means they never expire")
	o.authzEndpoint = newURL(fs, "authorization-endpoint",
		"authorization endpoint `URL` to publish in the metadata document")
	o.logFormat = newChoice(fs, "log-format", "text", "log `format`: text or json", "text", "json")
	return fs, o
}

// serve runs clientreg serve until ctx is cancelled.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := serveFlags()
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	log := newLogger(*o.logFormat, stderr)

	key, st, err := o.store.open(ctx, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the database failed", "err", err)
		}
	}()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // after Shutdown this is a no-op
	issuer := *o.issuer
	if issuer == "" {
		var wildcard bool
		issuer, wildcard = deriveIssuer(*o.addr, ln.Addr())
		if wildcard {
			log.Warn("listening on all interfaces with an issuer for this machine only; set --issuer to the URL clients use", "issuer", issuer)
		}
	}

	rotation := clientreg.RotateOnUpdate
	if *o.rotation == "never" {
		rotation = clientreg.RotateNever
	}
	grace := *o.ratGrace
	if grace == 0 {
		grace = -1 // Config.TokenGrace: negative means none, zero the default
	}
	h, err := clientreg.New(clientreg.Config{
		Issuer:    issuer,
		Store:     st,
		SecretKey: key,
		Metadata: &clientreg.ServerMetadata{
			AuthorizationEndpoint: *o.authzEndpoint,
			ScopesSupported:       *o.scopes,
			GrantTypesSupported:   *o.grantTypes,
		},
		DefaultScopes:       *o.defaultScopes,
		RequireInitialToken: *o.registration == "token",
		TokenRotation:       rotation,
		TokenGrace:          grace,
		SecretLifetime:      *o.secretLifetime,
		Logger:              log,
	})
	if err != nil {
		// Every error of New comes from a flag value.
		return &usageError{err: fmt.Errorf("serve: %w", err), hint: `Run "clientreg serve -help" for usage.`}
	}

	srv := &http.Server{
		Handler:           accessLog(log, h),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "listening on %s\n", issuer)
	log.Info("serving", "addr", ln.Addr().String(), "issuer", issuer, "registration", *o.registration)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at the shutdown deadline were cut off", "err", err)
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// deriveIssuer returns http:// and the address the server listens on: the
// host given in --addr (so "localhost:8080" stays localhost) with the port
// actually bound (so port 0 gets the real one). A wildcard host (empty,
// 0.0.0.0, ::) becomes localhost and wildcard is true.
func deriveIssuer(addr string, bound net.Addr) (issuer string, wildcard bool) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = ""
	}
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "http://" + bound.String(), false
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host, wildcard = "localhost", true
	}
	return "http://" + net.JoinHostPort(host, port), wildcard
}

// newLogger returns a logger writing text or JSON records to w.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// accessLog logs one line per request: method, path, status and duration.
// It logs nothing else of the request, so no Authorization header, token or
// secret ever reaches the log.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)))
	})
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
