package cli

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/testutil"
)

// HTTP server hygiene of "clientreg serve", observed from outside the real
// binary: header, body and header-size limits, graceful shutdown, and logs
// that never carry a credential.

// hardDial opens a TCP connection to the server of issuer.
func hardDial(t *testing.T, issuer string) net.Conn {
	t.Helper()
	u, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedWithin reads conn until the server closes it or limit passes, and
// returns how long that took from start and what was read.
func closedWithin(conn net.Conn, start time.Time, limit time.Duration) (time.Duration, []byte, bool) {
	_ = conn.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return time.Since(start), b, false
	}
	return time.Since(start), b, true
}

// TestServerSlowlorisHeadersDropped sends the headers of a request a byte at
// a time and never finishes them: the server must drop the connection once
// its header timeout (--read-header-timeout, short here) has passed, while
// it goes on serving other clients.
func TestServerSlowlorisHeadersDropped(t *testing.T) {
	t.Parallel()
	const readHeaderTimeout = 3 * time.Second
	bin := hardBuild(t)
	p := mustServe(t, bin, "--db", filepath.Join(t.TempDir(), "h.db"), "--read-header-timeout", readHeaderTimeout.String())
	conn := hardDial(t, p.issuer)
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := 0; ; i++ {
			time.Sleep(250 * time.Millisecond)
			if _, err := conn.Write([]byte{"X-Slow: abcdefghijklmnopqrstuvwxyz"[i%33]}); err != nil {
				return // the server hung up
			}
		}
	}()
	// Meanwhile the server answers others.
	time.Sleep(time.Second)
	mustDo(t, hardClient(), "GET", p.issuer+"/.well-known/oauth-authorization-server", "", "", http.StatusOK)

	elapsed, got, closed := closedWithin(conn, start, readHeaderTimeout+5*time.Second)
	if !closed {
		t.Fatalf("a connection trickling its headers is still open after %v (header timeout %v)", elapsed, readHeaderTimeout)
	}
	if elapsed < readHeaderTimeout-time.Second {
		t.Errorf("the connection was dropped after %v, before the %v header timeout: %q", elapsed, readHeaderTimeout, got)
	}
	if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 4") {
		t.Errorf("the server answered an unfinished request with %q", got)
	}
}

// TestServerSlowBodyCut sends a request body a byte per second: the server's
// read timeout (--read-timeout, short here) must end the request, whatever
// it answers.
func TestServerSlowBodyCut(t *testing.T) {
	t.Parallel()
	// Longer than the 5s for which the body must not be cut.
	const readTimeout = 6 * time.Second
	bin := hardBuild(t)
	p := mustServe(t, bin, "--db", filepath.Join(t.TempDir(), "h.db"), "--read-timeout", readTimeout.String())
	conn := hardDial(t, p.issuer)
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range 120 {
			time.Sleep(time.Second)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	elapsed, got, closed := closedWithin(conn, start, readTimeout+15*time.Second)
	if !closed {
		t.Fatalf("a request whose body trickles in is still open after %v (read timeout %v); read %q", elapsed, readTimeout, got)
	}
	if elapsed < 5*time.Second {
		t.Errorf("a slow but live body was cut after %v: %q", elapsed, got)
	}
	t.Logf("cut after %v with %q", elapsed.Round(time.Millisecond), firstLine(got))
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}

// TestServerOversizedHeaders sends headers larger than maxHeaderBytes: 431.
// Headers well under the limit are served.
func TestServerOversizedHeaders(t *testing.T) {
	t.Parallel()
	bin := hardBuild(t)
	p := mustServe(t, bin, "--db", filepath.Join(t.TempDir(), "h.db"))

	req := func(size int) string {
		return "GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", size) + "\r\nConnection: close\r\n\r\n"
	}
	for _, tc := range []struct {
		size int
		want string
	}{
		{maxHeaderBytes / 2, "HTTP/1.1 200 "},
		{2 * maxHeaderBytes, "HTTP/1.1 431 "},
		{8 * maxHeaderBytes, "HTTP/1.1 431 "},
	} {
		conn := hardDial(t, p.issuer)
		go func() { _, _ = io.WriteString(conn, req(tc.size)) }() // the server may stop reading early
		_, got, closed := closedWithin(conn, time.Now(), 20*time.Second)
		if !closed || !strings.HasPrefix(string(got), tc.want) {
			t.Errorf("a %d-byte header: got %q (closed %v), want %q...", tc.size, firstLine(got), closed, tc.want)
		}
	}
}

// TestServerGracefulShutdownDrains sends SIGTERM while a registration's large
// body is still arriving: the server stops accepting connections, but the
// request in flight completes with its 201, and the process exits with 0.
func TestServerGracefulShutdownDrains(t *testing.T) {
	t.Parallel()
	bin := hardBuild(t)
	p := mustServe(t, bin, "--db", filepath.Join(t.TempDir(), "h.db"))
	u, err := url.Parse(p.issuer)
	if err != nil {
		t.Fatal(err)
	}
	// The bulk is an unknown member (ignored, so no member length limit
	// applies): only the body size matters here.
	body := fmt.Sprintf(`{"x_padding":%q,"client_name":"drain","redirect_uris":["http://127.0.0.1:9000/cb"]}`, strings.Repeat("n", 40000))
	conn := hardDial(t, p.issuer)
	head := fmt.Sprintf("POST /register HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", u.Host, len(body))
	half := len(body) / 2
	if _, err := io.WriteString(conn, head+body[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the handler is reading the body

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutdown has begun once the listener is closed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the server still accepts connections 10s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-p.exited:
		t.Fatalf("the server exited with a request in flight; stderr:\n%s", p.stderr)
	default:
	}
	rest := body[half:]
	for i := 0; i < 4; i++ {
		chunk := rest[i*len(rest)/4 : (i+1)*len(rest)/4]
		time.Sleep(250 * time.Millisecond)
		if _, err := io.WriteString(conn, chunk); err != nil {
			t.Fatalf("the connection of the request in flight was cut after SIGTERM: %v", err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to the request in flight during shutdown: %v; stderr:\n%s", err, p.stderr)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("the request in flight during shutdown: %d %s", res.StatusCode, b)
	}
	var info struct {
		ID string `json:"client_id"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.ID == "" {
		t.Fatalf("201 without a client_id: %v: %.200s", err, b)
	}
	if st := p.wait(t, shutdownTimeout+15*time.Second); st.ExitCode() != ExitOK {
		t.Fatalf("exit %v after a graceful shutdown; stderr:\n%s", st, p.stderr)
	}
	if logs := p.stderr.String(); !strings.Contains(logs, "status=201") || !strings.Contains(logs, "stopped") {
		t.Errorf("the log lacks the drained request or the stop:\n%s", logs)
	}
}

// TestServerLogsHoldNoCredentials runs the whole life of a client through
// the real binary, with an initial access token from "clientreg iat create",
// in both log formats, and proves that the access log and every other line
// on stderr carry no secret or token, and that no row of the SQLite
// database does either.
func TestServerLogsHoldNoCredentials(t *testing.T) {
	t.Parallel()
	bin := hardBuild(t)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "h.db")
			// With the authorization endpoint (sign-in through a proxy on
			// loopback), so that codes, refresh tokens, pending requests and
			// the browser cookie are in the logs and the database too.
			p := mustServe(t, bin, "--db", db, "--registration", "token", "--log-format", format,
				"--login", "header", "--trusted-proxy", "127.0.0.1/32")
			cmd := exec.Command(bin, "iat", "create", "--db", db, "--uses", "5")
			cmd.Env = hardEnv()
			var iatErr strings.Builder
			cmd.Stderr = &iatErr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("iat create: %v; stderr:\n%s", err, iatErr.String())
			}
			iat := strings.TrimSpace(string(out))
			creds := map[string]string{"initial access token": iat}

			c := hardClient()
			reg := p.issuer + "/register"
			body := `{"client_name":"logs","redirect_uris":["http://127.0.0.1:9000/cb"]}`
			r := mustDo(t, c, "POST", reg, iat, body, http.StatusCreated)
			var info struct {
				ID     string `json:"client_id"`
				Secret string `json:"client_secret"`
				Token  string `json:"registration_access_token"`
				URI    string `json:"registration_client_uri"`
			}
			if err := json.Unmarshal(r.body, &info); err != nil || info.Secret == "" || info.Token == "" {
				t.Fatalf("registration response: %v: %s", err, r.body)
			}
			creds["client secret"], creds["token 0"] = info.Secret, info.Token
			update := func(extra string) string {
				return fmt.Sprintf(`{"client_id":%q,"redirect_uris":["http://127.0.0.1:9000/cb"]%s}`, info.ID, extra)
			}
			// Refused credentials.
			mustDo(t, c, "POST", reg, iat+"x", body, http.StatusUnauthorized)
			mustDo(t, c, "POST", reg, info.Token, body, http.StatusUnauthorized)
			mustDo(t, c, "GET", info.URI, info.Secret, "", http.StatusUnauthorized)
			mustDo(t, c, "GET", info.URI, iat, "", http.StatusUnauthorized)
			mustDo(t, c, "PUT", info.URI, info.Token, update(`,"client_secret":"`+iat+`"`), http.StatusBadRequest)
			// Read, update with the secret (rotating the token), use both
			// tokens, switch the authentication method twice (a new secret).
			mustDo(t, c, "GET", info.URI, info.Token, "", http.StatusOK)
			r = mustDo(t, c, "PUT", info.URI, info.Token, update(`,"client_secret":"`+info.Secret+`"`), http.StatusOK)
			t1 := r.need(t, "registration_access_token")
			mustDo(t, c, "GET", info.URI, info.Token, "", http.StatusOK) // grace
			mustDo(t, c, "GET", info.URI, t1, "", http.StatusOK)         // retires the first
			mustDo(t, c, "GET", info.URI, info.Token, "", http.StatusUnauthorized)
			r = mustDo(t, c, "PUT", info.URI, t1, update(`,"token_endpoint_auth_method":"none"`), http.StatusOK)
			t2 := r.need(t, "registration_access_token")
			r = mustDo(t, c, "PUT", info.URI, t2, update(`,"token_endpoint_auth_method":"client_secret_post"`), http.StatusOK)
			t3, s2 := r.need(t, "registration_access_token"), r.need(t, "client_secret")
			creds["token 1"], creds["token 2"], creds["token 3"], creds["client secret 2"] = t1, t2, t3, s2
			// A second client stays in the database.
			r = mustDo(t, c, "POST", reg, iat, body, http.StatusCreated)
			creds["kept secret"] = r.need(t, "client_secret")
			creds["kept token"] = r.need(t, "registration_access_token")
			// The authorization code flow of a public client: the pending
			// request, the browser cookie, the code, two refresh tokens and
			// their access tokens.
			_, flow := codeFlowCredentials(t, p.issuer, iat)
			for k, v := range flow {
				creds[k] = v
			}
			mustDo(t, c, "DELETE", info.URI, t3, "", http.StatusNoContent)
			mustDo(t, c, "GET", info.URI, t3, "", http.StatusUnauthorized)
			p.terminate(t)

			logs := p.stderr.String() + iatErr.String()
			for _, want := range []string{"/register", "201", "401", "204"} {
				if !strings.Contains(logs, want) {
					t.Fatalf("the log lacks %q, so it proves nothing:\n%s", want, logs)
				}
			}
			for _, line := range strings.Split(logs, "\n") {
				if leak := testutil.FindCredential([]byte(line), creds); leak != "" {
					t.Errorf("log line carries %s:\n%s", leak, line)
				}
			}
			hardCheckRows(t, db, creds)
			for _, suffix := range []string{"", "-wal"} {
				data, err := os.ReadFile(db + suffix)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				if leak := testutil.FindCredential(data, creds); leak != "" {
					t.Errorf("the file %s holds %s", filepath.Base(db+suffix), leak)
				}
			}
		})
	}
}

// hardCheckRows reads every row of every table of the SQLite database at
// path and fails the test if a column holds a credential of creds.
func hardCheckRows(t *testing.T, path string, creds map[string]string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rs.Next() {
		var n string
		if err := rs.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rs.Close()
	rowsSeen := 0
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			rowsSeen++
			for i, v := range vals {
				var b []byte
				switch v := v.(type) {
				case []byte:
					b = v
				case string:
					b = []byte(v)
				}
				if leak := testutil.FindCredential(b, creds); leak != "" {
					t.Errorf("%s.%s holds %s", table, cols[i], leak)
				}
			}
		}
		rows.Close()
	}
	if rowsSeen < 2 {
		t.Fatalf("only %d rows in %v; the check proves nothing", rowsSeen, tables)
	}
}
