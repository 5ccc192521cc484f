package cli

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Bad configurations stop serve before it creates anything: no key file, no
// database, in a directory that holds only the configuration file.
func TestServeBadConfigLeavesNoFiles(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"yaml":             "policies:\n  a:\n    allowed_scope: [x]\n",
		"unknown default":  "default_policy: nope\n",
		"negative max":     "policies:\n  a:\n    max_clients: -1\n",
		"unsupported rule": "policies:\n  a:\n    allowed_grant_types: [password]\n", // found by clientreg.New
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "clientreg.yaml")
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "clientreg.db")
			code, _, stderr := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", db, "--config", cfg)
			if code != ExitUsage || !strings.Contains(stderr, cfg) {
				t.Fatalf("exit %d, want %d and an error naming %s:\n%s", code, ExitUsage, cfg, stderr)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if !slices.Equal(names, []string{"clientreg.yaml"}) {
				t.Errorf("serve left %v behind, want only clientreg.yaml", names)
			}
		})
	}
	// A database and key that exist already are kept, of course.
	dir := t.TempDir()
	db := filepath.Join(dir, "clientreg.db")
	s := startServer(t, nil, "--db", db)
	register(t, s.issuer, "")
	s.stop(t)
	cfg := writeConfig(t, "policies:\n  a:\n    allowed_grant_types: [password]\n")
	if code, _, stderr := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", db, "--config", cfg); code != ExitUsage {
		t.Fatalf("exit %d, want %d:\n%s", code, ExitUsage, stderr)
	}
	for _, f := range []string{db, db + ".key"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the existing %s is gone: %v", filepath.Base(f), err)
		}
	}
}

// A configuration error is reported as itself even when the address is
// taken: the address is bound last.
func TestServeBadConfigPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, args := range [][]string{
		{"--config", writeConfig(t, "policies:\n  a:\n    allowed_grant_types: [password]\n")},
		{"--config", writeConfig(t, "default_policy: nope\n")},
		{"--scopes", "a", "--default-scopes", "b"},
	} {
		args = append([]string{"serve", "--addr", ln.Addr().String(), "--db", dbIn(t)}, args...)
		code, _, stderr := run(t, nil, args...)
		if code != ExitUsage || strings.Contains(stderr, "address already in use") || strings.Contains(stderr, "listen") {
			t.Errorf("%v: exit %d, want %d and the configuration error, not the taken address:\n%s", args, code, ExitUsage, stderr)
		}
	}
}

// goIdentifierRE matches what configuration errors must never show: the Go
// names of the library's Config fields and of the CLI's YAML types.
var goIdentifierRE = regexp.MustCompile(`Config\.|cli\.file|ScopesSupported|GrantTypesSupported|MaxClients|DefaultPolicy|TrustedIssuers|\bint64\b|\[\]string`)

// Configuration errors name the file and the member, or the flag, never a
// Go identifier.
func TestServeConfigErrorsNameFileAndMember(t *testing.T) {
	t.Parallel()
	pem := writeConfig(t, "not a key")
	for _, tc := range []struct {
		name, config string
		args         []string
		want         []string // in stderr, besides the file's path when there is a file
	}{
		{"unknown key", "policies:\n  a:\n    allowed_scope: [x]\n", nil, []string{"line 3", "unknown key allowed_scope"}},
		{"wrong type", "policies:\n  a:\n    max_clients: many\n", nil, []string{"line 3", "want an integer"}},
		{"wrong list", "policies:\n  a:\n    allowed_scopes: read\n", nil, []string{"line 3", "want a list of strings"}},
		{"policy grant type", "policies:\n  a:\n    allowed_grant_types: [password]\n", nil, []string{`policies.a: grant type "password" is not supported by the server`}},
		{"policy scope", "policies:\n  a:\n    allowed_scopes: [admin]\n", []string{"--scopes", "read"}, []string{`policies.a: scope "admin" is not supported by the server`}},
		{"policy default scope", "policies:\n  a:\n    allowed_scopes: [a]\n    default_scopes: [b]\n", nil, []string{`policies.a: default scope "b" is not an allowed scope`}},
		{"policy empty list", "policies:\n  a:\n    allowed_auth_methods: []\n", nil, []string{"policies.a: an empty allow-list"}},
		{"policy preset", "policies:\n  a:\n    redirect_preset: desktop\n", nil, []string{`policies.a.redirect_preset: "desktop" is not mcp, web or native`}},
		{"max clients", "policies:\n  a:\n    max_clients: -2\n", nil, []string{"policies.a.max_clients: must not be negative"}},
		{"default policy", "default_policy: nope\n", nil, []string{`default_policy: "nope" is not defined under policies`}},
		{"issuer policy", "trusted_issuers:\n  - issuer: https://i.example\n    jwks_uri: https://i.example/jwks\n    policy: nope\n", nil, []string{`trusted_issuers[0] (https://i.example): policy "nope" is not defined under policies`}},
		{"issuer algorithm", "trusted_issuers:\n  - issuer: https://i.example\n    jwks_uri: https://i.example/jwks\n    algorithms: [HS256]\n", nil, []string{`trusted_issuers: trusted issuer "https://i.example": algorithm "HS256"`}},
		{"issuer twice", "trusted_issuers:\n  - issuer: https://i.example\n    jwks_uri: https://i.example/jwks\n  - issuer: https://i.example\n    jwks_uri: https://i.example/jwks\n", nil, []string{`trusted_issuers: trusted issuer "https://i.example" is listed twice`}},
		{"flag default scope", "", []string{"--scopes", "a", "--default-scopes", "b"}, []string{`--default-scopes: default scope "b" is not in --scopes`}},
		{"flag trust issuer key", "", []string{"--trust-issuer", "https://x.example=" + pem}, []string{"--trust-issuer https://x.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", dbIn(t)}, tc.args...)
			want := tc.want
			if tc.config != "" {
				cfg := writeConfig(t, tc.config)
				args = append(args, "--config", cfg)
				want = append(want, "--config "+cfg)
			}
			code, _, stderr := run(t, nil, args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d:\n%s", code, ExitUsage, stderr)
			}
			for _, w := range want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if m := goIdentifierRE.FindString(stderr); m != "" {
				t.Errorf("stderr shows the Go identifier %q:\n%s", m, stderr)
			}
		})
	}
}

// --trust-issuer and the configuration file's trusted_issuers do not add
// up: serve refuses the two together.
func TestServeTrustIssuerAndFileExclusive(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "trusted_issuers:\n  - issuer: https://i.example\n    jwks_uri: https://i.example/jwks\n")
	pem := filepath.Join(t.TempDir(), "missing.pem") // refused before it is read
	dir := t.TempDir()
	code, _, stderr := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "c.db"),
		"--config", cfg, "--trust-issuer", "https://x.example="+pem)
	if code != ExitUsage || !strings.Contains(stderr, "--trust-issuer and the trusted_issuers of --config "+cfg+" are both set") {
		t.Errorf("exit %d, want %d and an error naming both:\n%s", code, ExitUsage, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
	// Each alone is accepted.
	startServer(t, nil, "--db", dbIn(t), "--config", cfg)
}

// The ready line shows the address bound and, when --issuer differs, the
// issuer.
func TestServeReadyLine(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--db", dbIn(t), "--issuer", "https://auth.example.com")
	line := regexp.MustCompile(`(?m)^listening on .*$`).FindString(s.stderr.String())
	if want := "listening on " + s.issuer + " (issuer https://auth.example.com)"; line != want || !strings.HasPrefix(s.issuer, "http://127.0.0.1:") {
		t.Errorf("ready line %q, want %q with the bound address", line, want)
	}
	r := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "")
	if got := r.str(t, "issuer"); got != "https://auth.example.com" {
		t.Errorf("issuer %q, want https://auth.example.com", got)
	}
}

// --introspector naming a client that is not registered is accepted (the
// client may be registered later) with a warning naming the id.
func TestServeUnknownIntrospectorWarns(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	s := startServer(t, nil, "--db", db)
	known := register(t, s.issuer, "").str(t, "client_id")
	s.stop(t)
	s = startServer(t, nil, "--db", db, "--introspector", known+",no-such-client")
	logs := s.stderr.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "--introspector names a client that is not registered") || !strings.Contains(logs, "client_id=no-such-client") {
		t.Errorf("no warning naming the unknown --introspector:\n%s", logs)
	}
	if strings.Contains(logs, "client_id="+known) {
		t.Errorf("a warning names the registered client %s:\n%s", known, logs)
	}
}

// The HTTP server's timeouts: the former constants by default, the flags'
// values when set, and a default write timeout that leaves time to answer
// a request that used up --request-timeout.
func TestServeHTTPTimeouts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want httpTimeouts
	}{
		{nil, nil, httpTimeouts{10 * time.Second, 30 * time.Second, 30 * time.Second, 2 * time.Minute}},
		{[]string{"--request-timeout", "1m"}, nil, httpTimeouts{10 * time.Second, 30 * time.Second, 75 * time.Second, 2 * time.Minute}},
		{[]string{"--write-timeout", "40s", "--read-timeout", "5s", "--read-header-timeout", "1s", "--idle-timeout", "9s"}, nil,
			httpTimeouts{time.Second, 5 * time.Second, 40 * time.Second, 9 * time.Second}},
		{nil, map[string]string{"CLIENTREG_WRITE_TIMEOUT": "11s"}, httpTimeouts{10 * time.Second, 30 * time.Second, 11 * time.Second, 2 * time.Minute}},
	} {
		fs, o := serveFlags()
		if err := fs.parse(tc.args, io.Discard, envMap(tc.env)); err != nil {
			t.Fatal(err)
		}
		got, err := o.httpTimeouts(fs)
		if err != nil || got != tc.want {
			t.Errorf("%v %v: %+v, %v; want %+v", tc.args, tc.env, got, err, tc.want)
		}
	}
}
