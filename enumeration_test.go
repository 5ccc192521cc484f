package clientreg_test

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

// docs/behaviour.md §5: no response reveals whether a client id exists. Every failed
// authentication at the client configuration endpoint (a client that never
// existed, a deleted client, a wrong token, another client's token, a
// rotated token past its grace or retired by the use of its successor) is
// answered with one response, identical in status, every header but Date
// and X-Request-Id (each request's own), and body bytes, for GET, PUT and
// DELETE alike.

// enumResponse is the part of a response an observer can compare.
type enumResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r enumResponse) String() string {
	keys := slices.Sorted(maps.Keys(r.header))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ": " + strings.Join(r.header[k], ", ") + "\n")
	}
	return http.StatusText(r.status) + "\n" + b.String() + string(r.body)
}

// enumSnapshot drops the headers that legitimately differ between two
// responses sent at different times.
func enumSnapshot(r *response) enumResponse {
	h := r.header.Clone()
	h.Del("Date")
	h.Del(clientreg.RequestIDHeader) // each request's own (docs/behaviour.md §14)
	return enumResponse{status: r.status, header: h, body: r.body}
}

func TestNoClientEnumeration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		a := e.register(body(obj{"client_name": "A"}))
		other := e.register(body(obj{"client_name": "B"}))
		gone := e.register(body(obj{"client_name": "gone"}))
		if r := e.del(gone.URI, gone.Token); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
		// retired: its first token was rotated by a PUT and retired when
		// the new token was used.
		retired := e.register(body(obj{"client_name": "retired"}))
		r := e.put(retired.URI, retired.Token, updateBody(retired, nil))
		if r.status != http.StatusOK {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		retiredNew := r.mustStr(t, "registration_access_token")
		e.mustGet(retired, retiredNew)
		// expired: its first token was rotated and the grace window ended.
		expired := e.register(body(obj{"client_name": "expired"}))
		if r := e.put(expired.URI, expired.Token, updateBody(expired, nil)); r.status != http.StatusOK {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		e.clock.Add(clientreg.DefaultTokenGrace + time.Second)

		unknownURI := e.registrationEndpoint() + "/" + strings.Repeat("A", len(a.ID))
		garbage := strings.Repeat("x", len(a.Token))
		type target struct {
			name, uri, id string
		}
		targets := []target{
			{"existing client", a.URI, a.ID},
			{"deleted client", gone.URI, gone.ID},
			{"unknown client", unknownURI, strings.Repeat("A", len(a.ID))},
		}
		tokens := []struct{ name, token string }{
			{"wrong token", garbage},
			{"another client's token", other.Token},
			{"a deleted client's token", gone.Token},
			{"a retired rotated token", retired.Token},
			{"a rotated token past its grace", expired.Token},
		}
		before := e.mustGet(a, a.Token).body
		creates, updates, deletes := e.store.writes()

		var ref *enumResponse
		var refName string
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			for _, tg := range targets {
				for _, tk := range tokens {
					name := method + " " + tg.name + " with " + tk.name
					var r *response
					if method == http.MethodPut {
						// A valid update body naming the addressed client, so
						// that only authentication can refuse it.
						r = e.put(tg.uri, tk.token, body(obj{"client_id": tg.id}))
					} else {
						r = e.do(method, tg.uri, nil, "", bearer(tk.token))
					}
					wantInvalidToken(t, r)
					got := enumSnapshot(r)
					if ref == nil {
						ref, refName = &got, name
						continue
					}
					if got.status != ref.status || !bytes.Equal(got.body, ref.body) || !enumEqualHeaders(got.header, ref.header) {
						t.Errorf("%s answers differently from %s:\n%s\n--- vs ---\n%s", name, refName, got, *ref)
					}
				}
			}
		}
		if c, u, d := e.store.writes(); c != creates || u != updates || d != deletes {
			t.Errorf("failed authentications wrote to the store: %d creates, %d updates, %d deletes", c-creates, u-updates, d-deletes)
		}
		if got := e.mustGet(a, a.Token).body; !bytes.Equal(got, before) {
			t.Errorf("client A changed:\n%s\n%s", before, got)
		}
		e.mustGet(other, other.Token)
	})
}

// TestNoClientEnumerationWithoutToken proves the same for requests without
// credentials: the bare 401 challenge does not depend on the client either.
func TestNoClientEnumerationWithoutToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		a := e.register(body(nil))
		gone := e.register(body(nil))
		if r := e.del(gone.URI, gone.Token); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
		unknown := e.registrationEndpoint() + "/" + strings.Repeat("A", len(a.ID))
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			var ref *enumResponse
			for _, uri := range []string{a.URI, gone.URI, unknown} {
				for _, auth := range []string{"", "Basic " + a.Token} {
					var r *response
					if method == http.MethodPut {
						r = e.do(method, uri, strings.NewReader(body(obj{"client_id": a.ID})), jsonType, auth)
					} else {
						r = e.do(method, uri, nil, "", auth)
					}
					wantBareChallenge(t, r)
					got := enumSnapshot(r)
					if ref == nil {
						ref = &got
						continue
					}
					if got.status != ref.status || !bytes.Equal(got.body, ref.body) || !enumEqualHeaders(got.header, ref.header) {
						t.Errorf("%s %s (Authorization %q) answers differently:\n%s\n--- vs ---\n%s", method, uri, auth, got, *ref)
					}
				}
			}
		}
	})
}

// enumEqualHeaders reports whether a and b have the same fields with the same
// values in the same order.
func enumEqualHeaders(a, b http.Header) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// The token endpoint tells nothing about codes and refresh tokens it does
// not hand over: an unknown one, another client's, a used code and a
// rotated-out refresh token from another client all get one identical
// invalid_grant answer (status, headers that matter, body), so that a
// client cannot probe which values exist (docs/behaviour.md §9).
func TestNoGrantEnumeration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		alice, bob := e.registerPublic(nil), e.registerPublic(nil)
		code, verifier := e.code(alice)
		first := e.exchange(alice, code, verifier, nil)
		if first.status != http.StatusOK {
			t.Fatalf("exchange: %d %s", first.status, first.body)
		}
		aliceRefresh := first.str("refresh_token")
		other, otherVerifier := e.code(alice)

		answers := map[string]*response{
			"unknown code":             e.exchange(bob, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", verifier, nil),
			"another client's code":    e.exchange(bob, other, otherVerifier, nil),
			"unknown refresh token":    e.refreshWith(bob, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil),
			"another client's refresh": e.refreshWith(bob, aliceRefresh, nil),
			"malformed refresh token":  e.refreshWith(bob, "not a token", nil),
			"malformed code":           e.exchange(bob, "x", verifier, nil),
		}
		// Within each grant type the answers are identical (the two grant
		// types may word their description differently: that tells nothing
		// about which values exist).
		refs := map[string]*response{}
		refNames := map[string]string{}
		for name, r := range answers {
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
				t.Errorf("%s: %d %s, want 400 invalid_grant", name, r.status, r.body)
				continue
			}
			kind := "code"
			if strings.Contains(name, "refresh") {
				kind = "refresh"
			}
			ref := refs[kind]
			if ref == nil {
				refs[kind], refNames[kind] = r, name
				continue
			}
			if string(r.body) != string(ref.body) || r.header.Get("WWW-Authenticate") != ref.header.Get("WWW-Authenticate") ||
				r.header.Get("Cache-Control") != ref.header.Get("Cache-Control") {
				t.Errorf("%s answers %s, %s answers %s: they must be identical", name, r.body, refNames[kind], ref.body)
			}
		}
		// Alice's own values still work: the probes changed nothing.
		if r := e.refreshWith(alice, aliceRefresh, nil); r.status != http.StatusOK {
			t.Errorf("alice's refresh after the probes: %d %s", r.status, r.body)
		}
		if r := e.exchange(alice, other, otherVerifier, nil); r.status != http.StatusOK {
			t.Errorf("alice's second code after bob presented it: %d %s", r.status, r.body)
		}
	})
}
