// Command clientreg-bench measures an OAuth 2.0 Dynamic Client Registration
// server: the registration endpoint of RFC 7591 and the client
// configuration endpoint of RFC 7592, of clientreg or of any other server.
//
// Usage:
//
//	clientreg-bench -base http://127.0.0.1:8080 [flags]
//
// It finds the registration endpoint in <base>/.well-known/oauth-authorization-server
// (or <base>/.well-known/openid-configuration), then measures four phases
// in order, each with -c concurrent clients for at most -n requests or -d,
// whichever ends first:
//
//	register  POST the registration request (-body FILE, or a built-in one)
//	read      GET each registered client with its registration access token
//	update    PUT the registration request + client_id, client_name changed
//	delete    DELETE each registered client
//
// Every registration access token (and client secret) that a response
// returns replaces the one held for that client, as RFC 7592 requires, so
// servers that rotate tokens on update are measured correctly.
//
// The report gives, per phase, the requests, errors (any status other than
// the one the RFC names, or a transport error), successful requests per
// second and the p50, p90, p99 and maximum latency of the successful
// requests, as text or, with -json, as JSON.
//
// Several instances of one server that share a database and an issuer are
// measured together by giving -base once for each: the registration
// endpoint is discovered from the first, and request i of a phase goes to
// base i mod (number of bases), whatever URL the server handed out
// (scheme and host:port replaced).
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
			"Measures the RFC 7591 registration and RFC 7592 client configuration\n"+
			"endpoints of a server: register, read, update and delete.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	o := &options{}
	c := &o.cfg
	var phases string
	fs.Var(baseList{&c.Bases}, "base", "base `URL` (issuer) of the server, e.g. http://127.0.0.1:8080; repeat it for\n"+
		"instances of one server (same database and issuer) to spread requests round-robin")
	fs.StringVar(&c.RegistrationEndpoint, "reg", "", "registration endpoint `URL`; skips discovery")
	fs.StringVar(&c.InitialAccessToken, "iat", "", "initial access `token` sent as Bearer with each registration")
	fs.IntVar(&c.Concurrency, "c", bench.DefaultConcurrency, "concurrent clients")
	fs.IntVar(&c.Requests, "n", bench.DefaultRequests, "requests per phase (at most)")
	fs.DurationVar(&c.Duration, "d", bench.DefaultDuration, "time bound per phase: no request starts after it")
	fs.DurationVar(&c.Timeout, "timeout", bench.DefaultTimeout, "timeout of each request")
	fs.StringVar(&phases, "phases", strings.Join(bench.AllPhases, ","), "comma-separated `phases` to measure, in order")
	fs.StringVar(&o.bodyFile, "body", "", "`file` with the JSON registration request (default: a built-in web client)")
	fs.BoolVar(&c.SendSecret, "send-secret", false, "send the client's latest client_secret in update requests")
	fs.IntVar(&c.Warmup, "warmup", 0, "unmeasured register/read/update/delete `cycles` before the phases")
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
