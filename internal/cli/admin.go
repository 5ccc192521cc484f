package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// The operator's commands (docs/behaviour.md §11): clients list, show,
// delete, disable and enable; iat list and revoke; tokens revoke. Each
// opens the database as iat create does (it must exist), builds a Handler
// on it and calls one of its operator methods, so that they work while
// servers run on the same database. Those that change something take
// --audit-log and --operator and emit their audit event; list and show
// change nothing. Output is a table on stdout, or JSON with --json (see
// the JSON types below, whose member names are stable).

// adminOptions are the flags every operator command shares.
type adminOptions struct {
	store storeFlags
	json  *bool // nil for the commands without --json
	operatorFlags
	mutating bool
}

// newAdminFlags returns the flags of an operator command: the store's,
// --json when asJSON, and --audit-log and --operator when mutating. args
// name the command's positional arguments.
func newAdminFlags(name, usage, summary string, asJSON, mutating bool, args ...string) (*flagSet, *adminOptions) {
	fs := newFlagSet(name, usage, summary)
	fs.positional = args
	o := &adminOptions{store: addStoreFlags(fs), mutating: mutating}
	if asJSON {
		o.json = fs.Bool("json", false, "print JSON instead of a table (see the README's \"Administration\" for its members)")
	}
	if mutating {
		o.operatorFlags = addOperatorFlags(fs)
	}
	return fs, o
}

// adminSession is an operator command's Handler on the opened database.
type adminSession struct {
	h     *clientreg.Handler
	ctx   context.Context // names the operator
	close func() error
}

// open checks the flags, opens the database (which must exist) and the
// audit sink, and builds the Handler. The caller closes the session.
func (o *adminOptions) open(ctx context.Context, fs *flagSet, stderr io.Writer, getenv func(string) string) (*adminSession, error) {
	if err := o.store.check(fs); err != nil {
		return nil, err
	}
	if err := o.store.mustExist(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", fs.Name(), err)
	}
	log := newLogger("text", stderr)
	key, st, err := o.store.open(ctx, log)
	if err != nil {
		return nil, err
	}
	var (
		audit      clientreg.AuditSink
		closeAudit = func() error { return nil }
	)
	if o.mutating {
		if audit, closeAudit, err = openAuditSink(*o.auditLog, log); err != nil {
			st.Close()
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
		}
		ctx = o.context(ctx, getenv)
	}
	h, err := clientreg.New(clientreg.Config{Issuer: iatIssuer, Store: st, SecretKey: key, Logger: slog.New(slog.DiscardHandler), Audit: audit})
	if err != nil {
		closeAudit()
		st.Close()
		return nil, fmt.Errorf("%s: %w", fs.Name(), err)
	}
	return &adminSession{h: h, ctx: ctx, close: func() error {
		err := closeAudit()
		if cerr := st.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close database: %w", cerr)
		}
		return err
	}}, nil
}

// run opens a session, calls f with it and closes it, reporting the first
// error.
func (o *adminOptions) run(ctx context.Context, fs *flagSet, stderr io.Writer, getenv func(string) string, f func(s *adminSession) error) error {
	s, err := o.open(ctx, fs, stderr, getenv)
	if err != nil {
		return err
	}
	err = f(s)
	if cerr := s.close(); err == nil {
		err = cerr
	}
	return err
}

// notFound turns the operator methods' errors for an unknown id into the
// command's message.
func notFound(cmd, id string, err error) error {
	switch {
	case errors.Is(err, clientreg.ErrClientNotFound):
		return fmt.Errorf("%s: no client %q (see \"clientreg clients list\")", cmd, id)
	case errors.Is(err, clientreg.ErrInitialTokenNotFound):
		return fmt.Errorf("%s: no initial access token %q (see \"clientreg iat list\")", cmd, id)
	}
	return err
}

// clientJSON is a client in the JSON output of clients list and show.
// Times are RFC 3339 in UTC; null is "never" (last_used_at), "not
// disabled" (disabled_at) or "no expiry" (secret_expires_at).
type clientJSON struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	// Origin is how the client was registered: anonymous, initial_token,
	// operator, metadata_document, or "" when it was stored before origins
	// were recorded.
	Origin          string          `json:"origin"`
	Policy          string          `json:"policy"`
	IssuedAt        time.Time       `json:"issued_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	LastUsedAt      *time.Time      `json:"last_used_at"`
	Disabled        bool            `json:"disabled"`
	DisabledAt      *time.Time      `json:"disabled_at"`
	HasSecret       bool            `json:"has_secret"`
	SecretExpiresAt *time.Time      `json:"secret_expires_at"`
	Metadata        json.RawMessage `json:"metadata"`
}

// orNull is t, or nil when t is zero.
func orNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func newClientJSON(c *clientreg.Client) (clientJSON, error) {
	m, err := json.Marshal(c.Metadata)
	if err != nil {
		return clientJSON{}, fmt.Errorf("client %q: encode metadata: %w", c.ID, err)
	}
	return clientJSON{
		ClientID: c.ID, ClientName: c.Metadata.ClientName, Origin: c.Origin, Policy: c.Policy,
		IssuedAt: c.IssuedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(), LastUsedAt: orNull(c.LastUsedAt),
		Disabled: !c.DisabledAt.IsZero(), DisabledAt: orNull(c.DisabledAt),
		HasSecret: c.SecretHash != nil, SecretExpiresAt: orNull(c.SecretExpiresAt),
		Metadata: m,
	}, nil
}

// cell makes s fit a table cell: "-" when empty, no tab, no line break.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// when formats t for a table, or returns none when it is zero.
func when(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

func state(c *clientreg.Client) string {
	if c.DisabledAt.IsZero() {
		return "enabled"
	}
	return "disabled"
}

// timeValue is a point in time: RFC 3339, a date (YYYY-MM-DD, midnight
// UTC), or a duration before now (24h, 90m, 7d).
type timeValue struct {
	val *time.Time
	now func() time.Time
}

func newTime(fs *flagSet, name, usage string) *time.Time {
	var v time.Time
	fs.Var(timeValue{&v, time.Now}, name, usage)
	return &v
}

func (t timeValue) String() string {
	if t.val == nil || t.val.IsZero() {
		return ""
	}
	return t.val.Format(time.RFC3339)
}

func (t timeValue) Set(s string) error {
	if v, err := time.Parse(time.RFC3339, s); err == nil {
		*t.val = v
		return nil
	}
	if v, err := time.Parse(time.DateOnly, s); err == nil {
		*t.val = v
		return nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		n, nerr := strconv.ParseUint(days, 10, 16)
		d, err = time.Duration(n)*24*time.Hour, nerr
	}
	if err != nil || d < 0 {
		return errors.New("want an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) or how long ago (90m, 24h, 7d)")
	}
	*t.val = t.now().Add(-d)
	return nil
}

const clientsListSummary = `Lists the registered clients in the order of their IDs, as a table
(ID, name, origin, policy, registration time, last use, state) or, with
--json, a JSON array of objects with the members client_id, client_name,
origin, policy, issued_at, updated_at, last_used_at (null: never used),
disabled, disabled_at, has_secret, secret_expires_at and metadata (the
registered client metadata). Times are RFC 3339 in UTC. No secret, token
or hash is printed. Every filter narrows the list. A TIME is an RFC 3339
time (2026-01-02T15:04:05Z), a date (2026-01-02, midnight UTC) or how long
ago (90m, 24h, 7d). Works while a server runs on the same database.`

// clientsListPage is how many clients clients list reads at a time; the
// output is written page by page, so that a large database is listed in
// bounded memory. A variable for the tests.
var clientsListPage = clientreg.MaxClientListLimit

// clientsList runs clients list.
func clientsList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := newAdminFlags("clients list", "clientreg clients list [flags]", clientsListSummary, true, false)
	policies := newAppendList(fs, "policy", "list only the clients of these registration policies (`names`,\ncomma-separated or repeated)")
	before := newTime(fs, "created-before", "list only the clients registered before `TIME`")
	after := newTime(fs, "created-after", "list only the clients registered at or after `TIME`")
	neverUsed := fs.Bool("never-used", false, "list only the clients never used (no token issued to them, no\nauthorization code issued for them)")
	dynamic := fs.Bool("dynamic", false, "list only the dynamically registered clients: those registered at the\nregistration endpoint (anonymously or with an initial access token) and\nthose a Client ID Metadata Document describes, not the operator's")
	afterID := fs.String("after", "", "list only the clients whose ID sorts after this `ID` (to continue a\nlisting cut by --limit)")
	limit := newCount(fs, "limit", 0, "list at most `N` clients; 0 lists them all")
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	f := clientreg.ClientFilter{IssuedBefore: *before, IssuedAfter: *after, NeverUsed: *neverUsed, After: *afterID}
	if len(*policies) > 0 {
		f.Policies = *policies
	}
	if *dynamic {
		f.Origins = clientreg.DynamicOrigins
	}
	return o.run(ctx, fs, stderr, getenv, func(s *adminSession) error {
		var (
			tw    = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			n     int64
			first = true
		)
		if *o.json {
			fmt.Fprint(stdout, "[")
		} else {
			fmt.Fprintln(tw, "CLIENT ID\tNAME\tORIGIN\tPOLICY\tREGISTERED\tLAST USED\tSTATE")
		}
		for {
			f.Limit = clientsListPage
			if *limit > 0 {
				f.Limit = int(min(*limit-n, int64(clientsListPage)))
			}
			cs, next, err := s.h.ListClients(s.ctx, f)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if !*o.json {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(c.ID), cell(c.Metadata.ClientName), cell(c.Origin), cell(c.Policy),
						when(c.IssuedAt, "-"), when(c.LastUsedAt, "never"), state(c))
					continue
				}
				v, err := newClientJSON(c)
				if err != nil {
					return err
				}
				b, err := json.Marshal(v)
				if err != nil {
					return err
				}
				if !first {
					fmt.Fprint(stdout, ",")
				}
				first = false
				fmt.Fprintf(stdout, "\n%s", b)
			}
			n += int64(len(cs))
			if err := tw.Flush(); err != nil {
				return err
			}
			if next == "" || (*limit > 0 && n >= *limit) {
				break
			}
			f.After = next
		}
		if *o.json {
			_, err := fmt.Fprint(stdout, "\n]\n")
			return err
		}
		return nil
	})
}

// clientsShow runs clients show ID.
func clientsShow(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := newAdminFlags("clients show", "clientreg clients show ID [flags]",
		"Prints the client ID: its origin, policy, registration and last use,\n"+
			"whether it is disabled and has a secret, and its registered metadata;\n"+
			"with --json, one JSON object with the members of \"clients list --json\".\n"+
			"No secret, token or hash is printed. The record is read from the database:\n"+
			"a Client ID Metadata Document is not fetched. An ID that starts with \"-\"\n"+
			"goes after \"--\".", true, false, "ID")
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	id := fs.values[0]
	return o.run(ctx, fs, stderr, getenv, func(s *adminSession) error {
		c, err := s.h.Client(s.ctx, id)
		if err != nil {
			return notFound(fs.Name(), id, err)
		}
		v, err := newClientJSON(c)
		if err != nil {
			return err
		}
		if *o.json {
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "%s\n", b)
			return err
		}
		secret := "none"
		if v.HasSecret {
			secret = "expires " + when(c.SecretExpiresAt, "never")
		}
		disabled := "enabled"
		if v.Disabled {
			disabled = "disabled since " + when(c.DisabledAt, "")
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, row := range [][2]string{
			{"client_id", c.ID}, {"client_name", cell(c.Metadata.ClientName)}, {"origin", cell(c.Origin)}, {"policy", cell(c.Policy)},
			{"registered", when(c.IssuedAt, "-")}, {"updated", when(c.UpdatedAt, "-")}, {"last used", when(c.LastUsedAt, "never")},
			{"state", disabled}, {"secret", secret},
		} {
			fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		var pretty strings.Builder
		pretty.WriteString("metadata:\n")
		b, _ := json.MarshalIndent(json.RawMessage(v.Metadata), "  ", "  ")
		pretty.WriteString("  ")
		pretty.Write(b)
		pretty.WriteString("\n")
		_, err = io.WriteString(stdout, pretty.String())
		return err
	})
}

// clientChange runs clients delete, disable or enable ID.
func clientChange(ctx context.Context, verb string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	summaries := map[string]string{
		"delete": "Deletes the client ID with everything it holds (secret, registration\n" +
			"access token, tokens, grants, codes, consents), as RFC 7592's delete does:\n" +
			"its credentials stop working at once. A Client ID Metadata Document\n" +
			"client is made again at its next use; disable it to keep it out.",
		"disable": "Disables the client ID: its tokens, refresh tokens and authorization\n" +
			"codes are removed, and until \"clientreg clients enable ID\" it cannot\n" +
			"authenticate (401 invalid_client), is refused at the authorization\n" +
			"endpoint and the client configuration endpoint (401 invalid_token), gets\n" +
			"no token, and never expires. A running server refuses it at once.",
		"enable": "Enables the disabled client ID again: its credentials work again; the\n" +
			"tokens that disabling removed do not come back.",
	}
	name := "clients " + verb
	fs, o := newAdminFlags(name, "clientreg "+name+" ID [flags]",
		summaries[verb]+"\nEmits its audit event (--audit-log, --operator).", false, true, "ID")
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	id := fs.values[0]
	return o.run(ctx, fs, stderr, getenv, func(s *adminSession) error {
		var err error
		document := false
		switch verb {
		case "delete":
			var c *clientreg.Client
			if c, err = s.h.Client(s.ctx, id); err == nil {
				document = c.Origin == store.OriginMetadataDocument
				err = s.h.DeleteClient(s.ctx, id)
			}
		case "disable":
			err = s.h.DisableClient(s.ctx, id)
		case "enable":
			err = s.h.EnableClient(s.ctx, id)
		}
		if err != nil {
			return notFound(fs.Name(), id, err)
		}
		if document {
			fmt.Fprintln(stderr, "clientreg: note: a Client ID Metadata Document client is made again at its next use; \"clientreg clients disable\" keeps it out")
		}
		_, err = fmt.Fprintf(stdout, "%sd client %s\n", verb, id) // deleted, disabled, enabled
		return err
	})
}

// initialTokenJSON is an initial access token in the JSON output of iat
// list.
type initialTokenJSON struct {
	// ID is the token's InitialTokenID, which iat revoke takes.
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"` // null: never
	Uses      int64      `json:"uses"`
	MaxUses   int64      `json:"max_uses"` // 0: no limit
	Policy    string     `json:"policy"`
	// State is usable, expired or used_up.
	State string `json:"state"`
}

// iatList runs iat list.
func iatList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := newAdminFlags("iat list", "clientreg iat list [flags]",
		"Lists the initial access tokens in the database, oldest first, as a table\n"+
			"(ID, created, expires, uses, policy, state) or, with --json, a JSON array\n"+
			"of objects with the members id, created_at, expires_at (null: never),\n"+
			"uses, max_uses (0: no limit), policy and state (usable, expired or\n"+
			"used_up). A token is named by its ID, 16 hexadecimal digits of its keyed\n"+
			"hash, which \"clientreg iat revoke\" takes and which cannot be used as the\n"+
			"token; the tokens themselves are not stored.", true, false)
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	return o.run(ctx, fs, stderr, getenv, func(s *adminSession) error {
		ts, err := s.h.ListInitialTokens(s.ctx)
		if err != nil {
			return err
		}
		if *o.json {
			out := make([]initialTokenJSON, 0, len(ts))
			for _, t := range ts {
				out = append(out, initialTokenJSON{ID: t.ID, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: orNull(t.ExpiresAt),
					Uses: t.Uses, MaxUses: t.MaxUses, Policy: t.Policy, State: t.State})
			}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "%s\n", b)
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tEXPIRES\tUSES\tPOLICY\tSTATE")
		for _, t := range ts {
			uses := fmt.Sprintf("%d/%d", t.Uses, t.MaxUses)
			if t.MaxUses == 0 {
				uses = fmt.Sprintf("%d/unlimited", t.Uses)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, when(t.CreatedAt, "-"), when(t.ExpiresAt, "never"), uses, cell(t.Policy),
				strings.ReplaceAll(t.State, "_", " "))
		}
		return tw.Flush()
	})
}

// iatRevoke runs iat revoke ID.
func iatRevoke(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := newAdminFlags("iat revoke", "clientreg iat revoke ID [flags]",
		"Revokes the initial access token ID (as \"clientreg iat list\" names it):\n"+
			"registrations with it fail from then on (401 invalid_token), also at a\n"+
			"running server; the clients registered with it stay. Emits its audit\n"+
			"event (--audit-log, --operator).", false, true, "ID")
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	id := fs.values[0]
	return o.run(ctx, fs, stderr, getenv, func(s *adminSession) error {
		if err := s.h.RevokeInitialToken(s.ctx, id); err != nil {
			return notFound(fs.Name(), id, err)
		}
		_, err := fmt.Fprintf(stdout, "revoked initial access token %s\n", strings.ToLower(id))
		return err
	})
}

const tokensUsage = `Usage: clientreg tokens revoke --client ID [flags]

Manages the tokens issued to clients.

Run "clientreg tokens revoke -help" for the flags.
`

// tokensHint is the hint of tokens' usage errors.
const tokensHint = `Run "clientreg tokens revoke -help" for usage.`

// tokens runs "clientreg tokens SUBCOMMAND".
func tokens(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return &usageError{err: errors.New("tokens: missing subcommand"), hint: tokensHint}
	}
	switch args[0] {
	case "revoke":
		return tokensRevoke(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, tokensUsage)
		return nil
	}
	return &usageError{err: fmt.Errorf("tokens: unknown subcommand %q", args[0]), hint: tokensHint}
}

// tokensRevokeJSON is the JSON output of tokens revoke.
type tokensRevokeJSON struct {
	ClientID string `json:"client_id"`
	// Revoked is how many access tokens and grants (refresh token
	// families) were revoked.
	Revoked int64 `json:"revoked"`
}

// tokensRevoke runs tokens revoke --client ID.
func tokensRevoke(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := newAdminFlags("tokens revoke", "clientreg tokens revoke --client ID [flags]",
		"Revokes every access token and every refresh token family (grant) of the\n"+
			"client ID, and its authorization codes not yet redeemed, at once, also at\n"+
			"running servers (JWT access tokens verified offline stay valid until they\n"+
			"expire). The client keeps working: it authenticates and gets new tokens,\n"+
			"its users authorize it again. Prints how many were revoked; with --json,\n"+
			"{\"client_id\": ID, \"revoked\": N}. Emits its audit event (--audit-log,\n"+
			"--operator).", true, true)
	client := fs.String("client", "", "the client (`ID`) whose tokens to revoke; required")
	if err := fs.parse(args, stdout, getenv); err != nil {
		return err
	}
	if *client == "" {
		return &usageError{err: errors.New("tokens revoke: --client is required"), hint: tokensHint}
	}
	return o.run(ctx, fs, stderr, getenv, func(s *adminSession) error {
		n, err := s.h.RevokeClientTokens(s.ctx, *client)
		if err != nil {
			return notFound(fs.Name(), *client, err)
		}
		if *o.json {
			b, err := json.Marshal(tokensRevokeJSON{ClientID: *client, Revoked: n})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "%s\n", b)
			return err
		}
		_, err = fmt.Fprintf(stdout, "revoked %d tokens and grants of client %s\n", n, *client)
		return err
	})
}
