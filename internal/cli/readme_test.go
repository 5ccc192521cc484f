package cli

import (
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
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n<!-- walkthrough -->\n```sh\n(.*?\n)```\n").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no \"<!-- walkthrough -->\" line directly followed by a ```sh block")
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
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed to run the README walk-through: %v", tool, err)
			}
			t.Skipf("%s is needed to run the README walk-through: %v", tool, err)
		}
	}
	script := walkthrough(t)
	if strings.Contains(script, "jq") {
		t.Error("the walk-through uses jq, which a fresh machine may lack")
	}
	if !strings.Contains(script, readmeAddr) {
		t.Fatalf("the walk-through does not talk to %s, the default address", readmeAddr)
	}

	s := startServer(t, nil, "--db", dbIn(t))
	script = strings.ReplaceAll(script, readmeAddr, s.issuer)

	dir := t.TempDir()
	path := filepath.Join(dir, "walkthrough.sh")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", path)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\noutput:\n%s\nserver log:\n%s", err, out, s.stderr)
	}

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
