package clientreg_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/clientreg/clientreg/store/sqlite"
)

// The test harness of the root package: ONE env type, ONE way to send a
// request, ONE response type, ONE store wrapper. Every test drives a real
// Handler through HTTP with a plain http.Client, over a real Store (one of
// the backends) wrapped in a spyStore that counts calls and writes and can
// fail or stall any method. This file holds the env, its constructors, the
// request helpers and the response type; harness_test.go holds the store
// wrapper, the clock, the in-process transport of the fuzz targets, the
// deadline middleware and the OAuth client-authentication builders.
//
// Shape:
//
//	testEnv                  a Handler served over HTTP: e.t, e.h, e.srv (nil in process),
//	                         e.client, e.store (*spyStore), e.clock (*fakeClock), e.iss (Config.Issuer),
//	                         e.deadline (newDeadlineEnv only)
//	newEnv(t, b, opts...)    over a fresh store of backend b (see forEachBackend); the
//	                         rate limits off; opts are withConfig(func(*clientreg.Config)) and the like
//	newEnvWithStore(t, st, opts...)  the same over a given store.Store (shared between envs)
//	newOAuthEnv(t, mutate)   newEnv over memoryBackend with the token endpoints on, scopes
//	                         read/write/admin and the default rate limits (the limits are under test)
//	newDeadlineEnv(t, st, logs, mutate)  the default rate limits, a debug logger writing to logs and a
//	                         deadlineMiddleware (e.deadline.set) in front of the handler
//	newFuzzEnv(f, mutate)    in process (no network), built once per fuzz target; e.fresh(t) gives
//	                         each input an env bound to its t over a fresh store and a reseeded Rand
//	e.send(req) *response    the one place a request is sent and its response read
//	e.request(method, url, body, contentType, auth) *http.Request; e.do(...) = e.send(e.request(...))
//	e.post(body, auth), e.get(uri, tok), e.put(uri, tok, body), e.del(uri, tok), e.jsonReq(method, u, tok, v)
//	e.register(body) / e.registerWith(body, auth) *registered, e.registerFrom(xff, v) *response
//	response                 status, header, body, m (the body as a JSON object, nil if it is not one);
//	                         r.str(name) ("" when absent: a lenient accessor), r.mustStr(t, name),
//	                         r.strs(t, name), r.num(t, name), r.members(t), r.has(t, name) (these fail the test)
//
// Old names → new names (for tests written against the harnesses this one
// replaced):
//
//	*oauthEnv                     → *testEnv (newOAuthEnv(t, mutate) still builds it)
//	reply (a value)               → *response (same fields status, header, body, m)
//	r.str("x") on a reply         → r.str("x") (unchanged: "" when absent)
//	r.str(t, "x") on a response   → r.mustStr(t, "x") (fails the test when absent or not a string)
//	e.issuer (a testEnv)          → e.iss (the field oauthEnv had)
//	e.clock.Advance(d)            → e.clock.Add(d) (the method stepClock had)
//	*stepClock, &stepClock{t: x}  → *fakeClock, newClockAt(x)
//	newEnvWithStore(t, &spyStore{Store: st}, ...) → newEnvWithStore(t, st, ...)
//	fzEnv, newFzEnv(t, mod)       → *testEnv, newFuzzEnv(f, mod) once per target, then e.fresh(t) per input
//	e.serve(...) *ResponseRecorder → e.serve(...) *response (fuzz_test.go; rec.Code → r.status,
//	                                 rec.Body / rec.Body.Bytes() → r.body, rec.Header() → r.header)
//	fzEnv.register(body) (id, secret, token, uri) → e.fzRegister(body) *registered (.ID, .Secret, .Token, .URI)
//	fzCheckResponse(t, what, *ResponseRecorder) → fzCheckResponse(t, what, *response)
//	fzStore, e.st.writes()        → e.store (*spyStore), e.store.totalWrites()
//	faultStore, fs.set/fs.called  → e.store.set(method, fault), e.store.called(method)
//	newDeadlineEnv(t, &faultStore{Store: st}, logs, mod) (e, mw) → e := newDeadlineEnv(t, st, logs, mod); mw.set → e.deadline.set
//	faultLog                      → syncBuffer; slog.New(slog.NewTextHandler(w, debug options)) → debugLogger(w)
//	createCounter.creates.Load()  → e.store.called("CreateClient")
//	etagClient.do(m, u, tok, ifMatch, body) → etagDo(e, m, u, tok, ifMatch, body) (e.request + If-Match + e.send)
//	backend.open func(*testing.T) → func(testing.TB); newEnv & co. take a testing.TB
//	newOAuthEnv's own clock (2026-03-01T12:00Z) and SecretKey → the env's: newClock() (2031-03-04T05:06:07Z), testKey
//
// Unchanged: newEnv, forEachBackend, backend, memoryBackend, sqliteBackend,
// withConfig, option, e.register, e.registerWith, e.do, e.get/put/del/post,
// e.send, e.jsonReq, e.form, e.token, e.introspect, e.assertion, e.registerFrom,
// e.bearerFrom, e.basicFrom, e.mustGet, e.stored, e.wantNothingStored,
// e.initialToken, e.h, e.srv, e.client, e.store, e.clock, e.clock.Add, e.iss,
// wantError, wantOAuthError, want429, checkErrorBody, wantInvalidToken,
// wantBareChallenge, wantNoStore, clientCreds, registered, body, obj, js.

// backend is a Store implementation the suite runs against.
type backend struct {
	name string
	open func(t testing.TB) store.Store
}

var memoryBackend = backend{name: "memory", open: func(testing.TB) store.Store { return memory.New() }}

var sqliteBackend = backend{name: "sqlite", open: func(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "clients.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sqlite Close: %v", err)
		}
	})
	return s
}}

// backends are the stores the main suite runs against.
var backends = []backend{memoryBackend, sqliteBackend}

// forEachBackend runs f once per backend, as a subtest named after it.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// testKey is the Config.SecretKey of every test handler unless changed.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// testEnv is one handler served over HTTP (or in process, for the fuzz
// targets).
type testEnv struct {
	t      testing.TB
	h      *clientreg.Handler
	srv    *httptest.Server // nil for an in-process env
	client *http.Client
	store  *spyStore
	clock  *fakeClock
	// iss is Config.Issuer as configured (the test server's URL, plus any
	// path an option appended).
	iss string
	// deadline is the middleware in front of the handler (newDeadlineEnv).
	deadline *deadlineMiddleware
	// rand is Config.Rand when the env made it deterministic (newFuzzEnv).
	rand *lockedRand
}

type option func(*clientreg.Config)

func withConfig(f func(*clientreg.Config)) option { return f }

// envSpec says how an env is served.
type envSpec struct {
	inProcess bool // through a handlerTransport, not a network server
	deadlines bool // behind a deadlineMiddleware
}

// newEnv starts a handler whose issuer is the test server's URL, over a
// fresh store of backend b wrapped in a spyStore. Options run after the
// defaults are set and may change any Config field (a path appended to
// Issuer included).
func newEnv(t testing.TB, b backend, opts ...option) *testEnv {
	t.Helper()
	return startEnv(t, b.open(t), envSpec{}, opts)
}

// newEnvWithStore is newEnv over st, which several envs may share.
func newEnvWithStore(t testing.TB, st store.Store, opts ...option) *testEnv {
	t.Helper()
	return startEnv(t, st, envSpec{}, opts)
}

// oauthConfig is the configuration of newOAuthEnv: the token endpoints on,
// three scopes, and the default rate limits.
func oauthConfig(c *clientreg.Config) {
	c.ServeTokenEndpoints = true
	c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"read", "write", "admin"}}
	c.Limits = clientreg.Limits{}
}

// newOAuthEnv is newEnv over the memory backend with oauthConfig, then
// mutate (which may be nil).
func newOAuthEnv(t testing.TB, mutate func(*clientreg.Config)) *testEnv {
	t.Helper()
	opts := []option{oauthConfig}
	if mutate != nil {
		opts = append(opts, mutate)
	}
	return newEnv(t, memoryBackend, opts...)
}

// startEnv builds and serves the handler of an env over st.
func startEnv(t testing.TB, st store.Store, spec envSpec, opts []option) *testEnv {
	t.Helper()
	e := &testEnv{t: t, store: &spyStore{Store: st}, clock: newClock()}
	cfg := clientreg.Config{
		Issuer:    inProcessIssuer,
		Store:     e.store,
		SecretKey: testKey,
		Now:       e.clock.Now,
		// The suite tests validation with many requests from one address;
		// the rate limits have tests of their own (limits_test.go).
		Limits: clientreg.Limits{Disabled: true, MaxMemberLength: 1 << 20},
	}
	if !spec.inProcess {
		e.srv = httptest.NewUnstartedServer(nil)
		cfg.Issuer = "http://" + e.srv.Listener.Addr().String()
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.iss = cfg.Issuer
	if r, ok := cfg.Rand.(*lockedRand); ok {
		e.rand = r
	}
	h, err := clientreg.New(cfg)
	if err != nil {
		if e.srv != nil {
			e.srv.Close()
		}
		t.Fatalf("clientreg.New: %v", err)
	}
	e.h = h
	var handler http.Handler = h
	if spec.deadlines {
		e.deadline = &deadlineMiddleware{next: h}
		handler = e.deadline
	}
	if spec.inProcess {
		e.client = &http.Client{
			Transport:     handlerTransport{handler},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		return e
	}
	e.srv.Config.Handler = handler
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.client = e.srv.Client()
	return e
}

// base is where the env's requests go: the server, or the issuer in
// process.
func (e *testEnv) base() string {
	if e.srv == nil {
		return e.iss
	}
	return e.srv.URL
}

// registrationEndpoint is the registration endpoint as the metadata
// document publishes it.
func (e *testEnv) registrationEndpoint() string {
	e.t.Helper()
	return e.metadata().mustStr(e.t, "registration_endpoint")
}

func (e *testEnv) metadata() *response {
	e.t.Helper()
	r := e.do(http.MethodGet, e.base()+wellKnownFor(e.iss, e.base()), nil, "", "")
	if r.status != http.StatusOK {
		e.t.Fatalf("metadata document: status %d: %s", r.status, r.body)
	}
	return r
}

// wellKnownFor is the RFC 8414 §3.1 path of the metadata document of an
// issuer served at base.
func wellKnownFor(issuer, base string) string {
	return "/.well-known/oauth-authorization-server" + strings.TrimPrefix(issuer, base)
}

// response is an HTTP response read completely.
type response struct {
	status int
	header http.Header
	body   []byte
	// m is the body decoded as a JSON object, nil when it is not one.
	m map[string]any
}

const jsonType = "application/json"

// request builds a request. A non-nil body is sent with contentType (none
// when contentType is ""); auth is the Authorization header value ("" for
// none).
func (e *testEnv) request(method, url string, body io.Reader, contentType, auth string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

// send sends req with the env's client and reads the whole response: the
// one place the harness talks HTTP.
func (e *testEnv) send(req *http.Request) *response {
	e.t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
		// 500 is asserted only where a test injects an internal failure.
		e.t.Logf("%s %s: status %d: %s", req.Method, req.URL, res.StatusCode, b)
	}
	r := &response{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &r.m)
	return r
}

// do sends a request built by request.
func (e *testEnv) do(method, url string, body io.Reader, contentType, auth string) *response {
	e.t.Helper()
	return e.send(e.request(method, url, body, contentType, auth))
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// post sends body as application/json to the registration endpoint.
func (e *testEnv) post(body string, auth string) *response {
	e.t.Helper()
	return e.do(http.MethodPost, e.registrationEndpoint(), strings.NewReader(body), jsonType, auth)
}

func (e *testEnv) get(uri, token string) *response {
	e.t.Helper()
	return e.do(http.MethodGet, uri, nil, "", bearer(token))
}

func (e *testEnv) put(uri, token, body string) *response {
	e.t.Helper()
	return e.do(http.MethodPut, uri, strings.NewReader(body), jsonType, bearer(token))
}

func (e *testEnv) del(uri, token string) *response {
	e.t.Helper()
	return e.do(http.MethodDelete, uri, nil, "", bearer(token))
}

// jsonReq sends v (none when nil) JSON-encoded, with the Bearer token tok
// ("" for none).
func (e *testEnv) jsonReq(method, u, tok string, v any) *response {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	if v != nil {
		b, _ := json.Marshal(v)
		rd, ct = bytes.NewReader(b), jsonType
	}
	return e.do(method, u, rd, ct, bearer(tok))
}

// registerFrom registers v at the issuer's /register for the client
// address xff (an X-Forwarded-For header, none when ""), as a trusted
// proxy would send it.
func (e *testEnv) registerFrom(xff string, v map[string]any) *response {
	e.t.Helper()
	req := e.request(http.MethodPost, e.iss+"/register", strings.NewReader(mustJSON(e.t, v)), jsonType, "")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return e.send(req)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// registered is a client registered through the HTTP interface.
type registered struct {
	ID, Secret, Token, URI string
	IssuedAt               int64
	res                    *response
}

// register registers body (open registration) and fails the test unless the
// answer is 201.
func (e *testEnv) register(body string) *registered {
	e.t.Helper()
	return e.registerWith(body, "")
}

func (e *testEnv) registerWith(body, auth string) *registered {
	e.t.Helper()
	r := e.post(body, auth)
	if r.status != http.StatusCreated {
		e.t.Fatalf("register %s: status %d, want 201: %s", body, r.status, r.body)
	}
	return newRegistered(e.t, r)
}

// newRegistered reads the client of a 201 answer to a registration.
func newRegistered(t testing.TB, r *response) *registered {
	t.Helper()
	m := r.members(t)
	c := &registered{ID: r.mustStr(t, "client_id"), Token: r.mustStr(t, "registration_access_token"), URI: r.mustStr(t, "registration_client_uri"), res: r}
	c.IssuedAt = r.num(t, "client_id_issued_at")
	if _, ok := m["client_secret"]; ok {
		c.Secret = r.mustStr(t, "client_secret")
	}
	return c
}

// mustGet reads the client and fails the test unless the answer is 200.
func (e *testEnv) mustGet(c *registered, token string) *response {
	e.t.Helper()
	r := e.get(c.URI, token)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: status %d, want 200: %s", c.URI, r.status, r.body)
	}
	return r
}

// initialToken creates an initial access token.
func (e *testEnv) initialToken(opts clientreg.InitialTokenOptions) string {
	e.t.Helper()
	tok, _, err := e.h.CreateInitialToken(context.Background(), opts)
	if err != nil {
		e.t.Fatalf("CreateInitialToken: %v", err)
	}
	return tok
}

// stored reads the client record straight from the store, its metadata
// decoded as the handler decodes it.
func (e *testEnv) stored(id string) *clientreg.Client {
	e.t.Helper()
	sc, err := e.store.Store.GetClient(context.Background(), id)
	if err != nil {
		e.t.Fatalf("store.GetClient(%s): %v", id, err)
	}
	c, err := clientreg.DecodeClient(sc)
	if err != nil {
		e.t.Fatalf("DecodeClient(%s): %v", id, err)
	}
	return c
}

// wantNothingStored asserts that no client was created since the count was
// before.
func (e *testEnv) wantNothingStored(before int) {
	e.t.Helper()
	if n := e.store.created(); n != before {
		e.t.Errorf("%d clients stored by a failed request", n-before)
	}
}

// str returns the string member name, or "" when it is absent or not a
// string. mustStr is the strict form.
func (r *response) str(name string) string { s, _ := r.m[name].(string); return s }

// members decodes the body as a JSON object.
func (r *response) members(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object (status %d): %v: %q", r.status, err, r.body)
	}
	return m
}

func (r *response) has(t testing.TB, name string) bool {
	t.Helper()
	_, ok := r.members(t)[name]
	return ok
}

// mustStr returns the string member name, failing the test when it is
// absent or not a string.
func (r *response) mustStr(t testing.TB, name string) string {
	t.Helper()
	raw, ok := r.members(t)[name]
	if !ok {
		t.Fatalf("member %s missing from %s", name, r.body)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("member %s = %s, not a string", name, raw)
	}
	return s
}

func (r *response) strs(t testing.TB, name string) []string {
	t.Helper()
	raw, ok := r.members(t)[name]
	if !ok {
		t.Fatalf("member %s missing from %s", name, r.body)
	}
	var s []string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("member %s = %s, not an array of strings", name, raw)
	}
	return s
}

func (r *response) num(t testing.TB, name string) int64 {
	t.Helper()
	raw, ok := r.members(t)[name]
	if !ok {
		t.Fatalf("member %s missing from %s", name, r.body)
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatalf("member %s = %s, not an integer", name, raw)
	}
	return n
}

// internalMarkers are fragments of Go error text or storage internals that
// must never reach an error_description.
var internalMarkers = []string{"%!", "sql", "memory:", "clientreg:", "runtime", "goroutine", "panic", "<nil>", "0x"}

// checkErrorBody asserts the docs/behaviour.md §6 shape of an error response: JSON
// {"error": code, "error_description": ...}, the description in the
// RFC 6749 §5.2 character set and free of internal details. It returns the
// error code and description.
func checkErrorBody(t *testing.T, r *response) (code, desc string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, jsonType) {
		t.Errorf("error response Content-Type = %q, want %s (body %q)", ct, jsonType, r.body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %q", err, r.body)
	}
	for k := range body {
		if k != "error" && k != "error_description" && k != "error_uri" {
			t.Errorf("error body has unexpected member %q: %s", k, r.body)
		}
	}
	code, ok := body["error"].(string)
	if !ok || code == "" {
		t.Fatalf("error body lacks a string error member: %s", r.body)
	}
	if d, present := body["error_description"]; present {
		desc, ok = d.(string)
		if !ok {
			t.Fatalf("error_description is not a string: %s", r.body)
		}
		checkDescription(t, desc)
	}
	return code, desc
}

// checkDescription asserts RFC 6749 §5.2: error_description is
// %x20-21 / %x23-5B / %x5D-7E, and carries no internal details.
func checkDescription(t *testing.T, desc string) {
	t.Helper()
	for i := 0; i < len(desc); i++ {
		c := desc[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Errorf("error_description has byte %#x at %d, outside %%x20-21/%%x23-5B/%%x5D-7E: %q", c, i, desc)
			break
		}
	}
	lower := strings.ToLower(desc)
	for _, m := range internalMarkers {
		if strings.Contains(lower, m) {
			t.Errorf("error_description %q carries internal text %q", desc, m)
		}
	}
}

// wantError asserts an error response with the given status and code and
// returns its description. 400-class errors other than 401 must describe
// what failed.
func wantError(t *testing.T, r *response, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (%s): %s", r.status, status, code, r.body)
	}
	got, desc := checkErrorBody(t, r)
	if got != code {
		t.Errorf("error = %q, want %q: %s", got, code, r.body)
	}
	if status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusForbidden && desc == "" {
		t.Errorf("%d %s has no error_description: %s", status, code, r.body)
	}
	return desc
}

// wantOAuthError asserts the status and the error code of r, and nothing
// else of its body (wantError asserts the whole error body).
func wantOAuthError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
}

// wantInvalidToken asserts the RFC 6750 §3.1 answer to a bad token.
func wantInvalidToken(t *testing.T, r *response) {
	t.Helper()
	wantError(t, r, http.StatusUnauthorized, "invalid_token")
	if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer error="invalid_token"` {
		t.Errorf(`WWW-Authenticate = %q, want [Bearer error="invalid_token"]`, got)
	}
}

// wantBareChallenge asserts the RFC 6750 §3.1 answer to a request without
// credentials: 401, a bare Bearer challenge and no error code.
func wantBareChallenge(t *testing.T, r *response) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401: %s", r.status, r.body)
	}
	if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want [Bearer]", got)
	}
	if bytes.Contains(r.body, []byte("error")) {
		t.Errorf("401 without credentials carries an error code: %s", r.body)
	}
}

func wantNoStore(t *testing.T, r *response) {
	t.Helper()
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := r.header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", got)
	}
}

// js encodes v as JSON without HTML escaping.
func js(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// obj is a registration body: a valid minimal request plus the given
// members (a nil value deletes a member of the base).
type obj map[string]any

const testRedirect = "https://app.example/cb"

func body(extra obj) string {
	m := obj{"redirect_uris": []string{testRedirect}}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return js(map[string]any(m))
}

// lockedRand is a deterministic io.Reader, safe for concurrent use, for
// Config.Rand.
type lockedRand struct {
	mu   sync.Mutex
	seed [32]byte
	r    *mrand.ChaCha8
}

func detRand(seed byte) io.Reader {
	l := &lockedRand{}
	l.seed[0] = seed
	l.reseed()
	return l
}

// reseed restarts the stream from its seed.
func (l *lockedRand) reseed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.r = mrand.NewChaCha8(l.seed)
}

func (l *lockedRand) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// Keys for the jwks tests, generated once.
var testKeys = sync.OnceValue(func() struct {
	rsaPub, rsaPriv, ecPub, ecPriv, okpPub, okpPriv, oct map[string]any
} {
	b64 := base64.RawURLEncoding.EncodeToString
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	e := []byte{1, 0, 1}
	rsaPub := map[string]any{"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": b64(rk.N.Bytes()), "e": b64(e)}
	rsaPriv := map[string]any{"d": b64(rk.D.Bytes()), "p": b64(rk.Primes[0].Bytes()), "q": b64(rk.Primes[1].Bytes()),
		"dp": b64(rk.Precomputed.Dp.Bytes()), "dq": b64(rk.Precomputed.Dq.Bytes()), "qi": b64(rk.Precomputed.Qinv.Bytes())}
	for k, v := range rsaPub {
		rsaPriv[k] = v
	}
	d, err := ek.Bytes() // the private scalar
	if err != nil {
		panic(err)
	}
	pub, err := ek.PublicKey.Bytes() // uncompressed point 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	x, y := pub[1:33], pub[33:65]
	ecPub := map[string]any{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64(x), "y": b64(y)}
	ecPriv := map[string]any{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64(x), "y": b64(y), "d": b64(d)}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	okpPub := map[string]any{"kty": "OKP", "kid": "o1", "crv": "Ed25519", "x": b64(edPub)}
	okpPriv := map[string]any{"kty": "OKP", "kid": "o1", "crv": "Ed25519", "x": b64(edPub), "d": b64(edPriv.Seed())}
	oct := map[string]any{"kty": "oct", "kid": "s1", "k": b64([]byte("0123456789abcdef0123456789abcdef"))}
	return struct {
		rsaPub, rsaPriv, ecPub, ecPriv, okpPub, okpPriv, oct map[string]any
	}{rsaPub, rsaPriv, ecPub, ecPriv, okpPub, okpPriv, oct}
})

func jwkSet(keys ...map[string]any) map[string]any {
	return map[string]any{"keys": keys}
}

// asError asserts that err is a *clientreg.Error matching sentinel.
func asError(t *testing.T, err, sentinel error) *clientreg.Error {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v does not match %v", err, sentinel)
	}
	var oe *clientreg.Error
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T) is not a *clientreg.Error", err, err)
	}
	checkDescription(t, oe.Description)
	return oe
}

// equalJSON reports whether a and b are the same JSON value.
func equalJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("invalid JSON %q: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return js(x) == js(y)
}

// without returns the members of r minus the named ones.
func without(t *testing.T, r *response, names ...string) map[string]json.RawMessage {
	t.Helper()
	m := r.members(t)
	for _, n := range names {
		delete(m, n)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// sameMembers asserts that a and b have the same members with equal JSON
// values.
func sameMembers(t *testing.T, what string, a, b map[string]json.RawMessage) {
	t.Helper()
	if ka, kb := sortedKeys(a), sortedKeys(b); !slices.Equal(ka, kb) {
		t.Errorf("%s: members differ: %v vs %v", what, ka, kb)
	}
	for k, va := range a {
		if vb, ok := b[k]; ok && !equalJSON(t, va, vb) {
			t.Errorf("%s: member %s differs: %s vs %s", what, k, va, vb)
		}
	}
}
