package clientreg_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

// Client ID Metadata Documents through HTTP (docs/behaviour.md §10): the
// documents are served by an in-process TLS server on loopback, which the
// handler may reach because each test relaxes the private-network guard
// (except where the guard is under test).

// docServer serves client ID metadata documents by path and counts the
// fetches of each.
type docServer struct {
	*httptest.Server
	mu      sync.Mutex
	docs    map[string]docAnswer
	fetches map[string]int
}

// docAnswer is what docServer answers for one path.
type docAnswer struct {
	body   string
	header map[string]string
	status int
	wait   chan struct{} // when set, the answer waits for it to close
	sleep  time.Duration
}

func newDocServer(t *testing.T) *docServer {
	t.Helper()
	d := &docServer{docs: map[string]docAnswer{}, fetches: map[string]int{}}
	d.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		a, ok := d.docs[r.URL.Path]
		d.fetches[r.URL.Path]++
		d.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if a.wait != nil {
			<-a.wait
		}
		if a.sleep > 0 {
			select {
			case <-time.After(a.sleep):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		if a.status != 0 {
			w.WriteHeader(a.status)
		}
		w.Write([]byte(a.body))
	}))
	t.Cleanup(d.Close)
	return d
}

// set serves a at path and returns the document's URL.
func (d *docServer) set(path string, a docAnswer) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.docs[path] = a
	return d.URL + path
}

// serve serves the document m at path, its client_id the URL unless m
// names one, and returns the URL.
func (d *docServer) serve(path string, m map[string]any, header map[string]string) string {
	u := d.URL + path
	doc := map[string]any{
		"client_id": u, "client_name": "Doc App", "redirect_uris": []string{"http://127.0.0.1/cb"},
		"grant_types": []string{"authorization_code", "refresh_token"}, "scope": "read write",
	}
	for k, v := range m {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	b, _ := json.Marshal(doc)
	return d.set(path, docAnswer{body: string(b), header: header})
}

func (d *docServer) count(path string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fetches[path]
}

// newDocEnv is an authzEnv that may fetch documents from d.
func newDocEnv(t *testing.T, d *docServer, mutate func(*clientreg.Config)) *authzEnv {
	t.Helper()
	return newAuthzEnv(t, memoryBackend, func(c *clientreg.Config) {
		c.Fetch.AllowPrivateNetworks = true
		c.Fetch.Transport = d.Client().Transport
		if mutate != nil {
			mutate(c)
		}
	})
}

// docClient is the regClient of the document client at u.
func docClient(u string) regClient {
	return regClient{creds: clientCreds{id: u, method: "none"}, redirect: "http://127.0.0.1/cb"}
}

func TestDocumentCodeFlow(t *testing.T) {
	d := newDocServer(t)
	e := newDocEnv(t, d, nil)
	if r := e.get(e.iss+"/.well-known/oauth-authorization-server", ""); r.m["client_id_metadata_document_supported"] != true {
		t.Fatalf("metadata: %s", r.body)
	}
	u := d.serve("/clients/app.json", nil, nil)
	c := docClient(u)
	code, verifier := e.code(c)
	req := e.lastRequest()
	host := strings.TrimPrefix(d.URL, "https://")
	if req.ClientID != u || req.ClientName != "Doc App" || !req.DynamicallyRegistered || req.DocumentHost != host || !req.LoopbackRedirectsOnly {
		t.Errorf("AuthorizationRequest = %+v", req)
	}
	r := e.exchange(c, code, verifier, url.Values{"client_id": {u}})
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("refresh_token") == "" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	r = e.refreshWith(c, r.str("refresh_token"), url.Values{"client_id": {u}})
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	if n := d.count("/clients/app.json"); n != 1 {
		t.Errorf("%d fetches, want 1 (the cache)", n)
	}
	sc, err := e.store.GetClient(t.Context(), u)
	if err != nil || sc.Origin != "metadata_document" || len(sc.TokenHash) == 0 || sc.SecretHash != nil {
		t.Fatalf("stored client %+v, %v", sc, err)
	}
	// The configuration endpoint never serves it.
	if r := e.get(e.iss+"/register/"+url.PathEscape(u), "anything"); r.status != http.StatusUnauthorized {
		t.Errorf("configuration endpoint: %d %s", r.status, r.body)
	}
}

func TestDocumentRefused(t *testing.T) {
	d := newDocServer(t)
	e := newDocEnv(t, d, func(c *clientreg.Config) {
		c.ClientMetadataDocuments.Timeout = 300 * time.Millisecond
		c.ClientMetadataDocuments.DeniedDomains = []string{"localhost"}
	})
	_, challenge := pkce()
	big := strings.Repeat("x", 6<<10)
	for _, tc := range []struct {
		name, want string
		url        func() string
		redirect   string
	}{
		{"client_id differs", "client_id", func() string {
			return d.serve("/a.json", map[string]any{"client_id": d.URL + "/a.json/"}, nil)
		}, ""},
		{"client_id missing", "client_id", func() string { return d.serve("/b.json", map[string]any{"client_id": nil}, nil) }, ""},
		{"redirect not in the document", "redirect_uri", func() string { return d.serve("/c.json", nil, nil) }, "http://127.0.0.1/other"},
		{"secret method", "client_secret_basic", func() string {
			return d.serve("/d.json", map[string]any{"token_endpoint_auth_method": "client_secret_basic"}, nil)
		}, ""},
		{"client_secret_jwt", "client_secret_jwt", func() string {
			return d.serve("/d2.json", map[string]any{"token_endpoint_auth_method": "client_secret_jwt"}, nil)
		}, ""},
		{"client_secret member", "client_secret", func() string { return d.serve("/e.json", map[string]any{"client_secret": "s"}, nil) }, ""},
		{"private_key_jwt without jwks_uri", "jwks_uri", func() string {
			return d.serve("/f.json", map[string]any{"token_endpoint_auth_method": "private_key_jwt"}, nil)
		}, ""},
		{"no client_name", "client_name", func() string { return d.serve("/g.json", map[string]any{"client_name": nil}, nil) }, ""},
		{"no redirect_uris", "redirect_uris", func() string { return d.serve("/h.json", map[string]any{"redirect_uris": nil}, nil) }, ""},
		{"redirect URI the preset refuses", "redirect_uris", func() string {
			return d.serve("/i.json", map[string]any{"redirect_uris": []string{"http://app.example/cb"}}, nil)
		}, "http://app.example/cb"},
		{"not JSON", "JSON", func() string { return d.set("/j.json", docAnswer{body: "<html>"}) }, ""},
		{"not found", "fetched", func() string { return d.URL + "/missing.json" }, ""},
		{"redirect from the document server", "fetched", func() string {
			d.serve("/k-target.json", map[string]any{"client_id": d.URL + "/k.json"}, nil)
			return d.set("/k.json", docAnswer{status: http.StatusFound, header: map[string]string{"Location": d.URL + "/k-target.json"}})
		}, ""},
		{"oversize", "fetched", func() string {
			return d.serve("/l.json", map[string]any{"client_uri_note": big}, nil)
		}, ""},
		{"timeout", "fetched", func() string {
			return d.set("/m.json", docAnswer{body: "{}", sleep: 2 * time.Second})
		}, ""},
		{"no path", "path", func() string { return d.URL }, ""},
		{"root path", "path", func() string { return d.URL + "/" }, ""},
		{"query", "query", func() string { return d.serve("/n.json", nil, nil) + "?v=1" }, ""},
		{"dot segment", "dot", func() string { return d.URL + "/x/../n.json" }, ""},
		{"denied domain", "not accepted", func() string {
			return strings.Replace(d.URL, "127.0.0.1", "localhost", 1) + "/o.json"
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := docClient(tc.url())
			if tc.redirect != "" {
				c.redirect = tc.redirect
			}
			p := e.authorize(authzParams(c, challenge))
			wantPage(t, p, http.StatusBadRequest)
			if !strings.Contains(p.body, tc.want) {
				t.Errorf("page does not name %q: %s", tc.want, p.body)
			}
		})
	}
	if n := d.count("/o.json"); n != 0 {
		t.Errorf("a denied domain was fetched %d times", n)
	}
	// At the token endpoint an unusable document is an unknown client.
	u := d.URL + "/a.json"
	r := e.form("/token", clientCreds{id: u, method: "none"}, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "code_verifier": {"y"}})
	if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("token endpoint: %d %s", r.status, r.body)
	}
}

// With the guard in force (the default), a document on loopback is
// refused without a connection.
func TestDocumentPrivateAddressRefused(t *testing.T) {
	d := newDocServer(t)
	e := newAuthzEnv(t, memoryBackend, func(c *clientreg.Config) { c.Fetch.Transport = d.Client().Transport })
	u := d.serve("/p.json", nil, nil)
	_, challenge := pkce()
	p := e.authorize(authzParams(docClient(u), challenge))
	wantPage(t, p, http.StatusBadRequest)
	if n := d.count("/p.json"); n != 0 {
		t.Errorf("the loopback document was fetched %d times", n)
	}
}

func TestDocumentAllowedDomains(t *testing.T) {
	d := newDocServer(t)
	e := newDocEnv(t, d, func(c *clientreg.Config) { c.ClientMetadataDocuments.AllowedDomains = []string{"*.clients.example"} })
	u := d.serve("/q.json", nil, nil)
	_, challenge := pkce()
	wantPage(t, e.authorize(authzParams(docClient(u), challenge)), http.StatusBadRequest)
	if n := d.count("/q.json"); n != 0 {
		t.Errorf("fetched %d times", n)
	}
}

func TestDocumentCache(t *testing.T) {
	d := newDocServer(t)
	e := newDocEnv(t, d, nil)
	const path = "/cached.json"
	u := d.serve(path, nil, map[string]string{"Cache-Control": "public, max-age=600"})
	c := docClient(u)
	_, challenge := pkce()
	authorize := func() *clientreg.AuthorizationRequest {
		t.Helper()
		if p := e.authorize(authzParams(c, challenge)); p.status != http.StatusOK {
			t.Fatalf("authorize: %d %s", p.status, p.body)
		}
		return e.lastRequest()
	}
	for range 5 {
		authorize()
	}
	if n := d.count(path); n != 1 {
		t.Fatalf("5 authorizations made %d fetches, want 1", n)
	}
	// A changed document takes effect at its next fetch, after max-age.
	d.serve(path, map[string]any{"client_name": "Renamed"}, map[string]string{"Cache-Control": "max-age=600"})
	e.clock.Add(9 * time.Minute)
	if req := authorize(); req.ClientName != "Doc App" || d.count(path) != 1 {
		t.Fatalf("within max-age: %q, %d fetches", req.ClientName, d.count(path))
	}
	e.clock.Add(2 * time.Minute)
	if req := authorize(); req.ClientName != "Renamed" || d.count(path) != 2 {
		t.Fatalf("after max-age: %q, %d fetches", req.ClientName, d.count(path))
	}
	sc, err := e.store.GetClient(t.Context(), u)
	if err != nil || !strings.Contains(string(sc.Metadata), "Renamed") {
		t.Fatalf("stored record not refreshed: %v %s", err, sc.Metadata)
	}

	// A max-age below the floor is raised to MinCacheTTL (5 minutes).
	const short = "/short.json"
	c = docClient(d.serve(short, nil, map[string]string{"Cache-Control": "max-age=10"}))
	authorize()
	e.clock.Add(4 * time.Minute)
	authorize()
	if n := d.count(short); n != 1 {
		t.Fatalf("within the floor: %d fetches", n)
	}
	e.clock.Add(2 * time.Minute)
	authorize()
	if n := d.count(short); n != 2 {
		t.Fatalf("after the floor: %d fetches", n)
	}

	// A failure is remembered for FailureTTL (30 s).
	const failing = "/failing.json"
	c = docClient(d.set(failing, docAnswer{status: http.StatusInternalServerError}))
	for range 3 {
		wantPage(t, e.authorize(authzParams(c, challenge)), http.StatusBadRequest)
	}
	if n := d.count(failing); n != 1 {
		t.Fatalf("3 failing lookups made %d fetches, want 1", n)
	}
	d.serve(failing, nil, nil)
	e.clock.Add(31 * time.Second)
	authorize()
	if n := d.count(failing); n != 2 {
		t.Fatalf("after FailureTTL: %d fetches, want 2", n)
	}
}

// Concurrent lookups of one document share one fetch.
func TestDocumentFetchCoalesced(t *testing.T) {
	d := newDocServer(t)
	e := newDocEnv(t, d, nil)
	release := make(chan struct{})
	u := d.serve("/slow.json", nil, nil)
	body := d.docs["/slow.json"].body
	d.set("/slow.json", docAnswer{body: body, wait: release})
	_, challenge := pkce()
	q := authzParams(docClient(u), challenge).Encode()
	const n = 6
	statuses := make(chan int, n)
	for range n {
		go func() {
			res, err := e.newBrowser().Get(e.iss + "/authorize?" + q)
			if err != nil {
				statuses <- 0
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	for d.count("/slow.json") == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue behind the fetch
	close(release)
	for range n {
		if s := <-statuses; s != http.StatusOK {
			t.Errorf("status %d", s)
		}
	}
	if c := d.count("/slow.json"); c != 1 {
		t.Errorf("%d concurrent lookups made %d fetches, want 1", n, c)
	}
}

func TestDocumentsOff(t *testing.T) {
	d := newDocServer(t)
	for _, tc := range []struct {
		name   string
		mutate func(*clientreg.Config)
	}{
		{"Off", func(c *clientreg.Config) { c.ClientMetadataDocuments.Enabled = clientreg.Off }},
		{"closed registration", func(c *clientreg.Config) { c.RequireInitialToken = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDocEnv(t, d, tc.mutate)
			if r := e.get(e.iss+"/.well-known/oauth-authorization-server", ""); r.has(t, "client_id_metadata_document_supported") {
				t.Errorf("metadata advertises documents: %s", r.body)
			}
			u := d.serve("/off-"+tc.name+".json", nil, nil)
			_, challenge := pkce()
			p := e.authorize(authzParams(docClient(u), challenge))
			wantPage(t, p, http.StatusBadRequest)
			if d.count("/off-"+tc.name+".json") != 0 {
				t.Error("fetched")
			}
		})
	}
	e := newDocEnv(t, d, func(c *clientreg.Config) {
		c.RequireInitialToken = true
		c.ClientMetadataDocuments.Enabled = clientreg.On
	})
	u := d.serve("/on.json", nil, nil)
	_, challenge := pkce()
	if p := e.authorize(authzParams(docClient(u), challenge)); p.status != http.StatusOK {
		t.Fatalf("On with closed registration: %d %s", p.status, p.body)
	}
}
