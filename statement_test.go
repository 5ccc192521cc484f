package clientreg_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg"
)

type statementIssuer struct {
	iss string
	key *ecdsa.PrivateKey
	kid string
}

func newStatementIssuer(t *testing.T, iss string) statementIssuer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return statementIssuer{iss: iss, key: k, kid: "s1"}
}

func (si statementIssuer) keys() *jose.JSONWebKeySet {
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &si.key.PublicKey, KeyID: si.kid, Use: "sig"}}}
}

func (si statementIssuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	if _, ok := claims["iss"]; !ok {
		claims["iss"] = si.iss
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: si.key}, (&jose.SignerOptions{}).WithHeader("kid", si.kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSoftwareStatements(t *testing.T) {
	partner := newStatementIssuer(t, "https://partner.example")
	stranger := newStatementIssuer(t, "https://stranger.example")
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.TrustedIssuers = []clientreg.TrustedIssuer{{Issuer: partner.iss, Keys: partner.keys()}}
	})
	now := e.clock.Now()
	reg := func(body map[string]any) *response {
		return e.jsonReq("POST", e.iss+"/register", "", body)
	}

	t.Run("claims override the body and the statement is echoed exactly", func(t *testing.T) {
		stmt := partner.sign(t, map[string]any{"software_id": "partner-app", "client_name": "Partner <App> & Co", "redirect_uris": []string{"https://partner.example/cb"}, "exp": now.Add(time.Hour).Unix()})
		r := reg(map[string]any{"software_statement": stmt, "client_name": "Impostor", "redirect_uris": []string{"https://evil.example/cb"}})
		if r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		if r.str("client_name") != "Partner <App> & Co" || r.str("software_id") != "partner-app" || !strings.Contains(string(r.body), `"redirect_uris":["https://partner.example/cb"]`) {
			t.Fatalf("statement claims did not take precedence: %s", r.body)
		}
		if r.str("software_statement") != stmt {
			t.Fatal("statement not echoed byte-exact")
		}
		uri, rat := r.str("registration_client_uri"), r.str("registration_access_token")
		g := e.jsonReq("GET", uri, rat, nil)
		if g.str("software_statement") != stmt {
			t.Fatal("statement not returned on read")
		}
		// Kept on PUT without one; its claims still win, even once expired.
		e.clock.Add(2 * time.Hour)
		defer e.clock.Add(-2 * time.Hour)
		up := e.jsonReq("PUT", uri, rat, map[string]any{"client_id": r.str("client_id"), "client_name": "Renamed", "redirect_uris": []string{"https://partner.example/cb"}})
		if up.status != 200 || up.str("software_statement") != stmt || up.str("client_name") != "Partner <App> & Co" {
			t.Fatalf("update: %d %s", up.status, up.body)
		}
	})

	bad := func(name, stmt string, status int, code string) {
		t.Run(name, func(t *testing.T) {
			r := reg(map[string]any{"software_statement": stmt, "redirect_uris": []string{"https://a.example/cb"}})
			wantOAuthError(t, r, status, code)
		})
	}
	good := partner.sign(t, map[string]any{"software_id": "x"})
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://partner.example","software_id":"y"}`)) + "." + parts[2]
	bad("tampered payload", tampered, 400, "invalid_software_statement")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://partner.example"}`)) + "."
	bad("alg none", none, 400, "invalid_software_statement")
	// HS256 keyed with the issuer's public key bytes: the classic
	// algorithm-confusion attack.
	pubDER, _ := x509.MarshalPKIXPublicKey(&partner.key.PublicKey)
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})}, nil)
	obj, _ := hs.Sign([]byte(`{"iss":"https://partner.example","software_id":"x"}`))
	hsStmt, _ := obj.CompactSerialize()
	bad("HS256 with the public key as secret", hsStmt, 400, "invalid_software_statement")
	bad("expired", partner.sign(t, map[string]any{"exp": now.Add(-time.Hour).Unix()}), 400, "invalid_software_statement")
	bad("not yet valid", partner.sign(t, map[string]any{"nbf": now.Add(time.Hour).Unix()}), 400, "invalid_software_statement")
	bad("missing iss", partner.sign(t, map[string]any{"iss": ""}), 400, "invalid_software_statement")
	bad("untrusted issuer", stranger.sign(t, map[string]any{}), 400, "unapproved_software_statement")
	bad("trusted iss, another key", stranger.sign(t, map[string]any{"iss": partner.iss}), 400, "invalid_software_statement")
	bad("garbage", "not.a.jws", 400, "invalid_software_statement")
	bad("wrong claim type", partner.sign(t, map[string]any{"redirect_uris": "https://x.example/cb"}), 400, "invalid_software_statement")
}

func TestSoftwareStatementRequiredAndFetchedKeys(t *testing.T) {
	partner := newStatementIssuer(t, "https://partner.example")
	jwksSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(partner.keys())
	}))
	defer jwksSrv.Close()
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.TrustedIssuers = []clientreg.TrustedIssuer{{Issuer: partner.iss, JWKSURI: jwksSrv.URL + "/jwks"}}
		c.RequireSoftwareStatement = true
		c.Fetch = clientreg.FetchPolicy{AllowPrivateNetworks: true, Transport: jwksSrv.Client().Transport}
	})
	r := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"redirect_uris": []string{"https://a.example/cb"}})
	wantOAuthError(t, r, 400, "unapproved_software_statement")
	stmt := partner.sign(t, map[string]any{"software_id": "fetched"})
	r = e.jsonReq("POST", e.iss+"/register", "", map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "software_statement": stmt})
	if r.status != 201 || r.str("software_id") != "fetched" {
		t.Fatalf("register with a statement verified by fetched keys: %d %s", r.status, r.body)
	}
}

func TestParsePublicKeys(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	ks, err := clientreg.ParsePublicKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil || len(ks.Keys) != 1 {
		t.Fatalf("PEM: %v %v", ks, err)
	}
	priv, _ := x509.MarshalPKCS8PrivateKey(rk)
	if _, err := clientreg.ParsePublicKeys(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})); err == nil {
		t.Fatal("private PEM accepted")
	}
	pubJWK, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &rk.PublicKey, KeyID: "a"}}})
	if ks, err := clientreg.ParsePublicKeys(pubJWK); err != nil || len(ks.Keys) != 1 {
		t.Fatalf("JWK Set: %v", err)
	}
	privJWK, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rk, KeyID: "a"}}})
	if _, err := clientreg.ParsePublicKeys(privJWK); err == nil {
		t.Fatal("private JWK accepted")
	}
}
