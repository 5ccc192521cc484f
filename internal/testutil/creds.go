// Package testutil holds what the tests of several packages share. It is
// imported only by tests.
package testutil

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// CredentialForms returns the encodings under which a credential could
// leak: the string itself, its hex (both cases) and base64 (standard and
// URL-safe, padded or not) encodings, and, for a base64url credential, the
// random bytes it encodes with their own hex and base64 encodings.
func CredentialForms(cred string) [][]byte {
	forms := [][]byte{[]byte(cred)}
	add := func(b []byte) {
		forms = append(forms, b, []byte(hex.EncodeToString(b)), []byte(strings.ToUpper(hex.EncodeToString(b))),
			[]byte(base64.StdEncoding.EncodeToString(b)), []byte(base64.RawStdEncoding.EncodeToString(b)),
			[]byte(base64.URLEncoding.EncodeToString(b)), []byte(base64.RawURLEncoding.EncodeToString(b)))
	}
	add([]byte(cred))
	if raw, err := base64.RawURLEncoding.DecodeString(cred); err == nil && len(raw) >= 16 {
		add(raw)
	}
	return forms
}

// FindCredential describes the first credential of creds (by name, in name
// order) found in data under any of its forms, or returns "". Empty
// credentials are skipped.
func FindCredential(data []byte, creds map[string]string) string {
	names := make([]string, 0, len(creds))
	for name := range creds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := creds[name]
		if c == "" {
			continue
		}
		for _, f := range CredentialForms(c) {
			if bytes.Contains(data, f) {
				return fmt.Sprintf("%s (as %q)", name, f)
			}
		}
	}
	return ""
}
