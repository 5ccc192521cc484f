package cli

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/statusrec"
	"github.com/clientreg/clientreg/store"
)

// Limits of the HTTP server. Registration requests are small (the handler
// caps bodies at clientreg.DefaultMaxBodyBytes), so the timeouts are short.
// The timeouts are the defaults of the flags of the same names.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 30 * time.Second
	defaultWriteTimeout      = 30 * time.Second
	// minWriteTime is how long, at least, the default write timeout leaves
	// for writing the response of a request that used up --request-timeout.
	minWriteTime       = 15 * time.Second
	defaultIdleTimeout = 2 * time.Minute
	maxHeaderBytes     = 64 << 10
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

// keyPath returns the path of the key file: --secret-key-file, or the
// SQLite database path + ".key".
func (sf storeFlags) keyPath() (string, error) {
	if *sf.keyFile != "" {
		return *sf.keyFile, nil
	}
	if sf.db.postgres() {
		return "", errNoKeyFile // check reports it first
	}
	return sf.db.path + ".key", nil
}

// open loads (or creates) the server key and opens the database.
func (sf storeFlags) open(ctx context.Context, log *slog.Logger) ([]byte, store.Store, error) {
	keyPath, err := sf.keyPath()
	if err != nil {
		return nil, nil, err
	}
	key, created, err := LoadOrCreateKey(keyPath)
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
	metricsAddr, auditLog             *string
	registration, rotation, logFormat *string
	scopes, defaultScopes, grantTypes *[]string
	ratGrace, secretLifetime          *time.Duration
	requestTimeout                    *time.Duration
	store                             storeFlags

	tokenEndpoints                     *bool
	accessTokenLifetime, secretOverlap *time.Duration
	accessTokenFormat                  *string
	// Idempotent registration and the lifecycle of registered clients
	// (docs/behaviour.md §11).
	idempotencyTTL, clientIdleTTL, clientUnusedTTL *time.Duration
	expireTokenClients                             *bool
	introspectors, trustIssuers                    *[]string
	redirectPreset                                 *string
	rateLimits                                     *bool
	trustedProxies                                 *[]string
	requireStatement                               *bool
	anonymousPublicOnly                            *bool
	configFile                                     *string

	// Client ID Metadata Documents (docs/behaviour.md §10); cimdGiven
	// reports that --cimd was set (on the command line or in the
	// environment).
	cimd, fetchAllowLoopback *bool
	cimdGiven                bool
	cimdAllow, cimdDeny      *[]string

	// Sign-in and consent at the authorization endpoint.
	login, loginHeader *string
	consentTTL         *time.Duration
	// --login dev and oidc: sessions.
	sessionIdle, sessionLifetime *time.Duration
	// --login oidc.
	upstreamIssuer, upstreamClientID, upstreamSecretFile *string
	upstreamScopes, upstreamSubject                      *string
	upstreamTimeout                                      *time.Duration
	allowEmailDomains, allowSubjects                     *[]string

	// The timeouts of the HTTP server (see http.Server).
	readHeaderTimeout, readTimeout *time.Duration
	writeTimeout, idleTimeout      *time.Duration
}

func serveFlags() (*flagSet, *serveOptions) {
	fs := newFlagSet("serve", "clientreg serve [flags]",
		"Serves OAuth 2.0 Dynamic Client Registration (RFC 7591), client management\n"+
			"(RFC 7592) and the server metadata document (RFC 8414) over HTTP, with\n"+
			"GET /healthz (the process is up) and GET /readyz (the database answers)\n"+
			"for load balancers. Prints \"listening on URL\" to stderr when ready (URL:\n"+
			"http:// and the address bound, then \"(issuer ISSUER)\" if --issuer\n"+
			"differs); SIGINT or SIGTERM shut it down gracefully. Several instances\n"+
			"may share a PostgreSQL database, with the same --secret-key-file and\n"+
			"--issuer. Flags, environment and --config are checked before anything is\n"+
			"opened or bound.")
	o := &serveOptions{}
	o.addr = fs.String("addr", "127.0.0.1:8080", "TCP `address` to listen on")
	o.metricsAddr = fs.String("metrics-addr", "",
		"TCP `address` to serve Prometheus metrics on, at /metrics, on a listener of\n"+
			"its own (never the public port); default off")
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
	o.grantTypes = newList(fs, "grant-types", nil,
		"comma-separated grant `types` clients may register (default: the grants\n"+
			"this server serves; with --token-endpoints=false, "+strings.Join(clientreg.DefaultGrantTypes(), ",")+")")
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
	o.accessTokenFormat = newChoice(fs, "access-token-format", "opaque",
		"`format` of access tokens: opaque (random, checked through the store) or\n"+
			"jwt (RFC 9068, RS256, verifiable offline with the keys at /jwks.json,\n"+
			"which rotate daily and are kept, encrypted, in the database)", "opaque", "jwt")
	o.secretOverlap = newDuration(fs, "secret-overlap", clientreg.DefaultSecretOverlap,
		"how long (`duration`) a client's previous secret keeps working after it\n"+
			"rotates its secret (PUT ...?rotate_secret=true); 0 means not at all")
	o.idempotencyTTL = newDuration(fs, "idempotency-ttl", clientreg.DefaultIdempotencyKeyLifetime,
		"how long (`duration`) the response to a registration with an\n"+
			"Idempotency-Key is replayed to a retry with the same key and request;\n"+
			"0 ignores the header")
	o.clientIdleTTL = newDuration(fs, "client-idle-ttl", clientreg.DefaultClientIdleTTL,
		"how long (`duration`) a dynamically registered client is kept after its\n"+
			"last use (a token issued, an authorization completed); 0 means forever")
	o.clientUnusedTTL = newDuration(fs, "client-unused-ttl", clientreg.DefaultClientUnusedTTL,
		"how long (`duration`) a dynamically registered client that was never used\n"+
			"is kept after its registration; 0 means forever")
	o.expireTokenClients = fs.Bool("expire-token-clients", false,
		"let --client-idle-ttl and --client-unused-ttl remove clients registered\n"+
			"with an initial access token too (by default only anonymous ones)")
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
	o.anonymousPublicOnly = fs.Bool("anonymous-public-only", false,
		"restrict registrations without an initial access token to public clients\n"+
			"(token_endpoint_auth_method none); not with the file's default_policy")
	o.requireStatement = fs.Bool("require-software-statement", false,
		"refuse registrations without a software statement from a trusted issuer")
	o.configFile = fs.String("config", "",
		"YAML configuration `file` with registration policies and trusted\n"+
			"software statement issuers (see the README's \"Registration policies: the\n"+
			"policy file\"); its trusted_issuers and --trust-issuer are exclusive")
	o.login = newChoice(fs, "login", "",
		"how users sign in at the authorization endpoint (`method`): none (no\n"+
			"authorization endpoint is served or advertised), header (the user is\n"+
			"named by --login-header, set by a sign-in proxy at a --trusted-proxy\n"+
			"address), dev (a page asks for a user name, no password: for\n"+
			"development, loopback --addr only) or oidc (at an upstream OpenID\n"+
			"provider, see --upstream-issuer) (default: dev when --addr is a loopback\n"+
			"address, --issuer unset or loopback and --token-endpoints on; none\n"+
			"otherwise)", "none", "header", "dev", "oidc")
	o.loginHeader = fs.String("login-header", "X-Forwarded-User",
		"with --login header: the request `header` naming the signed-in user; it\n"+
			"counts only on requests from a --trusted-proxy address")
	o.consentTTL = newDuration(fs, "consent-ttl", defaultConsentTTL,
		"how long (`duration`) a user's approval of a client, for the same scopes\n"+
			"and resources, is remembered; 0 asks every time")
	o.sessionIdle = newDuration(fs, "session-idle", defaultSessionIdle,
		"with --login dev or oidc: a signed-in user's session ends after this\n"+
			"`duration` without use. Must be positive")
	o.sessionLifetime = newDuration(fs, "session-lifetime", defaultSessionLifetime,
		"with --login dev or oidc: a session ends this `duration` after sign-in,\n"+
			"used or not. Must be positive")
	o.upstreamIssuer = newURL(fs, "upstream-issuer",
		"with --login oidc: the upstream OpenID provider's issuer `URL` (https; http\n"+
			"only on a loopback host); register ISSUER"+oidcCallbackPath+" there as\n"+
			"the redirect URI")
	o.upstreamClientID = fs.String("upstream-client-id", "",
		"with --login oidc: the client `id` this server has at the upstream provider")
	o.upstreamSecretFile = fs.String("upstream-client-secret-file", "",
		"with --login oidc: `path` of a file holding the client secret at the\n"+
			"upstream provider (or set CLIENTREG_UPSTREAM_CLIENT_SECRET; none for a\n"+
			"public client)")
	o.upstreamScopes = fs.String("upstream-scopes", defaultUpstreamScopes,
		"with --login oidc: space-separated `scopes` to ask the upstream for")
	o.upstreamSubject = newChoice(fs, "upstream-subject", "sub",
		"with --login oidc: what names a user (`claim`): sub (ISSUER|SUB) or email\n"+
			"(ISSUER|email:ADDRESS, verified addresses only)", "sub", "email")
	o.upstreamTimeout = newDuration(fs, "upstream-timeout", defaultUpstreamTimeout,
		"with --login oidc: how long (`duration`) a request to the upstream may\n"+
			"take. Must be positive")
	o.allowEmailDomains = newAppendList(fs, "allow-email-domain",
		"with --login oidc: a `domain` whose users (by verified email address) may\n"+
			"sign in (repeatable); with none of these and no --allow-subject, every\n"+
			"user of the upstream may")
	o.allowSubjects = newAppendList(fs, "allow-subject",
		"with --login oidc: a user who may sign in, as `ISSUER|SUB` or the upstream\n"+
			"SUB (repeatable)")
	o.cimd = fs.Bool("cimd", true,
		"accept Client ID Metadata Documents at the authorization and token\n"+
			"endpoints (with --login): a client_id that is an https URL names the\n"+
			"JSON document describing the client, fetched instead of a registration.\n"+
			"With --registration token it is off unless set explicitly")
	o.cimdAllow = newAppendList(fs, "cimd-allow-domain",
		"accept documents only from this `host` (repeatable, or comma-separated;\n"+
			"*.example.com for its subdomains); default: any host")
	o.cimdDeny = newAppendList(fs, "cimd-deny-domain",
		"refuse documents from this `host` (repeatable, or comma-separated;\n"+
			"*.example.com for its subdomains)")
	o.fetchAllowLoopback = fs.Bool("fetch-allow-loopback", false,
		"let the fetcher of documents and keys reach loopback addresses (for\n"+
			"development and tests only; refused with a non-loopback --addr)")
	o.logFormat = newChoice(fs, "log-format", "text", "log `format`: text or json", "text", "json")
	o.auditLog = fs.String("audit-log", "",
		"append the audit events (every registration, update, deletion, rotation,\n"+
			"revocation, consent and purge) to this `file` as JSON lines, created with\n"+
			"mode 0600; default: log them on stderr, message \"audit\"")
	o.readHeaderTimeout = newDuration(fs, "read-header-timeout", defaultReadHeaderTimeout,
		"how long (`duration`) a client may take to send a request's headers;\n"+
			"slower connections are closed. Must be positive")
	o.readTimeout = newDuration(fs, "read-timeout", defaultReadTimeout,
		"how long (`duration`) a client may take to send a whole request, headers\n"+
			"and body. Must be positive")
	o.writeTimeout = newDuration(fs, "write-timeout", defaultWriteTimeout,
		"how long (`duration`) a request may take from the end of its headers to\n"+
			"the end of its response. Must be longer than --request-timeout; when not\n"+
			"set, it is at least --request-timeout + 15s")
	o.idleTimeout = newDuration(fs, "idle-timeout", defaultIdleTimeout,
		"how long (`duration`) an idle keep-alive connection stays open. Must be\n"+
			"positive")
	return fs, o
}

// defaultConsentTTL is how long an approval is remembered by default.
const defaultConsentTTL = 30 * 24 * time.Hour

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

// maxPurgeBatches bounds how many batches of expired clients one sweep
// removes, so that a backlog is worked off over several sweeps without
// holding the database for long.
const maxPurgeBatches = 10

// purgeExpiredClients removes the clients that have expired (see
// clientreg.Handler.PurgeClients), in bounded batches, and returns how
// many. Several instances may sweep at once: each client goes once.
func purgeExpiredClients(ctx context.Context, h *clientreg.Handler) (int, error) {
	total := 0
	for range maxPurgeBatches {
		gone, err := h.PurgeClients(ctx, clientreg.PurgeOptions{})
		total += len(gone)
		if err != nil || len(gone) < clientreg.DefaultPurgeBatch {
			return total, err
		}
	}
	return total, nil
}

// sweepExpired deletes expired tokens and expired clients every
// expiredTokenSweep until ctx ends.
func sweepExpired(ctx context.Context, st store.Store, h *clientreg.Handler, log *slog.Logger, m *serverMetrics) {
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
			purged, err := purgeExpiredClients(ctx, h)
			m.swept(n, purged)
			if err != nil {
				log.Warn("purging expired clients failed", "err", err)
			} else if purged > 0 {
				log.Info("purged expired clients", "count", purged)
			}
		}
	}
}

// serveHint is the hint of serve's usage errors.
const serveHint = `Run "clientreg serve -help" for usage.`

// serveUsageError returns a usage error of serve.
func serveUsageError(format string, args ...any) error {
	return &usageError{err: fmt.Errorf("serve: "+format, args...), hint: serveHint}
}

// serve runs clientreg serve until ctx is cancelled.
//
// It checks everything it can before it touches anything: flags,
// environment, the configuration file and the clientreg.Config built from
// them come first; only then are the key file and the database opened, and
// the address is bound last, so that a mistake is reported as itself, with
// no new file left behind and not hidden behind "address already in use".
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := serveFlags()
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	if err := o.store.check(fs); err != nil {
		return err
	}
	timeouts, err := o.httpTimeouts(fs)
	if err != nil {
		return err
	}
	// The log is buffered (see logBuffer); whatever way serve returns,
	// what is buffered is written out.
	log, logBuf := bufferedLogger(*o.logFormat, stderr)
	defer logBuf.Flush()

	fs.Visit(func(f *flag.Flag) { o.cimdGiven = o.cimdGiven || f.Name == "cimd" })
	if *o.fetchAllowLoopback && !loopbackAddr(*o.addr) {
		return serveUsageError("--fetch-allow-loopback is for development on one machine: --addr %s is not a loopback address", *o.addr)
	}
	cfg, src, err := o.config(log)
	if err != nil {
		return err
	}
	login, err := o.loginConfig(cfg, log, getenv)
	if err != nil {
		return err
	}
	if login != nil {
		cfg.Authorizer = login
	}
	// The issuer needs the port actually bound when --addr asks for any
	// (port 0); until then it has the address's port, and New runs again
	// with the real one after binding.
	issuer, final := *o.issuer, true
	if issuer == "" {
		issuer, final = addrIssuer(*o.addr)
	}
	cfg.Issuer = issuer
	// Validate checks what New will, but the store and the key: every
	// error here comes from a flag or the configuration file, and nothing
	// has been created yet.
	if err := cfg.Validate(); err != nil {
		return &usageError{err: fmt.Errorf("serve: %w", src.explain(err)), hint: serveHint}
	}

	key, st, err := o.store.open(ctx, log)
	if err != nil {
		return err
	}
	cfg.Store, cfg.SecretKey = st, key
	if login != nil {
		login.csrfKey = deriveKey(key, "clientreg consent form")
		if login.sessions != nil {
			login.sessions.st, login.sessions.key = st, deriveKey(key, "clientreg session id")
		}
		if login.oidc != nil {
			login.oidc.aead = newLoginStateAEAD(deriveKey(key, "clientreg oidc login state"))
		}
	}
	// The metrics registry takes one Handler's collectors: the final one.
	var metrics *serverMetrics
	if *o.metricsAddr != "" {
		metrics = newServerMetrics()
		if final {
			cfg.Metrics = metrics.reg
		}
	}
	audit, closeAudit, err := openAuditSink(*o.auditLog, log)
	if err != nil {
		st.Close()
		return fmt.Errorf("serve: %w", err)
	}
	cfg.Audit = audit
	h, err := clientreg.New(cfg)
	if err != nil {
		st.Close()
		closeAudit()
		return fmt.Errorf("serve: %w", src.explain(err))
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the database failed", "err", err)
		}
		if err := closeAudit(); err != nil {
			log.Error("closing the audit log failed", "err", err)
		}
	}()
	warnUnknownIntrospectors(ctx, st, *o.introspectors, log)

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close() // after Shutdown this is a no-op
	listenURL, wildcard := deriveIssuer(*o.addr, ln.Addr())
	if !final {
		cfg.Issuer = listenURL
		if metrics != nil {
			cfg.Metrics = metrics.reg
		}
		if h, err = clientreg.New(cfg); err != nil {
			return fmt.Errorf("serve: %w", src.explain(err))
		}
	}
	if *o.issuer == "" && wildcard {
		log.Warn("listening on all interfaces with an issuer for this machine only; set --issuer to the URL clients use", "issuer", cfg.Issuer)
	}
	if login != nil {
		login.h = h
		if login.issuer, err = url.Parse(cfg.Issuer); err != nil {
			return fmt.Errorf("serve: %w", err) // Validate parsed it already
		}
		login.logStart(cfg.Issuer, *o.trustedProxies)
	} else {
		log.Info("no --login: the authorization endpoint is not served or advertised, so clients get tokens with client_credentials only")
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+healthzPath, healthz)
	mux.Handle("GET "+readyzPath, readyz(st, log))
	if login != nil {
		login.routes(mux)
	}
	mux.Handle("/", h)
	srv := &http.Server{
		// Every request gets its ID (X-Request-Id) first, so that the
		// access log, the handler's audit events and the sign-in pages
		// share it.
		Handler:           accessLog(log, h.RequestIDHandler(withDeadline(*o.requestTimeout, log, mux))),
		ReadHeaderTimeout: timeouts.readHeader,
		ReadTimeout:       timeouts.read,
		WriteTimeout:      timeouts.write,
		IdleTimeout:       timeouts.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Printed with the ready line, before it: tests and scripts read the
	// address bound from it.
	metricsLine := ""
	if metrics != nil {
		mln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *o.metricsAddr)
		if err != nil {
			return fmt.Errorf("listen on --metrics-addr: %w", err)
		}
		mctx, stopMetrics := context.WithCancel(ctx)
		defer stopMetrics()
		go serveMetrics(mctx, metricsServer(metrics, log), mln, log)
		metricsLine = "metrics on http://" + mln.Addr().String() + "/metrics"
	}
	go sweepExpired(ctx, st, h, log, metrics)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	_ = logBuf.Flush() // the lines before it come before it
	if metricsLine != "" {
		fmt.Fprintln(stderr, metricsLine)
	}
	fmt.Fprintln(stderr, readyLine(listenURL, cfg.Issuer))
	log.Info("serving", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "registration", *o.registration, "db", o.store.db.describe())

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

// readyLine is the line serve prints when it is ready: "listening on" and
// the URL of the address bound, then the issuer when it differs. Scripts
// and tests take the first word after "listening on" as the URL to send
// requests to.
func readyLine(listenURL, issuer string) string {
	if issuer == listenURL {
		return "listening on " + listenURL
	}
	return fmt.Sprintf("listening on %s (issuer %s)", listenURL, issuer)
}

// addrIssuer returns the issuer derived from --addr before it is bound (see
// deriveIssuer); final is false when the port is only known once bound.
func addrIssuer(addr string) (issuer string, final bool) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://127.0.0.1", false // Listen reports the address
	}
	n, err := strconv.Atoi(port)
	if err != nil || n == 0 {
		// Port 0, or a service name that Listen resolves.
		return deriveIssuerPort(addr, "0"), false
	}
	return deriveIssuerPort(addr, port), true
}

// httpTimeouts are the timeouts of the HTTP server.
type httpTimeouts struct{ readHeader, read, write, idle time.Duration }

// httpTimeouts checks the timeout flags and returns the server's timeouts.
func (o *serveOptions) httpTimeouts(fs *flagSet) (httpTimeouts, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"request-timeout", *o.requestTimeout},
		{"read-header-timeout", *o.readHeaderTimeout},
		{"read-timeout", *o.readTimeout},
		{"write-timeout", *o.writeTimeout},
		{"idle-timeout", *o.idleTimeout},
	} {
		if d.v <= 0 {
			return httpTimeouts{}, serveUsageError("invalid value for --%s: must be positive", d.name)
		}
	}
	t := httpTimeouts{readHeader: *o.readHeaderTimeout, read: *o.readTimeout, write: *o.writeTimeout, idle: *o.idleTimeout}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "write-timeout" })
	switch {
	case !given:
		t.write = max(t.write, *o.requestTimeout+minWriteTime)
	case t.write <= *o.requestTimeout:
		return httpTimeouts{}, serveUsageError("--write-timeout %v must be longer than --request-timeout %v, or the answer to a request that waits for the database that long cannot be written", t.write, *o.requestTimeout)
	}
	return t, nil
}

// warnUnknownIntrospectors logs a warning for each --introspector that
// names no registered client: a typo there is otherwise silent.
func warnUnknownIntrospectors(ctx context.Context, st store.Store, ids []string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, defaultRequestTimeout)
	defer cancel()
	for _, id := range ids {
		_, err := st.GetClient(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			log.Warn("--introspector names a client that is not registered; it can introspect nothing until a client with this id exists", "client_id", id)
		case err != nil:
			log.Warn("could not check the --introspector client", "client_id", id, "err", err)
		}
	}
}

// deriveIssuer returns http:// and the address the server listens on: the
// host given in --addr (so "localhost:8080" stays localhost) with the port
// actually bound (so port 0 gets the real one). A wildcard host (empty,
// 0.0.0.0, ::) becomes localhost and wildcard is true.
func deriveIssuer(addr string, bound net.Addr) (issuer string, wildcard bool) {
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "http://" + bound.String(), false
	}
	return deriveIssuerPort(addr, port), isWildcard(addr)
}

// deriveIssuerPort returns http:// and the host of addr (localhost for a
// wildcard host) with port.
func deriveIssuerPort(addr, port string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = ""
	}
	if isWildcard(addr) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// isWildcard reports whether addr's host is empty, 0.0.0.0 or ::.
func isWildcard(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = ""
	}
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// newLogger returns a logger writing text or JSON records to w.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// accessLog logs one line per request: method, path, status, duration and
// the request's ID (the X-Request-Id that the handler answered, the one
// its audit events record). It logs nothing else of the request, so no
// Authorization header, token or secret ever reaches the log. Successful
// health checks, which load balancers send every few seconds, are not
// logged.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := statusrec.New(w)
		next.ServeHTTP(rec, r)
		if rec.Status() == http.StatusOK && (r.URL.Path == healthzPath || r.URL.Path == readyzPath) {
			return
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.Status()),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", rec.Header().Get(clientreg.RequestIDHeader)))
	})
}

// loginConfig builds the sign-in of --login, or returns nil for none.
// Without --login it is dev when the server listens on a loopback address
// (and --issuer, if set, is loopback too), and none otherwise.
func (o *serveOptions) loginConfig(cfg clientreg.Config, log *slog.Logger, getenv func(string) string) (*login, error) {
	kind := *o.login
	local := loopbackAddr(*o.addr) && (*o.issuer == "" || loopbackURL(*o.issuer))
	if kind == "" {
		// The default: dev on loopback, where codes are redeemed at the
		// token endpoint (so not with --token-endpoints=false).
		kind = "none"
		if local && *o.tokenEndpoints {
			kind = "dev"
		}
	}
	if kind == "none" {
		return nil, nil
	}
	pages, err := newPageSet(log)
	if err != nil {
		return nil, err
	}
	pages.dev = kind == "dev"
	l := &login{kind: kind, consentTTL: *o.consentTTL, pages: pages, log: log}
	if kind == "dev" || kind == "oidc" {
		if *o.sessionIdle <= 0 || *o.sessionLifetime <= 0 {
			return nil, serveUsageError("--session-idle and --session-lifetime must be positive")
		}
		l.sessions = &sessions{idle: *o.sessionIdle, lifetime: *o.sessionLifetime, now: time.Now,
			secure: strings.HasPrefix(*o.issuer, "https://")}
	}
	switch kind {
	case "header":
		if len(cfg.Limits.TrustedProxies) == 0 {
			return nil, serveUsageError("--login header needs --trusted-proxy: the addresses of the sign-in proxy, the only senders whose %s header is believed", *o.loginHeader)
		}
		if *o.loginHeader == "" || strings.ContainsAny(*o.loginHeader, " :\t\r\n") {
			return nil, serveUsageError("--login-header %q is not a header name", *o.loginHeader)
		}
		l.header, l.proxies = http.CanonicalHeaderKey(*o.loginHeader), cfg.Limits.TrustedProxies
	case "dev":
		if !local {
			return nil, serveUsageError("--login dev signs anyone in under any name, without a password: it is for development on this machine, and --addr %s (or --issuer %s) is not a loopback address; use --login oidc or header", *o.addr, *o.issuer)
		}
	case "oidc":
		oc, err := o.oidcConfig(getenv)
		if err != nil {
			return nil, err
		}
		oc.l, oc.secure = l, l.sessions.secure
		l.oidc = oc
	}
	return l, nil
}

// oidcConfig checks the flags of --login oidc.
func (o *serveOptions) oidcConfig(getenv func(string) string) (*oidcLogin, error) {
	iss := *o.upstreamIssuer
	if iss == "" || *o.upstreamClientID == "" {
		return nil, serveUsageError("--login oidc needs --upstream-issuer and --upstream-client-id: the OpenID provider users sign in at, and this server's client id there")
	}
	if strings.HasPrefix(iss, "http://") && !loopbackURL(iss) {
		return nil, serveUsageError("--upstream-issuer %s: an http issuer is accepted only on a loopback host (development and tests); use https", iss)
	}
	if *o.upstreamTimeout <= 0 {
		return nil, serveUsageError("--upstream-timeout must be positive")
	}
	secret := getenv(EnvPrefix + "UPSTREAM_CLIENT_SECRET")
	if *o.upstreamSecretFile != "" {
		data, err := os.ReadFile(*o.upstreamSecretFile)
		if err != nil {
			return nil, serveUsageError("--upstream-client-secret-file: %v", err)
		}
		secret = strings.TrimSpace(string(data))
		if secret == "" {
			return nil, serveUsageError("--upstream-client-secret-file %s is empty", *o.upstreamSecretFile)
		}
	}
	scopes := strings.Fields(*o.upstreamScopes)
	if !slices.Contains(scopes, "openid") {
		return nil, serveUsageError("--upstream-scopes %q lacks openid, without which the provider sends no ID token", *o.upstreamScopes)
	}
	oc := &oidcLogin{
		upstream: iss, clientID: *o.upstreamClientID, clientSecret: secret,
		scopes: scopes, subjectEmail: *o.upstreamSubject == "email",
		client: &http.Client{Timeout: *o.upstreamTimeout},
	}
	for _, d := range *o.allowEmailDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d == "" || strings.ContainsAny(d, "@ /") {
			return nil, serveUsageError("--allow-email-domain %q is not a domain", d)
		}
		oc.allowDomains = append(oc.allowDomains, d)
	}
	for _, s := range *o.allowSubjects {
		if s = strings.TrimSpace(s); s != "" {
			oc.allowSubjects = append(oc.allowSubjects, s)
		}
	}
	return oc, nil
}

// loopbackAddr reports whether the host of the listen address addr is a
// loopback address or localhost.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

// loopbackURL reports whether u's host is a loopback address or localhost.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && loopbackHost(p.Hostname())
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// routes adds the pages and forms of the sign-in to mux.
func (l *login) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+consentPath, l.serveConsent)
	mux.Handle(consentPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		l.pages.renderError(w, r, http.StatusMethodNotAllowed, "Nothing to see here", "This address only takes the consent page's answer.", "")
	}))
	if l.sessions == nil {
		return
	}
	mux.HandleFunc("GET "+continuePath, l.serveContinue)
	mux.HandleFunc("GET "+logoutPath, l.serveLogout)
	mux.HandleFunc("POST "+logoutPath, l.serveLogout)
	switch l.kind {
	case "dev":
		mux.HandleFunc("GET "+devLoginPath, l.serveDevLogin)
		mux.HandleFunc("POST "+devLoginPath, l.serveDevLogin)
	case "oidc":
		mux.HandleFunc("GET "+oidcCallbackPath, l.oidc.callback)
	}
}

// logStart logs how users sign in, once the issuer is known; for oidc it
// also sets the redirect URI and tries the upstream's discovery once, so a
// mistake shows at start (a failure is only a warning: the server retries
// at the first sign-in).
func (l *login) logStart(issuer string, trustedProxies []string) {
	switch l.kind {
	case "header":
		l.log.Info("users sign in through a proxy at the authorization endpoint", "endpoint", issuer+"/authorize",
			"header", l.header, "trusted_proxies", strings.Join(trustedProxies, ","))
	case "dev":
		l.log.Warn("--login dev: anyone who can reach this server signs in under any user name, without a password; for development only",
			"endpoint", issuer+"/authorize")
	case "oidc":
		o := l.oidc
		o.redirectURI = issuer + oidcCallbackPath
		l.log.Info("users sign in at the upstream OpenID provider; register this redirect URI there",
			"upstream", o.upstream, "client_id", o.clientID, "redirect_uri", o.redirectURI)
		if len(o.allowDomains) == 0 && len(o.allowSubjects) == 0 {
			l.log.Warn("no --allow-email-domain or --allow-subject: every user of the upstream provider may sign in", "upstream", o.upstream)
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.client.Timeout)
		defer cancel()
		if _, _, err := o.discover(ctx); err != nil {
			l.log.Warn("the upstream provider's discovery failed; sign-ins fail until it answers", "upstream", o.upstream, "err", err)
		}
	}
}

// deriveKey derives a key for one purpose from the server key.
func deriveKey(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
