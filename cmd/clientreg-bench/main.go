// Command clientreg-bench measures an OAuth 2.0 server: the registration
// endpoint of RFC 7591 and the client configuration endpoint of RFC 7592,
// and the token, introspection and authorization endpoints, of clientreg
// or of any other server.
//
// Usage:
//
//	clientreg-bench -base http://127.0.0.1:8080 [flags]
//
// It finds the endpoints in <base>/.well-known/oauth-authorization-server
// (or <base>/.well-known/openid-configuration), then measures the phases
// of -phases in order, each with -c concurrent clients for at most -n
// requests or -d, whichever ends first. By default the four registration
// phases:
//
//	register  POST the registration request (-body FILE, or a built-in one)
//	read      GET each registered client with its registration access token
//	update    PUT the registration request + client_id, client_name changed
//	delete    DELETE each registered client
//
// and, when named in -phases, the token phases, whose clients (-token-clients
// of each kind) are registered with RFC 7591 before the first of them:
//
//	token       client_credentials grants (RFC 6749 §4.4) of confidential clients,
//	            client_secret_basic (or client_secret_post, -token-auth)
//	introspect  RFC 7662 introspection of the token phase's tokens, as their
//	            own clients (or -introspector ID:SECRET)
//	code        authorization code flows with PKCE S256 of a public client with
//	            the loopback redirect URI -redirect-uri (never connected to): the
//	            authorization endpoint, the server's sign-in and consent forms,
//	            which the tool fills (-user, -password) and submits, or a
//	            trusted header (-login-header, e.g. for clientreg serve --login
//	            header), up to the redirect with the code; then the exchange.
//	            The table has the exchanges; a line after it the whole flows
//	refresh     refresh_token grants, each worker's grant from one code flow
//	            before the phase, the newest (rotated) refresh token each time
//
// -scope and -resource (RFC 8707) add a scope and resource indicators to the
// requests of the code flow (authorization, exchange and refresh; the
// public client registers the scope).
//
// Every registration access token (and client secret) that a response
// returns replaces the one held for that client, as RFC 7592 requires, so
// servers that rotate tokens on update are measured correctly.
//
// The report gives, per phase, the requests, errors (any status other than
// the one the RFC names, a response without the expected members, or a
// transport error), successful requests per second and the p50, p90, p99
// and maximum latency of the successful requests, as text or, with -json,
// as JSON.
//
// Several instances of one server that share a database and an issuer are
// measured together by giving -base once for each: the endpoints are
// discovered from the first, and request i of a phase goes to base i mod
// (number of bases), whatever URL the server handed out (scheme and
// host:port replaced).
//
// -clients-out FILE writes the clients still registered at the end (with
// their latest registration access tokens) as JSON lines; -clients-in FILE
// makes read, update and delete work on such clients too, so that a large
// population registered once can be measured in later runs:
//
//	clientreg-bench -base URL -phases register -n 100000 -clients-out pop.jsonl
//	clientreg-bench -base URL -phases read,update -clients-in sample.jsonl
//
// Only loopback servers (127.0.0.0/8, ::1, localhost) are measured unless
// -allow-remote is given: a load test must never reach a server by
// accident.
//
// Exit status: 0 when every request succeeded, 1 when some failed or the
// run could not start, 2 for invalid flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/clientreg/clientreg/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed command line.
type options struct {
	cfg        bench.Config
	jsonOut    bool
	outFile    string
	quiet      bool
	bodyFile   string
	clientsIn  string
	clientsOut string
}

// listFlag is a repeatable flag.
type listFlag struct{ vals *[]string }

func (l listFlag) String() string {
	if l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, " ")
}

func (l listFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*l.vals = append(*l.vals, s)
	return nil
}

// baseList is the repeatable -base flag.
type baseList struct{ bases *[]string }

func (b baseList) String() string {
	if b.bases == nil {
		return ""
	}
	return strings.Join(*b.bases, " ")
}

func (b baseList) Set(s string) error {
	if s == "" {
		return errors.New("empty URL")
	}
	*b.bases = append(*b.bases, s)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("clientreg-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: clientreg-bench -base URL [flags]\n\n"+
			"Measures an OAuth 2.0 server's endpoints, found in its metadata document.\n"+
			"Phases (-phases, in the order given):\n"+
			"  register, read, update, delete   RFC 7591 registration and RFC 7592\n"+
			"                                   client configuration (the default)\n"+
			"  token       client_credentials grants (RFC 6749 section 4.4)\n"+
			"  introspect  RFC 7662 introspection of the token phase's tokens\n"+
			"  code        authorization code flows with PKCE: the authorization\n"+
			"              endpoint, its sign-in and consent forms (filled and\n"+
			"              submitted) or -login-header, then the code exchange; the\n"+
			"              table has the exchanges, a line after it the whole flows\n"+
			"  refresh     refresh_token grants with rotation, one grant per worker\n"+
			"Example: clientreg-bench -base http://127.0.0.1:8080 -phases token,introspect,code,refresh \\\n"+
			"           -login-header X-Forwarded-User   # clientreg serve --login header\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o := &options{}
	c := &o.cfg
	var phases, introspector string
	fs.Var(baseList{&c.Bases}, "base", "base `URL` (issuer) of the server, e.g. http://127.0.0.1:8080; repeat it for\n"+
		"instances of one server (same database and issuer) to spread requests round-robin")
	fs.StringVar(&c.RegistrationEndpoint, "reg", "", "registration endpoint `URL`; skips discovery")
	fs.StringVar(&c.InitialAccessToken, "iat", "", "initial access `token` sent as Bearer with each registration")
	fs.IntVar(&c.Concurrency, "c", bench.DefaultConcurrency, "concurrent clients")
	fs.IntVar(&c.Requests, "n", bench.DefaultRequests, "requests per phase (at most)")
	fs.DurationVar(&c.Duration, "d", bench.DefaultDuration, "time bound per phase: no request starts after it")
	fs.DurationVar(&c.Timeout, "timeout", bench.DefaultTimeout, "timeout of each request")
	fs.StringVar(&phases, "phases", strings.Join(bench.RegistrationPhases, ","), "comma-separated `phases` to measure, in order: "+strings.Join(bench.AllPhases, ", "))
	fs.StringVar(&o.bodyFile, "body", "", "`file` with the JSON registration request (default: a built-in web client)")
	fs.BoolVar(&c.SendSecret, "send-secret", false, "send the client's latest client_secret in update requests")
	fs.IntVar(&c.Warmup, "warmup", 0, "unmeasured register/read/update/delete `cycles` before the phases")
	fs.StringVar(&c.TokenEndpoint, "token-endpoint", "", "token endpoint `URL`, instead of the discovered one")
	fs.StringVar(&c.IntrospectionEndpoint, "introspection-endpoint", "", "introspection endpoint `URL`, instead of the discovered one")
	fs.StringVar(&c.AuthorizationEndpoint, "authorization-endpoint", "", "authorization endpoint `URL`, instead of the discovered one")
	fs.IntVar(&c.TokenClients, "token-clients", 1, "`number` of clients of each kind the token phases register and cycle over")
	fs.StringVar(&c.TokenAuth, "token-auth", "", "client authentication of token and introspect (`method`): client_secret_basic or\n"+
		"client_secret_post (default: basic, unless the server's metadata lists only post)")
	fs.StringVar(&introspector, "introspector", "", "`ID:SECRET` of the client that introspects (default: each token's own client)")
	fs.StringVar(&c.Scope, "scope", "", "`scope` the code flow's public client registers and asks for (default none)")
	fs.Var(listFlag{&c.Resources}, "resource", "RFC 8707 resource indicator `URI` of the code flow (repeatable)")
	fs.StringVar(&c.LoginHeader, "login-header", "", "request `header` naming the user (-user) on every request of the authorization,\n"+
		"as a sign-in proxy sets it (clientreg serve --login header: X-Forwarded-User)")
	fs.StringVar(&c.User, "user", bench.DefaultUser, "user `name` of the code flow: the -login-header value and the user name field")
	fs.StringVar(&c.Password, "password", "", "what the code flow types into password fields (default: the user name)")
	fs.StringVar(&c.RedirectURI, "redirect-uri", bench.DefaultRedirectURI, "loopback redirect `URI` of the public client (never connected to)")
	fs.StringVar(&c.Label, "label", "", "`name` stored in the report, e.g. the server measured")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow servers that are not on a loopback address")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON on stdout (the text table goes to stderr)")
	fs.StringVar(&o.outFile, "o", "", "also write the JSON report to `file`")
	fs.StringVar(&o.clientsIn, "clients-in", "", "`file` of registered clients (JSON lines, as -clients-out writes) that\n"+
		"read, update and delete work on, before the ones register adds")
	fs.StringVar(&o.clientsOut, "clients-out", "", "write the clients still registered at the end to `file` (JSON lines)")
	fs.BoolVar(&o.quiet, "q", false, "print no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if len(c.Bases) == 0 && c.RegistrationEndpoint == "" {
		return nil, errors.New("-base (or -reg) is required")
	}
	if len(c.Bases) > 0 {
		c.Base = c.Bases[0]
	}
	c.Phases = []string{}
	for _, p := range strings.Split(phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.Phases = append(c.Phases, p)
		}
	}
	if len(c.Phases) == 0 && c.Warmup == 0 {
		return nil, errors.New("-phases names no phase")
	}
	if introspector != "" {
		var err error
		if c.Introspector, err = bench.ParseCredentials(introspector); err != nil {
			return nil, fmt.Errorf("-introspector: %w", err)
		}
	}
	if o.bodyFile != "" {
		b, err := os.ReadFile(o.bodyFile)
		if err != nil {
			return nil, err
		}
		c.Body = b
	}
	if o.clientsIn != "" {
		f, err := os.Open(o.clientsIn)
		if err != nil {
			return nil, err
		}
		c.Clients, err = bench.ReadClients(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("-clients-in %s: %w", o.clientsIn, err)
		}
	}
	// Flag values of zero would mean "default" to bench.Config; here they
	// are mistakes.
	switch {
	case c.Concurrency < 1:
		return nil, errors.New("-c must be at least 1")
	case c.Requests < 1:
		return nil, errors.New("-n must be at least 1")
	case c.Duration <= 0:
		return nil, errors.New("-d must be positive")
	case c.Timeout <= 0:
		return nil, errors.New("-timeout must be positive")
	case c.TokenClients < 1:
		return nil, errors.New("-token-clients must be at least 1")
	}
	return o, nil
}

// run is the command with its environment passed in; it returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "clientreg-bench:", err)
		return 2
	}
	if !o.quiet {
		o.cfg.OnPhase = func(ph bench.Phase) {
			fmt.Fprintf(stderr, "clientreg-bench: %s done: %d requests, %d errors, %.1f req/s, p99 %.2f ms\n",
				ph.Name, ph.Requests, ph.Errors, ph.RPS, ph.P99ms)
		}
	}
	rep, err := bench.Run(ctx, o.cfg)
	if err != nil {
		fmt.Fprintln(stderr, "clientreg-bench:", err)
		// An invalid setting found by the library is a usage error too.
		if _, ok := errors.AsType[*bench.ConfigError](err); ok {
			return 2
		}
		return 1
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "clientreg-bench:", err)
		return 1
	}
	js = append(js, '\n')
	if o.jsonOut {
		if _, err := stdout.Write(js); err != nil {
			return 1
		}
		if !o.quiet {
			rep.WriteText(stderr)
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return 1
	}
	if o.outFile != "" {
		if err := os.WriteFile(o.outFile, js, 0o644); err != nil {
			fmt.Fprintln(stderr, "clientreg-bench:", err)
			return 1
		}
	}
	if o.clientsOut != "" {
		if err := writeClients(o.clientsOut, rep.Clients); err != nil {
			fmt.Fprintln(stderr, "clientreg-bench:", err)
			return 1
		}
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// writeClients writes cs to the file path as JSON lines.
func writeClients(path string, cs []bench.Client) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.WriteClients(f, cs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
