// Package cli implements the clientreg command: "serve" runs the
// registration server, "iat create" makes initial access tokens, "version"
// prints the build. Everything is reachable through Main, so that tests can
// run the command in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Exit codes of Main.
const (
	ExitOK    = 0 // success, including a graceful shutdown
	ExitError = 1 // a run-time failure
	ExitUsage = 2 // bad command line, flag value or environment variable
)

// EnvPrefix is the prefix of the environment variables that set flags: flag
// --secret-key-file is read from CLIENTREG_SECRET_KEY_FILE.
const EnvPrefix = "CLIENTREG_"

// Main runs the clientreg command with args (without the program name) and
// returns its exit code. Output goes to stdout, diagnostics and logs to
// stderr; getenv reads the environment (os.Getenv in production). Cancelling
// ctx shuts a running server down gracefully, which counts as success.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if len(args) == 0 {
		printUsage(stderr)
		return ExitUsage
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = serve(ctx, rest, stdout, stderr, getenv)
	case "iat":
		err = iat(ctx, rest, stdout, stderr, getenv)
	case "clients":
		err = clients(ctx, rest, stdout, stderr, getenv)
	case "tokens":
		err = tokens(ctx, rest, stdout, stderr, getenv)
	case "version", "-version", "--version":
		if len(rest) > 0 {
			err = usageErrorf("version takes no arguments")
			break
		}
		fmt.Fprintln(stdout, versionString())
	case "help", "-h", "-help", "--help":
		err = help(ctx, rest, stdout, stderr, getenv)
	default:
		err = usageErrorf("unknown command %q", cmd)
	}
	return exitCode(err, stderr)
}

// exitCode reports err on stderr and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil || errors.Is(err, errHelpShown):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "clientreg: %v\n", err)
		if ue.hint != "" {
			fmt.Fprintln(stderr, ue.hint)
		} else {
			fmt.Fprintln(stderr, `Run "clientreg help" for usage.`)
		}
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "clientreg: %v\n", err)
		return ExitError
	}
}

// usageError is a mistake on the command line or in the environment: exit
// code 2.
type usageError struct {
	err  error
	hint string // what to run for help; default: clientreg help
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// errHelpShown reports that -help was asked for and answered.
var errHelpShown = errors.New("help shown")

func printUsage(w io.Writer) {
	fmt.Fprint(w, `clientreg is an OAuth 2.0 Dynamic Client Registration server (RFC 7591, RFC 7592).

Usage:

	clientreg serve [flags]                 run the registration server
	clientreg iat create [flags]            create an initial access token
	clientreg iat list|revoke [flags]       list or revoke initial access tokens
	clientreg clients list|show [flags]     list the clients, or print one
	clientreg clients delete|disable|enable ID [flags]
	                                        delete, disable or enable a client
	clientreg clients purge [flags]         remove expired clients (--dry-run: list them)
	clientreg tokens revoke --client ID     revoke every token of a client
	clientreg version                       print the version (also --version)
	clientreg help [COMMAND]                print this help, or the help of COMMAND

Run "clientreg help serve" or "clientreg help iat create" for the flags
(and so for every command). The operator's commands work while servers
run on the same database; see the README's "Administration".
Every flag can also be set with the environment variable CLIENTREG_<FLAG>
(upper case, dashes as underscores, e.g. CLIENTREG_ADDR); a flag given on
the command line wins over the environment.
`)
}

// help runs "clientreg help [COMMAND]": the usage, or the help of
// COMMAND, the same as "clientreg COMMAND -help".
func help(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		printUsage(stdout)
		return nil
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		if len(rest) > 0 {
			return usageErrorf("help serve: unexpected argument %q", rest[0])
		}
		return serve(ctx, []string{"-help"}, stdout, stderr, getenv)
	case "iat":
		return iat(ctx, append(rest, "-help"), stdout, stderr, getenv)
	case "clients":
		return clients(ctx, append(rest, "-help"), stdout, stderr, getenv)
	case "tokens":
		return tokens(ctx, append(rest, "-help"), stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, "Usage: clientreg version\n\nPrints the version of clientreg and the Go version it was built with.")
		return nil
	case "help":
		printUsage(stdout)
		return nil
	}
	return usageErrorf("help: unknown command %q", args[0])
}

// versionString returns the main module's version (or "(devel)" for a
// build outside a tagged module, such as go run or go build in a clone)
// and the Go version the binary was built with.
func versionString() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("clientreg %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
