// Command clientreg runs an OAuth 2.0 Dynamic Client Registration server
// (RFC 7591, RFC 7592, RFC 8414) backed by SQLite or PostgreSQL, and manages
// its initial access tokens. Several instances may share one PostgreSQL
// database.
//
// Usage:
//
//	clientreg serve [flags]        run the server
//	clientreg iat create [flags]   create an initial access token
//	clientreg version              print the version (also --version)
//	clientreg help [COMMAND]       print usage, or the help of COMMAND
//
// Run "clientreg help serve" or "clientreg help iat create" for the flags. Every flag
// can also be set with an environment variable CLIENTREG_<FLAG>.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/clientreg/clientreg/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default behaviour so that a
		// second one stops a server whose shutdown hangs.
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
