package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeAddr is the address the README walk-through talks to: the default
// of serve --addr.
const readmeAddr = "http://127.0.0.1:8080"

// walkthrough returns the shell block of ../../README.md that follows the
// line "<!-- walkthrough -->".
func walkthrough(t *testing.T) string {
	t.Helper()
	return readmeBlock(t, "walkthrough")
}

// readmeBlock returns the shell block of ../../README.md that follows the
// line "<!-- NAME -->".
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n<!-- " + regexp.QuoteMeta(name) + " -->\n```sh\n(.*?\n)```\n").FindSubmatch(b)
	if m == nil {
		t.Fatalf("README.md has no \"<!-- %s -->\" line directly followed by a ```sh block", name)
	}
	return string(m[1])
}

// TestREADMEWalkthrough runs the README's curl walk-through against a real
// server, as a newcomer would paste it into bash.
//
// The walk-through talks to 127.0.0.1:8080, the default address of
// "clientreg serve". So that tests can run in parallel with each other (and
// with a server a developer has running), the test starts the server on a
// free port and replaces every "http://127.0.0.1:8080" in the block with
// that server's URL; nothing else of the text is changed.
func TestREADMEWalkthrough(t *testing.T) {
	t.Parallel()
	needREADMETools(t)
	script := walkthrough(t)
	if strings.Contains(script, "jq") {
		t.Error("the walk-through uses jq, which a fresh machine may lack")
	}
	if !strings.Contains(script, readmeAddr) {
		t.Fatalf("the walk-through does not talk to %s, the default address", readmeAddr)
	}

	s := startServer(t, nil, "--db", dbIn(t))
	script = strings.ReplaceAll(script, readmeAddr, s.issuer)

	out := runREADMEScript(t, s, "walkthrough", script)

	var statuses []string
	for _, m := range regexp.MustCompile(`(?m)^HTTP (\d{3})$`).FindAllStringSubmatch(string(out), -1) {
		statuses = append(statuses, m[1])
	}
	// register, read, update, delete, and the deleted client's token fails.
	if want := []string{"201", "200", "200", "204", "401"}; !slices.Equal(statuses, want) {
		t.Errorf("walk-through statuses %v, want %v; output:\n%s", statuses, want, out)
	}
	for _, want := range []string{`"registration_endpoint":"` + s.issuer + `/register"`, `"client_secret":`, `"client_name":"My App v2"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walk-through output lacks %s:\n%s", want, out)
		}
	}
}

// TestREADMESeveralInstances runs the two "clientreg serve" lines of the
// README's "Running several instances" block, each through bash with the
// block's variable assignments before it, and checks that the two
// instances serve the same clients under the same issuer.
//
// It changes only what must differ on a test machine: DB becomes a fresh
// schema on the test server (see pgtest), KEY a file in a temporary
// directory, each --addr 127.0.0.1:0 (the instances log the address they
// got), and "clientreg" the binary built from this tree.
func TestREADMESeveralInstances(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("bash is needed to run the README's commands: %v", err)
		}
		t.Skipf("bash is needed to run the README's commands: %v", err)
	}
	block := readmeBlock(t, "several-instances")
	var assigns, serves []string
	assignRE := regexp.MustCompile(`^[A-Z]+=`)
	for line := range strings.Lines(block) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case assignRE.MatchString(line):
			assigns = append(assigns, line)
		case strings.HasPrefix(line, "clientreg serve "):
			serves = append(serves, line)
		default:
			t.Fatalf("unexpected line in the several-instances block: %q", line)
		}
	}
	addrRE := regexp.MustCompile(`--addr (\S+)`)
	if len(serves) != 2 {
		t.Fatalf("the block has %d \"clientreg serve\" lines, want 2", len(serves))
	}
	a0, a1 := addrRE.FindStringSubmatch(serves[0]), addrRE.FindStringSubmatch(serves[1])
	if a0 == nil || a1 == nil || a0[1] == a1[1] {
		t.Fatalf("the two serve lines must have different --addr values:\n%s\n%s", serves[0], serves[1])
	}
	if rest0, rest1 := strings.Replace(serves[0], a0[0], "", 1), strings.Replace(serves[1], a1[0], "", 1); rest0 != rest1 {
		t.Errorf("the serve lines differ in more than --addr:\n%s\n%s", serves[0], serves[1])
	}
	for _, flag := range []string{`--db "$DB"`, `--secret-key-file "$KEY"`, `--issuer "$ISSUER"`} {
		if !strings.Contains(serves[0], flag) {
			t.Errorf("the serve lines lack %s: %s", flag, serves[0])
		}
	}
	vars := map[string]string{}
	for _, a := range assigns {
		name, value, _ := strings.Cut(a, "=")
		vars[name] = strings.Trim(value, `'"`)
	}
	issuer := vars["ISSUER"]
	if !strings.HasPrefix(vars["DB"], "postgres://") || vars["KEY"] == "" || !strings.HasPrefix(issuer, "https://") {
		t.Fatalf("the block must set DB to a postgres:// URL, KEY, and ISSUER to an https:// URL: %v", assigns)
	}

	dsn := pgURL(t)
	bin := clientregBinary(t)
	key := filepath.Join(t.TempDir(), "server.key")
	var instances []*instance
	for _, serve := range serves {
		var script strings.Builder
		for _, a := range assigns {
			name, _, _ := strings.Cut(a, "=")
			switch name {
			case "DB":
				a = "DB='" + dsn + "'"
			case "KEY":
				a = "KEY='" + key + "'"
			}
			script.WriteString(a + "\n")
		}
		serve = addrRE.ReplaceAllLiteralString(serve, "--addr 127.0.0.1:0")
		script.WriteString("exec '" + bin + "'" + strings.TrimPrefix(serve, "clientreg") + "\n")
		instances = append(instances, launch(t, exec.Command("bash", "-euc", script.String())))
	}
	for _, in := range instances {
		in.ready(t)
		if !strings.Contains(in.stderr.String(), "listening on "+in.base+" (issuer "+issuer+")\n") {
			t.Errorf("the instance does not serve under the issuer %s:\n%s", issuer, in.stderr)
		}
		wantStatus(t, "readyz", do(t, http.MethodGet, in.base+readyzPath, "", ""), http.StatusOK)
	}

	// A client registered through one instance is read through the other,
	// at its registration_client_uri under the shared issuer.
	reg := register(t, instances[0].base, "")
	uri, token := reg.str(t, "registration_client_uri"), reg.str(t, "registration_access_token")
	path, ok := strings.CutPrefix(uri, issuer)
	if !ok {
		t.Fatalf("registration_client_uri %q is not under the issuer %s", uri, issuer)
	}
	wantStatus(t, "read through the other instance", do(t, http.MethodGet, instances[1].base+path, token, ""), http.StatusOK)
}

// TestREADMEFlagTable checks that the README's configuration tables list
// every flag of serve and iat create with its environment variable.
func TestREADMEFlagTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	serveFS, _ := serveFlags()
	iatFS, _ := iatCreateFlags()
	for _, set := range []*flagSet{serveFS, iatFS} {
		set.VisitAll(func(f *flag.Flag) {
			row := fmt.Sprintf("| `--%s` | `%s` |", f.Name, envName(f.Name))
			if !bytes.Contains(b, []byte(row)) {
				t.Errorf("README.md has no configuration table row starting %q", row)
			}
		})
	}
}

// TestREADMERecovery runs the README's client credentials block and then its
// registration access token recovery block, verbatim but for the server's
// address (as TestREADMEWalkthrough does), and checks that the recovered
// token is new and works.
func TestREADMERecovery(t *testing.T) {
	t.Parallel()
	needREADMETools(t)
	creds, recovery := readmeBlock(t, "client-credentials"), readmeBlock(t, "token-recovery")
	if !strings.Contains(creds, readmeAddr) {
		t.Fatalf("the client credentials block does not talk to %s, the default address", readmeAddr)
	}
	s := startServer(t, nil, "--db", dbIn(t))
	// The script prints the variables it set, for the test to check.
	script := strings.ReplaceAll(creds, readmeAddr, s.issuer) + recovery +
		`echo "CLIENT_ID=$CLIENT_ID"; echo "CLIENT_URI=$CLIENT_URI"` + "\n"

	out := runREADMEScript(t, s, "recovery", script)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines (token response, recovery response, two variables), got:\n%s", out)
	}
	var tok, rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &tok); err != nil || tok["access_token"] == nil {
		t.Fatalf("token response: %v: %s", err, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatalf("recovery response is not JSON: %v: %s\nserver log:\n%s", err, lines[1], s.stderr)
	}
	fresh, _ := rec["registration_access_token"].(string)
	id, uri := strings.TrimPrefix(lines[2], "CLIENT_ID="), strings.TrimPrefix(lines[3], "CLIENT_URI=")
	if fresh == "" || rec["client_id"] != id || uri != s.issuer+"/register/"+id {
		t.Fatalf("recovery response %s for client %q at %q: want a new registration access token", lines[1], id, uri)
	}
	r := do(t, http.MethodGet, uri, fresh, "")
	wantStatus(t, "read with the recovered token", r, http.StatusOK)
}

// TestREADMEMCPDevLogin runs the README's "Using with MCP" block, the
// client and the browser of an MCP sign-in with curl, against a server
// started as the README's first command starts it (no --login: the
// development sign-in), on a free port.
func TestREADMEMCPDevLogin(t *testing.T) {
	t.Parallel()
	needREADMETools(t, "openssl", "base64")
	script := readmeBlock(t, "mcp-dev-login")
	s := startServer(t, nil, "--db", dbIn(t))
	script = strings.ReplaceAll(script, readmeAddr, s.issuer)
	out := runREADMEScript(t, s, "mcp", script)
	for _, want := range []string{"redirected to http://127.0.0.1:33418/callback?code=", `"access_token":"`, `"refresh_token":"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the block's output lacks %s:\n%s", want, out)
		}
	}
}

// needREADMETools skips t (fails it under CI) unless the tools the README's
// commands use (bash, curl, sed and more) are installed.
func needREADMETools(t *testing.T, more ...string) {
	t.Helper()
	for _, tool := range append([]string{"bash", "curl", "sed"}, more...) {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed to run the README's commands: %v", tool, err)
			}
			t.Skipf("%s is needed to run the README's commands: %v", tool, err)
		}
	}
}

// runREADMEScript runs script, README commands aimed at the server s, with
// bash -euo pipefail in a new directory, and returns what it printed. A
// failure fails t with the output and the server's log.
func runREADMEScript(t *testing.T, s *server, name, script string) []byte {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".sh")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", path)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's %s commands failed: %v\noutput:\n%s\nserver log:\n%s", name, err, out, s.stderr)
	}
	return out
}
