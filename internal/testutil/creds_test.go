package testutil

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// FindCredential finds a credential under each encoding a log or a database
// could hold it in, and nothing in data that holds none of them.
func TestFindCredential(t *testing.T) {
	raw := make([]byte, 32)
	rand.Read(raw)
	cred := base64.RawURLEncoding.EncodeToString(raw)
	creds := map[string]string{"secret": cred, "empty": ""}
	for name, data := range map[string]string{
		"plain":         "x " + cred + " y",
		"hex of string": hex.EncodeToString([]byte(cred)),
		"raw bytes hex": strings.ToUpper(hex.EncodeToString(raw)),
		"raw bytes std": base64.StdEncoding.EncodeToString(raw),
		"raw bytes":     string(raw),
	} {
		if got := FindCredential([]byte(data), creds); !strings.HasPrefix(got, "secret") {
			t.Errorf("%s: FindCredential = %q, want the secret found", name, got)
		}
	}
	if got := FindCredential([]byte("nothing to see "+cred[:10]), creds); got != "" {
		t.Errorf("FindCredential found %q in data without the credential", got)
	}
}
