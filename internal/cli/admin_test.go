package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres"
	"github.com/clientreg/clientreg/store/sqlite"
)

// The operator's commands (docs/behaviour.md §11) on SQLite and on
// PostgreSQL, run against the database of a server that keeps running:
// what they change, the server answers at once.

// adminDB is a database of the tests of the operator's commands: the flags
// that name it (--db and, for PostgreSQL, --secret-key-file).
type adminDB struct {
	flags    []string
	postgres bool
}

// eachDB runs f on a new SQLite file and on a new PostgreSQL schema (when
// the test server is reachable; see pgURL), as parallel subtests.
func eachDB(t *testing.T, f func(t *testing.T, db adminDB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, adminDB{flags: []string{"--db", dbIn(t)}})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := pgURL(t)
		f(t, adminDB{flags: []string{"--db", dsn, "--secret-key-file", filepath.Join(t.TempDir(), "server.key")}, postgres: true})
	})
}

// cmd runs the clientreg command ARGS on the database db.
func (db adminDB) cmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return run(t, nil, append(slices.Clone(args), db.flags...)...)
}

// ok runs ARGS on db and fails the test unless it exits 0; it returns
// stdout.
func (db adminDB) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, stderr := db.cmd(t, args...)
	if code != ExitOK {
		t.Fatalf("clientreg %s: exit %d; stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, stderr)
	}
	return out
}

// verifier is a Handler on db's database, beside the server's, for
// VerifyAccessToken.
func (db adminDB) verifier(t *testing.T) *clientreg.Handler {
	t.Helper()
	key, err := os.ReadFile(db.keyPath())
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store
	if db.postgres {
		st, err = postgres.Open(t.Context(), db.flags[1])
	} else {
		st, err = sqlite.Open(t.Context(), db.flags[1])
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := clientreg.New(clientreg.Config{Issuer: "http://clientreg.invalid", Store: st, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (db adminDB) keyPath() string {
	if db.postgres {
		return db.flags[3]
	}
	return db.flags[1] + ".key"
}

// clientRows reads the client IDs of a clients list table, checking its
// header.
func clientRows(t *testing.T, table string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "CLIENT ID ") || !strings.Contains(lines[0], " STATE") {
		t.Fatalf("no table header:\n%s", table)
	}
	var ids []string
	for _, l := range lines[1:] {
		ids = append(ids, strings.Fields(l)[0])
	}
	slices.Sort(ids)
	return ids
}

// clientsJSON decodes the output of clients list --json.
func clientsJSON(t *testing.T, out string) []clientJSON {
	t.Helper()
	var cs []clientJSON
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("clients list --json is not a JSON array of clients: %v\n%s", err, out)
	}
	return cs
}

// auditEvents reads the audit log at path.
func auditEvents(t *testing.T, path string) []clientreg.AuditEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var es []clientreg.AuditEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e clientreg.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		es = append(es, e)
	}
	return es
}

func sorted(ids ...string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

// Every operator command, on SQLite and PostgreSQL, against the database
// of a running server: listing and showing; disabling (the server refuses
// the client at once: no token, no refresh, no configuration endpoint, its
// tokens dead) and enabling; revoking a client's tokens while it keeps
// working; revoking an initial access token; deleting. Their outputs parse
// and hold no credential, and every change is in the audit log.
func TestAdminCommandsWhileServing(t *testing.T) {
	eachDB(t, func(t *testing.T, db adminDB) {
		cfg := writeConfig(t, "policies:\n  partner:\n    max_clients: 100\n")
		s := startServer(t, nil, append([]string{"--login", "header", "--trusted-proxy", "127.0.0.1/32", "--rate-limits=false", "--config", cfg}, db.flags...)...)
		verifier := db.verifier(t)
		ctx := t.Context()
		const resource = "https://mcp.example.com/mcp"
		auditLog := filepath.Join(t.TempDir(), "audit.log")
		op := []string{"--audit-log", auditLog, "--operator", "alice"}

		iat := strings.TrimSpace(db.ok(t, "iat", "create", "--config", cfg, "--policy", "partner", "--uses", "5"))
		r := do(t, http.MethodPost, s.issuer+"/register", iat, `{"client_name":"conf","grant_types":["client_credentials"]}`)
		wantStatus(t, "register conf", r, http.StatusCreated)
		conf, confSecret, confRAT := r.need(t, "client_id"), r.need(t, "client_secret"), r.need(t, "registration_access_token")
		pub, pubCreds := codeFlowCredentials(t, s.issuer, "")
		idle := register(t, s.issuer, "").need(t, "client_id")
		token := func() response {
			t.Helper()
			return form(t, s.issuer+"/token", conf, confSecret, url.Values{"grant_type": {"client_credentials"}})
		}
		introspect := func(tok string) bool {
			t.Helper()
			r := form(t, s.issuer+"/introspect", conf, confSecret, url.Values{"token": {tok}})
			wantStatus(t, "introspect", r, http.StatusOK)
			return r.json(t)["active"] == true
		}
		refresh := func() response {
			t.Helper()
			return postForm(t, s.issuer+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pubCreds["refresh token 2"]}, "client_id": {pub}})
		}
		r = token()
		wantStatus(t, "client_credentials", r, http.StatusOK)
		ccToken := r.need(t, "access_token")
		creds := map[string]string{"conf's secret": confSecret, "conf's registration access token": confRAT, "conf's access token": ccToken, "initial access token": iat}
		for k, v := range pubCreds {
			creds[k] = v
		}
		var outputs []string
		out := func(args ...string) string {
			t.Helper()
			o := db.ok(t, args...)
			outputs = append(outputs, o)
			return o
		}

		// clients list, with each filter; --json.
		if got, want := clientRows(t, out("clients", "list")), sorted(conf, pub, idle); !slices.Equal(got, want) {
			t.Errorf("clients list: %v, want %v", got, want)
		}
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"--policy", "partner"}, []string{conf}},
			{[]string{"--policy", "other,partner"}, []string{conf}},
			{[]string{"--dynamic"}, []string{conf, pub, idle}},
			{[]string{"--never-used"}, []string{idle}},
			{[]string{"--created-after", "1h"}, []string{conf, pub, idle}},
			{[]string{"--created-before", "1h"}, nil},
			{[]string{"--created-after", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil},
			{[]string{"--created-before", time.Now().AddDate(0, 0, 1).Format(time.DateOnly)}, []string{conf, pub, idle}},
			{[]string{"--never-used", "--policy", "partner"}, nil},
		} {
			if got, want := clientRows(t, out(append([]string{"clients", "list"}, tc.args...)...)), sorted(tc.want...); !slices.Equal(got, want) {
				t.Errorf("clients list %v: %v, want %v", tc.args, got, want)
			}
		}
		listed := clientsJSON(t, out("clients", "list", "--json"))
		if len(listed) != 3 {
			t.Fatalf("clients list --json: %d clients, want 3", len(listed))
		}
		all := sorted(conf, pub, idle)
		for i, c := range listed {
			if c.ClientID != all[i] || c.IssuedAt.IsZero() || c.Disabled || c.DisabledAt != nil || len(c.Metadata) == 0 {
				t.Errorf("client %d: %+v", i, c)
			}
		}
		if cs := clientsJSON(t, out("clients", "list", "--json", "--limit", "2")); len(cs) != 2 || cs[0].ClientID != all[0] || cs[1].ClientID != all[1] {
			t.Errorf("--limit 2: %+v", cs)
		}
		if cs := clientsJSON(t, out("clients", "list", "--json", "--after", all[1])); len(cs) != 1 || cs[0].ClientID != all[2] {
			t.Errorf("--after: %+v", cs)
		}
		if cs := clientsJSON(t, out("clients", "list", "--json", "--policy", "nope")); len(cs) != 0 {
			t.Errorf("no match: %+v", cs)
		}

		// clients show, table and --json.
		var shown clientJSON
		if err := json.Unmarshal([]byte(out("clients", "show", conf, "--json")), &shown); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(shown.Metadata, &m)
		if shown.ClientID != conf || shown.ClientName != "conf" || shown.Origin != store.OriginInitialToken || shown.Policy != "partner" ||
			!shown.HasSecret || shown.LastUsedAt == nil || shown.Disabled || m["client_name"] != "conf" || m["token_endpoint_auth_method"] != "client_secret_basic" {
			t.Errorf("clients show --json: %+v, metadata %v", shown, m)
		}
		table := out("clients", "show", pub)
		for _, want := range []string{"client_id:    " + pub, "origin:       anonymous", "state:        enabled", "secret:       none", `"redirect_uris": [`} {
			if !strings.Contains(table, want) {
				t.Errorf("clients show lacks %q:\n%s", want, table)
			}
		}

		// Disabled while the server runs: refused at once, everywhere.
		for _, id := range []string{conf, pub} {
			if got := out(append([]string{"clients", "disable", id}, op...)...); got != "disabled client "+id+"\n" {
				t.Errorf("clients disable: %q", got)
			}
		}
		wantStatus(t, "client_credentials of a disabled client", token(), http.StatusUnauthorized)
		wantStatus(t, "introspection by a disabled client", form(t, s.issuer+"/introspect", conf, confSecret, url.Values{"token": {ccToken}}), http.StatusUnauthorized)
		if r := refresh(); r.status != http.StatusUnauthorized || r.str(t, "error") != "invalid_client" {
			t.Errorf("refresh of a disabled client: %d %s", r.status, r.body)
		}
		wantStatus(t, "configuration endpoint", do(t, http.MethodGet, s.issuer+"/register/"+conf, confRAT, ""), http.StatusUnauthorized)
		for name, tok := range map[string]string{"client_credentials": ccToken, "code flow": pubCreds["access token 2"]} {
			if _, err := verifier.VerifyAccessToken(ctx, tok, resource); !errors.Is(err, clientreg.ErrTokenUnknown) {
				t.Errorf("%s token of a disabled client: %v, want ErrTokenUnknown", name, err)
			}
		}
		if !strings.Contains(out("clients", "show", conf), "state:        disabled since ") {
			t.Error("clients show does not say disabled")
		}
		if cs := clientsJSON(t, out("clients", "list", "--json", "--policy", "partner")); len(cs) != 1 || !cs[0].Disabled || cs[0].DisabledAt == nil {
			t.Errorf("listed disabled client: %+v", cs)
		}

		// Enabled: it authenticates again; its old token stays dead.
		out(append([]string{"clients", "enable", conf}, op...)...)
		r = token()
		wantStatus(t, "client_credentials after enable", r, http.StatusOK)
		newToken := r.need(t, "access_token")
		creds["conf's second access token"] = newToken
		if introspect(ccToken) || !introspect(newToken) {
			t.Error("after enable: the old token works, or the new one does not")
		}
		wantStatus(t, "configuration endpoint after enable", do(t, http.MethodGet, s.issuer+"/register/"+conf, confRAT, ""), http.StatusOK)

		// tokens revoke: the tokens die, the client keeps working.
		var revoked tokensRevokeJSON
		if err := json.Unmarshal([]byte(out(append([]string{"tokens", "revoke", "--client", conf, "--json"}, op...)...)), &revoked); err != nil {
			t.Fatal(err)
		}
		if revoked != (tokensRevokeJSON{ClientID: conf, Revoked: 1}) {
			t.Errorf("tokens revoke --json: %+v", revoked)
		}
		if introspect(newToken) {
			t.Error("a revoked token is active")
		}
		r = token()
		wantStatus(t, "client_credentials after tokens revoke", r, http.StatusOK)
		creds["conf's third access token"] = r.need(t, "access_token")
		if got := out(append([]string{"tokens", "revoke", "--client", conf}, op...)...); got != "revoked 1 tokens and grants of client "+conf+"\n" {
			t.Errorf("tokens revoke: %q", got)
		}

		// iat list and revoke: the token registers nothing any more.
		var ts []initialTokenJSON
		if err := json.Unmarshal([]byte(out("iat", "list", "--json")), &ts); err != nil {
			t.Fatal(err)
		}
		if len(ts) != 1 || len(ts[0].ID) != 16 || ts[0].State != "usable" || ts[0].Uses != 1 || ts[0].MaxUses != 5 || ts[0].Policy != "partner" || ts[0].ExpiresAt != nil {
			t.Fatalf("iat list --json: %+v", ts)
		}
		if table := out("iat", "list"); !strings.HasPrefix(table, "ID ") || !strings.Contains(table, ts[0].ID) || !strings.Contains(table, "1/5") || !strings.Contains(table, "usable") {
			t.Errorf("iat list:\n%s", table)
		}
		if got := out(append([]string{"iat", "revoke", ts[0].ID}, op...)...); got != "revoked initial access token "+ts[0].ID+"\n" {
			t.Errorf("iat revoke: %q", got)
		}
		r = do(t, http.MethodPost, s.issuer+"/register", iat, clientBody)
		if r.status != http.StatusUnauthorized || r.str(t, "error") != "invalid_token" {
			t.Errorf("registration with a revoked initial access token: %d %s", r.status, r.body)
		}
		if got := out("iat", "list", "--json"); strings.TrimSpace(got) != "[]" {
			t.Errorf("iat list after revoke: %s", got)
		}
		code, _, stderr := db.cmd(t, "iat", "revoke", ts[0].ID)
		if code != ExitError || !strings.Contains(stderr, "no initial access token") {
			t.Errorf("revoking it again: exit %d: %s", code, stderr)
		}

		// clients delete while serving.
		for _, id := range []string{pub, conf} {
			if got := out(append([]string{"clients", "delete", id}, op...)...); got != "deleted client "+id+"\n" {
				t.Errorf("clients delete: %q", got)
			}
		}
		wantStatus(t, "client_credentials of a deleted client", token(), http.StatusUnauthorized)
		wantStatus(t, "configuration endpoint of a deleted client", do(t, http.MethodGet, s.issuer+"/register/"+conf, confRAT, ""), http.StatusUnauthorized)
		if got := clientRows(t, out("clients", "list")); !slices.Equal(got, []string{idle}) {
			t.Errorf("after the deletes: %v", got)
		}
		for _, args := range [][]string{{"clients", "show", conf}, {"clients", "delete", conf}, {"clients", "disable", conf}, {"clients", "enable", conf}, {"tokens", "revoke", "--client", conf}} {
			code, stdout, stderr := db.cmd(t, args...)
			if code != ExitError || stdout != "" || !strings.Contains(stderr, `no client "`+conf+`"`) {
				t.Errorf("%v of a deleted client: exit %d, stdout %q, stderr %s", args, code, stdout, stderr)
			}
		}

		// The audit log has every change, by alice.
		want := []struct {
			kind   clientreg.AuditKind
			client string
		}{
			{clientreg.AuditClientDisabled, conf}, {clientreg.AuditClientDisabled, pub}, {clientreg.AuditClientEnabled, conf},
			{clientreg.AuditClientTokensRevoked, conf}, {clientreg.AuditClientTokensRevoked, conf},
			{clientreg.AuditInitialTokenRevoked, ""}, {clientreg.AuditClientDeleted, pub}, {clientreg.AuditClientDeleted, conf},
		}
		events := auditEvents(t, auditLog)
		if len(events) != len(want) {
			t.Fatalf("%d audit events, want %d: %+v", len(events), len(want), events)
		}
		for i, e := range events {
			if e.Kind != want[i].kind || e.ClientID != want[i].client || e.Actor != (clientreg.AuditActor{Kind: clientreg.ActorOperator, ID: "alice"}) {
				t.Errorf("audit event %d: %+v, want %s of %q by alice", i, e, want[i].kind, want[i].client)
			}
		}
		if events[3].Count != 1 || events[5].InitialTokenID != ts[0].ID {
			t.Errorf("audit events: count %d, initial token %q", events[3].Count, events[5].InitialTokenID)
		}

		// No output, and no audit event, holds a credential.
		log, _ := os.ReadFile(auditLog)
		outputs = append(outputs, string(log))
		for i, o := range outputs {
			if found := testutil.FindCredential([]byte(o), creds); found != "" {
				t.Errorf("output %d holds %s:\n%s", i, found, o)
			}
		}
	})
}

// clients list pages through the database, writing each page as it
// comes; --limit and --after cut the listing across pages.
func TestClientsListPages(t *testing.T) {
	defer func(n int) { clientsListPage = n }(clientsListPage)
	clientsListPage = 2
	db := adminDB{flags: []string{"--db", dbIn(t)}}
	db.ok(t, "iat", "create", "--create-db")
	st, err := sqlite.Open(t.Context(), db.flags[1])
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 5 {
		c := oldClient(string(rune('a'+i))+"-client", time.Hour)
		ids = append(ids, c.ID)
		if err := st.CreateClient(context.Background(), c, store.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if got := clientRows(t, db.ok(t, "clients", "list")); !slices.Equal(got, ids) {
		t.Errorf("all: %v", got)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, ids},
		{[]string{"--limit", "3"}, ids[:3]},
		{[]string{"--limit", "4"}, ids[:4]},
		{[]string{"--limit", "9"}, ids},
		{[]string{"--after", ids[0], "--limit", "3"}, ids[1:4]},
		{[]string{"--after", ids[4]}, nil},
	} {
		cs := clientsJSON(t, db.ok(t, append([]string{"clients", "list", "--json"}, tc.args...)...))
		var got []string
		for _, c := range cs {
			got = append(got, c.ClientID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.args, got, tc.want)
		}
	}
}

// The operator's commands refuse a bad command line with exit code 2
// before they open anything, and a database that does not exist with
// exit code 1; an ID that starts with "-" is given after "--".
func TestAdminCommandLine(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clients", "show", "--db", db}, "clients show: missing ID"},
		{[]string{"clients", "disable", "a", "b", "--db", db}, `clients disable: unexpected argument "b"`},
		{[]string{"clients", "list", "x", "--db", db}, `clients list: unexpected argument "x"`},
		{[]string{"clients", "list", "--created-before", "yesterday", "--db", db}, "want an RFC 3339 time"},
		{[]string{"clients", "list", "--limit", "-1", "--db", db}, "non-negative"},
		{[]string{"tokens", "revoke", "--db", db}, "--client is required"},
		{[]string{"tokens"}, "tokens: missing subcommand"},
		{[]string{"tokens", "burn"}, `unknown subcommand "burn"`},
		{[]string{"iat", "revoke", "--db", db}, "iat revoke: missing ID"},
		{[]string{"clients", "enable", "--db", "postgres://u@127.0.0.1:1/x", "c"}, "needs --secret-key-file"},
	} {
		code, out, stderr := run(t, nil, tc.args...)
		if code != ExitUsage || out != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, want %d and %q:\n%s", tc.args, code, out, ExitUsage, tc.want, stderr)
		}
	}
	code, _, stderr := run(t, nil, "clients", "list", "--db", db)
	if code != ExitError || !strings.Contains(stderr, "does not exist") {
		t.Errorf("no database: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("clients list created the database")
	}

	// An ID that starts with "-": as it is, or after "--"; flags before
	// and after.
	if code, _, stderr := run(t, nil, "iat", "create", "--db", db, "--create-db"); code != ExitOK {
		t.Fatal(stderr)
	}
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(t.Context(), oldClient("-dash", time.Hour), store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, args := range [][]string{
		{"clients", "show", "--db", db, "--json", "--", "-dash"},
		{"clients", "show", "--json", "--db=" + db, "--", "-dash"},
		{"clients", "show", "-dash", "--json", "--db", db},
		{"clients", "show", "--json", "-dash", "--db", db},
	} {
		code, out, stderr := run(t, nil, args...)
		if code != ExitOK || !strings.Contains(out, `"client_id": "-dash"`) {
			t.Errorf("%v: exit %d, %s %s", args, code, out, stderr)
		}
	}
	if code, out, stderr := run(t, nil, "clients", "disable", "--db", db, "--operator", "x", "-dash"); code != ExitOK || out != "disabled client -dash\n" ||
		!strings.Contains(stderr, "audit") {
		t.Errorf("disable -dash: exit %d, %q, stderr (the audit event, logged) %s", code, out, stderr)
	}
	// A flag that does not exist is still one, once the ID is given.
	for _, args := range [][]string{{"clients", "show", "-dash", "--jsn", "--db", db}, {"clients", "list", "--jsn", "--db", db}} {
		if code, _, stderr := run(t, nil, args...); code != ExitUsage || !strings.Contains(stderr, "flag provided but not defined: -jsn") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

// The help of every operator command, and the usage that lists them.
func TestAdminHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"clients", "list", "-help"}, {"clients", "show", "-help"}, {"clients", "delete", "-help"}, {"clients", "disable", "-help"},
		{"clients", "enable", "-help"}, {"iat", "list", "-help"}, {"iat", "revoke", "-help"}, {"tokens", "revoke", "-help"},
	} {
		code, out, stderr := run(t, nil, args...)
		name := strings.Join(args[:2], " ")
		if code != ExitOK || !strings.HasPrefix(out, "Usage: clientreg "+name) || !strings.Contains(out, "--db") || stderr != "" {
			t.Errorf("%v: exit %d:\n%s\n%s", args, code, out, stderr)
		}
		mutating := args[1] != "list" && args[1] != "show"
		if strings.Contains(out, "--audit-log") != mutating || strings.Contains(out, "--operator") != mutating {
			t.Errorf("%v: --audit-log and --operator %v in the help:\n%s", args, mutating, out)
		}
		if _, help, _ := run(t, nil, append([]string{"help"}, args[:2]...)...); help != out {
			t.Errorf("help %s differs from %v", name, args)
		}
	}
	_, usage, _ := run(t, nil, "help")
	_, clientsUsage, _ := run(t, nil, "help", "clients")
	_, iatUsage, _ := run(t, nil, "help", "iat")
	_, tokensUsage, _ := run(t, nil, "help", "tokens")
	for _, want := range []string{"clients list", "clients delete|disable|enable", "tokens revoke --client", "iat list|revoke"} {
		if !strings.Contains(usage, want) {
			t.Errorf("the usage lacks %q:\n%s", want, usage)
		}
	}
	for _, sub := range []string{"list", "show", "delete", "disable", "enable", "purge"} {
		if !strings.Contains(clientsUsage, "clientreg clients "+sub) {
			t.Errorf("help clients lacks %s:\n%s", sub, clientsUsage)
		}
	}
	if !strings.Contains(iatUsage, "clientreg iat revoke ID") || !strings.Contains(tokensUsage, "clientreg tokens revoke --client ID") {
		t.Errorf("help iat / help tokens:\n%s\n%s", iatUsage, tokensUsage)
	}
}
