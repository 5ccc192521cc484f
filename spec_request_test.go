package clientreg_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

// docs/behaviour.md §2: the registration request (RFC 7591 §3, §3.1; RFC 6750).

// TestRegistrationContentType proves that only application/json (with or
// without a UTF-8 charset parameter) is accepted; any other media type is
// 415 invalid_request and stores nothing.
func TestRegistrationContentType(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cases := []struct {
			contentType string
			ok          bool
		}{
			{"application/json", true},
			{"application/json; charset=utf-8", true},
			{"application/json;charset=UTF-8", true},
			{"Application/JSON", true},
			{"", false},
			{"text/plain", false},
			{"text/json", false},
			{"application/x-www-form-urlencoded", false},
			{"multipart/form-data; boundary=x", false},
			{"application/jwt", false},
			{"application/json; charset=iso-8859-1", false},
			{"application/json; charset=utf-16", false},
			{"application/json; charset", false},
			{"application/jsonx", false},
		}
		for _, tc := range cases {
			t.Run(tc.contentType, func(t *testing.T) {
				before := e.store.created()
				r := e.do(http.MethodPost, e.registrationEndpoint(), strings.NewReader(body(nil)), tc.contentType, "")
				if tc.ok {
					if r.status != http.StatusCreated {
						t.Fatalf("status %d, want 201: %s", r.status, r.body)
					}
					return
				}
				wantError(t, r, http.StatusUnsupportedMediaType, "invalid_request")
				e.wantNothingStored(before)
			})
		}
	})
}

// badBodies are request bodies that are not one well-formed JSON object in
// UTF-8 with unique member names and bounded nesting.
var badBodies = []struct {
	name string
	body string
}{
	{"empty", ""},
	{"white space", "  \n "},
	{"truncated", `{"redirect_uris":["https://app.example/cb"]`},
	{"unquoted name", `{redirect_uris:["https://app.example/cb"]}`},
	{"trailing comma", `{"redirect_uris":["https://app.example/cb"],}`},
	{"single quotes", `{'redirect_uris':['https://app.example/cb']}`},
	{"array", `[{"redirect_uris":["https://app.example/cb"]}]`},
	{"empty array", `[]`},
	{"string", `"redirect_uris"`},
	{"number", `42`},
	{"true", `true`},
	{"null", `null`},
	{"two objects", `{"redirect_uris":["https://app.example/cb"]}{}`},
	{"trailing garbage", `{"redirect_uris":["https://app.example/cb"]} x`},
	{"invalid UTF-8 in value", "{\"redirect_uris\":[\"https://app.example/cb\"],\"client_name\":\"\xff\xfe\"}"},
	{"invalid UTF-8 in name", "{\"redirect_uris\":[\"https://app.example/cb\"],\"x\xc3\":1}"},
	{"overlong UTF-8", "{\"redirect_uris\":[\"https://app.example/cb\"],\"client_name\":\"\xc0\xaf\"}"},
	{"UTF-16 surrogate in UTF-8", "{\"redirect_uris\":[\"https://app.example/cb\"],\"client_name\":\"\xed\xa0\x80\"}"},
	{"duplicate member", `{"redirect_uris":["https://app.example/cb"],"client_name":"a","client_name":"b"}`},
	{"duplicate member via escape", `{"redirect_uris":["https://app.example/cb"],"client_name":"a","client\u005fname":"b"}`},
	{"duplicate redirect_uris", `{"redirect_uris":["https://app.example/cb"],"redirect_uris":["https://evil.example/cb"]}`},
	{"duplicate unknown member", `{"redirect_uris":["https://app.example/cb"],"x":1,"x":2}`},
	{"duplicate in jwks", `{"redirect_uris":["https://app.example/cb"],"jwks":{"keys":[],"keys":[]}}`},
	{"duplicate in a jwk", `{"redirect_uris":["https://app.example/cb"],"jwks":{"keys":[{"kty":"EC","kty":"RSA"}]}}`},
	{"duplicate in unknown object", `{"redirect_uris":["https://app.example/cb"],"x":{"a":{"b":1,"b":2}}}`},
	{"deep arrays", `{"redirect_uris":["https://app.example/cb"],"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`},
	{"deep objects", `{"redirect_uris":["https://app.example/cb"],"x":` + strings.Repeat(`{"a":`, 3000) + "1" + strings.Repeat("}", 3000) + `}`},
	{"deep unbalanced", `{"x":` + strings.Repeat("[", 30000) + `}`},
	{"NUL byte", "{\"redirect_uris\":[\"https://app.example/cb\"]}\x00"},
	{"control character in string", "{\"redirect_uris\":[\"https://app.example/cb\"],\"client_name\":\"a\x01b\"}"},
	{"bad escape", `{"redirect_uris":["https://app.example/cb"],"client_name":"\x"}`},
	{"number overflow name", `{1:2}`},
}

// TestRegistrationMalformedBody proves that every body that is not a single
// well-formed JSON object (syntax, top-level type, invalid UTF-8, duplicate
// member names at any depth, excessive nesting) is 400 invalid_request,
// never a 5xx, and stores nothing.
func TestRegistrationMalformedBody(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for _, tc := range badBodies {
			t.Run(tc.name, func(t *testing.T) {
				before := e.store.created()
				r := e.post(tc.body, "")
				wantError(t, r, http.StatusBadRequest, "invalid_request")
				e.wantNothingStored(before)
			})
		}
		// Nesting that a JWK Set needs is fine.
		e.register(body(obj{"x_unknown": map[string]any{"a": []any{[]any{map[string]any{"b": []any{1}}}}}}))
	})
}

// TestRegistrationBodyTooLarge proves the body size limit: 64 KiB by
// default, configurable; a larger body is 413 invalid_request whether or not
// its length is announced, and stores nothing.
func TestRegistrationBodyTooLarge(t *testing.T) {
	// sized returns a valid registration body of exactly n bytes.
	sized := func(n int) []byte {
		b := []byte(body(obj{"client_name": ""}))
		pad := n - len(b)
		b = []byte(body(obj{"client_name": strings.Repeat("a", pad)}))
		if len(b) != n {
			t.Fatalf("body of %d bytes, want %d", len(b), n)
		}
		return b
	}
	chunked := func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b)) }
	forEachBackend(t, func(t *testing.T, bk backend) {
		e := newEnv(t, bk)
		before := e.store.created()
		r := e.do(http.MethodPost, e.registrationEndpoint(), bytes.NewReader(sized(64<<10+1)), jsonType, "")
		wantError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
		r = e.do(http.MethodPost, e.registrationEndpoint(), chunked(sized(64<<10+1)), jsonType, "")
		wantError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
		r = e.do(http.MethodPost, e.registrationEndpoint(), chunked(sized(200<<10)), jsonType, "")
		wantError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
		e.wantNothingStored(before)

		// Exactly the limit is accepted, announced or not.
		if r := e.do(http.MethodPost, e.registrationEndpoint(), bytes.NewReader(sized(64<<10)), jsonType, ""); r.status != http.StatusCreated {
			t.Errorf("64 KiB body: status %d, want 201", r.status)
		}
		if r := e.do(http.MethodPost, e.registrationEndpoint(), chunked(sized(64<<10)), jsonType, ""); r.status != http.StatusCreated {
			t.Errorf("64 KiB chunked body: status %d, want 201", r.status)
		}

		small := newEnv(t, bk, withConfig(func(c *clientreg.Config) { c.MaxBodyBytes = 1024 }))
		r = small.do(http.MethodPost, small.registrationEndpoint(), bytes.NewReader(sized(1025)), jsonType, "")
		wantError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
		small.wantNothingStored(0)
		if r := small.do(http.MethodPost, small.registrationEndpoint(), bytes.NewReader(sized(1024)), jsonType, ""); r.status != http.StatusCreated {
			t.Errorf("body at the configured limit: status %d, want 201", r.status)
		}
	})
}

// tokenEnv is a handler with RequireInitialToken set.
func tokenEnv(t *testing.T, b backend) *testEnv {
	return newEnv(t, b, withConfig(func(c *clientreg.Config) { c.RequireInitialToken = true }))
}

// TestRegistrationOpenMode proves that registration needs no token by
// default (RFC 7591 §3 SHOULD), that an Authorization header of another
// scheme plays no part, and that a Bearer token presented is honoured even
// so: a bad one is 401 invalid_token and stores nothing (docs/behaviour.md
// §2).
func TestRegistrationOpenMode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.register(body(nil))
		e.registerWith(body(nil), "Basic dXNlcjpwYXNz")
		wantInvalidToken(t, e.post(body(nil), "Bearer not-an-initial-token"))
		if n := e.store.created(); n != 2 {
			t.Errorf("%d clients stored, want 2", n)
		}
	})
}

// TestInitialTokenRequired proves token mode: a missing token is 401 with a
// bare Bearer challenge; a wrong, malformed, expired or used-up token is 401
// invalid_token with the matching challenge; the scheme name is
// case-insensitive; nothing is stored by a refused request.
func TestInitialTokenRequired(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := tokenEnv(t, b)
		good := e.initialToken(clientreg.InitialTokenOptions{})
		expiring := e.initialToken(clientreg.InitialTokenOptions{ExpiresIn: time.Hour})
		once := e.initialToken(clientreg.InitialTokenOptions{MaxUses: 1})
		e.registerWith(body(nil), "Bearer "+once)
		// A registration access token is not an initial access token.
		rat := e.registerWith(body(nil), "Bearer "+good).Token
		e.clock.Add(time.Hour)

		missing := []struct{ name, auth string }{
			{"no Authorization header", ""},
			{"Basic credentials", "Basic dXNlcjpwYXNz"},
		}
		for _, tc := range missing {
			t.Run(tc.name, func(t *testing.T) {
				before := e.store.created()
				wantBareChallenge(t, e.post(body(nil), tc.auth))
				e.wantNothingStored(before)
			})
		}
		invalid := []struct{ name, auth string }{
			{"wrong token", "Bearer " + strings.Repeat("A", 43)},
			{"expired token", "Bearer " + expiring},
			{"used-up token", "Bearer " + once},
			{"registration access token", "Bearer " + rat},
			{"malformed token", "Bearer a,b"},
			{"token with space", "Bearer " + good + " x"},
			{"token with suffix", "Bearer " + good + "x"},
		}
		for _, tc := range invalid {
			t.Run(tc.name, func(t *testing.T) {
				before := e.store.created()
				wantInvalidToken(t, e.post(body(nil), tc.auth))
				e.wantNothingStored(before)
			})
		}
		for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
			t.Run("scheme "+scheme, func(t *testing.T) {
				e.registerWith(body(nil), scheme+" "+good)
			})
		}
	})
}

// TestInitialTokenLimits proves MaxUses and ExpiresIn of tokens created with
// Handler.CreateInitialToken, against the injected clock.
func TestInitialTokenLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := tokenEnv(t, b)
		twice := "Bearer " + e.initialToken(clientreg.InitialTokenOptions{MaxUses: 2})
		e.registerWith(body(nil), twice)
		e.registerWith(body(nil), twice)
		wantInvalidToken(t, e.post(body(nil), twice))

		hour := "Bearer " + e.initialToken(clientreg.InitialTokenOptions{ExpiresIn: time.Hour})
		e.clock.Add(time.Hour - time.Second)
		e.registerWith(body(nil), hour)
		e.clock.Add(time.Second)
		wantInvalidToken(t, e.post(body(nil), hour))
		if n := e.store.created(); n != 3 {
			t.Errorf("%d clients stored, want 3", n)
		}
	})
}

// TestInitialTokenConcurrentUses proves that uses are counted atomically:
// 30 parallel registrations with a token good for 5 create exactly 5
// clients; the others get 401 invalid_token.
func TestInitialTokenConcurrentUses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := tokenEnv(t, b)
		const n, k = 30, 5
		auth := "Bearer " + e.initialToken(clientreg.InitialTokenOptions{MaxUses: k})
		url := e.registrationEndpoint()
		var wg sync.WaitGroup
		statuses := make([]int, n)
		bodies := make([][]byte, n)
		for i := range n {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body(nil)))
				req.Header.Set("Content-Type", jsonType)
				req.Header.Set("Authorization", auth)
				res, err := e.client.Do(req)
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				defer res.Body.Close()
				statuses[i] = res.StatusCode
				bodies[i], _ = io.ReadAll(res.Body)
			})
		}
		wg.Wait()
		created := 0
		for i, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusUnauthorized:
			default:
				t.Errorf("request %d: status %d: %s", i, s, bodies[i])
			}
		}
		if created != k || e.store.created() != k {
			t.Errorf("%d registrations succeeded and %d clients were stored, want %d", created, e.store.created(), k)
		}
	})
}

// TestInitialTokenNotUsedByFailedRegistration proves that a registration
// refused by validation does not use up one of the token's uses.
func TestInitialTokenNotUsedByFailedRegistration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := tokenEnv(t, b)
		auth := "Bearer " + e.initialToken(clientreg.InitialTokenOptions{MaxUses: 1})
		wantError(t, e.post(body(obj{"redirect_uris": []string{"http://example.com/cb"}}), auth), http.StatusBadRequest, "invalid_redirect_uri")
		wantError(t, e.post(body(obj{"scope": "a  b"}), auth), http.StatusBadRequest, "invalid_client_metadata")
		wantError(t, e.post(`{"redirect_uris":`, auth), http.StatusBadRequest, "invalid_request")
		wantError(t, e.do(http.MethodPost, e.registrationEndpoint(), strings.NewReader(body(nil)), "text/plain", auth), http.StatusUnsupportedMediaType, "invalid_request")
		e.registerWith(body(nil), auth)
		wantInvalidToken(t, e.post(body(nil), auth))
	})
}

// TestRegistrationIgnoresClientChosenCredentials proves that client_id,
// client_secret and the other server-managed members sent by the client are
// ignored: the server issues its own.
func TestRegistrationIgnoresClientChosenCredentials(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		c := e.register(body(obj{
			"client_id":                 "chosen-id",
			"client_secret":             "chosen-secret",
			"registration_access_token": "chosen-token",
			"registration_client_uri":   "https://evil.example/",
			"client_id_issued_at":       1,
			"client_secret_expires_at":  2,
		}))
		if c.ID == "chosen-id" || c.Secret == "chosen-secret" || c.Secret == "" || c.Token == "chosen-token" {
			t.Errorf("client-chosen credentials were used: %s", c.res.body)
		}
		if !strings.HasPrefix(c.URI, e.registrationEndpoint()+"/") {
			t.Errorf("registration_client_uri = %q", c.URI)
		}
		if got := c.res.num(t, "client_id_issued_at"); got != e.clock.Now().Unix() {
			t.Errorf("client_id_issued_at = %d, want %d", got, e.clock.Now().Unix())
		}
		if got := c.res.num(t, "client_secret_expires_at"); got != 0 {
			t.Errorf("client_secret_expires_at = %d, want 0", got)
		}
		if _, err := e.store.Store.GetClient(context.Background(), "chosen-id"); err == nil {
			t.Errorf("a client with the chosen id was stored")
		}
		// The chosen secret does not work as the client's secret.
		wantError(t, e.put(c.URI, c.Token, js(map[string]any{"client_id": c.ID, "client_secret": "chosen-secret", "redirect_uris": []string{testRedirect}})),
			http.StatusBadRequest, "invalid_request")
	})
}

// TestNoServerErrorForClientInput proves that nothing a client can send to
// any endpoint (odd paths and client ids, odd Authorization headers, odd
// methods, hostile bodies) yields a 5xx, that every error is a JSON error
// body (or the bare Bearer challenge), and that none of it creates or
// changes a client.
func TestNoServerErrorForClientInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		tok := tokenEnv(t, b)
		c := e.register(body(nil))
		before := e.mustGet(c, c.Token).body
		reg := e.registrationEndpoint()
		ids := []string{"%ff", "%00", strings.Repeat("a", 20000), "a%2Fb", "%20", "x%3Fy", "%C3%A9", "'%20OR%201=1--", c.ID + "%00"}
		auths := []string{"", "Bearer " + c.Token + ", Bearer x", "Bearer\t" + c.Token, "Bearer " + strings.Repeat("a", 10000),
			"Bearer " + c.Token + "\u00e9", "Basic", "Bearer", "Bearer ====", "Bearer a=b", "Digest x"}
		bodies := []string{"", "{}", `{"client_id":"` + c.ID + `"}`, "\xff", strings.Repeat("[", 10000), `{"redirect_uris":["javascript:x"]}`}
		openCreated := 0
		check := func(what string, r *response) {
			t.Helper()
			switch {
			case r.status >= 500:
				t.Errorf("%s: status %d: %s", what, r.status, r.body)
			case r.status == http.StatusUnauthorized && len(r.body) == 0:
				if got := r.header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("%s: empty 401 with challenge %q", what, got)
				}
			case r.status >= 400:
				checkErrorBody(t, r)
			}
		}
		for _, id := range ids {
			for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPost} {
				r := e.do(m, reg+"/"+id, strings.NewReader(updateBody(c, nil)), jsonType, "Bearer "+c.Token)
				if r.status < 400 {
					t.Errorf("%s %.30s: status %d", m, id, r.status)
				}
				check(m+" "+id[:min(len(id), 30)], r)
			}
		}
		for _, a := range auths {
			for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
				check(m+" auth "+a[:min(len(a), 30)], e.do(m, c.URI, strings.NewReader(updateBody(c, nil)), jsonType, a))
			}
			// Open registration ignores an Authorization header of another
			// scheme (or none) and honours a Bearer one: every Bearer value
			// here is bad, so it is refused with 401.
			r0 := e.do(http.MethodPost, reg, strings.NewReader(body(nil)), jsonType, a)
			// (RFC 7235: the scheme ends at a space; "Bearer\tx" is another
			// scheme.)
			if isBearer := strings.EqualFold(a, "Bearer") || strings.HasPrefix(strings.ToLower(a), "bearer "); isBearer {
				if r0.status != http.StatusUnauthorized && r0.status != http.StatusBadRequest {
					t.Errorf("open registration with a bad Authorization %.30q: status %d, want 401 (or 400 for two headers)", a, r0.status)
				}
				check("open POST auth "+a[:min(len(a), 30)], r0)
			} else if r0.status != http.StatusCreated {
				t.Errorf("open registration with Authorization %.30q: status %d", a, r0.status)
			} else {
				openCreated++
			}
			r := tok.do(http.MethodPost, tok.registrationEndpoint(), strings.NewReader(body(nil)), jsonType, a)
			if r.status < 400 {
				t.Errorf("token mode with Authorization %.30q: status %d", a, r.status)
			}
			check("POST auth "+a[:min(len(a), 30)], r)
		}
		for _, bd := range bodies {
			for _, ct := range []string{jsonType, "", "text/plain", "application/json; charset=\xff"} {
				check("PUT body", e.do(http.MethodPut, c.URI, strings.NewReader(bd), ct, bearer(c.Token)))
			}
		}
		for _, p := range []string{"/register/", "/register//x", "/register/x/y", "/.well-known/oauth-authorization-server/x", "/",
			"/.well-known/oauth-authorization-server?x=%ff"} {
			for _, m := range []string{http.MethodGet, http.MethodPost, "PATCH"} {
				check(m+" "+p, e.do(m, e.srv.URL+p, strings.NewReader("{}"), jsonType, ""))
			}
		}
		if got := e.mustGet(c, c.Token).body; !bytes.Equal(got, before) {
			t.Errorf("client changed:\n%s\n%s", before, got)
		}
		if n := e.store.created(); n != 1+openCreated {
			t.Errorf("%d clients stored, want %d", n, 1+openCreated)
		}
		if n := tok.store.created(); n != 0 {
			t.Errorf("token mode: %d clients stored without a valid token", n)
		}
	})
}
