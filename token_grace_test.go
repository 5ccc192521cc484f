package clientreg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/sqlite"
)

// A token within its grace window (rotated out by an update whose response
// may have been lost) may read and repeat the update, but it never
// invalidates a token an update handed out, and it cannot delete the client.
// docs/behaviour.md §5. (issue 12, finding 2)
func TestRotatedOutTokenCannotEvictNewOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, firstUse := range []string{"first update's token", "repeat's token"} {
			t.Run(firstUse, func(t *testing.T) {
				e := newOAuthEnv(t, func(c *clientreg.Config) { c.Store = b.open(t) })
				meta := map[string]any{"redirect_uris": []string{"https://app.test/cb"}}
				reg := e.jsonReq("POST", e.iss+"/register", "", meta)
				uri, t0 := reg.str("registration_client_uri"), reg.str("registration_access_token")
				meta["client_id"] = reg.str("client_id")

				up1 := e.jsonReq("PUT", uri, t0, meta)
				t1 := up1.str("registration_access_token")
				if up1.status != 200 || t1 == "" || t1 == t0 {
					t.Fatalf("update with t0: %d %s", up1.status, up1.body)
				}
				// The response is "lost": the client repeats with t0.
				up2 := e.jsonReq("PUT", uri, t0, meta)
				t2 := up2.str("registration_access_token")
				if up2.status != 200 || t2 == "" || t2 == t1 || t2 == t0 {
					t.Fatalf("repeated update with t0 within the grace window: %d %s", up2.status, up2.body)
				}
				// t0 reads, but cannot delete.
				if g := e.jsonReq("GET", uri, t0, nil); g.status != 200 {
					t.Fatalf("read with t0 within the grace window: %d %s", g.status, g.body)
				}
				wantOAuthError(t, e.jsonReq("DELETE", uri, t0, nil), 403, "access_denied")

				// Both tokens the updates handed out work; the first one
				// used becomes the only one.
				use, other := t1, t2
				if firstUse == "repeat's token" {
					use, other = t2, t1
				}
				if g := e.jsonReq("GET", uri, use, nil); g.status != 200 {
					t.Fatalf("read with a token an update handed out: %d %s", g.status, g.body)
				}
				for name, tok := range map[string]string{"t0": t0, "the sibling": other} {
					if g := e.jsonReq("GET", uri, tok, nil); g.status != 401 {
						t.Fatalf("%s after another token was used: %d %s", name, g.status, g.body)
					}
				}
				if d := e.jsonReq("DELETE", uri, use, nil); d.status != 204 {
					t.Fatalf("delete with the token in use: %d %s", d.status, d.body)
				}
			})
		}
	})
}

// Ten concurrent updates with one token: every 200 carries a token that
// works afterwards, and every other answer is 409 or 412 with a JSON error.
// Each token is checked as the first one used, on a copy of the database
// taken after the updates. (issue 12, finding 2)
func TestConcurrentUpdatesHandOutWorkingTokens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clients.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	newServer := func(s *sqlite.Store) *httptest.Server {
		h, err := clientreg.New(clientreg.Config{Issuer: "https://as.test", Store: s, SecretKey: testKey,
			Limits: clientreg.Limits{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		return httptest.NewServer(h)
	}
	srv := newServer(st)
	do := func(srv *httptest.Server, method, path, token string, body any) (int, map[string]any) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		defer res.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Errorf("%s %s: %d, body not JSON: %v", method, path, res.StatusCode, err)
		}
		return res.StatusCode, m
	}
	meta := map[string]any{"redirect_uris": []string{"https://app.test/cb"}}
	status, reg := do(srv, "POST", "/register", "", meta)
	if status != 201 {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, t0 := reg["client_id"].(string), reg["registration_access_token"].(string)
	meta["client_id"] = id
	path0 := "/register/" + id

	var mu sync.Mutex
	var tokens []string
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			status, m := do(srv, "PUT", path0, t0, meta)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case status == 200:
				tokens = append(tokens, m["registration_access_token"].(string))
			case (status == 409 || status == 412) && m["error"] != nil:
			default:
				t.Errorf("concurrent update: %d %v", status, m)
			}
		})
	}
	wg.Wait()
	srv.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if len(tokens) == 0 {
		t.Fatal("no update succeeded")
	}
	t.Logf("%d of 10 updates succeeded", len(tokens))
	for i, tok := range tokens {
		copyDir := t.TempDir()
		files, _ := filepath.Glob(path + "*")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(copyDir, strings.TrimPrefix(f, dir)), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := sqlite.Open(context.Background(), filepath.Join(copyDir, "clients.db"))
		if err != nil {
			t.Fatal(err)
		}
		srv := newServer(cp)
		if status, m := do(srv, "GET", path0, tok, nil); status != 200 {
			t.Errorf("token of successful update %d: %d %v", i, status, m)
		}
		srv.Close()
		cp.Close()
	}
}
