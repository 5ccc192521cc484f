package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/jackc/pgx/v5"
)

const iatUsage = `Usage:

	clientreg iat create [flags]     create an initial access token
	clientreg iat list [flags]       list the initial access tokens (--json)
	clientreg iat revoke ID [flags]  revoke an initial access token

Manages initial access tokens (RFC 7591 section 3), which registration
requires when the server runs with --registration token.

Run "clientreg iat SUBCOMMAND -help" for the flags of each.
`

// iat runs "clientreg iat SUBCOMMAND".
func iat(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return &usageError{err: fmt.Errorf("iat: missing subcommand"), hint: `Run "clientreg iat create -help" for usage.`}
	}
	switch args[0] {
	case "create":
		return iatCreate(ctx, args[1:], stdout, stderr, getenv)
	case "list":
		return iatList(ctx, args[1:], stdout, stderr, getenv)
	case "revoke":
		return iatRevoke(ctx, args[1:], stdout, stderr, getenv)
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
	createDB  *bool
	operatorFlags
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
	o.createDB = fs.Bool("create-db", false,
		"create the database (SQLite), its tables and the key file when they do\n"+
			"not exist; without it, iat create refuses, since a token in a database or\n"+
			"under a key that no server uses is accepted by none")
	o.operatorFlags = addOperatorFlags(fs)
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
	if *o.policy != "" && *o.config == "" {
		return &usageError{err: fmt.Errorf("iat create: --policy %q needs --config, the server's configuration file where the policy is defined", *o.policy), hint: iatCreateHint}
	}
	cfg, err := loadConfig(*o.config)
	if err != nil {
		return &usageError{err: fmt.Errorf("iat create: %w", err), hint: iatCreateHint}
	}
	if *o.policy != "" && !slices.ContainsFunc(cfg.policies, func(p clientreg.Policy) bool { return p.Name == *o.policy }) {
		return &usageError{err: fmt.Errorf("iat create: --policy %q is not defined in the --config file %s", *o.policy, *o.config), hint: iatCreateHint}
	}
	if !*o.createDB {
		if err := o.store.mustExist(ctx); err != nil {
			return fmt.Errorf("iat create: %w", err)
		}
	}
	log := newLogger("text", stderr)
	key, st, err := o.store.open(ctx, log)
	if err != nil {
		return err
	}
	audit, closeAudit, err := openAuditSink(*o.auditLog, log)
	if err != nil {
		st.Close()
		return fmt.Errorf("iat create: %w", err)
	}
	token, err := createInitialToken(o.context(ctx, getenv), st, key, cfg.policies, configSource{file: *o.config}, audit,
		clientreg.InitialTokenOptions{MaxUses: *o.uses, ExpiresIn: *o.expiresIn, Policy: *o.policy})
	if cerr := st.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close database: %w", cerr)
	}
	if cerr := closeAudit(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}

// iatCreateHint is the hint of iat create's usage errors.
const iatCreateHint = `Run "clientreg iat create -help" for usage.`

// mustExist reports an error unless the key file exists and the database
// does: a SQLite file, or a PostgreSQL database that has clientreg's
// tables (any pending migration is then applied by open, as a server of
// this version would). It opens nothing but a PostgreSQL connection.
func (sf storeFlags) mustExist(ctx context.Context) error {
	const advice = `start "clientreg serve" with the same --db and --secret-key-file first, or pass --create-db`
	if sf.db.postgres() {
		ok, err := postgresHasSchema(ctx, *sf.db)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("the database %s has no clientreg tables; %s", sf.db.describe(), advice)
		}
	} else if _, err := os.Stat(sf.db.path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("the database %s does not exist; %s", sf.db.path, advice)
		}
		return err
	}
	keyPath, err := sf.keyPath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the key file %s does not exist, so no server can accept a token made with a new one; %s", keyPath, advice)
	}
	return nil // loadKey reports any other problem with the key file
}

// postgresHasSchema reports whether the PostgreSQL database d has
// clientreg's clients table, in the schema its search_path selects.
func postgresHasSchema(ctx context.Context, d database) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*pgConnectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, withConnectTimeout(d.dsn))
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", d.describe(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('clients') IS NOT NULL`).Scan(&exists); err != nil {
		return false, fmt.Errorf("check the tables of %s: %w", d.describe(), err)
	}
	return exists, nil
}

// createInitialToken creates an initial access token in st, its audit
// event handed to audit. Errors of clientreg.New are told in the terms of
// src, the configuration file the policies come from.
func createInitialToken(ctx context.Context, st store.Store, key []byte, policies []clientreg.Policy, src configSource, audit clientreg.AuditSink, opts clientreg.InitialTokenOptions) (string, error) {
	h, err := clientreg.New(clientreg.Config{Issuer: iatIssuer, Store: st, SecretKey: key, Policies: policies, Logger: slog.New(slog.DiscardHandler), Audit: audit})
	if err != nil {
		return "", &usageError{err: fmt.Errorf("iat create: %w", src.explain(err)), hint: iatCreateHint}
	}
	token, _, err := h.CreateInitialToken(ctx, opts)
	return token, err
}
