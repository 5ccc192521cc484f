package clientreg_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/testutil"
)

// Audit events (docs/behaviour.md §14): every state change produces its
// event once, after it is stored, naming the actor, the request ID and the
// address; a refused or failed request produces none; no event carries a
// credential.

// auditRecorder is the Config.Audit of the tests: it keeps every event.
type auditRecorder struct {
	mu      sync.Mutex
	pending []clientreg.AuditEvent // since the last take
	all     []clientreg.AuditEvent
}

func (a *auditRecorder) Audit(_ context.Context, e clientreg.AuditEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, e)
	a.all = append(a.all, e)
}

// expect takes the events since the last call and fails the test unless
// their kinds are kinds, in order (none for no kinds).
func (a *auditRecorder) expect(t *testing.T, kinds ...clientreg.AuditKind) []clientreg.AuditEvent {
	t.Helper()
	a.mu.Lock()
	evs := a.pending
	a.pending = nil
	a.mu.Unlock()
	got := make([]clientreg.AuditKind, len(evs))
	for i, e := range evs {
		got[i] = e.Kind
	}
	if !slices.Equal(got, kinds) {
		t.Fatalf("audit events %v, want %v:\n%s", got, kinds, mustJSON(t, evs))
	}
	return evs
}

// check fails the test when an event carries a credential of creds (in
// any encoding, testutil.FindCredential), and adds the kinds seen to seen.
func (a *auditRecorder) check(t *testing.T, creds map[string]string, seen *kindSet) {
	t.Helper()
	a.mu.Lock()
	all := slices.Clone(a.all)
	a.mu.Unlock()
	if len(all) == 0 {
		t.Fatal("no audit events: the check proves nothing")
	}
	for name, c := range creds {
		if c == "" {
			t.Fatalf("credential %s is empty: the check would skip it", name)
		}
	}
	for _, e := range all {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if leak := testutil.FindCredential(b, creds); leak != "" {
			t.Errorf("audit event carries %s:\n%s", leak, b)
		}
		seen.add(e.Kind)
	}
}

// kindSet is the set of kinds the subtests of TestAuditEvents produced.
type kindSet struct {
	mu sync.Mutex
	m  map[clientreg.AuditKind]bool
}

func (s *kindSet) add(k clientreg.AuditKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[clientreg.AuditKind]bool{}
	}
	s.m[k] = true
}

func (s *kindSet) has(k clientreg.AuditKind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

// handlerKinds are the kinds of the changes that the handler's endpoints
// and its methods other than the operator's administration make.
var handlerKinds = []clientreg.AuditKind{
	clientreg.AuditClientRegistered, clientreg.AuditClientUpdated, clientreg.AuditClientDeleted,
	clientreg.AuditClientPurged, clientreg.AuditRegistrationTokenRotated, clientreg.AuditRegistrationTokenRecovered,
	clientreg.AuditClientSecretRotated, clientreg.AuditInitialTokenCreated, clientreg.AuditGrantRevoked,
	clientreg.AuditAccessTokenRevoked, clientreg.AuditConsentGranted, clientreg.AuditConsentRevoked,
}

// hexRequestID is the form of a request ID the handler draws.
var hexRequestID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// wantRequest fails the test unless e was made by a request from the test
// client (loopback) with the request ID id.
func wantRequest(t *testing.T, e clientreg.AuditEvent, id string) {
	t.Helper()
	host, _, err := net.SplitHostPort(e.RemoteAddr)
	if e.RequestID != id || err != nil || host != "127.0.0.1" {
		t.Fatalf("event %s: request_id %q (want %q), remote_addr %q (want 127.0.0.1:port)", e.Kind, e.RequestID, id, e.RemoteAddr)
	}
}

func wantActor(t *testing.T, e clientreg.AuditEvent, kind, id string) {
	t.Helper()
	if e.Actor != (clientreg.AuditActor{Kind: kind, ID: id}) {
		t.Fatalf("event %s: actor %+v, want {%s %s}", e.Kind, e.Actor, kind, id)
	}
}

// TestAuditEvents produces every kind of event the handler makes, and
// proves that each one carries no credential.
func TestAuditEvents(t *testing.T) {
	seen := &kindSet{}
	ran := 0
	for _, sub := range []struct {
		name string
		f    func(*testing.T, *kindSet)
	}{
		{"clients", func(t *testing.T, seen *kindSet) {
			forEachBackend(t, func(t *testing.T, b backend) { auditClients(t, b, seen) })
		}},
		{"grants", auditGrants},
		{"consent", auditConsent},
		{"documents", auditDocuments},
		{"operator", auditOperator},
	} {
		selected := false // t.Run reports true for a subtest -run leaves out
		if t.Run(sub.name, func(t *testing.T) { selected = true; sub.f(t, seen) }) && selected {
			ran++
		}
	}
	if ran < 5 {
		return // a subtest failed or was not selected
	}
	for _, k := range slices.Concat(handlerKinds, operatorKinds) { // operatorKinds: operator_test.go
		if !seen.has(k) {
			t.Errorf("no subtest produced a %s event", k)
		}
	}
}

// auditClients: registration (anonymous, with an initial access token, by
// the operator, idempotent), updates and their rotations, recovery,
// revocation of an access token, deletion and purges, and the request
// IDs.
func auditClients(t *testing.T, b backend, seen *kindSet) {
	rec := &auditRecorder{}
	e := newEnv(t, b, oauthConfig, func(c *clientreg.Config) { c.Audit = rec })
	creds := map[string]string{}
	ops := clientreg.WithOperator(t.Context(), "ops")

	iat, it, err := e.h.CreateInitialToken(ops, clientreg.InitialTokenOptions{MaxUses: 10})
	if err != nil {
		t.Fatal(err)
	}
	creds["initial access token"] = iat
	ev := rec.expect(t, clientreg.AuditInitialTokenCreated)[0]
	wantActor(t, ev, clientreg.ActorOperator, "ops")
	if id := clientreg.InitialTokenID(it); ev.InitialTokenID != id || len(id) != 16 || ev.RequestID != "" || ev.RemoteAddr != "" || !ev.Time.Equal(e.clock.Now()) {
		t.Fatalf("initial_token.created = %+v (token id %s, now %v)", ev, id, e.clock.Now())
	}

	post := func(body, auth, requestID string) *response {
		t.Helper()
		req := e.request(http.MethodPost, e.iss+"/register", strings.NewReader(body), jsonType, auth)
		if requestID != "" {
			req.Header.Set(clientreg.RequestIDHeader, requestID)
		}
		return e.send(req)
	}
	registered := func(r *response) *registered {
		t.Helper()
		if r.status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		c := newRegistered(t, r)
		creds[c.ID+" secret"], creds[c.ID+" token"] = c.Secret, c.Token
		return c
	}

	// Anonymous, with a request ID: echoed and recorded.
	const rid = "req-1.a:b/c+d=e_f"
	r := post(body(obj{"client_name": "one", "contacts": []string{"ops@example.com"}}), "", rid)
	a := registered(r)
	if got := r.header.Get(clientreg.RequestIDHeader); got != rid {
		t.Fatalf("X-Request-Id answered %q, want %q", got, rid)
	}
	ev = rec.expect(t, clientreg.AuditClientRegistered)[0]
	wantActor(t, ev, clientreg.ActorAnonymous, "")
	wantRequest(t, ev, rid)
	if ev.ClientID != a.ID || ev.InitialTokenID != "" || len(ev.Changes) != 0 {
		t.Fatalf("client.registered = %+v", ev)
	}

	// With the initial access token and no request ID: a fresh one.
	r = post(body(nil), "Bearer "+iat, "")
	c := registered(r)
	ev = rec.expect(t, clientreg.AuditClientRegistered)[0]
	wantActor(t, ev, clientreg.ActorInitialToken, clientreg.InitialTokenID(it))
	if got := r.header.Get(clientreg.RequestIDHeader); !hexRequestID.MatchString(got) {
		t.Fatalf("generated X-Request-Id %q", got)
	}
	wantRequest(t, ev, r.header.Get(clientreg.RequestIDHeader))
	if ev.ClientID != c.ID || ev.InitialTokenID != clientreg.InitialTokenID(it) {
		t.Fatalf("client.registered = %+v", ev)
	}

	// An invalid request ID, or two, is replaced by a fresh one.
	seenIDs := map[string]bool{}
	for _, bad := range [][]string{{"has space"}, {strings.Repeat("x", 129)}, {"a;b"}, {`"quoted"`}, {"a\\b"}, {"one", "two"}} {
		req := e.request(http.MethodPost, e.iss+"/register", strings.NewReader(body(nil)), jsonType, "")
		req.Header[clientreg.RequestIDHeader] = bad
		r := e.send(req)
		registered(r)
		got := r.header.Get(clientreg.RequestIDHeader)
		ev := rec.expect(t, clientreg.AuditClientRegistered)[0]
		if !hexRequestID.MatchString(got) || ev.RequestID != got || seenIDs[got] {
			t.Fatalf("X-Request-Id %q: answered %q, recorded %q", bad, got, ev.RequestID)
		}
		seenIDs[got] = true
	}
	// Long and odd but valid.
	long := strings.Repeat("aZ9._:/+=-", 12) + "1234567"
	r = post(body(nil), "", long)
	registered(r)
	if ev := rec.expect(t, clientreg.AuditClientRegistered)[0]; ev.RequestID != long || r.header.Get(clientreg.RequestIDHeader) != long {
		t.Fatalf("a valid 128-character ID was replaced: %q", ev.RequestID)
	}

	// Refused registrations change nothing and produce nothing.
	wantError(t, post(body(obj{"redirect_uris": []string{"javascript:alert(1)"}}), "", ""), http.StatusBadRequest, "invalid_redirect_uri")
	wantInvalidToken(t, post(body(nil), "Bearer "+iat+"x", ""))
	wantError(t, post(`{"client_name":`, "", ""), http.StatusBadRequest, "invalid_request")
	e.store.set("CreateClient", faultError)
	wantError(t, post(body(nil), "", ""), http.StatusInternalServerError, "server_error")
	e.store.set("CreateClient", faultNone)
	rec.expect(t)

	// An update: one member changed, one added, one removed, in the
	// order of their names; the token rotates.
	r = e.put(a.URI, a.Token, updateBody(a, obj{"client_name": "two", "client_uri": "https://app.example/"}))
	if r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	a.Token = r.mustStr(t, "registration_access_token")
	creds["a token 1"] = a.Token
	evs := rec.expect(t, clientreg.AuditClientUpdated, clientreg.AuditRegistrationTokenRotated)
	for _, ev := range evs {
		wantActor(t, ev, clientreg.ActorClient, a.ID)
		wantRequest(t, ev, r.header.Get(clientreg.RequestIDHeader))
		if ev.ClientID != a.ID {
			t.Fatalf("%s names client %q", ev.Kind, ev.ClientID)
		}
	}
	type change struct{ member, before, after string }
	var got []change
	for _, ch := range evs[0].Changes {
		got = append(got, change{ch.Member, string(ch.Before), string(ch.After)})
	}
	want := []change{
		{"client_name", `"one"`, `"two"`},
		{"client_uri", "", `"https://app.example/"`},
		{"contacts", `["ops@example.com"]`, ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("changes = %q, want %q", got, want)
	}

	// An update that changes nothing still writes a revision: no changes.
	r = e.put(a.URI, a.Token, updateBody(a, obj{"client_name": "two", "client_uri": "https://app.example/"}))
	a.Token = r.mustStr(t, "registration_access_token")
	creds["a token 2"] = a.Token
	if evs := rec.expect(t, clientreg.AuditClientUpdated, clientreg.AuditRegistrationTokenRotated); evs[0].Changes != nil {
		t.Fatalf("an update that changed nothing lists changes: %s", mustJSON(t, evs[0].Changes))
	}

	// A new secret, asked for, then one that a new method needs.
	r = e.put(a.URI+"?rotate_secret=true", a.Token, updateBody(a, obj{"client_name": "two", "client_uri": "https://app.example/"}))
	a.Token, a.Secret = r.mustStr(t, "registration_access_token"), r.mustStr(t, "client_secret")
	creds["a token 3"], creds["a secret 1"] = a.Token, a.Secret
	evs = rec.expect(t, clientreg.AuditClientUpdated, clientreg.AuditRegistrationTokenRotated, clientreg.AuditClientSecretRotated)
	if evs[2].Reason != "rotate_secret" || evs[0].Changes != nil {
		t.Fatalf("rotate_secret: %s", mustJSON(t, evs))
	}
	r = e.put(a.URI, a.Token, updateBody(a, obj{"client_name": "two", "client_uri": "https://app.example/", "token_endpoint_auth_method": "client_secret_jwt"}))
	if r.status != http.StatusOK {
		t.Fatalf("PUT client_secret_jwt: %d %s", r.status, r.body)
	}
	a.Token, a.Secret = r.mustStr(t, "registration_access_token"), r.mustStr(t, "client_secret")
	creds["a token 4"], creds["a secret 2"] = a.Token, a.Secret
	evs = rec.expect(t, clientreg.AuditClientUpdated, clientreg.AuditRegistrationTokenRotated, clientreg.AuditClientSecretRotated)
	if evs[2].Reason != "auth_method" || len(evs[0].Changes) != 1 || evs[0].Changes[0].Member != "token_endpoint_auth_method" {
		t.Fatalf("new method: %s", mustJSON(t, evs))
	}
	r = e.put(a.URI, a.Token, updateBody(a, obj{"client_name": "two", "client_uri": "https://app.example/"}))
	a.Token = r.mustStr(t, "registration_access_token")
	creds["a token 5"] = a.Token
	rec.expect(t, clientreg.AuditClientUpdated, clientreg.AuditRegistrationTokenRotated)

	// Refused and failed updates produce nothing.
	wantInvalidToken(t, e.put(a.URI, a.Token+"x", updateBody(a, nil)))
	wantInvalidToken(t, e.put(a.URI, c.Token, updateBody(a, nil)))
	wantError(t, e.put(a.URI, a.Token, updateBody(a, obj{"redirect_uris": []string{"javascript:alert(1)"}})), http.StatusBadRequest, "invalid_redirect_uri")
	wantError(t, e.put(a.URI, a.Token, updateBody(a, obj{"client_secret": c.Secret})), http.StatusBadRequest, "invalid_request")
	e.store.set("UpdateClient", faultError)
	wantError(t, e.put(a.URI, a.Token, updateBody(a, nil)), http.StatusInternalServerError, "server_error")
	e.store.set("UpdateClient", faultNone)
	e.mustGet(a, a.Token) // a read is no change
	rec.expect(t)

	// The recovery of the registration access token.
	req := e.request(http.MethodPost, a.URI+"/registration_access_token", nil, "", "")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	r = e.send(req)
	wantError(t, r, http.StatusUnauthorized, "invalid_client") // another client's credentials
	req = e.request(http.MethodPost, c.URI+"/registration_access_token", nil, "", "")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	req.Header.Set(clientreg.RequestIDHeader, "recover-1")
	if r = e.send(req); r.status != http.StatusOK {
		t.Fatalf("recovery: %d %s", r.status, r.body)
	}
	c.Token = r.mustStr(t, "registration_access_token")
	creds["c token 1"] = c.Token
	ev = rec.expect(t, clientreg.AuditRegistrationTokenRecovered)[0]
	wantActor(t, ev, clientreg.ActorClient, c.ID)
	wantRequest(t, ev, "recover-1")

	// RFC 7009 revocation of an access token; once: the second finds none.
	cc := clientCreds{id: c.ID, secret: c.Secret, method: "client_secret_basic"}
	tr := e.token(cc, "")
	if tr.status != http.StatusOK {
		t.Fatalf("token: %d %s", tr.status, tr.body)
	}
	creds["access token"] = tr.mustStr(t, "access_token")
	rec.expect(t) // issuing a token is no event
	for range 2 {
		if rv := e.form("/revoke", cc, url.Values{"token": {creds["access token"]}}); rv.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", rv.status, rv.body)
		}
	}
	ev = rec.expect(t, clientreg.AuditAccessTokenRevoked)[0]
	wantActor(t, ev, clientreg.ActorClient, c.ID)
	if ev.ClientID != c.ID || ev.Reason != "revocation" {
		t.Fatalf("access_token.revoked = %+v", ev)
	}

	// Deletion: refused ones produce nothing.
	wantInvalidToken(t, e.del(a.URI, c.Token))
	e.store.set("DeleteClient", faultError)
	wantError(t, e.del(a.URI, a.Token), http.StatusInternalServerError, "server_error")
	e.store.set("DeleteClient", faultNone)
	rec.expect(t)
	if r := e.del(a.URI, a.Token); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	ev = rec.expect(t, clientreg.AuditClientDeleted)[0]
	wantActor(t, ev, clientreg.ActorClient, a.ID)
	if ev.ClientID != a.ID {
		t.Fatalf("client.deleted = %+v", ev)
	}

	// The operator's registration, outside any request.
	info, err := e.h.Register(ops, "", clientreg.Metadata{ClientName: "op", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic"})
	if err != nil {
		t.Fatal(err)
	}
	creds["op secret"], creds["op token"] = info.ClientSecret, info.RegistrationAccessToken
	ev = rec.expect(t, clientreg.AuditClientRegistered)[0]
	wantActor(t, ev, clientreg.ActorOperator, "ops")
	if ev.ClientID != info.ClientID || ev.RequestID != "" || ev.RemoteAddr != "" {
		t.Fatalf("operator's client.registered = %+v", ev)
	}

	// An idempotent registration and its replay: one event.
	first := e.postIdem(idemKey, idemBody, "")
	registered(first)
	rec.expect(t, clientreg.AuditClientRegistered)
	if replay := e.postIdem(idemKey, idemBody, ""); replay.status != http.StatusCreated || string(replay.body) != string(first.body) {
		t.Fatalf("replay: %d %s", replay.status, replay.body)
	}
	rec.expect(t)

	// The endpoints mounted alone give request IDs too.
	for _, h := range []http.Handler{e.h.RegistrationHandler(), e.h.MetadataHandler(), e.h.ConfigurationHandler()} {
		w := httptest.NewRecorder()
		in := httptest.NewRequest(http.MethodGet, e.iss+"/register/x", nil)
		in.Header.Set(clientreg.RequestIDHeader, "alone-1")
		h.ServeHTTP(w, in)
		if got := w.Header().Get(clientreg.RequestIDHeader); got != "alone-1" {
			t.Fatalf("a handler mounted alone answered X-Request-Id %q", got)
		}
	}
	w := httptest.NewRecorder()
	in := httptest.NewRequest(http.MethodPost, e.iss+"/register", strings.NewReader(body(nil)))
	in.Header.Set("Content-Type", jsonType)
	in.RemoteAddr = "192.0.2.9:1234"
	e.h.RegistrationHandler().ServeHTTP(w, in)
	if w.Code != http.StatusCreated {
		t.Fatalf("RegistrationHandler: %d %s", w.Code, w.Body)
	}
	var alone struct {
		Secret string `json:"client_secret"`
		Token  string `json:"registration_access_token"`
	}
	json.Unmarshal(w.Body.Bytes(), &alone)
	creds["alone secret"], creds["alone token"] = alone.Secret, alone.Token
	if ev := rec.expect(t, clientreg.AuditClientRegistered)[0]; ev.RequestID != w.Header().Get(clientreg.RequestIDHeader) || ev.RemoteAddr != "192.0.2.9:1234" {
		t.Fatalf("RegistrationHandler's event: %+v", ev)
	}

	// Purges: a dry run produces nothing; the sweep's actor is the system,
	// the operator's (WithOperator) the operator.
	e.clock.Add(clientreg.DefaultClientUnusedTTL + time.Second)
	if gone, err := e.h.PurgeClients(ops, clientreg.PurgeOptions{DryRun: true}); err != nil || len(gone) == 0 {
		t.Fatalf("dry run: %v, %v", gone, err)
	}
	rec.expect(t)
	gone, err := e.h.PurgeClients(ops, clientreg.PurgeOptions{Limit: 1})
	if err != nil || len(gone) != 1 {
		t.Fatalf("purge: %v, %v", gone, err)
	}
	ev = rec.expect(t, clientreg.AuditClientPurged)[0]
	wantActor(t, ev, clientreg.ActorOperator, "ops")
	if ev.ClientID != gone[0].ID || ev.Reason != "unused" {
		t.Fatalf("client.purged = %+v, purged %+v", ev, gone[0])
	}
	gone, err = e.h.PurgeClients(context.Background(), clientreg.PurgeOptions{})
	if err != nil || len(gone) == 0 {
		t.Fatalf("purge: %v, %v", gone, err)
	}
	evs = rec.expect(t, slices.Repeat([]clientreg.AuditKind{clientreg.AuditClientPurged}, len(gone))...)
	for i, ev := range evs {
		wantActor(t, ev, clientreg.ActorSystem, "")
		if ev.ClientID != gone[i].ID || ev.Reason != gone[i].Reason {
			t.Fatalf("client.purged = %+v, purged %+v", ev, gone[i])
		}
	}
	rec.check(t, creds, seen)
}

// auditGrants: the grants revoked by code reuse, refresh token reuse,
// expiry and RFC 7009 revocation; the request IDs of the authorization
// endpoint and of the application's page that completes a request.
func auditGrants(t *testing.T, seen *kindSet) {
	rec := &auditRecorder{}
	e := newGrantEnv(t, memoryBackend, func(c *clientreg.Config) { c.Audit = rec })
	creds := map[string]string{}
	pub := e.registerPublic(nil)
	creds["pub token"] = pub.token
	rec.expect(t, clientreg.AuditClientRegistered)

	// The authorization endpoint answers its request ID; the
	// application's page, not behind the handler, gets one from
	// CompleteAuthorization: its own X-Request-Id, or a fresh one.
	verifier, challenge := pkce()
	p := e.authorize(authzParams(pub, challenge))
	if p.status != http.StatusOK || !hexRequestID.MatchString(p.header.Get(clientreg.RequestIDHeader)) {
		t.Fatalf("authorize: %d, X-Request-Id %q", p.status, p.header.Get(clientreg.RequestIDHeader))
	}
	pending := e.lastRequest().ID
	creds["pending authorization"] = pending
	req, _ := http.NewRequest(http.MethodGet, e.iss+"/app/approve?"+url.Values{"id": {pending}, "sub": {"ada"}}.Encode(), nil)
	req.Header.Set(clientreg.RequestIDHeader, "app-7")
	p = e.visit(e.browser, req)
	if p.status != http.StatusSeeOther || p.header.Get(clientreg.RequestIDHeader) != "app-7" {
		t.Fatalf("approve: %d, X-Request-Id %q", p.status, p.header.Get(clientreg.RequestIDHeader))
	}
	code := p.location.Query().Get("code")
	creds["code 0"] = code
	r := e.exchange(pub, code, verifier, nil)
	if r.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	creds["access 0"], creds["refresh 0"] = r.str("access_token"), r.str("refresh_token")
	rec.expect(t) // authorizing, issuing codes and tokens: no events

	// The code again: its grant is revoked, once.
	wantOAuthError(t, e.exchange(pub, code, verifier, nil), http.StatusBadRequest, "invalid_grant")
	ev := rec.expect(t, clientreg.AuditGrantRevoked)[0]
	wantActor(t, ev, clientreg.ActorSystem, "")
	if ev.Reason != "code_reuse" || ev.ClientID != pub.creds.id || ev.Subject != "ada" || ev.GrantID == "" {
		t.Fatalf("grant.revoked = %+v", ev)
	}
	wantOAuthError(t, e.exchange(pub, code, verifier, nil), http.StatusBadRequest, "invalid_grant")
	rec.expect(t)

	// A rotated-out refresh token again: the family is revoked.
	code, verifier = e.code(pub)
	r0 := e.exchange(pub, code, verifier, nil)
	r1 := e.refreshWith(pub, r0.str("refresh_token"), nil)
	r2 := e.refreshWith(pub, r1.str("refresh_token"), nil)
	if r2.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r2.status, r2.body)
	}
	creds["code 1"], creds["refresh 1"], creds["refresh 2"], creds["refresh 3"] = code, r0.str("refresh_token"), r1.str("refresh_token"), r2.str("refresh_token")
	creds["access 1"], creds["access 2"], creds["access 3"] = r0.str("access_token"), r1.str("access_token"), r2.str("access_token")
	rec.expect(t)
	wantOAuthError(t, e.refreshWith(pub, r0.str("refresh_token"), nil), http.StatusBadRequest, "invalid_grant")
	ev = rec.expect(t, clientreg.AuditGrantRevoked)[0]
	wantActor(t, ev, clientreg.ActorSystem, "")
	wantRequest(t, ev, ev.RequestID)
	if ev.Reason != "refresh_token_reuse" || ev.Subject != "ada" || !hexRequestID.MatchString(ev.RequestID) {
		t.Fatalf("grant.revoked = %+v", ev)
	}

	// RFC 7009: the client revokes its refresh token; a foreign client's
	// revocation changes nothing.
	rs := e.resourceServer()
	creds["rs secret"] = rs.secret
	rec.expect(t, clientreg.AuditClientRegistered)
	code, verifier = e.code(pub)
	r = e.exchange(pub, code, verifier, nil)
	creds["code 2"], creds["refresh 4"], creds["access 4"] = code, r.str("refresh_token"), r.str("access_token")
	e.form("/revoke", rs, url.Values{"token": {r.str("refresh_token")}})
	rec.expect(t)
	if rv := e.form("/revoke", pub.creds, url.Values{"token": {r.str("refresh_token")}}); rv.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", rv.status, rv.body)
	}
	ev = rec.expect(t, clientreg.AuditGrantRevoked)[0]
	wantActor(t, ev, clientreg.ActorClient, pub.creds.id)
	if ev.Reason != "revocation" || ev.Subject != "ada" {
		t.Fatalf("grant.revoked = %+v", ev)
	}

	// A refresh token past the grant's lifetime: the grant is removed.
	code, verifier = e.code(pub)
	r = e.exchange(pub, code, verifier, nil)
	creds["code 3"], creds["refresh 5"], creds["access 5"] = code, r.str("refresh_token"), r.str("access_token")
	e.clock.Add(clientreg.DefaultRefreshTokenLifetime)
	wantOAuthError(t, e.refreshWith(pub, r.str("refresh_token"), nil), http.StatusBadRequest, "invalid_grant")
	if ev := rec.expect(t, clientreg.AuditGrantRevoked)[0]; ev.Reason != "expired" {
		t.Fatalf("grant.revoked = %+v", ev)
	}
	rec.check(t, creds, seen)
}

// auditConsent: remembered consent stored and revoked, by the user, with
// the request ID of the application's page behind RequestIDHandler.
func auditConsent(t *testing.T, seen *kindSet) {
	rec := &auditRecorder{}
	e := newGrantEnv(t, memoryBackend, func(c *clientreg.Config) { c.Audit = rec })
	creds := map[string]string{}
	pub := e.registerPublic(nil)
	creds["pub token"] = pub.token
	rec.expect(t, clientreg.AuditClientRegistered)
	_, challenge := pkce()
	if p := e.authorize(authzParams(pub, challenge)); p.status != http.StatusOK {
		t.Fatalf("authorize: %d %s", p.status, p.body)
	}
	areq := e.lastRequest()
	creds["pending authorization"] = areq.ID

	var ttl time.Duration
	page := e.h.RequestIDHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := e.h.RememberConsent(r.Context(), "ada", areq, nil, ttl); err != nil {
			t.Errorf("RememberConsent: %v", err)
		}
	}))
	consent := func(d time.Duration, requestID string) *httptest.ResponseRecorder {
		ttl = d
		w := httptest.NewRecorder()
		in := httptest.NewRequest(http.MethodPost, e.iss+"/consent", nil)
		in.RemoteAddr = "192.0.2.7:4321"
		if requestID != "" {
			in.Header.Set(clientreg.RequestIDHeader, requestID)
		}
		page.ServeHTTP(w, in)
		return w
	}
	w := consent(time.Hour, "consent-1")
	ev := rec.expect(t, clientreg.AuditConsentGranted)[0]
	wantActor(t, ev, clientreg.ActorUser, "ada")
	if ev.ClientID != pub.creds.id || ev.Subject != "ada" || ev.RequestID != "consent-1" || ev.RemoteAddr != "192.0.2.7:4321" || w.Header().Get(clientreg.RequestIDHeader) != "consent-1" {
		t.Fatalf("consent.granted = %+v", ev)
	}
	// A ttl of 0 forgets it: revoked, by the user; then nothing to forget.
	w = consent(0, "")
	ev = rec.expect(t, clientreg.AuditConsentRevoked)[0]
	wantActor(t, ev, clientreg.ActorUser, "ada")
	if ev.RequestID != w.Header().Get(clientreg.RequestIDHeader) || !hexRequestID.MatchString(ev.RequestID) {
		t.Fatalf("consent.revoked = %+v", ev)
	}
	consent(0, "")
	rec.expect(t)

	// RevokeConsent, from Go.
	consent(time.Hour, "")
	rec.expect(t, clientreg.AuditConsentGranted)
	if err := e.h.RevokeConsent(t.Context(), "ada", pub.creds.id); err != nil {
		t.Fatal(err)
	}
	ev = rec.expect(t, clientreg.AuditConsentRevoked)[0]
	if ev.ClientID != pub.creds.id || ev.Subject != "ada" || ev.RequestID != "" {
		t.Fatalf("consent.revoked = %+v", ev)
	}
	if ok, err := e.h.ConsentRemembered(t.Context(), "ada", areq); ok || err != nil {
		t.Fatalf("consent still remembered: %v %v", ok, err)
	}
	if err := e.h.RevokeConsent(t.Context(), "ada", pub.creds.id); !errors.Is(err, clientreg.ErrConsentNotFound) {
		t.Fatalf("RevokeConsent of nothing: %v", err)
	}
	if err := e.h.RevokeConsent(t.Context(), "", pub.creds.id); !errors.Is(err, clientreg.ErrInvalidRequest) {
		t.Fatalf("RevokeConsent without a subject: %v", err)
	}
	rec.expect(t)
	rec.check(t, creds, seen)
}

// auditDocuments: the record of a Client ID Metadata Document client made
// at its first use and changed by a refetched document.
func auditDocuments(t *testing.T, seen *kindSet) {
	d := newDocServer(t)
	rec := &auditRecorder{}
	e := newDocEnv(t, d, func(c *clientreg.Config) { c.Audit = rec })
	u := d.serve("/app.json", nil, map[string]string{"Cache-Control": "max-age=600"})
	c := docClient(u)
	_, challenge := pkce()
	authorize := func() page {
		t.Helper()
		p := e.authorize(authzParams(c, challenge))
		if p.status != http.StatusOK {
			t.Fatalf("authorize: %d %s", p.status, p.body)
		}
		return p
	}
	creds := map[string]string{}
	p := authorize()
	ev := rec.expect(t, clientreg.AuditClientRegistered)[0]
	wantActor(t, ev, clientreg.ActorClient, u)
	wantRequest(t, ev, p.header.Get(clientreg.RequestIDHeader))
	if ev.ClientID != u || ev.Reason != "metadata_document" {
		t.Fatalf("client.registered = %+v", ev)
	}
	authorize()
	rec.expect(t) // the same document: no change

	d.serve("/app.json", map[string]any{"client_name": "Renamed"}, map[string]string{"Cache-Control": "max-age=600"})
	e.clock.Add(11 * time.Minute)
	authorize()
	ev = rec.expect(t, clientreg.AuditClientUpdated)[0]
	wantActor(t, ev, clientreg.ActorClient, u)
	if ev.Reason != "metadata_document" || len(ev.Changes) != 1 || ev.Changes[0].Member != "client_name" ||
		string(ev.Changes[0].Before) != `"Doc App"` || string(ev.Changes[0].After) != `"Renamed"` {
		t.Fatalf("client.updated = %s", mustJSON(t, ev))
	}
	creds["pending authorization"] = e.lastRequest().ID
	rec.check(t, creds, seen)
}

// Behind a trusted proxy, an event records the client address that the
// proxy's X-Forwarded-For names (as the rate limits take it); from any
// other peer, the peer.
func TestAuditRemoteAddrThroughProxy(t *testing.T) {
	rec := &auditRecorder{}
	e := newEnv(t, memoryBackend, func(c *clientreg.Config) {
		c.Audit = rec
		c.Limits = clientreg.Limits{Disabled: true, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	for _, tc := range []struct{ xff, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"198.51.100.1, 2001:db8::1, 127.0.0.2", "2001:db8::1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"", ""},          // no header: the proxy itself
		{"junk", ""},      // a malformed hop: nothing beyond the proxy is believed
		{"127.0.0.9", ""}, // only proxies
	} {
		if r := e.registerFrom(tc.xff, map[string]any{"redirect_uris": []string{testRedirect}}); r.status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		ev := rec.expect(t, clientreg.AuditClientRegistered)[0]
		if tc.want == "" {
			wantRequest(t, ev, ev.RequestID)
		} else if ev.RemoteAddr != tc.want {
			t.Errorf("X-Forwarded-For %q: remote_addr %q, want %q", tc.xff, ev.RemoteAddr, tc.want)
		}
	}
	// Without trusted proxies the header is ignored.
	rec2 := &auditRecorder{}
	e2 := newEnv(t, memoryBackend, func(c *clientreg.Config) { c.Audit = rec2 })
	e2.registerFrom("203.0.113.7", map[string]any{"redirect_uris": []string{testRedirect}})
	ev := rec2.expect(t, clientreg.AuditClientRegistered)[0]
	wantRequest(t, ev, ev.RequestID)
}

// auditOperator: the operator's administration methods, called from Go
// with the operator named by WithOperator, outside any request; the
// hygiene check covers their events with the client's secret, its token,
// its registration access token and the initial access token.
func auditOperator(t *testing.T, seen *kindSet) {
	rec := &auditRecorder{}
	e := newGrantEnv(t, memoryBackend, func(c *clientreg.Config) { c.Audit = rec })
	ctx := clientreg.WithOperator(context.Background(), "ops")
	info, err := e.h.Register(ctx, "", clientreg.Metadata{ClientName: "svc", GrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: "client_secret_basic"})
	if err != nil {
		t.Fatal(err)
	}
	id := info.ClientID
	rec.expect(t, clientreg.AuditClientRegistered)
	c, err := e.h.LookupClient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.h.IssueClientCredentialsToken(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	iat, _, err := e.h.CreateInitialToken(ctx, clientreg.InitialTokenOptions{MaxUses: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec.expect(t, clientreg.AuditInitialTokenCreated)
	creds := map[string]string{"client secret": info.ClientSecret, "access token": tok.AccessToken,
		"registration access token": info.RegistrationAccessToken, "initial access token": iat}

	wantOperator := func(ev clientreg.AuditEvent, client string) {
		t.Helper()
		wantActor(t, ev, clientreg.ActorOperator, "ops")
		if ev.ClientID != client || ev.RequestID != "" || ev.RemoteAddr != "" {
			t.Errorf("%s = %+v, want client %q and no request", ev.Kind, ev, client)
		}
	}
	if n, err := e.h.RevokeClientTokens(ctx, id); err != nil || n != 1 {
		t.Fatalf("RevokeClientTokens = %d, %v; want 1", n, err)
	}
	if ev := rec.expect(t, clientreg.AuditClientTokensRevoked)[0]; ev.Count != 1 {
		t.Errorf("client.tokens_revoked count = %d, want 1", ev.Count)
	} else {
		wantOperator(ev, id)
	}
	if err := e.h.DisableClient(ctx, id); err != nil {
		t.Fatal(err)
	}
	wantOperator(rec.expect(t, clientreg.AuditClientDisabled)[0], id)
	if err := e.h.EnableClient(ctx, id); err != nil {
		t.Fatal(err)
	}
	wantOperator(rec.expect(t, clientreg.AuditClientEnabled)[0], id)
	tokens, err := e.h.ListInitialTokens(ctx)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("ListInitialTokens = %v, %v", tokens, err)
	}
	if err := e.h.RevokeInitialToken(ctx, tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	if ev := rec.expect(t, clientreg.AuditInitialTokenRevoked)[0]; ev.InitialTokenID != tokens[0].ID {
		t.Errorf("initial_token.revoked names %q, want %q", ev.InitialTokenID, tokens[0].ID)
	} else {
		wantOperator(ev, "")
	}
	if err := e.h.DeleteClient(ctx, id); err != nil {
		t.Fatal(err)
	}
	wantOperator(rec.expect(t, clientreg.AuditClientDeleted)[0], id)
	// Nothing is emitted for what fails: an unknown client or token.
	if err := e.h.DisableClient(ctx, id); !errors.Is(err, clientreg.ErrClientNotFound) {
		t.Errorf("DisableClient of a deleted client: %v", err)
	}
	if err := e.h.RevokeInitialToken(ctx, tokens[0].ID); !errors.Is(err, clientreg.ErrInitialTokenNotFound) {
		t.Errorf("RevokeInitialToken again: %v", err)
	}
	rec.expect(t)
	rec.check(t, creds, seen)
}
