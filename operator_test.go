package clientreg_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// The operator's methods (docs/behaviour.md §11): listing and showing
// clients, deleting, disabling and enabling them, revoking a client's
// tokens, listing and revoking initial access tokens. Each change is made
// through the Go API, as the clientreg command makes it, and what the
// endpoints answer afterwards is checked through HTTP, with the audit
// events the change emitted.

// adminSink is a Config.Audit that keeps every event.
type adminSink struct {
	mu     sync.Mutex
	events []clientreg.AuditEvent
}

func (s *adminSink) Audit(_ context.Context, e clientreg.AuditEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *adminSink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// of returns the events of the given kinds, in the order they came.
func (s *adminSink) of(kinds ...clientreg.AuditKind) []clientreg.AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []clientreg.AuditEvent
	for _, e := range s.events {
		if slices.Contains(kinds, e.Kind) {
			out = append(out, e)
		}
	}
	return out
}

// operatorKinds are the kinds of event the operator's methods emit.
var operatorKinds = []clientreg.AuditKind{clientreg.AuditClientDeleted, clientreg.AuditClientDisabled, clientreg.AuditClientEnabled,
	clientreg.AuditClientTokensRevoked, clientreg.AuditInitialTokenRevoked}

// wantOperatorEvents asserts that the events of the operator's kinds are
// want (kind, client, count and initial token ID compared), each by the
// operator "alice", stamped with the env's clock and no request.
func wantOperatorEvents(t *testing.T, e *testEnv, s *adminSink, want ...clientreg.AuditEvent) {
	t.Helper()
	got := s.of(operatorKinds...)
	if len(got) != len(want) {
		t.Fatalf("%d operator events, want %d: %+v", len(got), len(want), got)
	}
	for i, g := range got {
		w := want[i]
		if g.Kind != w.Kind || g.ClientID != w.ClientID || g.Count != w.Count || g.InitialTokenID != w.InitialTokenID {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
		if g.Actor != (clientreg.AuditActor{Kind: clientreg.ActorOperator, ID: "alice"}) {
			t.Errorf("event %d: actor %+v, want the operator alice", i, g.Actor)
		}
		if g.Time.IsZero() || g.Time.After(e.clock.Now()) || g.Time.Location() != time.UTC || g.RequestID != "" || g.RemoteAddr != "" {
			t.Errorf("event %d: time %v, request %q from %q", i, g.Time, g.RequestID, g.RemoteAddr)
		}
	}
}

// operatorCtx names the operator alice.
func operatorCtx(t *testing.T) context.Context {
	return clientreg.WithOperator(t.Context(), "alice")
}

func clientIDs(cs []*clientreg.Client) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func sortedIDs(ids ...string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

// ListClients selects by policy, origin, registration time and use, pages
// with a cursor, and changes nothing; Client reads one record.
func TestOperatorListClients(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		sink := &adminSink{}
		e := newEnv(t, b, oauthConfig, withConfig(func(c *clientreg.Config) {
			c.Policies = []clientreg.Policy{{Name: "partner"}}
			c.Audit = sink
		}))
		ctx := operatorCtx(t)
		t0 := e.clock.Now()
		anon := e.register(ccBody)
		e.clock.Add(time.Hour)
		withIAT := e.registerWith(ccBody, "Bearer "+e.initialToken(clientreg.InitialTokenOptions{Policy: "partner"}))
		e.clock.Add(time.Hour)
		t2 := e.clock.Now()
		info, err := e.h.Register(ctx, "", clientreg.Metadata{ClientName: "op", GrantTypes: []string{"client_credentials"}})
		if err != nil {
			t.Fatal(err)
		}
		op := info.ClientID
		if r := e.token(creds(anon), ""); r.status != http.StatusOK {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		events := sink.len()

		for _, tc := range []struct {
			name string
			f    clientreg.ClientFilter
			want []string
		}{
			{"all", clientreg.ClientFilter{}, []string{anon.ID, withIAT.ID, op}},
			{"policy", clientreg.ClientFilter{Policies: []string{"partner"}}, []string{withIAT.ID}},
			{"no policy", clientreg.ClientFilter{Policies: []string{""}}, []string{anon.ID, op}},
			{"dynamic", clientreg.ClientFilter{Origins: clientreg.DynamicOrigins}, []string{anon.ID, withIAT.ID}},
			{"operator", clientreg.ClientFilter{Origins: []string{store.OriginOperator}}, []string{op}},
			{"issued after", clientreg.ClientFilter{IssuedAfter: t2}, []string{op}},
			{"issued after, inclusive", clientreg.ClientFilter{IssuedAfter: t0}, []string{anon.ID, withIAT.ID, op}},
			{"issued before", clientreg.ClientFilter{IssuedBefore: t2}, []string{anon.ID, withIAT.ID}},
			{"never used", clientreg.ClientFilter{NeverUsed: true}, []string{withIAT.ID, op}},
			{"combined", clientreg.ClientFilter{NeverUsed: true, Origins: clientreg.DynamicOrigins, IssuedBefore: t2}, []string{withIAT.ID}},
			{"none", clientreg.ClientFilter{Policies: []string{"other"}}, nil},
		} {
			cs, next, err := e.h.ListClients(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got, want := clientIDs(cs), sortedIDs(tc.want...); !slices.Equal(got, want) || next != "" {
				t.Errorf("%s: %v, next %q; want %v and no next page", tc.name, got, next, want)
			}
		}

		// The records are decoded and complete.
		cs, _, _ := e.h.ListClients(ctx, clientreg.ClientFilter{Origins: []string{store.OriginInitialToken}})
		if len(cs) != 1 || cs[0].Metadata.ClientName != "cc" || cs[0].Policy != "partner" || !cs[0].IssuedAt.Equal(t0.Add(time.Hour)) || !cs[0].LastUsedAt.IsZero() {
			t.Errorf("listed client %+v", cs)
		}

		// Pages of one, following the cursor, list each client once.
		var paged []string
		after := ""
		for range 5 {
			cs, next, err := e.h.ListClients(ctx, clientreg.ClientFilter{Limit: 1, After: after})
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, clientIDs(cs)...)
			if next == "" {
				break
			}
			if next != cs[len(cs)-1].ID {
				t.Fatalf("next %q is not the last ID listed, %q", next, cs[len(cs)-1].ID)
			}
			after = next
		}
		if want := sortedIDs(anon.ID, withIAT.ID, op); !slices.Equal(paged, want) {
			t.Errorf("paged: %v, want %v", paged, want)
		}
		cs, next, _ := e.h.ListClients(ctx, clientreg.ClientFilter{Limit: 2})
		if len(cs) != 2 || next != cs[1].ID {
			t.Errorf("a page of 2 of 3: %v, next %q", clientIDs(cs), next)
		}
		for _, bad := range []int{-1, clientreg.MaxClientListLimit + 1} {
			if _, _, err := e.h.ListClients(ctx, clientreg.ClientFilter{Limit: bad}); err == nil {
				t.Errorf("Limit %d: no error", bad)
			}
		}

		// Client reads one record, whatever its origin.
		c, err := e.h.Client(ctx, op)
		if err != nil || c.Origin != store.OriginOperator || c.Metadata.ClientName != "op" || !c.IssuedAt.Equal(t2) {
			t.Errorf("Client(%s) = %+v, %v", op, c, err)
		}
		if _, err := e.h.Client(ctx, "nope"); !errors.Is(err, clientreg.ErrClientNotFound) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Client(nope): %v, want ErrClientNotFound", err)
		}
		if n := sink.len(); n != events {
			t.Errorf("listing and reading emitted %d events", n-events)
		}
	})
}

// DeleteClient ends the client at once, as RFC 7592's delete does.
func TestOperatorDeleteClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		sink := &adminSink{}
		e := newEnv(t, b, oauthConfig, withConfig(func(c *clientreg.Config) { c.Audit = sink }))
		ctx := operatorCtx(t)
		c := e.register(ccBody)
		tok := e.token(creds(c), "").mustStr(t, "access_token")
		if _, err := e.h.VerifyAccessToken(ctx, tok, "https://rs.example"); !errors.Is(err, clientreg.ErrWrongAudience) {
			t.Fatalf("before: %v, want ErrWrongAudience (the token exists)", err)
		}
		if err := e.h.DeleteClient(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		wantInvalidToken(t, e.get(c.URI, c.Token))
		wantOAuthError(t, e.token(creds(c), ""), http.StatusUnauthorized, "invalid_client")
		if _, err := e.h.VerifyAccessToken(ctx, tok, "https://rs.example"); !errors.Is(err, clientreg.ErrTokenUnknown) {
			t.Errorf("the deleted client's token: %v, want ErrTokenUnknown", err)
		}
		if _, err := e.h.Client(ctx, c.ID); !errors.Is(err, clientreg.ErrClientNotFound) {
			t.Errorf("Client after delete: %v", err)
		}
		err := e.h.DeleteClient(ctx, c.ID)
		if !errors.Is(err, clientreg.ErrClientNotFound) || !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), c.ID) {
			t.Errorf("second delete: %v, want ErrClientNotFound naming the client", err)
		}
		wantOperatorEvents(t, e, sink, clientreg.AuditEvent{Kind: clientreg.AuditClientDeleted, ClientID: c.ID})
	})
}

// confidentialClient registers a client_secret_basic client of the
// client_credentials, authorization_code and refresh_token grants.
func (e *authzEnv) confidentialClient() regClient {
	e.t.Helper()
	r := e.jsonReq(http.MethodPost, e.iss+"/register", "", map[string]any{
		"client_name": "conf", "redirect_uris": []string{"http://127.0.0.1/cb"}, "scope": "read write",
		"grant_types": []string{"client_credentials", "authorization_code", "refresh_token"},
	})
	if r.status != http.StatusCreated {
		e.t.Fatalf("register: %d %s", r.status, r.body)
	}
	return regClient{creds: clientCreds{id: r.str("client_id"), secret: r.str("client_secret"), method: "client_secret_basic"},
		redirect: "http://127.0.0.1/cb", uri: r.str("registration_client_uri"), token: r.str("registration_access_token")}
}

// wantAuthFailed asserts that r is exactly the answer ref, a failed client
// authentication: 401 invalid_client with the same body and challenge.
func wantAuthFailed(t *testing.T, what string, r, ref *response) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" || !bytes.Equal(r.body, ref.body) ||
		r.header.Get("WWW-Authenticate") != ref.header.Get("WWW-Authenticate") {
		t.Errorf("%s: %d %s (WWW-Authenticate %q), want the answer to a wrong secret: %d %s (%q)", what,
			r.status, r.body, r.header.Get("WWW-Authenticate"), ref.status, ref.body, ref.header.Get("WWW-Authenticate"))
	}
}

// A disabled client is refused at every endpoint, as an unknown client or
// a wrong credential is, and holds nothing; enabled again, its
// credentials work and what was removed stays removed.
func TestDisabledClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		sink := &adminSink{}
		e := newGrantEnv(t, b, func(c *clientreg.Config) { c.Audit = sink })
		ctx := operatorCtx(t)
		res := e.mcpResource()
		rs := e.resourceServer()
		conf := e.confidentialClient()
		pub := e.registerPublic(nil)

		// What each holds before: a client_credentials token, the tokens
		// of a grant, a code not yet redeemed, a pending request.
		ccTok := e.token(conf.creds, "").mustStr(t, "access_token")
		code, verifier := e.code(conf)
		confRefresh := e.exchange(conf, code, verifier, nil).mustStr(t, "refresh_token")
		code, verifier = e.code(pub, res)
		ex := e.exchange(pub, code, verifier, nil)
		pubAccess, pubRefresh := ex.mustStr(t, "access_token"), ex.mustStr(t, "refresh_token")
		unredeemed, unredeemedVerifier := e.code(pub)
		_, challenge := pkce()
		if p := e.authorize(authzParams(pub, challenge)); p.status != http.StatusOK {
			t.Fatalf("authorize: %d %s", p.status, p.body)
		}
		pending := e.lastRequest().ID
		wrongSecret := e.token(clientCreds{id: conf.creds.id, secret: "wrong", method: "client_secret_basic"}, "")
		unknownPage := e.authorize(authzParams(regClient{creds: clientCreds{id: "no-such-client"}, redirect: pub.redirect}, challenge))
		wantPage(t, unknownPage, http.StatusBadRequest)

		for _, id := range []string{conf.creds.id, pub.creds.id} {
			if err := e.h.DisableClient(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		disabledAt := e.clock.Now().UTC()
		for _, id := range []string{conf.creds.id, pub.creds.id} {
			if sc := e.stored(id); !sc.DisabledAt.Equal(disabledAt) {
				t.Errorf("%s: DisabledAt = %v, want %v", id, sc.DisabledAt, disabledAt)
			}
		}
		// Disabling again keeps the first time.
		e.clock.Add(time.Minute)
		if err := e.h.DisableClient(ctx, conf.creds.id); err != nil {
			t.Fatal(err)
		}
		if sc := e.stored(conf.creds.id); !sc.DisabledAt.Equal(disabledAt) {
			t.Errorf("disabled twice: DisabledAt = %v, want the first, %v", sc.DisabledAt, disabledAt)
		}
		c, err := e.h.Client(ctx, conf.creds.id)
		if err != nil || c.DisabledAt.IsZero() {
			t.Fatalf("Client of a disabled client: %+v, %v", c, err)
		}
		// The building blocks of an embedding server see it as unknown.
		if _, err := e.h.LookupClient(ctx, conf.creds.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LookupClient of a disabled client: %v, want store.ErrNotFound", err)
		}
		if _, err := e.h.RecoverRegistrationToken(ctx, &clientreg.AuthenticatedClient{Client: c, Method: "client_secret_basic"}); !errors.Is(err, clientreg.ErrInvalidClient) {
			t.Errorf("RecoverRegistrationToken of a disabled client: %v, want ErrInvalidClient", err)
		}

		// Client authentication, at every endpoint that takes it: the one
		// answer to a wrong secret.
		recovery := strings.TrimPrefix(conf.uri, e.iss) + "/registration_access_token"
		wantAuthFailed(t, "client_credentials", e.token(conf.creds, ""), wrongSecret)
		wantAuthFailed(t, "introspection", e.introspect(conf.creds, ccTok), wrongSecret)
		wantAuthFailed(t, "revocation", e.form("/revoke", conf.creds, url.Values{"token": {ccTok}}), wrongSecret)
		wantAuthFailed(t, "registration access token recovery", e.form(recovery, conf.creds, nil), wrongSecret)
		wantAuthFailed(t, "refresh, confidential", e.refreshWith(conf, confRefresh, nil), wrongSecret)
		pubRefused := e.refreshWith(pub, pubRefresh, nil)
		wantOAuthError(t, pubRefused, http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, e.exchange(pub, unredeemed, unredeemedVerifier, nil), http.StatusUnauthorized, "invalid_client")

		// The authorization endpoint: the page of an unknown client, never
		// a redirect; the pending request made before is gone for good.
		p := e.authorize(authzParams(pub, challenge))
		wantPage(t, p, http.StatusBadRequest)
		if p.body != unknownPage.body {
			t.Errorf("the page for a disabled client differs from an unknown client's:\n%s\n%s", p.body, unknownPage.body)
		}
		for _, path := range []string{"/app/pending", "/app/approve"} {
			wantPage(t, e.app(e.browser, path, url.Values{"id": {pending}, "sub": {"ada"}}), http.StatusNotFound)
		}

		// The client configuration endpoint: the one answer to a bad token.
		for _, c := range []regClient{conf, pub} {
			wantInvalidToken(t, e.get(c.uri, c.token))
			wantInvalidToken(t, e.jsonReq(http.MethodPut, c.uri, c.token, map[string]any{"client_id": c.creds.id, "redirect_uris": []string{c.redirect}}))
			wantInvalidToken(t, e.del(c.uri, c.token))
			e.stored(c.creds.id) // not deleted
		}

		// Nothing it held works.
		for name, tok := range map[string]string{"client_credentials": ccTok, "code flow": pubAccess} {
			wantActive(t, e, rs, tok, false)
			if _, err := e.h.VerifyAccessToken(ctx, tok, res); !errors.Is(err, clientreg.ErrTokenUnknown) {
				t.Errorf("%s token: VerifyAccessToken = %v, want ErrTokenUnknown", name, err)
			}
		}
		// Client authentication and the rest of the handler's answers
		// for other clients are untouched.
		if r := e.token(rs, ""); r.status != http.StatusOK {
			t.Errorf("another client's token request: %d %s", r.status, r.body)
		}

		// Enabled again: the credentials work, what was removed stays so.
		for _, id := range []string{conf.creds.id, pub.creds.id} {
			if err := e.h.EnableClient(ctx, id); err != nil {
				t.Fatal(err)
			}
			if sc := e.stored(id); !sc.DisabledAt.IsZero() {
				t.Errorf("%s: enabled, DisabledAt = %v", id, sc.DisabledAt)
			}
		}
		if r := e.token(conf.creds, ""); r.status != http.StatusOK {
			t.Errorf("enabled: client_credentials %d %s", r.status, r.body)
		}
		e.mustGet(&registered{URI: conf.uri}, conf.token)
		wantActive(t, e, rs, ccTok, false)
		wantOAuthError(t, e.refreshWith(conf, confRefresh, nil), http.StatusBadRequest, "invalid_grant")
		wantOAuthError(t, e.refreshWith(pub, pubRefresh, nil), http.StatusBadRequest, "invalid_grant")
		if r := e.exchange(pub, unredeemed, unredeemedVerifier, nil); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("the code issued before the disable: %d %s, want invalid_grant", r.status, r.body)
		}
		if tok := e.accessToken(pub, res); tok == "" {
			t.Error("no token for the enabled public client")
		}
		if err := e.h.EnableClient(ctx, "nope"); !errors.Is(err, clientreg.ErrClientNotFound) {
			t.Errorf("EnableClient(nope): %v", err)
		}
		if err := e.h.DisableClient(ctx, "nope"); !errors.Is(err, clientreg.ErrClientNotFound) {
			t.Errorf("DisableClient(nope): %v", err)
		}
		wantOperatorEvents(t, e.testEnv, sink,
			clientreg.AuditEvent{Kind: clientreg.AuditClientDisabled, ClientID: conf.creds.id},
			clientreg.AuditEvent{Kind: clientreg.AuditClientDisabled, ClientID: pub.creds.id},
			clientreg.AuditEvent{Kind: clientreg.AuditClientDisabled, ClientID: conf.creds.id},
			clientreg.AuditEvent{Kind: clientreg.AuditClientEnabled, ClientID: conf.creds.id},
			clientreg.AuditEvent{Kind: clientreg.AuditClientEnabled, ClientID: pub.creds.id})
	})
}

// The lifecycle never removes a disabled client, whatever its origin and
// last use.
func TestDisabledClientNotPurged(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, oauthConfig)
		ctx := operatorCtx(t)
		unused, used := e.register(ccBody), e.register(ccBody)
		if r := e.token(creds(used), ""); r.status != http.StatusOK {
			t.Fatal(r.status)
		}
		for _, c := range []*registered{unused, used} {
			if err := e.h.DisableClient(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Add(clientreg.DefaultClientIdleTTL + day)
		if gone := purge(t, e, false); len(gone) != 0 {
			t.Fatalf("disabled clients purged: %v", purgedIDs(gone))
		}
		if err := e.h.EnableClient(ctx, used.ID); err != nil {
			t.Fatal(err)
		}
		if got := purgedIDs(purge(t, e, false)); !slices.Equal(got, []string{used.ID + ":idle"}) {
			t.Fatalf("after enabling: purged %v, want the enabled client", got)
		}
		e.stored(unused.ID)
	})
}

// A JWT access token of a disabled client: its record is gone, so
// VerifyAccessToken says revoked and introspection inactive.
func TestDisabledClientJWT(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, withJWT(""))
		ctx := operatorCtx(t)
		res := e.mcpResource()
		rs := e.resourceServer()
		conf := e.confidentialClient()
		cc := e.form("/token", conf.creds, url.Values{"grant_type": {"client_credentials"}, "resource": {res}}).mustStr(t, "access_token")
		if strings.Count(cc, ".") != 2 {
			t.Fatalf("not a JWT: %q", cc)
		}
		if _, err := e.h.VerifyAccessToken(ctx, cc, res); err != nil {
			t.Fatalf("before: %v", err)
		}
		if err := e.h.DisableClient(ctx, conf.creds.id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.h.VerifyAccessToken(ctx, cc, res); !errors.Is(err, clientreg.ErrTokenRevoked) {
			t.Errorf("disabled: VerifyAccessToken = %v, want ErrTokenRevoked", err)
		}
		wantActive(t, e, rs, cc, false)
		wantOAuthError(t, e.form("/token", conf.creds, url.Values{"grant_type": {"client_credentials"}, "resource": {res}}), http.StatusUnauthorized, "invalid_client")
	})
}

// A Client ID Metadata Document client is disabled by its URL: its
// document is not fetched while it is, a changed document does not
// enable it, and the lifecycle keeps it, so it is never made again
// enabled.
func TestDisabledDocumentClient(t *testing.T) {
	d := newDocServer(t)
	sink := &adminSink{}
	e := newDocEnv(t, d, func(c *clientreg.Config) { c.Audit = sink })
	ctx := operatorCtx(t)
	const path = "/clients/app.json"
	u := d.serve(path, nil, nil)
	c := docClient(u)
	code, verifier := e.code(c)
	refresh := e.exchange(c, code, verifier, url.Values{"client_id": {u}}).mustStr(t, "refresh_token")
	fetches := d.count(path)
	if got, err := e.h.Client(ctx, u); err != nil || got.Origin != store.OriginMetadataDocument || got.Metadata.ClientName != "Doc App" {
		t.Fatalf("Client(%s) = %+v, %v", u, got, err)
	}
	if d.count(path) != fetches {
		t.Error("Client fetched the document")
	}
	if err := e.h.DisableClient(ctx, u); err != nil {
		t.Fatal(err)
	}

	// The document changes and the cache ends: still refused, and not
	// fetched.
	d.serve(path, map[string]any{"client_name": "Doc App v2"}, nil)
	e.clock.Add(25 * time.Hour)
	_, challenge := pkce()
	wantPage(t, e.authorize(authzParams(c, challenge)), http.StatusBadRequest)
	wantOAuthError(t, e.refreshWith(c, refresh, url.Values{"client_id": {u}}), http.StatusUnauthorized, "invalid_client")
	if n := d.count(path); n != fetches {
		t.Errorf("the document of a disabled client was fetched %d times", n-fetches)
	}
	if sc := e.stored(u); sc.DisabledAt.IsZero() || sc.Metadata.ClientName != "Doc App" {
		t.Errorf("stored: disabled at %v, name %q", sc.DisabledAt, sc.Metadata.ClientName)
	}

	// Long idle: kept while disabled. Enabled, it expires as document
	// clients do, and is made again from the new document at its next use.
	e.clock.Add(clientreg.DefaultClientIdleTTL)
	if gone := purge(t, e.testEnv, false); len(gone) != 0 {
		t.Fatalf("the disabled document client was purged: %v", purgedIDs(gone))
	}
	if err := e.h.EnableClient(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got := purgedIDs(purge(t, e.testEnv, false)); !slices.Equal(got, []string{u + ":idle"}) {
		t.Fatalf("enabled: purged %v", got)
	}
	if p := e.authorize(authzParams(c, challenge)); p.status != http.StatusOK {
		t.Fatalf("enabled: authorize %d %s", p.status, p.body)
	}
	if req := e.lastRequest(); req.ClientName != "Doc App v2" || d.count(path) != fetches+1 {
		t.Errorf("enabled: client name %q after %d fetches", req.ClientName, d.count(path)-fetches)
	}
	wantOperatorEvents(t, e.testEnv, sink,
		clientreg.AuditEvent{Kind: clientreg.AuditClientDisabled, ClientID: u},
		clientreg.AuditEvent{Kind: clientreg.AuditClientEnabled, ClientID: u})
}

// RevokeClientTokens ends every token and grant of one client, and only
// its; the client keeps working.
func TestOperatorRevokeClientTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		sink := &adminSink{}
		e := newGrantEnv(t, b, func(c *clientreg.Config) { c.Audit = sink })
		ctx := operatorCtx(t)
		rs := e.resourceServer()
		conf := e.confidentialClient()
		other := e.token(rs, "").mustStr(t, "access_token")
		cc1, cc2 := e.token(conf.creds, "").mustStr(t, "access_token"), e.token(conf.creds, "").mustStr(t, "access_token")
		code, verifier := e.code(conf)
		ex := e.exchange(conf, code, verifier, nil)
		access, refresh := ex.mustStr(t, "access_token"), ex.mustStr(t, "refresh_token")
		unredeemed, unredeemedVerifier := e.code(conf)

		n, err := e.h.RevokeClientTokens(ctx, conf.creds.id)
		if err != nil {
			t.Fatal(err)
		}
		// Two access tokens of client_credentials, the grant and the
		// access token issued from it.
		if n != 4 {
			t.Errorf("revoked %d, want 4 (three access tokens and a grant)", n)
		}
		for _, tok := range []string{cc1, cc2, access} {
			wantActive(t, e, rs, tok, false)
		}
		wantActive(t, e, rs, other, true)
		wantOAuthError(t, e.refreshWith(conf, refresh, nil), http.StatusBadRequest, "invalid_grant")
		wantOAuthError(t, e.exchange(conf, unredeemed, unredeemedVerifier, nil), http.StatusBadRequest, "invalid_grant")
		// The client itself is untouched.
		if r := e.token(conf.creds, ""); r.status != http.StatusOK {
			t.Errorf("after the revocation: %d %s", r.status, r.body)
		}
		e.mustGet(&registered{URI: conf.uri}, conf.token)

		if _, err := e.h.RevokeClientTokens(ctx, "nope"); !errors.Is(err, clientreg.ErrClientNotFound) {
			t.Errorf("unknown client: %v", err)
		}
		wantOperatorEvents(t, e.testEnv, sink, clientreg.AuditEvent{Kind: clientreg.AuditClientTokensRevoked, ClientID: conf.creds.id, Count: n})
	})
}

// ListInitialTokens names each token by its InitialTokenID, with its
// state; RevokeInitialToken ends one.
func TestOperatorInitialTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		sink := &adminSink{}
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.RequireInitialToken = true
			c.Policies = []clientreg.Policy{{Name: "partner"}}
			c.Audit = sink
		}))
		ctx := operatorCtx(t)
		usable, usableRec, err := e.h.CreateInitialToken(ctx, clientreg.InitialTokenOptions{MaxUses: 5, Policy: "partner"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		expiring, expiringRec, err := e.h.CreateInitialToken(ctx, clientreg.InitialTokenOptions{ExpiresIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		once := e.initialToken(clientreg.InitialTokenOptions{MaxUses: 1})
		c := e.registerWith(body(nil), "Bearer "+once)
		e.registerWith(body(nil), "Bearer "+usable)
		e.clock.Add(time.Hour)

		ts, err := e.h.ListInitialTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 3 {
			t.Fatalf("%d tokens listed, want 3: %+v", len(ts), ts)
		}
		want := []struct {
			state         string
			uses, maxUses int64
			policy        string
		}{{clientreg.InitialTokenUsable, 1, 5, "partner"}, {clientreg.InitialTokenExpired, 0, 0, ""}, {clientreg.InitialTokenUsedUp, 1, 1, ""}}
		for i, w := range want {
			got := ts[i]
			if got.State != w.state || got.Uses != w.uses || got.MaxUses != w.maxUses || got.Policy != w.policy || len(got.ID) != 16 {
				t.Errorf("token %d = %+v, want %+v", i, got, w)
			}
		}
		if ts[0].ID != clientreg.InitialTokenID(usableRec) || !ts[0].CreatedAt.Equal(usableRec.CreatedAt) || !ts[0].ExpiresAt.IsZero() {
			t.Errorf("the usable token: %+v, want ID %s", ts[0], clientreg.InitialTokenID(usableRec))
		}
		if !ts[1].ExpiresAt.Equal(ts[1].CreatedAt.Add(time.Hour)) {
			t.Errorf("expiring token: %+v", ts[1])
		}
		if got := js(ts); strings.Contains(got, usable) || strings.Contains(got, expiring) || strings.Contains(got, once) {
			t.Errorf("the listing holds a token: %s", got)
		}

		// Revoked (named in upper case: hexadecimal either way), the token
		// registers nothing; its clients stay.
		if err := e.h.RevokeInitialToken(ctx, strings.ToUpper(ts[0].ID)); err != nil {
			t.Fatal(err)
		}
		wantInvalidToken(t, e.post(body(nil), "Bearer "+usable))
		e.stored(c.ID)
		if ts, _ := e.h.ListInitialTokens(ctx); len(ts) != 2 || ts[0].ID != clientreg.InitialTokenID(expiringRec) {
			t.Errorf("after the revocation: %+v", ts)
		}
		for _, bad := range []string{ts[0].ID, "", "zz", "0123456789abcdeg", ts[1].ID[:15]} {
			if err := e.h.RevokeInitialToken(ctx, bad); !errors.Is(err, clientreg.ErrInitialTokenNotFound) || !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RevokeInitialToken(%q): %v, want ErrInitialTokenNotFound", bad, err)
			}
		}
		wantOperatorEvents(t, e, sink, clientreg.AuditEvent{Kind: clientreg.AuditInitialTokenRevoked, InitialTokenID: ts[0].ID})
	})
}
