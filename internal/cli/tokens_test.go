package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// form posts an application/x-www-form-urlencoded body with Basic
// credentials.
func form(t *testing.T, u, id, secret string, vals url.Values) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(vals.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// The server makes registered clients usable at once: a token from the
// token endpoint, introspection by an --introspector, and the flags of the
// trust and token features.
func TestServeTokenEndpoints(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemPath := filepath.Join(dir, "partner.pem")
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The resource server's client is registered first, on a first run, so
	// that its id can be named by --introspector on the second.
	db := filepath.Join(dir, "clientreg.db")
	s := startServer(t, nil, "--db", db)
	rs := do(t, http.MethodPost, s.issuer+"/register", "", `{"grant_types":["client_credentials"],"client_name":"rs"}`)
	wantStatus(t, "register rs", rs, http.StatusCreated)
	s.stop(t)
	rsID, rsSecret := rs.str(t, "client_id"), rs.str(t, "client_secret")

	s = startServer(t, nil, "--db", db, "--introspector", rsID, "--trust-issuer", "https://partner.example="+pemPath,
		"--access-token-lifetime", "5m", "--scopes", "read,write")
	meta := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "")
	if m := meta.json(t); m["token_endpoint"] != s.issuer+"/token" || m["introspection_endpoint"] != s.issuer+"/introspect" {
		t.Fatalf("discovery: %s", meta.body)
	}
	c := do(t, http.MethodPost, s.issuer+"/register", "", `{"grant_types":["client_credentials"],"scope":"read"}`)
	wantStatus(t, "register", c, http.StatusCreated)
	tok := form(t, s.issuer+"/token", c.str(t, "client_id"), c.str(t, "client_secret"), url.Values{"grant_type": {"client_credentials"}})
	wantStatus(t, "token", tok, http.StatusOK)
	if m := tok.json(t); m["expires_in"] != float64(300) || m["scope"] != "read" {
		t.Fatalf("token response: %s", tok.body)
	}
	in := form(t, s.issuer+"/introspect", rsID, rsSecret, url.Values{"token": {tok.str(t, "access_token")}})
	if m := in.json(t); m["active"] != true || m["client_id"] != c.str(t, "client_id") {
		t.Fatalf("introspection by --introspector: %s", in.body)
	}

	// A statement signed by the trusted issuer's key is accepted.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	obj, _ := signer.Sign([]byte(`{"iss":"https://partner.example","software_id":"partner-app"}`))
	stmt, _ := obj.CompactSerialize()
	body, _ := json.Marshal(map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "software_statement": stmt})
	r := do(t, http.MethodPost, s.issuer+"/register", "", string(body))
	wantStatus(t, "register with a trusted statement", r, http.StatusCreated)
	if r.str(t, "software_id") != "partner-app" {
		t.Fatalf("statement claims not applied: %s", r.body)
	}

	// Off switch: no token endpoint, not advertised.
	s.stop(t)
	s = startServer(t, nil, "--db", db, "--token-endpoints=false")
	meta = do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "")
	if m := meta.json(t); m["token_endpoint"] != nil {
		t.Fatalf("token endpoint advertised while off: %s", meta.body)
	}
}

func TestServeBadTrustIssuer(t *testing.T) {
	code, _, stderr := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", dbIn(t), "--trust-issuer", "https://x.example="+filepath.Join(t.TempDir(), "missing.pem"))
	if code != 2 || !strings.Contains(stderr, "trust-issuer") {
		t.Fatalf("code %d, stderr %s", code, stderr)
	}
}
