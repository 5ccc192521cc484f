package clientreg_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/testutil"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/sqlite"
)

// Credential hygiene (docs/behaviour.md §7): no secret or token ever reaches a log line,
// the database holds none of them in any encoding, and nothing the database
// holds works as a credential.

// hygRow is one row of a table, as database/sql returns it.
type hygRow struct {
	table string
	cols  []string
	vals  []any
}

// hygRawRows reads every row of every table of the SQLite database at path,
// through a connection of its own that cannot write.
func hygRawRows(t *testing.T, path string) []hygRow {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rs, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var n string
		if err := rs.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	for _, want := range []string{"clients", "initial_tokens"} {
		if !strings.Contains(" "+strings.Join(tables, " ")+" ", " "+want+" ") {
			t.Fatalf("database has no table %s (tables: %v)", want, tables)
		}
	}
	var rows []hygRow
	for _, table := range tables {
		rs, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rs.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, hygRow{table: table, cols: cols, vals: vals})
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		rs.Close()
	}
	return rows
}

// hygValueBytes renders a column value as bytes: a blob or text as is, a
// number in decimal.
func hygValueBytes(v any) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case nil:
		return nil
	default:
		return []byte(fmt.Sprint(v))
	}
}

// TestCredentialHygiene runs the whole life of two clients (registration
// with an initial access token, reads, updates with the client secret,
// rotations of the registration access token, a secret reissued by a switch
// of authentication method, an access token from the token endpoint, a
// deletion, and every kind of refused credential along the way) on SQLite with a debug-level logger, and then
// proves that no secret or token appears in any log line, in any row of the
// database, or in its files on disk, and that no value the database holds,
// in any encoding, works as a registration access token, an initial access
// token or a client secret (in an update or at the token endpoint).
func TestCredentialHygiene(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hygiene.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs syncBuffer
	e := newDeadlineEnv(t, st, &logs, func(c *clientreg.Config) {
		c.RequireInitialToken = true
		c.ServeTokenEndpoints = true
		// With an authorization endpoint, so that authorization_code (and
		// the public client below) is a grant this server serves.
		withCodeFlow(c)
	})
	creds := map[string]string{}

	iat := e.initialToken(clientreg.InitialTokenOptions{MaxUses: 10})
	creds["initial access token"] = iat
	c := e.registerWith(body(obj{"client_name": "hygiene"}), "Bearer "+iat)
	// d, a confidential client of the client_credentials grant, keeps these
	// members through its updates.
	dMeta := func(extra obj) obj {
		m := obj{"client_name": "kept", "token_endpoint_auth_method": "client_secret_post",
			"grant_types": []string{"authorization_code", "client_credentials"}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	d := e.registerWith(body(dMeta(nil)), "Bearer "+iat)
	creds["c secret"], creds["c token 0"] = c.Secret, c.Token
	creds["d secret"], creds["d token 0"] = d.Secret, d.Token
	for name, v := range creds {
		if v == "" {
			t.Fatalf("%s is empty", name)
		}
	}

	// Refused credentials, each of them a real one in the wrong place.
	wantInvalidToken(t, e.post(body(nil), "Bearer "+iat+"x"))
	wantInvalidToken(t, e.post(body(nil), "Bearer "+c.Token))
	wantInvalidToken(t, e.post(body(nil), "Bearer "+c.Secret))
	wantInvalidToken(t, e.get(c.URI, d.Token))
	wantInvalidToken(t, e.get(c.URI, c.Secret))
	wantInvalidToken(t, e.get(c.URI, iat))
	wantError(t, e.put(c.URI, c.Token, updateBody(c, obj{"client_secret": d.Secret})), http.StatusBadRequest, "invalid_request")
	wantError(t, e.put(c.URI, c.Token, updateBody(c, obj{"registration_access_token": c.Token})), http.StatusBadRequest, "invalid_request")
	// Refused requests that carry credentials in their bodies. (Their
	// error descriptions quote the request, so only the status is checked.)
	for _, r := range []*response{
		e.put(c.URI, c.Token, updateBody(c, obj{"client_secret": c.Secret, "redirect_uris": []string{"javascript:" + c.Secret}})),
		e.post(`{"client_secret":"`+c.Secret+`","redirect_uris":["http://`+c.Token+`.example/"]}`, "Bearer "+iat),
		e.post(`{"client_name":"`+c.Secret, "Bearer "+iat),
	} {
		if r.status != http.StatusBadRequest {
			t.Fatalf("refused request: %d %s", r.status, r.body)
		}
	}

	// Update with the secret, rotating the token; the rotated token in its
	// grace window, then retired by the first use of the new one.
	r := e.put(c.URI, c.Token, updateBody(c, obj{"client_secret": c.Secret, "client_name": "renamed"}))
	if r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	t1 := r.mustStr(t, "registration_access_token")
	creds["c token 1"] = t1
	if r := e.do(http.MethodPut, c.URI, strings.NewReader(updateBody(c, nil)), jsonType, "Bearer "+t1); r.status != http.StatusOK {
		t.Fatalf("PUT with the new token: %d %s", r.status, r.body)
	} else {
		t1 = r.mustStr(t, "registration_access_token")
		creds["c token 1b"] = t1
	}
	wantInvalidToken(t, e.get(c.URI, c.Token))
	e.mustGet(c, t1)
	// A switch to a public client removes the secret, a switch back issues
	// a new one.
	r = e.put(c.URI, t1, updateBody(c, obj{"token_endpoint_auth_method": "none"}))
	if r.status != http.StatusOK {
		t.Fatalf("PUT none: %d %s", r.status, r.body)
	}
	t2 := r.mustStr(t, "registration_access_token")
	r = e.put(c.URI, t2, updateBody(c, obj{"token_endpoint_auth_method": "client_secret_basic"}))
	if r.status != http.StatusOK {
		t.Fatalf("PUT client_secret_basic: %d %s", r.status, r.body)
	}
	t3, s2 := r.mustStr(t, "registration_access_token"), r.mustStr(t, "client_secret")
	creds["c token 2"], creds["c token 3"], creds["c secret 2"] = t2, t3, s2
	if r := e.do(http.MethodPut, c.URI, strings.NewReader(updateBody(c, nil)), jsonType, "Bearer "+t3); r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	} else {
		t3 = r.mustStr(t, "registration_access_token")
		creds["c token 4"] = t3
	}
	// A failing store is logged at error level, a request its client gave
	// up on at debug level, each with the request's details.
	e.store.set("GetClientByTokenHash", faultError)
	wantError(t, e.get(c.URI, t3), http.StatusInternalServerError, "server_error")
	e.store.set("GetClientByTokenHash", faultStall)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URI, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+t3)
	if res, err := e.client.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("a request to a stalled store was answered %d before its client gave up", res.StatusCode)
	}
	cancel()
	e.store.set("GetClientByTokenHash", faultNone)
	hygWaitFor(t, "the canceled request to be logged", func() bool { return strings.Contains(logs.String(), "level=DEBUG") })

	// d stays, with a rotated token; c is deleted.
	r = e.put(d.URI, d.Token, updateBody(d, dMeta(obj{"client_secret": d.Secret})))
	if r.status != http.StatusOK {
		t.Fatalf("PUT d: %d %s", r.status, r.body)
	}
	d.Token = r.mustStr(t, "registration_access_token")
	creds["d token 1"] = d.Token
	// d's secret at the token endpoint: an access token, one more
	// credential.
	tokenRequest := func(secret string) *response {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {d.ID}, "client_secret": {secret}}
		return e.do(http.MethodPost, e.iss+"/token", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", "")
	}
	wantError(t, tokenRequest(c.Secret), http.StatusUnauthorized, "invalid_client")
	r = tokenRequest(d.Secret)
	if r.status != http.StatusOK {
		t.Fatalf("token request: %d %s", r.status, r.body)
	}
	creds["access token"] = r.mustStr(t, "access_token")
	if r := e.del(c.URI, t3); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	wantInvalidToken(t, e.get(c.URI, t3))

	// The logs: debug lines were written (so the check below is not
	// vacuous), and none carries a credential.
	text := logs.String()
	if !strings.Contains(text, "level=DEBUG") || !strings.Contains(text, "level=ERROR") {
		t.Fatalf("the flow logged no debug or no error line; the check would prove nothing:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if leak := testutil.FindCredential([]byte(line), creds); leak != "" {
			t.Errorf("log line carries %s:\n%s", leak, line)
		}
	}

	// The rows, and the database files, hold no credential.
	rows := hygRawRows(t, path)
	var clients, tokens int
	for _, row := range rows {
		switch row.table {
		case "clients":
			clients++
		case "initial_tokens":
			tokens++
		}
		for i, v := range row.vals {
			if leak := testutil.FindCredential(hygValueBytes(v), creds); leak != "" {
				t.Errorf("%s.%s holds %s", row.table, row.cols[i], leak)
			}
		}
	}
	if clients != 1 || tokens != 1 {
		t.Fatalf("%d clients and %d initial tokens in the database, want 1 and 1", clients, tokens)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(path + suffix)
		if err != nil {
			if suffix != "" && os.IsNotExist(err) {
				continue
			}
			t.Fatal(err)
		}
		if leak := testutil.FindCredential(data, creds); leak != "" {
			t.Errorf("the file %s holds %s", filepath.Base(path+suffix), leak)
		}
	}

	// No stored value works as a credential, in any encoding.
	var presented int
	for _, row := range rows {
		for i, v := range row.vals {
			b, ok := v.([]byte)
			if !ok || len(b) == 0 || b[0] == '{' {
				continue // not a hash: metadata JSON, a number, NULL
			}
			for _, form := range []string{hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b),
				base64.RawStdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)} {
				presented++
				what := row.table + "." + row.cols[i] + " as " + form
				if r := e.get(d.URI, form); r.status != http.StatusUnauthorized {
					t.Errorf("%s works as a registration access token: %d %s", what, r.status, r.body)
				}
				if r := e.post(body(nil), "Bearer "+form); r.status != http.StatusUnauthorized {
					t.Errorf("%s works as an initial access token: %d %s", what, r.status, r.body)
				}
				r := e.put(d.URI, d.Token, updateBody(d, dMeta(obj{"client_secret": form})))
				if r.status != http.StatusBadRequest {
					t.Errorf("%s works as the client secret in an update: %d %s", what, r.status, r.body)
				}
				if r := tokenRequest(form); r.status != http.StatusUnauthorized {
					t.Errorf("%s works as the client secret at the token endpoint: %d %s", what, r.status, r.body)
				}
			}
		}
	}
	if presented < 5*4 {
		t.Fatalf("only %d stored values were tried; expected at least the hashes of d's token and secret and of the initial token", presented)
	}
	// The real credentials still work: the refusals above were not blanket.
	e.mustGet(d, d.Token)
	if r := e.put(d.URI, d.Token, updateBody(d, dMeta(obj{"client_secret": d.Secret}))); r.status != http.StatusOK {
		t.Errorf("d's real secret is refused: %d %s", r.status, r.body)
	}
	if r := tokenRequest(d.Secret); r.status != http.StatusOK {
		t.Errorf("d's real secret is refused at the token endpoint: %d %s", r.status, r.body)
	}
	e.registerWith(body(nil), "Bearer "+iat)
}

// hygWaitFor polls cond until it holds, failing the test after 10 seconds.
func hygWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
