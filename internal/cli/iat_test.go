package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// iat create refuses a database that does not exist, rather than create one
// (and a key) that no server uses; --create-db creates them.
func TestIATCreateNeedsDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "clientreg.db")
	code, out, stderr := run(t, nil, "iat", "create", "--db", db)
	if code != ExitError || out != "" || !strings.Contains(stderr, "the database "+db+" does not exist") || !strings.Contains(stderr, "--create-db") {
		t.Errorf("missing database: exit %d, stdout %q, want %d and advice naming --create-db:\n%s", code, out, ExitError, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("iat create left files behind: %v", entries)
	}

	code, out, stderr = run(t, nil, "iat", "create", "--db", db, "--create-db")
	if code != ExitOK || strings.TrimSpace(out) == "" {
		t.Fatalf("--create-db: exit %d, stdout %q; stderr:\n%s", code, out, stderr)
	}
	for _, f := range []string{db, db + ".key"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("--create-db did not create %s: %v", filepath.Base(f), err)
		}
	}
	// The database exists now; a token is made without the flag.
	if code, _, stderr := run(t, nil, "iat", "create", "--db", db); code != ExitOK {
		t.Errorf("existing database: exit %d; stderr:\n%s", code, stderr)
	}

	// A database whose server keeps its key elsewhere: iat create with the
	// default key path would make a new key, which that server lacks.
	db2 := filepath.Join(t.TempDir(), "c.db")
	s := startServer(t, nil, "--db", db2, "--secret-key-file", filepath.Join(t.TempDir(), "server.key"))
	s.stop(t)
	code, _, stderr = run(t, nil, "iat", "create", "--db", db2)
	if code != ExitError || !strings.Contains(stderr, "the key file "+db2+".key does not exist") {
		t.Errorf("missing key file: exit %d, want %d:\n%s", code, ExitError, stderr)
	}
	if _, err := os.Stat(db2 + ".key"); err == nil {
		t.Errorf("iat create created a key file the server does not use")
	}
}

// For PostgreSQL, the database must have clientreg's tables: a server
// created them, or --create-db asks iat create to.
func TestIATCreateNeedsPostgresSchema(t *testing.T) {
	t.Parallel()
	dsn := pgURL(t)
	key := filepath.Join(t.TempDir(), "server.key")
	code, _, stderr := run(t, nil, "iat", "create", "--db", dsn, "--secret-key-file", key)
	if code != ExitError || !strings.Contains(stderr, "has no clientreg tables") {
		t.Fatalf("empty schema: exit %d, want %d and a message about the tables:\n%s", code, ExitError, stderr)
	}
	if _, err := os.Stat(key); err == nil {
		t.Errorf("iat create created a key file for an empty database")
	}
	s := startServer(t, nil, "--db", dsn, "--secret-key-file", key)
	code, out, stderr := run(t, nil, "iat", "create", "--db", dsn, "--secret-key-file", key)
	if code != ExitOK || strings.TrimSpace(out) == "" {
		t.Fatalf("after serve migrated the schema: exit %d; stderr:\n%s", code, stderr)
	}
	register(t, s.issuer, strings.TrimSpace(out))
}

// --policy is defined in the --config file, so it needs one.
func TestIATCreatePolicyNeedsConfig(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, nil, "iat", "create", "--db", dbIn(t), "--policy", "partner")
	if code != ExitUsage || !strings.Contains(stderr, `--policy "partner" needs --config`) {
		t.Errorf("exit %d, want %d and a message that --config is missing:\n%s", code, ExitUsage, stderr)
	}
}

// "clientreg help COMMAND" prints the command's own help; --version and
// -version are version.
func TestHelpCommand(t *testing.T) {
	t.Parallel()
	_, serveHelp, _ := run(t, nil, "serve", "-help")
	_, iatHelp, _ := run(t, nil, "iat", "create", "-help")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "serve"}, serveHelp},
		{[]string{"help", "iat", "create"}, iatHelp},
		{[]string{"--help", "serve"}, serveHelp},
	} {
		code, out, stderr := run(t, nil, tc.args...)
		if code != ExitOK || out != tc.want {
			t.Errorf("%v: exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", tc.args, code, out, tc.want, stderr)
		}
	}
	if !strings.HasPrefix(serveHelp, "Usage: clientreg serve") {
		t.Errorf("serve -help:\n%s", serveHelp)
	}
	if code, out, _ := run(t, nil, "help", "iat"); code != ExitOK || !strings.Contains(out, "clientreg iat create") {
		t.Errorf("help iat: exit %d:\n%s", code, out)
	}
	if code, _, stderr := run(t, nil, "help", "start"); code != ExitUsage || !strings.Contains(stderr, `unknown command "start"`) {
		t.Errorf("help start: exit %d:\n%s", code, stderr)
	}
	versionRE := regexp.MustCompile(`^clientreg (\(devel\)|v\S+) ` + regexp.QuoteMeta(runtime.Version()) + ` \S+/\S+\n$`)
	for _, arg := range []string{"version", "--version", "-version"} {
		code, out, stderr := run(t, nil, arg)
		if code != ExitOK || !versionRE.MatchString(out) {
			t.Errorf("%s: exit %d, output %q, want it to match %s; stderr:\n%s", arg, code, out, versionRE, stderr)
		}
	}
}

// Every README section that a help text points at exists.
func TestHelpREADMEPointers(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var help strings.Builder
	for _, args := range [][]string{{"help"}, {"serve", "-help"}, {"iat", "create", "-help"}, {"iat", "help"}} {
		_, out, _ := run(t, nil, args...)
		help.WriteString(out)
	}
	text := strings.Join(strings.Fields(strings.ReplaceAll(help.String(), "\t", " ")), " ")
	pointers := regexp.MustCompile(`README's "([^"]+)"`).FindAllStringSubmatch(text, -1)
	if len(pointers) == 0 {
		t.Fatal("no help text points at a README section; the test proves nothing")
	}
	for _, p := range pointers {
		if !regexp.MustCompile(`(?m)^#+ ` + regexp.QuoteMeta(p[1]) + `$`).Match(readme) {
			t.Errorf("the help points at the README's %q, which has no such section", p[1])
		}
	}
}

// A policy that the library refuses is reported by iat create in the terms
// of the file, as serve reports it.
func TestIATCreateConfigErrorNamesMember(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	if code, _, stderr := run(t, nil, "iat", "create", "--db", db, "--create-db"); code != ExitOK {
		t.Fatalf("--create-db: exit %d:\n%s", code, stderr)
	}
	cfg := writeConfig(t, "policies:\n  a:\n    allowed_scopes: ['x\"y']\n")
	code, out, stderr := run(t, nil, "iat", "create", "--db", db, "--config", cfg, "--policy", "a")
	if want := "--config " + cfg + `: policies.a: "x\"y" is not a valid scope token`; code != ExitUsage || out != "" || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stdout %q, want %d and %q:\n%s", code, out, ExitUsage, want, stderr)
	}
	if m := goIdentifierRE.FindString(stderr); m != "" {
		t.Errorf("stderr shows the Go identifier %q:\n%s", m, stderr)
	}
}
