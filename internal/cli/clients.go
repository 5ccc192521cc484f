package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/clientreg/clientreg"
)

const clientsUsage = `Usage:

	clientreg clients list [flags]       list the clients (filters; --json)
	clientreg clients show ID [flags]    print one client (--json)
	clientreg clients delete ID [flags]  delete a client
	clientreg clients disable ID [flags] disable a client: no token, no authentication
	clientreg clients enable ID [flags]  enable a disabled client again
	clientreg clients purge [flags]      remove expired clients (--dry-run: list them)

Manages registered clients, also while servers run on the database.

Run "clientreg clients SUBCOMMAND -help" for the flags of each.
`

// clientsHint is the hint of clients' usage errors.
const clientsHint = `Run "clientreg clients help" for usage.`

// clients runs "clientreg clients SUBCOMMAND".
func clients(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return &usageError{err: fmt.Errorf("clients: missing subcommand"), hint: clientsHint}
	}
	switch args[0] {
	case "purge":
		return clientsPurge(ctx, args[1:], stdout, stderr, getenv)
	case "list":
		return clientsList(ctx, args[1:], stdout, stderr, getenv)
	case "show":
		return clientsShow(ctx, args[1:], stdout, stderr, getenv)
	case "delete", "disable", "enable":
		return clientChange(ctx, args[0], args[1:], stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, clientsUsage)
		return nil
	}
	return &usageError{err: fmt.Errorf("clients: unknown subcommand %q", args[0]), hint: clientsHint}
}

// clientsPurgeOptions are the flags of clientreg clients purge.
type clientsPurgeOptions struct {
	store              storeFlags
	dryRun             *bool
	idleTTL, unusedTTL *time.Duration
	expireTokenClients *bool
	limit              *int64
	operatorFlags
}

func clientsPurgeFlags() (*flagSet, *clientsPurgeOptions) {
	fs := newFlagSet("clients purge", "clientreg clients purge [flags]",
		"Removes the dynamically registered clients that have expired: never used\n"+
			"within --client-unused-ttl of their registration, or not used within\n"+
			"--client-idle-ttl, and holding no live refresh token. Prints one line per\n"+
			"client (ID, reason, registered, last used, name) on stdout, then a count.\n"+
			"A running server does the same every few minutes; this command shows\n"+
			"what goes (--dry-run) or removes it now. Works while a server runs on the\n"+
			"same database; give it the server's lifecycle flags.")
	o := &clientsPurgeOptions{store: addStoreFlags(fs)}
	o.dryRun = fs.Bool("dry-run", false, "print the clients that would be removed, and remove none")
	o.idleTTL = newDuration(fs, "client-idle-ttl", clientreg.DefaultClientIdleTTL,
		"how long (`duration`) a client is kept after its last use; 0 means forever")
	o.unusedTTL = newDuration(fs, "client-unused-ttl", clientreg.DefaultClientUnusedTTL,
		"how long (`duration`) a never-used client is kept after its registration;\n"+
			"0 means forever")
	o.expireTokenClients = fs.Bool("expire-token-clients", false,
		"remove clients registered with an initial access token too")
	o.limit = newCount(fs, "limit", 1000, "how many clients (`N`) to remove or list at most")
	o.operatorFlags = addOperatorFlags(fs)
	return fs, o
}

// clientsPurge removes (or lists, with --dry-run) the expired clients.
func clientsPurge(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := clientsPurgeFlags()
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	if err := o.store.check(fs); err != nil {
		return err
	}
	if *o.limit < 1 {
		return &usageError{err: fmt.Errorf("clients purge: --limit must be positive"), hint: clientsHint}
	}
	if err := o.store.mustExist(ctx); err != nil {
		return fmt.Errorf("clients purge: %w", err)
	}
	log := newLogger("text", stderr)
	key, st, err := o.store.open(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	audit, closeAudit, err := openAuditSink(*o.auditLog, log)
	if err != nil {
		return fmt.Errorf("clients purge: %w", err)
	}
	defer closeAudit()
	ctx = o.context(ctx, getenv)
	offIfZero := func(d time.Duration) time.Duration {
		if d == 0 {
			return clientreg.Off
		}
		return d
	}
	h, err := clientreg.New(clientreg.Config{
		Issuer: iatIssuer, Store: st, SecretKey: key, Logger: slog.New(slog.DiscardHandler),
		ClientIdleTTL: offIfZero(*o.idleTTL), ClientUnusedTTL: offIfZero(*o.unusedTTL),
		ExpireInitialTokenClients: *o.expireTokenClients, Audit: audit,
	})
	if err != nil {
		return &usageError{err: fmt.Errorf("clients purge: %w", err), hint: clientsHint}
	}
	var gone []clientreg.PurgedClient
	for left := int(*o.limit); left > 0; {
		batch := min(left, clientreg.DefaultPurgeBatch)
		if *o.dryRun {
			batch = left // a dry run removes nothing: one call lists them all
		}
		got, err := h.PurgeClients(ctx, clientreg.PurgeOptions{DryRun: *o.dryRun, Limit: batch})
		if err != nil {
			return err
		}
		gone = append(gone, got...)
		left -= len(got)
		if *o.dryRun || len(got) < batch {
			break
		}
	}
	for _, c := range gone {
		used := "never"
		if !c.LastUsedAt.IsZero() {
			used = c.LastUsedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Reason, c.IssuedAt.Format(time.RFC3339), used, strings.ReplaceAll(c.Name, "\n", " "))
	}
	verb := "removed"
	if *o.dryRun {
		verb = "would remove"
	}
	_, err = fmt.Fprintf(stdout, "%s %d clients\n", verb, len(gone))
	return err
}
