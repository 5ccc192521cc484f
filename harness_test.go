package clientreg_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// The rest of the harness of helpers_test.go: the store wrapper, the clock,
// the in-process env of the fuzz targets, the deadline middleware, and the
// OAuth client-authentication request builders.

// fakeClock is the mutable clock the suite injects through Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return newClockAt(time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC))
}

func newClockAt(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Add moves the clock forward by d.
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fault is what spyStore.set makes a method do instead of reaching the
// wrapped store.
type fault int

const (
	faultNone   fault = iota
	faultError        // an internal error, its text full of internals
	faultOutage       // an error wrapping store.ErrUnavailable
	faultStall        // block until the context ends, then return its error
)

func (f fault) String() string {
	return [...]string{"none", "internal error", "outage", "stall"}[f]
}

// spyStore is the Store of every env: it counts the calls of the client and
// initial-token methods (and GetAccessToken) and the successful writes, and can make a method
// fail with a given error (failWith) or with a fault (set). A failed or
// stalled method does not reach the wrapped store, so a fault is never a
// half-done write of the store itself.
type spyStore struct {
	store.Store

	mu                        sync.Mutex
	creates, updates, deletes int
	calls                     map[string]int
	fail                      map[string]error
	stall                     map[string]bool
}

// failWith makes method return err (nil: work again).
func (s *spyStore) failWith(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = make(map[string]error)
	}
	s.fail[method] = err
}

// set makes method fail or stall as f says (faultNone: work again).
func (s *spyStore) set(method string, f fault) {
	var err error
	switch f {
	case faultError:
		err = fmt.Errorf("sql: relation \"clients\" at 10.9.8.7:5432 is corrupt (%s)", method)
	case faultOutage:
		err = fmt.Errorf("%s: dial tcp 10.9.8.7:5432: connection refused: %w", method, store.ErrUnavailable)
	}
	s.failWith(method, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stall == nil {
		s.stall = make(map[string]bool)
	}
	s.stall[method] = f == faultStall
}

// called returns how many times method was called, faulted calls included.
func (s *spyStore) called(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// hit records a call of method and returns its injected failure, after
// the end of ctx for a stall.
func (s *spyStore) hit(ctx context.Context, method string) error {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = make(map[string]int)
	}
	s.calls[method]++
	err, stall := s.fail[method], s.stall[method]
	s.mu.Unlock()
	if stall {
		<-ctx.Done()
		return fmt.Errorf("store stalled in %s: %w", method, ctx.Err())
	}
	return err
}

func (s *spyStore) count(n *int, err error) error {
	if err == nil {
		s.mu.Lock()
		*n++
		s.mu.Unlock()
	}
	return err
}

// writes returns the numbers of successful CreateClient, UpdateClient and
// DeleteClient calls.
func (s *spyStore) writes() (creates, updates, deletes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates, s.updates, s.deletes
}

func (s *spyStore) created() int {
	c, _, _ := s.writes()
	return c
}

// totalWrites is the sum of writes.
func (s *spyStore) totalWrites() int {
	c, u, d := s.writes()
	return c + u + d
}

// swap replaces the wrapped store and forgets the counts and the
// injections. It must not run while a request is served.
func (s *spyStore) swap(st store.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Store = st
	s.creates, s.updates, s.deletes = 0, 0, 0
	s.calls, s.fail, s.stall = nil, nil, nil
}

func (s *spyStore) CreateClient(ctx context.Context, c *store.Client, opts store.CreateOptions) error {
	if err := s.hit(ctx, "CreateClient"); err != nil {
		return err
	}
	return s.count(&s.creates, s.Store.CreateClient(ctx, c, opts))
}

func (s *spyStore) UpdateClient(ctx context.Context, c *store.Client) error {
	if err := s.hit(ctx, "UpdateClient"); err != nil {
		return err
	}
	return s.count(&s.updates, s.Store.UpdateClient(ctx, c))
}

func (s *spyStore) DeleteClient(ctx context.Context, id string) error {
	if err := s.hit(ctx, "DeleteClient"); err != nil {
		return err
	}
	return s.count(&s.deletes, s.Store.DeleteClient(ctx, id))
}

func (s *spyStore) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if err := s.hit(ctx, "GetClient"); err != nil {
		return nil, err
	}
	return s.Store.GetClient(ctx, id)
}

func (s *spyStore) GetClientByTokenHash(ctx context.Context, hash []byte) (*store.Client, error) {
	if err := s.hit(ctx, "GetClientByTokenHash"); err != nil {
		return nil, err
	}
	return s.Store.GetClientByTokenHash(ctx, hash)
}

func (s *spyStore) GetInitialToken(ctx context.Context, hash []byte) (*store.InitialToken, error) {
	if err := s.hit(ctx, "GetInitialToken"); err != nil {
		return nil, err
	}
	return s.Store.GetInitialToken(ctx, hash)
}

func (s *spyStore) UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*store.InitialToken, error) {
	if err := s.hit(ctx, "UseInitialToken"); err != nil {
		return nil, err
	}
	return s.Store.UseInitialToken(ctx, hash, now)
}

func (s *spyStore) GetAccessToken(ctx context.Context, hash []byte) (*store.AccessToken, error) {
	if err := s.hit(ctx, "GetAccessToken"); err != nil {
		return nil, err
	}
	return s.Store.GetAccessToken(ctx, hash)
}

// inProcessIssuer is the issuer of an in-process env.
const inProcessIssuer = "https://as.example"

// handlerTransport is an http.RoundTripper that serves each request with h
// in process, as httptest.NewRequest and a ResponseRecorder would.
type handlerTransport struct{ h http.Handler }

func (tr handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body io.Reader
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	in := httptest.NewRequestWithContext(req.Context(), req.Method, req.URL.String(), body)
	in.Header = req.Header.Clone()
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, in)
	return rec.Result(), nil
}

// newFuzzEnv is an in-process env for a fuzz target, built once per target
// (tb is its *testing.F): a handler over the memory store whose randomness
// is deterministic, so that an input reproduces, with mutate applied after
// the defaults. Each input takes e.fresh(t).
func newFuzzEnv(tb testing.TB, mutate func(*clientreg.Config)) *testEnv {
	tb.Helper()
	opts := []option{func(c *clientreg.Config) { c.Rand = detRand(1) }}
	if mutate != nil {
		opts = append(opts, mutate)
	}
	return startEnv(tb, memoryBackend.open(tb), envSpec{inProcess: true}, opts)
}

// fresh returns the env for one input of a fuzz target: bound to t, over a
// fresh memory store, its Rand restarted. The inputs of a target run one
// at a time, so they may share the handler.
func (e *testEnv) fresh(t *testing.T) *testEnv {
	c := *e
	c.t = t
	c.store.swap(memoryBackend.open(t))
	if c.rand != nil {
		c.rand.reseed()
	}
	return &c
}

// newDeadlineEnv serves a handler over st behind a deadlineMiddleware
// (e.deadline), with the default rate limits and a debug logger writing to
// logs, then mutate (which may be nil).
func newDeadlineEnv(t testing.TB, st store.Store, logs io.Writer, mutate func(*clientreg.Config)) *testEnv {
	t.Helper()
	opts := []option{func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{}
		c.Logger = debugLogger(logs)
	}}
	if mutate != nil {
		opts = append(opts, mutate)
	}
	return startEnv(t, st, envSpec{deadlines: true}, opts)
}

// debugLogger logs everything, as text, to w.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// deadlineMiddleware gives every request's context a deadline: d while a
// fault is injected, a generous one otherwise, so that a loaded machine
// never turns a healthy request into a timeout.
type deadlineMiddleware struct {
	d    atomic.Int64 // time.Duration
	next http.Handler
}

// relaxedDeadline is the deadline of the requests that set a test up.
const relaxedDeadline = time.Minute

func (m *deadlineMiddleware) set(d time.Duration) { m.d.Store(int64(d)) }

func (m *deadlineMiddleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := time.Duration(m.d.Load())
	if d == 0 {
		d = relaxedDeadline
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	m.next.ServeHTTP(w, r.WithContext(ctx))
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for Config.Logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// clientCreds says how a test client authenticates.
type clientCreds struct {
	id, secret string
	method     string
	key        *ecdsa.PrivateKey // private_key_jwt
	kid        string
	aud        string // default: the token endpoint
}

// form POSTs vals (none when nil) form-encoded to the issuer's path, the
// client authenticating as c says.
func (e *testEnv) form(path string, c clientCreds, vals url.Values) *response {
	e.t.Helper()
	if vals == nil {
		vals = url.Values{}
	}
	req := e.request(http.MethodPost, e.iss+path, nil, "", "")
	switch c.method {
	case "client_secret_basic":
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	case "client_secret_post":
		vals.Set("client_id", c.id)
		vals.Set("client_secret", c.secret)
	case "private_key_jwt", "client_secret_jwt":
		aud := c.aud
		if aud == "" {
			aud = e.iss + "/token"
		}
		vals.Set("client_assertion_type", clientreg.AssertionTypeJWTBearer)
		vals.Set("client_assertion", e.assertion(c, aud, e.clock.Now().Add(time.Minute), randomID()))
	case "none":
		vals.Set("client_id", c.id)
	}
	req.Body = io.NopCloser(strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.send(req)
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// assertion is a client assertion of c for aud.
func (e *testEnv) assertion(c clientCreds, aud string, exp time.Time, jti string) string {
	e.t.Helper()
	var signer jose.Signer
	var err error
	if c.method == "client_secret_jwt" {
		signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(c.secret)}, nil)
	} else {
		signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: c.key}, (&jose.SignerOptions{}).WithHeader("kid", c.kid))
	}
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: c.id, Subject: c.id, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(exp),
		IssuedAt: jwt.NewNumericDate(e.clock.Now()), ID: jti,
	}).Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// token asks the token endpoint for a client_credentials token.
func (e *testEnv) token(c clientCreds, scope string) *response {
	v := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		v.Set("scope", scope)
	}
	return e.form("/token", c, v)
}

func (e *testEnv) introspect(c clientCreds, token string) *response {
	return e.form("/introspect", c, url.Values{"token": {token}})
}

// bearerFrom sends a JSON request with a Bearer token through the trusted
// proxy, for the client address xff.
func (e *testEnv) bearerFrom(xff, method, u, tok string, v any) *response {
	e.t.Helper()
	var rd *strings.Reader
	ct := ""
	if v != nil {
		rd, ct = strings.NewReader(mustJSON(e.t, v)), jsonType
	} else {
		rd = strings.NewReader("")
	}
	req := e.request(method, u, rd, ct, "Bearer "+tok)
	req.Header.Set("X-Forwarded-For", xff)
	return e.send(req)
}

// basicFrom sends a form POST with client_secret_basic credentials through
// the trusted proxy, for the client address xff.
func (e *testEnv) basicFrom(xff, path, id, secret string, vals url.Values) *response {
	e.t.Helper()
	req := e.request(http.MethodPost, e.iss+path, strings.NewReader(vals.Encode()), "application/x-www-form-urlencoded", "")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	req.Header.Set("X-Forwarded-For", xff)
	return e.send(req)
}

// ecKey is a P-256 key and its public JWK Set (kid k1).
func ecKey(t *testing.T) (*ecdsa.PrivateKey, map[string]any) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: &k.PublicKey, KeyID: "k1", Use: "sig", Algorithm: "ES256"}
	b, _ := jwk.MarshalJSON()
	var m map[string]any
	json.Unmarshal(b, &m)
	return k, map[string]any{"keys": []any{m}}
}
