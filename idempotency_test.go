package clientreg_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/sqlite"
)

// Idempotent registration (docs/behaviour.md §11): the Idempotency-Key of
// draft-ietf-httpapi-idempotency-key-header on POST /register.

const idemKey = `"8e03978e-40d5-43e8-bc93-6894a57f9324"`

const idemBody = `{"client_name":"idem","redirect_uris":["http://127.0.0.1:9999/cb"],"token_endpoint_auth_method":"client_secret_basic"}`

// postIdem registers body with the Idempotency-Key header value key and
// the Authorization header auth ("" for none).
func (e *testEnv) postIdem(key, body, auth string) *response {
	e.t.Helper()
	req := e.request(http.MethodPost, e.base()+"/register", strings.NewReader(body), "application/json", auth)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return e.send(req)
}

func TestIdempotentReplay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		first := e.postIdem(idemKey, idemBody, "")
		if first.status != http.StatusCreated {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		c := newRegistered(t, first)
		if c.Secret == "" {
			t.Fatal("no client_secret issued")
		}
		e.clock.Add(23 * time.Hour)
		for range 3 {
			again := e.postIdem(idemKey, idemBody, "")
			if again.status != http.StatusCreated || string(again.body) != string(first.body) {
				t.Fatalf("replay: %d %s, want 201 %s", again.status, again.body, first.body)
			}
			for _, h := range []string{"ETag", "Location", "Content-Type", "Cache-Control"} {
				if again.header.Get(h) != first.header.Get(h) {
					t.Errorf("replay's %s = %q, want %q", h, again.header.Get(h), first.header.Get(h))
				}
			}
		}
		if n := e.store.created(); n != 1 {
			t.Fatalf("%d clients stored, want 1", n)
		}
		// The replayed credentials are the client's.
		e.mustGet(c, c.Token)

		// Without the key, the same body registers a new client.
		other := e.register(idemBody)
		if other.ID == c.ID {
			t.Fatal("a registration without a key was replayed")
		}
	})
}

func TestIdempotentMismatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		first := e.postIdem(idemKey, idemBody, "")
		if first.status != http.StatusCreated {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		before := e.store.created()
		other := strings.Replace(idemBody, `"idem"`, `"other"`, 1)
		r := e.postIdem(idemKey, other, "")
		wantError(t, r, http.StatusUnprocessableEntity, "invalid_request")
		e.wantNothingStored(before)
		// A byte-wise different body is a different request.
		r = e.postIdem(idemKey, idemBody+" ", "")
		wantError(t, r, http.StatusUnprocessableEntity, "invalid_request")
		e.wantNothingStored(before)
	})
}

func TestIdempotencyKeyHeaderSyntax(t *testing.T) {
	e := newEnv(t, memoryBackend)
	for _, key := range []string{
		`8e03978e-40d5-43e8-bc93-6894a57f9324`,     // a token, not a string
		`"short"`,                                  // too short
		`"` + strings.Repeat("a", 256) + `"`,       // too long
		`"8e03978e-40d5-43e8-bc93-6894a57f9324`,    // unterminated
		`"8e03978e-40d5-43e8-bc93-\x7f6894a57f93"`, // not printable ASCII
		`"8e03978e-40d5-43e8-bc93-6894a57f9324" x`, // trailing garbage
		`"8e03978e-40d5-43e8-bc93-\a6894a57f9324"`, // an invalid escape
		`"8e03978e-40d5-43e8-bc93-6894a57f9324";=1`,
	} {
		r := e.postIdem(key, idemBody, "")
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	}
	req := e.request(http.MethodPost, e.base()+"/register", strings.NewReader(idemBody), "application/json", "")
	req.Header.Add("Idempotency-Key", idemKey)
	req.Header.Add("Idempotency-Key", idemKey)
	wantError(t, e.send(req), http.StatusBadRequest, "invalid_request")
	if n := e.store.created(); n != 0 {
		t.Fatalf("%d clients stored by refused requests", n)
	}
	// Escapes and parameters are valid: the parameters are ignored, the
	// key is the unescaped string.
	first := e.postIdem(`"key \"with\" escapes \\ 0123"; a=1;b;c="x";d=?0;e=tok/x;f=:AQ==:`, idemBody, "")
	if first.status != http.StatusCreated {
		t.Fatalf("a key with escapes and parameters: %d %s", first.status, first.body)
	}
	again := e.postIdem(`  "key \"with\" escapes \\ 0123"  `, idemBody, "")
	if string(again.body) != string(first.body) {
		t.Fatalf("the same key without parameters was not replayed: %d %s", again.status, again.body)
	}
}

// gateStore holds CreateClient until release is closed, once entered is
// signalled.
type gateStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gateStore) CreateClient(ctx context.Context, c *store.Client, opts store.CreateOptions) error {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.Store.CreateClient(ctx, c, opts)
}

func TestIdempotentConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		// A request while the first is in flight gets 409; after it, the
		// replay.
		g := &gateStore{Store: b.open(t), entered: make(chan struct{}), release: make(chan struct{})}
		e := newEnvWithStore(t, g)
		done := make(chan *response)
		go func() { done <- e.postIdem(idemKey, idemBody, "") }()
		<-g.entered
		wantError(t, e.postIdem(idemKey, idemBody, ""), http.StatusConflict, "invalid_request")
		close(g.release)
		first := <-done
		if first.status != http.StatusCreated {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		if again := e.postIdem(idemKey, idemBody, ""); string(again.body) != string(first.body) {
			t.Fatalf("after the first: %d %s", again.status, again.body)
		}

		// N at once: one client; each answer is 409 or the one 201.
		e2 := newEnv(t, b)
		const n = 12
		answers := make([]*response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { answers[i] = e2.postIdem(idemKey, idemBody, "") })
		}
		wg.Wait()
		var created string
		for _, r := range answers {
			switch r.status {
			case http.StatusCreated:
				if created != "" && string(r.body) != created {
					t.Fatalf("two different 201 answers:\n%s\n%s", created, r.body)
				}
				created = string(r.body)
			case http.StatusConflict:
			default:
				t.Fatalf("answer %d %s, want 201 or 409", r.status, r.body)
			}
		}
		if got := e2.store.created(); got != 1 || created == "" {
			t.Fatalf("%d clients stored (a 201: %v), want 1", got, created != "")
		}
	})
}

// A failed registration releases the key: a retry runs.
func TestIdempotentFailureReleases(t *testing.T) {
	e := newEnv(t, memoryBackend)
	bad := `{"redirect_uris":["not a uri"]}`
	r := e.postIdem(idemKey, bad, "")
	wantError(t, r, http.StatusBadRequest, "invalid_redirect_uri")
	// Another body with the key is not a reuse: nothing was recorded.
	if r := e.postIdem(idemKey, idemBody, ""); r.status != http.StatusCreated {
		t.Fatalf("after a failure: %d %s", r.status, r.body)
	}
	e.store.set("CreateClient", faultOutage)
	key2 := `"second key 0123456789"`
	wantError(t, e.postIdem(key2, idemBody, ""), http.StatusServiceUnavailable, "temporarily_unavailable")
	e.store.set("CreateClient", faultNone)
	if r := e.postIdem(key2, idemBody, ""); r.status != http.StatusCreated {
		t.Fatalf("a retry after an outage: %d %s", r.status, r.body)
	}
}

func TestIdempotentExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		first := newRegistered(t, e.postIdem(idemKey, idemBody, ""))
		e.clock.Add(clientreg.DefaultIdempotencyKeyLifetime)
		r := e.postIdem(idemKey, idemBody, "")
		if r.status != http.StatusCreated || newRegistered(t, r).ID == first.ID {
			t.Fatalf("after 24 hours: %d %s, want a new client", r.status, r.body)
		}
		if n := e.store.created(); n != 2 {
			t.Fatalf("%d clients stored, want 2", n)
		}
		// The second record replaced the first; DeleteExpired removes it
		// once it has expired.
		e.clock.Add(clientreg.DefaultIdempotencyKeyLifetime + time.Hour)
		if n, err := e.store.DeleteExpired(context.Background(), e.clock.Now()); err != nil || n < 1 {
			t.Fatalf("DeleteExpired = %d, %v", n, err)
		}
	})
	// The lifetime is configurable, and Off ignores the header.
	e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) { c.IdempotencyKeyLifetime = time.Hour }))
	first := newRegistered(t, e.postIdem(idemKey, idemBody, ""))
	e.clock.Add(time.Hour)
	if c := newRegistered(t, e.postIdem(idemKey, idemBody, "")); c.ID == first.ID {
		t.Fatal("replayed after the configured lifetime")
	}
	e = newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) { c.IdempotencyKeyLifetime = clientreg.Off }))
	first = newRegistered(t, e.postIdem(idemKey, idemBody, ""))
	if c := newRegistered(t, e.postIdem(idemKey, idemBody, "")); c.ID == first.ID {
		t.Fatal("replayed with the feature Off")
	}
	if c := newRegistered(t, e.postIdem("not a string", idemBody, "")); c.ID == "" {
		t.Fatal("no client")
	}
}

// The key is scoped to the initial access token presented: another token
// (or none) with the same key and body never gets the response.
func TestIdempotencyKeyScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		tokA := e.initialToken(clientreg.InitialTokenOptions{MaxUses: 1})
		tokB := e.initialToken(clientreg.InitialTokenOptions{})
		a := e.postIdem(idemKey, idemBody, bearer(tokA))
		if a.status != http.StatusCreated {
			t.Fatalf("with token A: %d %s", a.status, a.body)
		}
		// A's replay spends no use of its single-use token.
		if again := e.postIdem(idemKey, idemBody, bearer(tokA)); string(again.body) != string(a.body) {
			t.Fatalf("A's replay: %d %s", again.status, again.body)
		}
		for name, auth := range map[string]string{"token B": bearer(tokB), "no token": ""} {
			r := e.postIdem(idemKey, idemBody, auth)
			if r.status != http.StatusCreated {
				t.Fatalf("%s: %d %s", name, r.status, r.body)
			}
			if newRegistered(t, r).ID == newRegistered(t, a).ID {
				t.Fatalf("%s got token A's response", name)
			}
		}
		if n := e.store.created(); n != 3 {
			t.Fatalf("%d clients stored, want 3", n)
		}
	})
}

// The record of an idempotent registration keeps its credentials only
// encrypted: no form of the client secret or the registration access token
// is in the SQLite files.
func TestIdempotencyHygiene(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWithStore(t, st)
	c := newRegistered(t, e.postIdem(idemKey, idemBody, ""))
	if r := e.postIdem(idemKey, idemBody, ""); r.status != http.StatusCreated {
		t.Fatalf("replay: %d", r.status)
	}
	creds := map[string]string{"client_secret": c.Secret, "registration_access_token": c.Token, "idempotency key": strings.Trim(idemKey, `"`)}
	var records int
	for _, row := range hygRawRows(t, path) {
		if row.table == "idempotency_keys" {
			records++
		}
		for i, v := range row.vals {
			if leak := testutil.FindCredential(hygValueBytes(v), creds); leak != "" {
				t.Errorf("%s.%s holds %s", row.table, row.cols[i], leak)
			}
		}
	}
	if records != 1 {
		t.Fatalf("%d idempotency records, want 1", records)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(path + suffix)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			t.Fatal(err)
		}
		if leak := testutil.FindCredential(data, creds); leak != "" {
			t.Errorf("the file %s holds %s", filepath.Base(path+suffix), leak)
		}
	}
}
