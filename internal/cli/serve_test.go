package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestServeLifecycle(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	// --login none: the lifecycle of a registration server without an
	// authorization endpoint (a loopback server has --login dev by
	// default, see TestDevLoginDefault).
	s := startServer(t, nil, "--db", db, "--login", "none")

	if strings.HasSuffix(s.issuer, ":0") || !strings.HasPrefix(s.issuer, "http://127.0.0.1:") {
		t.Fatalf("issuer %q: want http://127.0.0.1:<the real port>", s.issuer)
	}

	// Discovery names the registration endpoint under the issuer.
	r := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "")
	wantStatus(t, "discovery", r, http.StatusOK)
	if got := r.str(t, "issuer"); got != s.issuer {
		t.Errorf("discovery issuer = %q, want %q", got, s.issuer)
	}
	if got, want := r.str(t, "registration_endpoint"), s.issuer+"/register"; got != want {
		t.Errorf("registration_endpoint = %q, want %q", got, want)
	}
	// With --login none the server serves no authorization endpoint: the
	// metadata lists the one grant it serves (docs/behaviour.md §9).
	if got, want := r.json(t)["grant_types_supported"], []any{"client_credentials"}; !reflect.DeepEqual(got, want) {
		t.Errorf("grant_types_supported = %v, want %v", got, want)
	}

	// Register, read, update, delete.
	reg := register(t, s.issuer, "")
	id, secret := reg.str(t, "client_id"), reg.str(t, "client_secret")
	uri, token := reg.str(t, "registration_client_uri"), reg.str(t, "registration_access_token")
	if id == "" || secret == "" || token == "" || uri != s.issuer+"/register/"+id {
		t.Fatalf("registration response lacks credentials or has a wrong registration_client_uri: %s", reg.body)
	}

	r = do(t, http.MethodGet, uri, token, "")
	wantStatus(t, "read", r, http.StatusOK)
	if r.str(t, "client_name") != "Test" || r.str(t, "client_secret") != "" {
		t.Errorf("read response: want client_name Test and no client_secret: %s", r.body)
	}

	r = do(t, http.MethodPut, uri, token, fmt.Sprintf(`{"client_id":%q,"client_name":"Renamed","redirect_uris":["http://127.0.0.1:9000/cb"]}`, id))
	wantStatus(t, "update", r, http.StatusOK)
	newToken := r.str(t, "registration_access_token")
	if r.str(t, "client_name") != "Renamed" || newToken == "" || newToken == token {
		t.Fatalf("update response: want client_name Renamed and a rotated token (--rat-rotation on-update is the default): %s", r.body)
	}

	r = do(t, http.MethodDelete, uri, newToken, "")
	wantStatus(t, "delete", r, http.StatusNoContent)
	wantStatus(t, "read after delete", do(t, http.MethodGet, uri, newToken, ""), http.StatusUnauthorized)

	if code := s.stop(t); code != ExitOK {
		t.Fatalf("exit code after cancellation = %d, want 0; stderr:\n%s", code, s.stderr)
	}

	logs := s.stderr.String()
	if n := strings.Count(logs, "listening on"); n != 1 {
		t.Errorf("stderr has %d \"listening on\" lines, want 1:\n%s", n, logs)
	}
	for _, c := range []string{secret, token, newToken} {
		if strings.Contains(logs, c) {
			t.Errorf("a credential reached the log:\n%s", logs)
		}
	}
	for _, want := range []string{
		`method=POST path=/register status=201`,
		`method=GET path=/register/` + id + ` status=200`,
		`method=PUT path=/register/` + id + ` status=200`,
		`method=DELETE path=/register/` + id + ` status=204`,
		`msg=stopped`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestServeRegistrationToken(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	s := startServer(t, nil, "--db", db, "--registration", "token")

	r := do(t, http.MethodPost, s.issuer+"/register", "", clientBody)
	wantStatus(t, "register without token", r, http.StatusUnauthorized)
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
	}

	// iat create runs against the database the server has open.
	code, out, errOut := run(t, nil, "iat", "create", "--db", db, "--uses", "1")
	if code != ExitOK {
		t.Fatalf("iat create: exit %d; stderr:\n%s", code, errOut)
	}
	iat := strings.TrimSuffix(out, "\n")
	if iat == "" || strings.ContainsAny(iat, " \n") {
		t.Fatalf("iat create printed %q, want the token alone on one line", out)
	}

	register(t, s.issuer, iat)
	r = do(t, http.MethodPost, s.issuer+"/register", iat, clientBody)
	wantStatus(t, "second registration with a one-use token", r, http.StatusUnauthorized)
	wantStatus(t, "register with a wrong token", do(t, http.MethodPost, s.issuer+"/register", "x"+iat, clientBody), http.StatusUnauthorized)
}

func TestServeEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"CLIENTREG_DB":             dbIn(t),
		"CLIENTREG_SCOPES":         "read, write",
		"CLIENTREG_DEFAULT_SCOPES": "read",
		"CLIENTREG_GRANT_TYPES":    "client_credentials",
		"CLIENTREG_LOG_FORMAT":     "json",
	}
	s := startServer(t, env)

	r := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "")
	m := r.json(t)
	if got, want := m["scopes_supported"], []any{"read", "write"}; !reflect.DeepEqual(got, want) {
		t.Errorf("scopes_supported = %v, want %v", got, want)
	}
	if got, want := m["grant_types_supported"], []any{"client_credentials"}; !reflect.DeepEqual(got, want) {
		t.Errorf("grant_types_supported = %v, want %v", got, want)
	}
	if got := register(t, s.issuer, "").str(t, "scope"); got != "read" {
		t.Errorf("scope of a client that registered none = %q, want the default scope read", got)
	}
	s.stop(t)

	// Every log line but the "listening on" line is a JSON object.
	for line := range strings.Lines(s.stderr.String()) {
		if strings.HasPrefix(line, "listening on ") {
			continue
		}
		if !json.Valid([]byte(line)) {
			t.Errorf("--log-format json: log line is not JSON: %q", line)
		}
	}
}

func TestServeFlagBeatsEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"CLIENTREG_SCOPES":       "a,b",
		"CLIENTREG_REGISTRATION": "bogus", // overridden, so never parsed
		"CLIENTREG_ADDR":         "256.0.0.1:1",
	}
	s := startServer(t, env, "--db", dbIn(t), "--scopes", "c", "--registration", "open")
	r := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "")
	if got, want := r.json(t)["scopes_supported"], []any{"c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("scopes_supported = %v, want %v (the flag, not the environment)", got, want)
	}
	register(t, s.issuer, "")
}

func TestServeGraceAndRotationFlags(t *testing.T) {
	t.Parallel()
	update := func(t *testing.T, s *server) (oldToken, newToken, uri string) {
		reg := register(t, s.issuer, "")
		uri, oldToken = reg.str(t, "registration_client_uri"), reg.str(t, "registration_access_token")
		r := do(t, http.MethodPut, uri, oldToken, fmt.Sprintf(`{"client_id":%q,"redirect_uris":["http://127.0.0.1:9000/cb"]}`, reg.str(t, "client_id")))
		wantStatus(t, "update", r, http.StatusOK)
		return oldToken, r.str(t, "registration_access_token"), uri
	}
	t.Run("grace 0", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil, "--db", dbIn(t), "--rat-grace", "0")
		old, _, uri := update(t, s)
		wantStatus(t, "read with the rotated token and no grace", do(t, http.MethodGet, uri, old, ""), http.StatusUnauthorized)
	})
	t.Run("default grace", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil, "--db", dbIn(t))
		old, _, uri := update(t, s)
		wantStatus(t, "read with the rotated token within the grace window", do(t, http.MethodGet, uri, old, ""), http.StatusOK)
	})
	t.Run("never rotate", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil, "--db", dbIn(t), "--rat-rotation", "never")
		old, newToken, _ := update(t, s)
		if old != newToken {
			t.Errorf("--rat-rotation never: the update returned a new token")
		}
	})
	t.Run("secret lifetime", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil, "--db", dbIn(t), "--secret-lifetime", "1h")
		exp, _ := register(t, s.issuer, "").json(t)["client_secret_expires_at"].(float64)
		if exp == 0 {
			t.Errorf("--secret-lifetime 1h: client_secret_expires_at is 0")
		}
	})
}

func TestServeBadValues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "clientreg.db")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // in stderr
	}{
		{"registration", nil, []string{"serve", "--registration", "bogus"}, "must be open or token"},
		{"rotation", nil, []string{"serve", "--rat-rotation", "sometimes"}, "must be on-update or never"},
		{"grace", nil, []string{"serve", "--rat-grace", "ten"}, "not a duration"},
		{"negative grace", nil, []string{"serve", "--rat-grace", "-1m"}, "must not be negative"},
		{"secret lifetime", nil, []string{"serve", "--secret-lifetime", "1y"}, "not a duration"},
		{"log format", nil, []string{"serve", "--log-format", "xml"}, "must be text or json"},
		{"postgres without key file", nil, []string{"serve", "--db", "postgres://localhost/clientreg"}, "needs --secret-key-file (or CLIENTREG_SECRET_KEY_FILE)"},
		{"postgres without key file, env", map[string]string{"CLIENTREG_DB": "postgresql://localhost/clientreg"}, []string{"serve"}, "needs --secret-key-file"},
		{"iat postgres without key file", nil, []string{"iat", "create", "--db", "postgres://localhost/clientreg"}, "needs --secret-key-file"},
		{"postgres bad URL", nil, []string{"serve", "--db", "postgres://u:s3cret@localhost:99999999/x", "--secret-key-file", "k"}, "--db: cannot parse"},
		{"postgres without slashes", nil, []string{"serve", "--db", "postgresql:clientreg"}, "write a PostgreSQL database as a URL"},
		{"request timeout", nil, []string{"serve", "--request-timeout", "0"}, "--request-timeout: must be positive"},
		{"request timeout syntax", nil, []string{"serve", "--request-timeout", "10"}, "not a duration"},
		{"sqlite URL", nil, []string{"serve", "--db", "sqlite://x.db"}, "write sqlite:PATH"},
		{"issuer", nil, []string{"serve", "--issuer", "ftp://example.com"}, "absolute http or https URL"},
		{"authorization endpoint", nil, []string{"serve", "--authorization-endpoint", "/authorize"}, "absolute http or https URL"},
		{"unknown flag", nil, []string{"serve", "--port", "80"}, "flag provided but not defined: -port"},
		{"argument", nil, []string{"serve", "extra"}, `unexpected argument "extra"`},
		{"env", map[string]string{"CLIENTREG_RAT_ROTATION": "sometimes"}, []string{"serve"}, "environment variable CLIENTREG_RAT_ROTATION"},
		{"env db", map[string]string{"CLIENTREG_DB": "mysql://x"}, []string{"serve"}, "mysql databases are not supported"},
		{"scope", nil, []string{"serve", "--scopes", `a"b`}, "not a valid scope token"},
		{"default scope", nil, []string{"serve", "--scopes", "a", "--default-scopes", "b"}, `--default-scopes: default scope "b" is not in --scopes`},
		{"uses", nil, []string{"iat", "create", "--uses", "-1"}, "must be a non-negative integer"},
		{"expires", nil, []string{"iat", "create", "--expires-in", "soon"}, "not a duration"},
		{"iat subcommand", nil, []string{"iat", "delete"}, `unknown subcommand "delete"`},
		{"iat alone", nil, []string{"iat"}, "missing subcommand"},
		{"command", nil, []string{"start"}, `unknown command "start"`},
		{"version argument", nil, []string{"version", "x"}, "version takes no arguments"},
		{"read header timeout", nil, []string{"serve", "--read-header-timeout", "0"}, "--read-header-timeout: must be positive"},
		{"read timeout", nil, []string{"serve", "--read-timeout", "0s"}, "--read-timeout: must be positive"},
		{"idle timeout", nil, []string{"serve", "--idle-timeout", "0"}, "--idle-timeout: must be positive"},
		{"write timeout", nil, []string{"serve", "--write-timeout", "0"}, "--write-timeout: must be positive"},
		{"write timeout under the request timeout", nil, []string{"serve", "--write-timeout", "5s", "--request-timeout", "10s"}, "--write-timeout 5s must be longer than --request-timeout 10s"},
		{"write timeout syntax", map[string]string{"CLIENTREG_WRITE_TIMEOUT": "long"}, []string{"serve"}, "environment variable CLIENTREG_WRITE_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Should a case start a server after all, it uses these.
			env := map[string]string{"CLIENTREG_DB": db, "CLIENTREG_ADDR": "127.0.0.1:0"}
			maps.Copy(env, tc.env)
			code, _, stderr := run(t, env, tc.args...)
			if code != ExitUsage {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
			if strings.Contains(stderr, "s3cret") {
				t.Errorf("stderr reveals the database password:\n%s", stderr)
			}
			if strings.Contains(stderr, "listening on") {
				t.Errorf("the server started:\n%s", stderr)
			}
		})
	}
	if code, _, stderr := run(t, nil); code != ExitUsage || !strings.Contains(stderr, "Usage:") {
		t.Errorf("no arguments: exit %d, want %d and usage on stderr:\n%s", code, ExitUsage, stderr)
	}
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := run(t, nil, "serve", "--db", dbIn(t), "--addr", ln.Addr().String())
	if code != ExitError || !strings.Contains(stderr, "listen") {
		t.Errorf("address in use: exit %d, want %d and a listen error:\n%s", code, ExitError, stderr)
	}
}

func TestServeRestartKeepsClientsAndKey(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	keyFile := db + ".key"

	s := startServer(t, nil, "--db", db)
	reg := register(t, s.issuer, "")
	uri, token := reg.str(t, "registration_client_uri"), reg.str(t, "registration_access_token")
	if code := s.stop(t); code != ExitOK {
		t.Fatalf("first server: exit %d; stderr:\n%s", code, s.stderr)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatalf("the key file was not created next to the database: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %04o, want 0600", perm)
	}
	key1, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(key1) {
		t.Errorf("key file content %q: want 64 hex digits and a newline", key1)
	}

	// A new server on the same files: the client and its token still work,
	// although the new server listens on another port.
	s = startServer(t, nil, "--db", "sqlite:"+db)
	uri = s.issuer + uri[strings.LastIndex(uri, "/register/"):]
	r := do(t, http.MethodGet, uri, token, "")
	wantStatus(t, "read after restart", r, http.StatusOK)
	if r.str(t, "client_name") != "Test" {
		t.Errorf("read after restart: %s", r.body)
	}
	key2, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key1, key2) {
		t.Errorf("the key file changed on restart")
	}
	if strings.Contains(s.stderr.String(), "created a new server key") {
		t.Errorf("the second server claims to have created a key:\n%s", s.stderr)
	}
}

func TestServeSecretKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "clientreg.db")
	keyFile := filepath.Join(dir, "other.key")

	s := startServer(t, map[string]string{"CLIENTREG_SECRET_KEY_FILE": keyFile}, "--db", db)
	register(t, s.issuer, "")
	s.stop(t)
	if _, err := os.Stat(keyFile); err != nil {
		t.Errorf("--secret-key-file from the environment was not used: %v", err)
	}
	if _, err := os.Stat(db + ".key"); err == nil {
		t.Errorf("a key file was created at the default path despite --secret-key-file")
	}

	// A key file that others can read is refused.
	if err := os.Chmod(keyFile, 0o640); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, nil, "serve", "--db", db, "--secret-key-file", keyFile, "--addr", "127.0.0.1:0")
	if code != ExitError || !strings.Contains(stderr, "chmod 600") {
		t.Errorf("key file with mode 0640: exit %d, want %d and advice to chmod:\n%s", code, ExitError, stderr)
	}

	// So is a key of the wrong length.
	short := filepath.Join(dir, "short.key")
	if err := os.WriteFile(short, []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, nil, "iat", "create", "--db", db, "--secret-key-file", short)
	if code != ExitError || !strings.Contains(stderr, "exactly 32 bytes") {
		t.Errorf("short key: exit %d, want %d and a length error:\n%s", code, ExitError, stderr)
	}
}

// TestServeDefaultDB runs serve without --db: the database and its key go
// to the working directory.
func TestServeDefaultDB(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := startServer(t, nil)
	register(t, s.issuer, "")
	if code := s.stop(t); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, s.stderr)
	}
	for _, name := range []string{DefaultDB, DefaultDB + ".key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s not created in the working directory: %v", name, err)
		}
	}
}

// --anonymous-public-only registers anonymous clients as public clients,
// and refuses to be combined with the file's default policy.
func TestServeAnonymousPublicOnly(t *testing.T) {
	s := startServer(t, nil, "--db", dbIn(t), "--anonymous-public-only", "--login", "header", "--trusted-proxy", "127.0.0.1/32")
	r := do(t, http.MethodPost, s.issuer+"/register", "", clientBody)
	wantStatus(t, "anonymous registration", r, http.StatusCreated)
	if got := r.str(t, "token_endpoint_auth_method"); got != "none" || r.str(t, "client_secret") != "" {
		t.Errorf("anonymous registration: method %q, want a public client: %s", got, r.body)
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("policies:\n  p:\n    max_clients: 5\ndefault_policy: p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", dbIn(t), "--anonymous-public-only", "--config", cfg)
	if code != 2 || !strings.Contains(stderr, "--anonymous-public-only") || !strings.Contains(stderr, "default_policy") {
		t.Errorf("with a default policy: exit %d, %s", code, stderr)
	}
}
