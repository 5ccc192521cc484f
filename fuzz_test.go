package clientreg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/langtag"
)

// Native Go fuzz targets. Each runs its checked-in seed corpus
// (testdata/fuzz/FuzzXxx) as part of "go test", and fuzzes with
//
//	go test -run '^$' -fuzz '^FuzzRegister$' -fuzztime 3m .
//
// Every target drives the real Handler through ServeHTTP over a fresh
// in-memory store, so an input is reproducible on its own. The properties
// checked for every response are those of docs/behaviour.md §2 and §6: never a panic,
// never a 5xx, every 4xx a JSON RFC error ({"error": code,
// "error_description": %x20-21/%x23-5B/%x5D-7E}) except a 401 carrying a bare
// "WWW-Authenticate: Bearer" challenge and no body.

// fzIssuer is the issuer of the fuzzed handlers.
const fzIssuer = "https://as.example"

// fzRedirect is the redirect URI of the fixed bodies the targets register.
const fzRedirect = "https://app.example/cb"

// newFzEnv returns an in-process env (newFuzzEnv: built once per target,
// e.fresh(t) per input) whose handler supports every grant and response
// type the validator knows, so that the fuzzer reaches every consistency
// rule, and declares two extension members (one accepting any value, one
// only strings). Its randomness is deterministic, so that an input
// reproduces.
func newFzEnv(f *testing.F, mod func(*clientreg.Config)) *testEnv {
	f.Helper()
	return newFuzzEnv(f, func(cfg *clientreg.Config) {
		cfg.Issuer = fzIssuer
		cfg.Metadata = &clientreg.ServerMetadata{
			GrantTypesSupported: []string{"authorization_code", "implicit", "refresh_token", "client_credentials",
				"urn:ietf:params:oauth:grant-type:device_code"},
			ResponseTypesSupported: []string{"code", "token", "id_token", "code id_token", "code token",
				"id_token token", "code id_token token", "none"},
		}
		cfg.DefaultScopes = []string{"read"}
		cfg.Extensions = []clientreg.Extension{
			{Name: "x_any"},
			{Name: "x_str", Validate: func(_ context.Context, v json.RawMessage) error {
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return errors.New("must be a string")
				}
				return nil
			}},
		}
		if mod != nil {
			mod(cfg)
		}
	})
}

// serve runs one request through the handler and checks the properties
// every response must have. auth holds the Authorization header values; a
// nil body sends none.
func (e *testEnv) serve(method, target string, body []byte, auth ...string) *response {
	e.t.Helper()
	var req *http.Request
	if body != nil {
		req = e.request(method, target, bytes.NewReader(body), jsonType, "")
	} else {
		req = e.request(method, target, nil, "", "")
	}
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	r := e.send(req)
	fzCheckResponse(e.t, method+" "+target, r)
	return r
}

// fzRegister registers body, which must succeed.
func (e *testEnv) fzRegister(body string) *registered {
	e.t.Helper()
	r := e.serve(http.MethodPost, fzIssuer+"/register", []byte(body))
	if r.status != http.StatusCreated {
		e.t.Fatalf("register %s: status %d: %s", body, r.status, r.body)
	}
	return newRegistered(e.t, r)
}

// fzCheckResponse asserts the properties every response must have.
func fzCheckResponse(t testing.TB, what string, r *response) {
	t.Helper()
	status, body := r.status, r.body
	switch {
	case status >= 500:
		t.Fatalf("%s: status %d (a client input must never cause a 5xx): %s", what, status, body)
	case status == http.StatusNoContent:
		if len(body) != 0 {
			t.Fatalf("%s: 204 with a body: %q", what, body)
		}
	case status < 400:
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: status %d with a body that is not a JSON object: %v: %q", what, status, err, body)
		}
	case status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "Bearer":
		// RFC 6750 §3.1: no credentials, no error code.
		if len(body) != 0 {
			t.Fatalf("%s: 401 with a bare challenge carries a body: %q", what, body)
		}
		if got := r.header.Values("WWW-Authenticate"); len(got) != 1 {
			t.Fatalf("%s: WWW-Authenticate = %q, want one challenge", what, got)
		}
	default:
		code := fzCheckErrorBody(t, what, status, r.header, body)
		if status == http.StatusUnauthorized {
			if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer error="`+code+`"` {
				t.Fatalf("%s: 401 %s with WWW-Authenticate %q", what, code, got)
			}
		}
	}
}

// fzCheckErrorBody asserts an RFC 6749 §5.2 error body and returns its code.
func fzCheckErrorBody(t testing.TB, what string, status int, h http.Header, body []byte) string {
	t.Helper()
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d error with Content-Type %q: %q", what, status, ct, body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: %d error body is not a JSON object: %v: %q", what, status, err, body)
	}
	var code, desc string
	for k, v := range m {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatalf("%s: error member %s is not a string: %s", what, k, body)
		}
		switch k {
		case "error":
			code = s
		case "error_description":
			desc = s
			if s == "" {
				t.Fatalf("%s: empty error_description: %s", what, body)
			}
		default:
			t.Fatalf("%s: error body has member %q: %s", what, k, body)
		}
	}
	if code == "" {
		t.Fatalf("%s: %d error body without an error code: %s", what, status, body)
	}
	for _, s := range []string{code, desc} {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Fatalf("%s: byte %#x of %q is outside %%x20-21 / %%x23-5B / %%x5D-7E", what, c, s)
			}
		}
	}
	return code
}

// fzResponseMembers are the members of a client information response that
// are not metadata.
var fzResponseMembers = []string{"client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at",
	"registration_access_token", "registration_client_uri"}

// fzMetadata returns the metadata members of a client information response.
func fzMetadata(t *testing.T, body []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("client information is not a JSON object: %v: %q", err, body)
	}
	for _, n := range fzResponseMembers {
		delete(m, n)
	}
	return m
}

// fzObject encodes members as a JSON object with sorted member names, the
// values byte for byte as given.
func fzObject(members map[string]json.RawMessage) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range sortedKeys(members) {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(js(k))
		buf.WriteByte(':')
		buf.Write(members[k])
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// fzSameMetadata fails unless a and b have the same members with
// byte-identical values.
func fzSameMetadata(t *testing.T, what string, a, b map[string]json.RawMessage) {
	t.Helper()
	if ka, kb := sortedKeys(a), sortedKeys(b); !slices.Equal(ka, kb) {
		t.Fatalf("%s: members differ: %v vs %v", what, ka, kb)
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Fatalf("%s: member %s differs: %s vs %s", what, k, v, b[k])
		}
	}
}

// FuzzRegister fuzzes the registration request decoder and validator with
// whole request bodies. A rejected body stores nothing; an accepted one
// round-trips: the metadata members of the 201, registered again, are
// accepted with byte-identical metadata, and a read returns them too.
func FuzzRegister(f *testing.F) {
	f.Add([]byte(`{"redirect_uris":["https://client.example.org/cb"],"client_name":"bench","grant_types":["authorization_code"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_basic"}`))
	fz := newFzEnv(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fz.fresh(t)
		rec := e.serve(http.MethodPost, fzIssuer+"/register", body)
		if rec.status != http.StatusCreated {
			if n := e.store.totalWrites(); n != 0 {
				t.Fatalf("a rejected registration (%d) wrote %d times to the store", rec.status, n)
			}
			return
		}
		meta := fzMetadata(t, rec.body)
		again := fzObject(meta)
		rec2 := e.serve(http.MethodPost, fzIssuer+"/register", again)
		if rec2.status != http.StatusCreated {
			t.Fatalf("the metadata of a 201, registered again, is rejected:\nfirst request %q\nresponse %s\nsecond request %s\nresponse %d %s",
				body, rec.body, again, rec2.status, rec2.body)
		}
		fzSameMetadata(t, "re-registration", meta, fzMetadata(t, rec2.body))

		var c struct {
			Token string `json:"registration_access_token"`
			URI   string `json:"registration_client_uri"`
		}
		if err := json.Unmarshal(rec.body, &c); err != nil {
			t.Fatal(err)
		}
		read := e.serve(http.MethodGet, c.URI, nil, "Bearer "+c.Token)
		if read.status != http.StatusOK {
			t.Fatalf("read after registration: %d %s", read.status, read.body)
		}
		fzSameMetadata(t, "read after registration", meta, fzMetadata(t, read.body))
	})
}

// fzBaseClient is the client FuzzUpdate registers before each PUT.
const fzBaseClient = `{"redirect_uris":["https://app.example/cb"],"client_name":"base","contacts":["ops@app.example"]}`

// FuzzUpdate fuzzes PUT bodies (RFC 7592 §2.2) sent with the registration
// access token of a client just registered. In the body, $CLIENT_ID and
// $CLIENT_SECRET stand for the client's own ID and secret, so that the
// fuzzer reaches past the client_id check. A rejected update changes
// nothing (the client reads back byte-identical); an accepted one
// round-trips: its metadata, PUT again with the new token, is accepted with
// byte-identical metadata.
func FuzzUpdate(f *testing.F) {
	f.Add([]byte(`{"client_id":"$CLIENT_ID","redirect_uris":["https://app.example/cb"],"client_name":"renamed"}`))
	fz := newFzEnv(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		e := fz.fresh(t)
		c := e.fzRegister(fzBaseClient)
		id, secret, token, uri := c.ID, c.Secret, c.Token, c.URI
		body = bytes.ReplaceAll(body, []byte("$CLIENT_ID"), []byte(id))
		body = bytes.ReplaceAll(body, []byte("$CLIENT_SECRET"), []byte(secret))
		before := e.serve(http.MethodGet, uri, nil, "Bearer "+token)
		writes := e.store.totalWrites()

		rec := e.serve(http.MethodPut, uri, body, "Bearer "+token)
		if rec.status != http.StatusOK {
			if n := e.store.totalWrites(); n != writes {
				t.Fatalf("a rejected update (%d) wrote %d times to the store", rec.status, n-writes)
			}
			after := e.serve(http.MethodGet, uri, nil, "Bearer "+token)
			if after.status != http.StatusOK || !bytes.Equal(after.body, before.body) ||
				after.header.Get("ETag") != before.header.Get("ETag") {
				t.Fatalf("a rejected update (%d %s) changed the client:\n%s\n%s", rec.status, rec.body, before.body, after.body)
			}
			return
		}
		meta := fzMetadata(t, rec.body)
		var r struct {
			ID    string `json:"client_id"`
			Token string `json:"registration_access_token"`
		}
		if err := json.Unmarshal(rec.body, &r); err != nil {
			t.Fatal(err)
		}
		if r.ID != id || r.Token == "" {
			t.Fatalf("update response names client %q with token %q: %s", r.ID, r.Token, rec.body)
		}
		again := fzWithMember(meta, "client_id", js(id))
		rec2 := e.serve(http.MethodPut, uri, fzObject(again), "Bearer "+r.Token)
		if rec2.status != http.StatusOK {
			t.Fatalf("the metadata of a 200, PUT again, is rejected:\nfirst request %q\nresponse %s\nsecond request %s\nresponse %d %s",
				body, rec.body, fzObject(again), rec2.status, rec2.body)
		}
		fzSameMetadata(t, "second update", meta, fzMetadata(t, rec2.body))
	})
}

// fzWithMember returns a copy of m with member k set to the JSON text v.
func fzWithMember(m map[string]json.RawMessage, k, v string) map[string]json.RawMessage {
	c := make(map[string]json.RawMessage, len(m)+1)
	for n, x := range m {
		c[n] = x
	}
	c[k] = json.RawMessage(v)
	return c
}

// fzSchemeRE is an RFC 3986 §3.1 scheme followed by its colon.
var fzSchemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// fzRedirectOracle reports why the redirect URI raw must be refused by the
// rules of docs/behaviour.md §3 (checked here independently of redirect.go), or "" when
// nothing in those rules refuses it.
func fzRedirectOracle(raw string) string {
	if raw == "" {
		return "empty"
	}
	for _, r := range raw {
		if r <= 0x20 || r == 0x7f {
			return "white space or control character"
		}
		if r >= 0x80 {
			return "not ASCII (RFC 3986 section 2)"
		}
	}
	if strings.Contains(raw, "#") {
		return "fragment"
	}
	m := fzSchemeRE.FindStringSubmatch(raw)
	if m == nil {
		return "no scheme"
	}
	scheme := strings.ToLower(m[1])
	switch scheme {
	case "javascript", "data", "vbscript", "file", "blob", "about", "view-source", "filesystem", "jar", "mhtml", "ms-its", "intent":
		return "dangerous scheme " + scheme
	}
	rest := raw[len(m[0]):]
	authority, hasAuthority := strings.CutPrefix(rest, "//")
	if hasAuthority {
		if i := strings.IndexAny(authority, "/?"); i >= 0 {
			authority = authority[:i]
		}
		if strings.Contains(authority, "@") {
			return "user information"
		}
		if host, _, _ := fzCutPort(authority); strings.Contains(host, "*") {
			return "'*' in the host"
		} else if strings.Contains(host, "%") {
			return "percent-encoding in the host (a zone, or non-ASCII)"
		}
	}
	switch scheme {
	case "http", "https":
		if !hasAuthority {
			return scheme + " without an authority"
		}
		host, port, ok := fzCutPort(authority)
		if !ok {
			return "malformed authority"
		}
		for _, c := range port {
			if c < '0' || c > '9' {
				return "non-numeric port"
			}
		}
		if host == "" {
			return "no host"
		}
		if !strings.HasPrefix(host, "[") && !fzIPv4(host) && !fzDNSName(host) {
			return "a host that is neither an IP address nor a DNS name"
		}
		if scheme == "http" && !fzLoopback(host) {
			return "http with a host that is not loopback"
		}
	default:
		if rest == "" {
			return "nothing after the scheme"
		}
	}
	return ""
}

// fzLabelRE is a DNS label (letters, digits, '-' and '_'); fzNumberRE a
// label that browsers read as a number (WHATWG URL IPv4 parser).
var (
	fzLabelRE  = regexp.MustCompile(`^(?i)[a-z0-9_-]{1,63}$`)
	fzNumberRE = regexp.MustCompile(`^(?i)(?:[0-9]+|0x[0-9a-f]*)$`)
)

// fzDNSName reports whether host is a DNS name (an optional root dot
// after the last label) whose last label is not a number.
func fzDNSName(host string) bool {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	for _, l := range labels {
		if !fzLabelRE.MatchString(l) {
			return false
		}
	}
	return !fzNumberRE.MatchString(labels[len(labels)-1])
}

// fzIPv4 reports whether host is a dotted-decimal IPv4 address.
func fzIPv4(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && !strings.Contains(host, ":")
}

// fzCutPort splits host[:port]; an IPv6 literal keeps its brackets. ok is
// false when something other than a port follows an IPv6 literal.
func fzCutPort(authority string) (host, port string, ok bool) {
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return authority, "", false
		}
		host, rest := authority[:end+1], authority[end+1:]
		if rest == "" {
			return host, "", true
		}
		port, ok := strings.CutPrefix(rest, ":")
		return host, port, ok
	}
	if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		return authority[:i], authority[i+1:], true
	}
	return authority, "", true
}

// fzLoopback reports whether host is localhost, an IPv4 address in
// 127.0.0.0/8 or the IPv6 loopback address (bracketed).
func fzLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if v6, ok := strings.CutPrefix(host, "["); ok {
		v6, ok = strings.CutSuffix(v6, "]")
		ip := net.ParseIP(v6)
		return ok && ip != nil && ip.IsLoopback()
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.To4()[0] == 127 && !strings.Contains(host, ":")
}

// FuzzRedirectURI fuzzes redirect URI classification: the result is nil or
// an invalid_redirect_uri error with a valid description; an accepted URI
// breaks none of the docs/behaviour.md §3 rules (checked by an independent oracle);
// and registration with the URI agrees with the classification and echoes
// the URI byte-exact.
func FuzzRedirectURI(f *testing.F) {
	f.Add("cursor://anysphere.cursor-retrieval/oauth/callback")
	fz := newFzEnv(f, nil)
	f.Fuzz(func(t *testing.T, uri string) {
		err := clientreg.CheckRedirectURI(uri)
		if err != nil {
			var oe *clientreg.Error
			if !errors.As(err, &oe) || oe.Code != "invalid_redirect_uri" || oe.Status != http.StatusBadRequest {
				t.Fatalf("CheckRedirectURI(%q) = %v (%T), want an invalid_redirect_uri *Error", uri, err, err)
			}
			if oe.Description == "" {
				t.Fatalf("CheckRedirectURI(%q): no description", uri)
			}
			fzCheckErrorBody(t, "CheckRedirectURI", 400, http.Header{"Content-Type": {"application/json"}},
				[]byte(js(map[string]string{"error": oe.Code, "error_description": oe.Description})))
		} else if why := fzRedirectOracle(uri); why != "" {
			t.Fatalf("CheckRedirectURI(%q) accepts a redirect URI the rules refuse: %s", uri, why)
		}
		if !utf8.ValidString(uri) {
			return // a JSON body cannot carry it; the decoder refuses invalid UTF-8
		}
		e := fz.fresh(t)
		rec := e.serve(http.MethodPost, fzIssuer+"/register", []byte(js(map[string]any{"redirect_uris": []string{uri}})))
		switch {
		case err == nil && rec.status != http.StatusCreated:
			t.Fatalf("CheckRedirectURI(%q) accepts it but registration answers %d %s", uri, rec.status, rec.body)
		case err != nil && rec.status == http.StatusCreated:
			t.Fatalf("CheckRedirectURI(%q) refuses it (%v) but registration accepts it", uri, err)
		case err != nil:
			if code := fzCheckErrorBody(t, "register", rec.status, rec.header, rec.body); code != "invalid_redirect_uri" {
				t.Fatalf("registration with %q: error %s, want invalid_redirect_uri", uri, code)
			}
		default:
			var got struct {
				RedirectURIs []string `json:"redirect_uris"`
			}
			if err := json.Unmarshal(rec.body, &got); err != nil || len(got.RedirectURIs) != 1 || got.RedirectURIs[0] != uri {
				t.Fatalf("redirect_uris %q echoed as %s", uri, rec.body)
			}
		}
	})
}

// fzLangTagRE is the Language-Tag production of RFC 5646 §2.1 without the
// grandfathered tags, case-insensitive.
var fzLangTagRE = func() *regexp.Regexp {
	const (
		alphanum   = `[a-z0-9]`
		extlang    = `[a-z]{3}(?:-[a-z]{3}){0,2}`
		language   = `(?:[a-z]{2,3}(?:-` + extlang + `)?|[a-z]{4}|[a-z]{5,8})`
		script     = `[a-z]{4}`
		region     = `(?:[a-z]{2}|[0-9]{3})`
		variant    = `(?:` + alphanum + `{5,8}|[0-9]` + alphanum + `{3})`
		singleton  = `[0-9a-wyz]`
		extension  = singleton + `(?:-` + alphanum + `{2,8})+`
		privateuse = `x(?:-` + alphanum + `{1,8})+`
		langtag    = language + `(?:-` + script + `)?(?:-` + region + `)?(?:-` + variant + `)*(?:-` + extension + `)*(?:-` + privateuse + `)?`
	)
	return regexp.MustCompile(`(?i)^(?:` + langtag + `|` + privateuse + `)$`)
}()

// fzGrandfathered are the grandfathered tags of RFC 5646 §2.2.8.
var fzGrandfathered = []string{"en-GB-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon",
	"i-lux", "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-BE-FR", "sgn-BE-NL", "sgn-CH-DE",
	"art-lojban", "cel-gaulish", "no-bok", "no-nyn", "zh-guoyu", "zh-hakka", "zh-min", "zh-min-nan", "zh-xiang"}

// fzLangTagOracle reports whether tag is a valid language tag by RFC 5646
// §2.1 syntax and the §2.2.5/§2.2.6 rules that no variant and no extension
// singleton repeats.
func fzLangTagOracle(tag string) bool {
	for _, g := range fzGrandfathered {
		if strings.EqualFold(tag, g) {
			return true
		}
	}
	if !fzLangTagRE.MatchString(tag) {
		return false
	}
	parts := strings.Split(strings.ToLower(tag), "-")
	seen := map[string]bool{}
	for i, p := range parts {
		if p == "x" {
			break // private use: anything goes
		}
		if i == 0 {
			continue
		}
		isVariant := len(p) >= 5 || len(p) == 4 && p[0] >= '0' && p[0] <= '9'
		isSingleton := len(p) == 1
		if isVariant || isSingleton {
			// Inside an extension, subtags may repeat; only singletons
			// and the variants before the first extension count.
			if isSingleton {
				if seen["s:"+p] {
					return false
				}
				seen["s:"+p] = true
				seen["in-ext"] = true
				continue
			}
			if !seen["in-ext"] {
				if seen["v:"+p] {
					return false
				}
				seen["v:"+p] = true
			}
		}
	}
	return true
}

// FuzzLanguageTag fuzzes language-tag parsing: langtag.Valid agrees with
// an independent RFC 5646 oracle and ignores case, and a client_name#TAG
// and a policy_uri#TAG member are accepted by registration exactly when the
// tag is valid, and echoed under their name as sent.
func FuzzLanguageTag(f *testing.F) {
	f.Add("ja-Jpan-JP")
	fz := newFzEnv(f, nil)
	f.Fuzz(func(t *testing.T, tag string) {
		valid := langtag.Valid(tag)
		if want := fzLangTagOracle(tag); valid != want {
			t.Fatalf("langtag.Valid(%q) = %v, RFC 5646 says %v", tag, valid, want)
		}
		if langtag.Valid(strings.ToUpper(tag)) != valid || langtag.Valid(strings.ToLower(tag)) != valid {
			t.Fatalf("langtag.Valid(%q) depends on case", tag)
		}
		if !utf8.ValidString(tag) {
			return
		}
		e := fz.fresh(t)
		name, uri := "client_name#"+tag, "policy_uri#"+tag
		body := js(map[string]any{"redirect_uris": []string{fzRedirect}, name: "Name <&>", uri: "https://app.example/policy"})
		rec := e.serve(http.MethodPost, fzIssuer+"/register", []byte(body))
		if valid != (rec.status == http.StatusCreated) {
			t.Fatalf("tag %q (valid %v): registration answers %d %s", tag, valid, rec.status, rec.body)
		}
		if !valid {
			if code := fzCheckErrorBody(t, "register", rec.status, rec.header, rec.body); code != "invalid_client_metadata" {
				t.Fatalf("tag %q: error %s, want invalid_client_metadata", tag, code)
			}
			return
		}
		m := fzMetadata(t, rec.body)
		if string(m[name]) != `"Name <&>"` || string(m[uri]) != `"https://app.example/policy"` {
			t.Fatalf("tagged members not echoed byte-exact under %q, %q: %s", name, uri, rec.body)
		}
	})
}

// FuzzBearer fuzzes the Authorization header (RFC 6750 §2.1) at every
// endpoint that reads it. A newline in the input separates header values;
// $TOKEN stands for the registration access token of a registered client
// and $IAT for a valid initial access token. A request succeeds only with
// exactly one Authorization header "Bearer <the token>" (scheme in any
// case, then spaces): never with a token that differs by a byte. Without
// Bearer credentials the answer is a bare 401 challenge; with wrong ones a
// 401 invalid_token (or a 400 for a malformed header). Open registration
// ignores the header altogether.
func FuzzBearer(f *testing.F) {
	f.Add("Bearer $TOKEN")
	fzOpen := newFzEnv(f, nil)
	fzClosed := newFzEnv(f, func(c *clientreg.Config) { c.RequireInitialToken = true })
	f.Fuzz(func(t *testing.T, auth string) {
		open := fzOpen.fresh(t)
		c := open.fzRegister(fzBaseClient)
		id, token, uri := c.ID, c.Token, c.URI
		closed := fzClosed.fresh(t)
		iat, _, err := closed.h.CreateInitialToken(context.Background(), clientreg.InitialTokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		auth = strings.NewReplacer("$TOKEN", token, "$IAT", iat).Replace(auth)
		var values []string
		if auth != "" {
			values = strings.Split(auth, "\n")
		}

		regBody := []byte(fzBaseClient)
		putBody := []byte(`{"client_id":` + js(id) + `,"redirect_uris":["https://app.example/cb"],"client_name":"put"}`)
		check := func(what string, rec *response, want string, ok int) {
			t.Helper()
			presented, single := fzBearerCredential(values)
			switch {
			case rec.status == ok:
				if !single || presented != want {
					t.Fatalf("%s with Authorization %q: %d, but the credential is not exactly the token", what, values, rec.status)
				}
			case rec.status == http.StatusUnauthorized:
				challenge := rec.header.Get("WWW-Authenticate")
				if single && presented == want {
					t.Fatalf("%s with Authorization %q: 401 for the right token: %s", what, values, rec.body)
				}
				if !fzHasBearer(values) && challenge != "Bearer" {
					t.Fatalf("%s with Authorization %q (no Bearer credentials): challenge %q, want a bare Bearer", what, values, challenge)
				}
				if fzHasBearer(values) && len(values) == 1 && challenge != `Bearer error="invalid_token"` {
					t.Fatalf("%s with Authorization %q: challenge %q, want invalid_token", what, values, challenge)
				}
			case rec.status == http.StatusBadRequest && len(values) > 1:
				// More than one Authorization header: a malformed request.
			default:
				t.Fatalf("%s with Authorization %q: unexpected %d %s", what, values, rec.status, rec.body)
			}
		}
		// Open registration: no credentials (or another scheme) register
		// anonymously; a Bearer credential is honoured, and since none is
		// a valid initial access token of the open env it is refused
		// (docs/behaviour.md §2); two headers are a malformed request.
		switch rec := open.serve(http.MethodPost, fzIssuer+"/register", regBody, values...); {
		case len(values) > 1:
			if rec.status != http.StatusBadRequest {
				t.Fatalf("open registration with Authorization %q: %d %s, want 400", values, rec.status, rec.body)
			}
		case fzHasBearer(values):
			if rec.status != http.StatusUnauthorized || rec.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
				t.Fatalf("open registration with Authorization %q: %d %s, want 401 invalid_token", values, rec.status, rec.body)
			}
		case rec.status != http.StatusCreated:
			t.Fatalf("open registration with Authorization %q: %d %s", values, rec.status, rec.body)
		}
		check("POST (initial access token)", closed.serve(http.MethodPost, fzIssuer+"/register", regBody, values...), iat, http.StatusCreated)
		check("GET", open.serve(http.MethodGet, uri, nil, values...), token, http.StatusOK)
		// The presented token stays valid through the rotation's grace
		// window, so the DELETE below authenticates it as the GET did; a
		// rotated-out token may not delete, so the right one gets 403
		// (docs/behaviour.md §5).
		check("PUT", open.serve(http.MethodPut, uri, putBody, values...), token, http.StatusOK)
		check("DELETE", open.serve(http.MethodDelete, uri, nil, values...), token, http.StatusForbidden)
	})
}

// fzBearerCredential returns the credential of a single Authorization
// header with the Bearer scheme (any case) followed by one or more spaces.
func fzBearerCredential(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	v := values[0]
	if len(v) < 7 || !strings.EqualFold(v[:6], "bearer") || v[6] != ' ' {
		return "", false
	}
	return strings.TrimLeft(v[7:], " "), true
}

// fzHasBearer reports whether some header value uses the Bearer scheme.
func fzHasBearer(values []string) bool {
	for _, v := range values {
		scheme, _, _ := strings.Cut(v, " ")
		if strings.EqualFold(scheme, "bearer") {
			return true
		}
	}
	return false
}

// TestFuzzOracles checks the fuzz oracles themselves on known cases, so that
// a broken oracle cannot hide a bug.
func TestFuzzOracles(t *testing.T) {
	for _, c := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example/cb", true},
		{"http://127.0.0.1:9000/cb", true},
		{"http://[::1]/cb", true},
		{"http://localhost/cb", true},
		{"cursor://anysphere.cursor-retrieval/oauth/callback", true},
		{"vscode://vscode.github-authentication/did-authenticate", true},
		{"com.example.app:/oauth2redirect", true},
		{"http://app.example/cb", false},
		{"http://127.0.0.1.nip.io/cb", false},
		{"http://localhost@evil.example/cb", false},
		{"https://app.example/cb#x", false},
		{"JavaScript:alert(1)", false},
		{"data:text/html,x", false},
		{"/relative", false},
		{"myapp:", false},
		{"https://user@app.example/", false},
		{"https:///path", false},
		{"https://xn--bcher-kva.example/cb", true},
		{"https://my_host.example./cb", true},
		{"https://0xfg.example/cb", true},
		{"https://bücher.example/cb", false},
		{"https://b%C3%BCcher.example/cb", false},
		{"https://app.example/\u202ecb", false},
		{"https://app.example/\u0085", false},
		{"https://*.example.com/cb", false},
		{"cursor://*/cb", false},
		{"https://[fe80::1%25eth0]/cb", false},
		{"https://app!.example/cb", false},
		{"https://a..example/cb", false},
		{"https://2130706433/cb", false},
		{"https://a.0x7f/cb", false},
		{"view-source:https://app.example/", false},
		{"Filesystem:https://app.example/temporary/x", false},
		{"jar:https://app.example/a.jar!/cb", false},
		{"intent://app/cb", false},
	} {
		if got := fzRedirectOracle(c.uri) == ""; got != c.ok {
			t.Errorf("fzRedirectOracle(%q) accepts = %v, want %v", c.uri, got, c.ok)
		}
		if got := clientreg.CheckRedirectURI(c.uri) == nil; got != c.ok {
			t.Errorf("CheckRedirectURI(%q) accepts = %v, want %v", c.uri, got, c.ok)
		}
	}
	for _, c := range []struct {
		tag string
		ok  bool
	}{
		{"en", true}, {"en-US", true}, {"ja-Jpan-JP", true}, {"zh-yue-HK", true}, {"sl-rozaj-biske", true},
		{"de-CH-1901", true}, {"en-a-bbb-x-a-ccc", true}, {"x-whatever", true}, {"i-klingon", true},
		{"en-GB-oed", true}, {"es-419", true}, {"en-a-aaa-b-bbb", true}, {"en-x-a-a", true},
		{"", false}, {"e", false}, {"en-", false}, {"-en", false}, {"en--US", false}, {"en-US-", false},
		{"sl-rozaj-rozaj", false}, {"en-a-aaa-a-bbb", false}, {"en-a", false}, {"x", false},
		{"en_US", false}, {"abcdefghi", false}, {"en-a-bbb-rozaj-rozaj", true}, {"a-DE", false},
	} {
		if got := fzLangTagOracle(c.tag); got != c.ok {
			t.Errorf("fzLangTagOracle(%q) = %v, want %v", c.tag, got, c.ok)
		}
		if got := langtag.Valid(c.tag); got != c.ok {
			t.Errorf("langtag.Valid(%q) = %v, want %v", c.tag, got, c.ok)
		}
	}
	for _, c := range []struct {
		values []string
		cred   string
		ok     bool
	}{
		{[]string{"Bearer abc"}, "abc", true},
		{[]string{"bearer   abc"}, "abc", true},
		{[]string{"Bearer"}, "", false},
		{[]string{"Bearer\tabc"}, "", false},
		{[]string{"Basic abc"}, "", false},
		{[]string{"Bearer abc", "Bearer abc"}, "", false},
	} {
		cred, ok := fzBearerCredential(c.values)
		if cred != c.cred || ok != c.ok {
			t.Errorf("fzBearerCredential(%q) = %q, %v, want %q, %v", c.values, cred, ok, c.cred, c.ok)
		}
	}
}
