package clientreg

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"time"
)

// Credentials at rest (SPEC §7). Secrets and tokens are random (256 bits from
// Config.Rand, crypto/rand by default) and stored only as HMAC-SHA256 under
// Config.SecretKey, with a purpose label in the MAC input so that a value of
// one kind can never be accepted as another (a registration access token is
// never an initial access token, nor a client secret). A keyed hash of a
// high-entropy value needs no slow password hashing, and a copy of the
// database without the key yields nothing that works.

type purpose string

const (
	purposeRegistrationToken purpose = "registration_access_token"
	purposeInitialToken      purpose = "initial_access_token"
	purposeClientSecret      purpose = "client_secret"
)

// MinSecretKeyLen is the minimum length of Config.SecretKey in bytes.
const MinSecretKeyLen = 32

var zeroTime time.Time

type keyring struct {
	key []byte
}

// hash returns the keyed hash of value for purpose p.
func (k keyring) hash(p purpose, value string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(p))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

// matches reports in constant time whether value hashes to want.
func (k keyring) matches(p purpose, value string, want []byte) bool {
	return want != nil && hmac.Equal(k.hash(p, value), want)
}

// randomString returns n random bytes from r, base64url-encoded without
// padding.
func randomString(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func defaultIDGenerator(r io.Reader) IDGenerator {
	return func(context.Context) (string, error) { return randomString(r, 16) }
}

func defaultSecretGenerator(r io.Reader) SecretGenerator {
	return func(context.Context) (string, error) { return randomString(r, 32) }
}
