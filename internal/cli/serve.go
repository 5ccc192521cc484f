package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// Limits of the HTTP server. Registration requests are small (the handler
// caps bodies at clientreg.DefaultMaxBodyBytes), so the timeouts are short.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	// minWriteTime is how long, at least, the write timeout leaves for
	// writing the response of a request that used up --request-timeout.
	minWriteTime   = 15 * time.Second
	idleTimeout    = 2 * time.Minute
	maxHeaderBytes = 64 << 10
	// shutdownTimeout is how long a shutdown waits for requests in flight
	// before it closes their connections.
	shutdownTimeout = 15 * time.Second
)

// storeFlags are the flags that locate the database and the server key;
// serve and iat create share them.
type storeFlags struct {
	db      *database
	keyFile *string
	// sync is --sqlite-synchronous (serve only; nil for iat create, which
	// opens SQLite with its default).
	sync *string
}

func addStoreFlags(fs *flagSet) storeFlags {
	var sf storeFlags
	sf.db = newDB(fs)
	sf.keyFile = fs.String("secret-key-file", "",
		"`path` of the file holding the 32-byte server key that keys the stored\n"+
			"hashes of secrets and tokens (default: the SQLite database path + \".key\";\n"+
			"required with PostgreSQL, and the same file for every instance).\n"+
			"Created with mode 0600 if missing; back it up: without it no issued\n"+
			"secret or token works")
	return sf
}

// errNoKeyFile is the usage error of a PostgreSQL database without
// --secret-key-file.
var errNoKeyFile = errors.New("--db postgres://... needs --secret-key-file (or CLIENTREG_SECRET_KEY_FILE): " +
	"a PostgreSQL database has no file path to keep the server key beside, and every instance " +
	"and every \"clientreg iat create\" on the database must use the same key file")

// check reports, as a usage error, a database URL that cannot be parsed and
// a PostgreSQL database without a key file. Commands call it before they
// open anything.
func (sf storeFlags) check(fs *flagSet) error {
	hint := fmt.Sprintf("Run %q for usage.", strings.TrimSuffix(fs.usage, " [flags]")+" -help")
	if err := sf.db.check(); err != nil {
		return &usageError{err: fmt.Errorf("%s: %w", fs.Name(), err), hint: hint}
	}
	if sf.db.postgres() && *sf.keyFile == "" {
		return &usageError{err: fmt.Errorf("%s: %w", fs.Name(), errNoKeyFile), hint: hint}
	}
	return nil
}

// open loads (or creates) the server key and opens the database.
func (sf storeFlags) open(ctx context.Context, log *slog.Logger) ([]byte, store.Store, error) {
	keyPath := *sf.keyFile
	if keyPath == "" {
		if sf.db.postgres() {
			return nil, nil, errNoKeyFile // check reports it first
		}
		keyPath = sf.db.path + ".key"
	}
	key, created, err := loadOrCreateKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case created && sf.db.postgres():
		log.Warn("created a new server key; every instance on this database must use a copy of this file, "+
			"so copy it to them before they start, and back it up", "key_file", keyPath)
	case created:
		log.Info("created a new server key; back it up together with the database", "key_file", keyPath)
	}
	sync := ""
	if sf.sync != nil {
		sync = *sf.sync
	}
	st, err := openStore(ctx, *sf.db, sync)
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
	requestTimeout                    *time.Duration
	store                             storeFlags

	tokenEndpoints                     *bool
	accessTokenLifetime, secretOverlap *time.Duration
	introspectors, trustIssuers        *[]string
	redirectPreset                     *string
	rateLimits                         *bool
	trustedProxies                     *[]string
	requireStatement                   *bool
	configFile                         *string
}

func serveFlags() (*flagSet, *serveOptions) {
	fs := newFlagSet("serve", "clientreg serve [flags]",
		"Serves OAuth 2.0 Dynamic Client Registration (RFC 7591), client management\n"+
			"(RFC 7592) and the server metadata document (RFC 8414) over HTTP, with\n"+
			"GET /healthz (the process is up) and GET /readyz (the database answers)\n"+
			"for load balancers. Prints \"listening on ISSUER\" to stderr when ready;\n"+
			"SIGINT or SIGTERM shut it down gracefully. Several instances may share\n"+
			"a PostgreSQL database, with the same --secret-key-file and --issuer.")
	o := &serveOptions{}
	o.addr = fs.String("addr", "127.0.0.1:8080", "TCP `address` to listen on")
	o.issuer = newURL(fs, "issuer",
		"issuer `URL` (RFC 8414), e.g. https://auth.example.com; clients are told to\n"+
			"use ISSUER/register (default: http:// and the address actually listened on)")
	o.store = addStoreFlags(fs)
	o.store.sync = newChoice(fs, "sqlite-synchronous", "normal",
		"SQLite durability (`level`): normal (a commit survives a crash of the\n"+
			"process) or full (also a power loss: a sync to disk on every commit,\n"+
			"slower writes); ignored for PostgreSQL", "normal", "full")
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
	o.requestTimeout = newDuration(fs, "request-timeout", defaultRequestTimeout,
		"how long (`duration`) a request may wait for the database; past it the\n"+
			"request gets 503 temporarily_unavailable. Must be positive")
	o.tokenEndpoints = fs.Bool("token-endpoints", true,
		"serve a token endpoint (client_credentials), introspection (RFC 7662),\n"+
			"revocation (RFC 7009) and registration access token recovery")
	o.accessTokenLifetime = newDuration(fs, "access-token-lifetime", clientreg.DefaultAccessTokenLifetime,
		"lifetime (`duration`) of access tokens issued at the token endpoint")
	o.secretOverlap = newDuration(fs, "secret-overlap", clientreg.DefaultSecretOverlap,
		"how long (`duration`) a client's previous secret keeps working after it\n"+
			"rotates its secret (PUT ...?rotate_secret=true); 0 means not at all")
	o.introspectors = newList(fs, "introspector", nil,
		"comma-separated client `IDs` (resource servers) that may introspect every\n"+
			"token; other clients introspect only their own")
	o.trustIssuers = newAppendList(fs, "trust-issuer",
		"a software statement issuer to trust, as `ISSUER=PATH` (repeatable, or\n"+
			"comma-separated); PATH is a PEM public key or a JWK Set JSON file")
	o.redirectPreset = newChoice(fs, "redirect-preset", "mcp",
		"redirect URI rules (`preset`): mcp (https, loopback http, private-use\n"+
			"schemes), web (https and loopback http only) or native (RFC 8252:\n"+
			"loopback http, claimed https, reverse-domain private-use schemes)", "mcp", "web", "native")
	o.rateLimits = fs.Bool("rate-limits", true,
		"rate-limit registrations (120/min, burst 60, per address, initial access\n"+
			"token and software_id) and failed registration access token attempts\n"+
			"(60/min, burst 100, per client and address); 429 when exceeded")
	o.trustedProxies = newList(fs, "trusted-proxy", nil,
		"comma-separated proxy `CIDRs` whose X-Forwarded-For names the client\n"+
			"address for the rate limits (default: none; the header is ignored)")
	o.requireStatement = fs.Bool("require-software-statement", false,
		"refuse registrations without a software statement from a trusted issuer")
	o.configFile = fs.String("config", "",
		"YAML configuration `file` with registration policies and trusted\n"+
			"software statement issuers (see the README's \"Policy file\")")
	o.logFormat = newChoice(fs, "log-format", "text", "log `format`: text or json", "text", "json")
	return fs, o
}

// trustedIssuers reads the --trust-issuer ISSUER=PATH pairs.
func trustedIssuers(pairs []string) ([]clientreg.TrustedIssuer, error) {
	var out []clientreg.TrustedIssuer
	for _, p := range pairs {
		iss, path, ok := strings.Cut(p, "=")
		if !ok || iss == "" || path == "" {
			return nil, fmt.Errorf("--trust-issuer %q: want ISSUER=PATH", p)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--trust-issuer %s: %w", iss, err)
		}
		keys, err := clientreg.ParsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("--trust-issuer %s: %s: %w", iss, path, err)
		}
		out = append(out, clientreg.TrustedIssuer{Issuer: iss, Keys: keys})
	}
	return out, nil
}

// expiredTokenSweep is how often the server deletes expired access tokens
// and client assertion records.
const expiredTokenSweep = 10 * time.Minute

// sweepExpired deletes expired tokens every expiredTokenSweep until ctx
// ends.
func sweepExpired(ctx context.Context, st store.Store, log *slog.Logger) {
	t := time.NewTicker(expiredTokenSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := st.DeleteExpired(ctx, time.Now())
			if err != nil {
				log.Warn("deleting expired tokens failed", "err", err)
				continue
			}
			if n > 0 {
				log.Info("deleted expired tokens", "count", n)
			}
		}
	}
}

// serve runs clientreg serve until ctx is cancelled.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := serveFlags()
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	if err := o.store.check(fs); err != nil {
		return err
	}
	if *o.requestTimeout <= 0 {
		return &usageError{err: errors.New("serve: invalid value for --request-timeout: must be positive"), hint: `Run "clientreg serve -help" for usage.`}
	}
	// The log is buffered (see logBuffer); whatever way serve returns,
	// what is buffered is written out.
	log, logBuf := bufferedLogger(*o.logFormat, stderr)
	defer logBuf.Flush()

	// The configuration file is read first: a mistake in it must not
	// leave a new database or key file behind.
	fileCfg, err := loadConfig(*o.configFile)
	if err != nil {
		return &usageError{err: fmt.Errorf("serve: %w", err), hint: `Run "clientreg serve -help" for usage.`}
	}
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

	trusted, err := trustedIssuers(*o.trustIssuers)
	if err != nil {
		return &usageError{err: fmt.Errorf("serve: %w", err), hint: `Run "clientreg serve -help" for usage.`}
	}
	trusted = append(trusted, fileCfg.issuers...)
	var mayIntrospect clientreg.IntrospectionPolicy
	if ids := *o.introspectors; len(ids) > 0 {
		mayIntrospect = func(caller *clientreg.Client, tok *store.AccessToken) bool {
			return caller.ID == tok.ClientID || slices.Contains(ids, caller.ID)
		}
	}
	var proxies []netip.Prefix
	for _, p := range *o.trustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return &usageError{err: fmt.Errorf("serve: invalid value %q for --trusted-proxy: want a CIDR or an address", p), hint: `Run "clientreg serve -help" for usage.`}
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		proxies = append(proxies, pfx)
	}
	overlap := *o.secretOverlap
	if overlap == 0 {
		overlap = -1 // Config.SecretOverlap: negative means none, zero the default
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
		DefaultScopes:            *o.defaultScopes,
		RequireInitialToken:      *o.registration == "token",
		TokenRotation:            rotation,
		TokenGrace:               grace,
		SecretLifetime:           *o.secretLifetime,
		ServeTokenEndpoints:      *o.tokenEndpoints,
		AccessTokenLifetime:      *o.accessTokenLifetime,
		SecretOverlap:            overlap,
		MayIntrospect:            mayIntrospect,
		TrustedIssuers:           trusted,
		RequireSoftwareStatement: *o.requireStatement,
		Policies:                 fileCfg.policies,
		DefaultPolicy:            fileCfg.defaultPolicy,
		RedirectPreset:           clientreg.RedirectPreset(*o.redirectPreset),
		Limits:                   clientreg.Limits{Disabled: !*o.rateLimits, TrustedProxies: proxies},
		Logger:                   log,
	})
	if err != nil {
		// Every error of New comes from a flag value.
		return &usageError{err: fmt.Errorf("serve: %w", err), hint: `Run "clientreg serve -help" for usage.`}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+healthzPath, healthz)
	mux.Handle("GET "+readyzPath, readyz(st, log))
	mux.Handle("/", h)
	srv := &http.Server{
		Handler:           accessLog(log, withDeadline(*o.requestTimeout, log, mux)),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      max(writeTimeout, *o.requestTimeout+minWriteTime),
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go sweepExpired(ctx, st, log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	_ = logBuf.Flush() // the lines before it come before it
	fmt.Fprintf(stderr, "listening on %s\n", issuer)
	log.Info("serving", "addr", ln.Addr().String(), "issuer", issuer, "registration", *o.registration, "db", o.store.db.describe())

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
// secret ever reaches the log. Successful health checks, which load
// balancers send every few seconds, are not logged.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if rec.status == http.StatusOK && (r.URL.Path == healthzPath || r.URL.Path == readyzPath) {
			return
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
