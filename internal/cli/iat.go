package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

const iatUsage = `Usage: clientreg iat create [flags]

Manages initial access tokens (RFC 7591 section 3), which registration
requires when the server runs with --registration token.

Run "clientreg iat create -help" for the flags.
`

// iat runs "clientreg iat SUBCOMMAND".
func iat(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return &usageError{err: fmt.Errorf("iat: missing subcommand"), hint: `Run "clientreg iat create -help" for usage.`}
	}
	switch args[0] {
	case "create":
		return iatCreate(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, iatUsage)
		return nil
	}
	return &usageError{err: fmt.Errorf("iat: unknown subcommand %q", args[0]), hint: `Run "clientreg iat create -help" for usage.`}
}

// iatIssuer is the issuer of the Handler that iat create builds only to
// create a token. Token hashes do not depend on the issuer.
const iatIssuer = "http://clientreg.invalid"

// iatCreateOptions are the flags of clientreg iat create.
type iatCreateOptions struct {
	store     storeFlags
	uses      *int64
	expiresIn *time.Duration
	policy    *string
	config    *string
}

func iatCreateFlags() (*flagSet, *iatCreateOptions) {
	fs := newFlagSet("iat create", "clientreg iat create [flags]",
		"Creates an initial access token in the database and prints it, alone on\n"+
			"one line, on stdout. Only its keyed hash is stored: this output is the\n"+
			"only copy. Works while a server runs on the same database.")
	o := &iatCreateOptions{store: addStoreFlags(fs)}
	o.uses = newCount(fs, "uses", 1, "how many registrations (`N`) the token allows; 0 means no limit")
	o.expiresIn = newDuration(fs, "expires-in", 0, "how long (`duration`) the token is valid; 0 means it never expires")
	o.policy = fs.String("policy", "", "the registration policy (`name`) that registrations with the token\nare subject to; it must be defined in --config")
	o.config = fs.String("config", "", "the server's YAML configuration `file`, where --policy is defined")
	return fs, o
}

// iatCreate creates an initial access token in the database and prints it.
// It works while a server uses the same database.
func iatCreate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := iatCreateFlags()
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	if err := o.store.check(fs); err != nil {
		return err
	}
	cfg, err := loadConfig(*o.config)
	if err != nil {
		return &usageError{err: fmt.Errorf("iat create: %w", err), hint: `Run "clientreg iat create -help" for usage.`}
	}
	if *o.policy != "" && !slices.ContainsFunc(cfg.policies, func(p clientreg.Policy) bool { return p.Name == *o.policy }) {
		return &usageError{err: fmt.Errorf("iat create: --policy %q is not defined in the --config file", *o.policy), hint: `Run "clientreg iat create -help" for usage.`}
	}
	log := newLogger("text", stderr)
	key, st, err := o.store.open(ctx, log)
	if err != nil {
		return err
	}
	token, err := createInitialToken(ctx, st, key, cfg.policies,
		clientreg.InitialTokenOptions{MaxUses: *o.uses, ExpiresIn: *o.expiresIn, Policy: *o.policy})
	if cerr := st.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close database: %w", cerr)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}

// createInitialToken creates an initial access token in st.
func createInitialToken(ctx context.Context, st store.Store, key []byte, policies []clientreg.Policy, opts clientreg.InitialTokenOptions) (string, error) {
	h, err := clientreg.New(clientreg.Config{Issuer: iatIssuer, Store: st, SecretKey: key, Policies: policies, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", err
	}
	token, _, err := h.CreateInitialToken(ctx, opts)
	return token, err
}
