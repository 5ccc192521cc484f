package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Client ID Metadata Documents through "clientreg serve --login header
// --fetch-allow-loopback": the document is served by an in-process TLS
// server on loopback, whose certificate the fetcher trusts because the
// test (serial, not parallel) hands the server's transport to
// http.DefaultTransport, which the fetcher clones (in production its roots
// are the system pool, so SSL_CERT_FILE applies).
func TestMetadataDocumentFlow(t *testing.T) {
	var doc []byte
	docs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(docs.Close)
	clientID := docs.URL + "/oauth/client.json"
	doc, _ = json.Marshal(map[string]any{
		"client_id": clientID, "client_name": "Doc <Client>", "redirect_uris": []string{"http://127.0.0.1:9000/cb"},
		"grant_types": []string{"authorization_code", "refresh_token"}, "token_endpoint_auth_method": "none",
	})
	saved := http.DefaultTransport
	http.DefaultTransport = docs.Client().Transport
	t.Cleanup(func() { http.DefaultTransport = saved })

	s := loginServer(t, "--fetch-allow-loopback")
	meta := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "").json(t)
	if meta["client_id_metadata_document_supported"] != true {
		t.Fatalf("metadata: %v", meta)
	}
	b := newBrowser(t, "alice@example.com")
	verifier, challenge := pkce("d")
	page := b.do(http.MethodGet, authorizeURL(s.issuer, clientID, challenge, "st1"), nil, nil)
	wantStatus(t, "consent page", page, http.StatusOK)
	host := strings.TrimPrefix(docs.URL, "https://")
	for _, want := range []string{"Doc &lt;Client&gt;", "described by <code>" + host + "</code>", "It returns only to this computer", "Unverified application"} {
		if !strings.Contains(string(page.body), want) {
			t.Errorf("the consent page lacks %q:\n%s", want, page.body)
		}
	}
	action, fields := consentForm(t, page)
	fields.Set("decision", "approve")
	q := wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
	r := postForm(t, s.issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {"http://127.0.0.1:9000/cb"}, "client_id": {clientID}, "code_verifier": {verifier}})
	wantStatus(t, "code exchange", r, http.StatusOK)
}

func TestMetadataDocumentFlags(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, nil, "serve", "--db", dbIn(t), "--addr", "0.0.0.0:0", "--fetch-allow-loopback")
	if code == 0 || !strings.Contains(stderr, "--fetch-allow-loopback") {
		t.Errorf("--fetch-allow-loopback with a wildcard --addr: code %d, stderr %s", code, stderr)
	}
	code, _, stderr = run(t, nil, "serve", "--db", dbIn(t), "--addr", "127.0.0.1:0", "--cimd-deny-domain", "10.0.0.1")
	if code == 0 || !strings.Contains(stderr, "--cimd-deny-domain") {
		t.Errorf("an IP in --cimd-deny-domain: code %d, stderr %s", code, stderr)
	}
	s := loginServer(t, "--cimd=false")
	meta := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "").json(t)
	if _, ok := meta["client_id_metadata_document_supported"]; ok {
		t.Errorf("--cimd=false still advertises documents: %v", meta)
	}
}
