package clientreg

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"
)

// Credentials at rest (docs/behaviour.md §7). Secrets and tokens are random (256 bits from
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
	purposeAccessToken       purpose = "access_token"
	// The authorization endpoint's (authorize.go, codes.go, grants.go).
	purposeAuthorizationCode    purpose = "authorization_code"
	purposeRefreshToken         purpose = "refresh_token"
	purposePendingAuthorization purpose = "pending_authorization"
	purposeBrowserBinding       purpose = "browser_binding"
	// The private keys of JWT access tokens (jwt.go), encrypted.
	purposeSigningKey purpose = "signing_key"
	// The registration endpoint's Idempotency-Key (idempotency.go).
	purposeIdempotencyKey      purpose = "idempotency_key"
	purposeIdempotencyRequest  purpose = "idempotency_request"
	purposeIdempotencyResponse purpose = "idempotency_response"
)

// MinSecretKeyLen is the minimum length of Config.SecretKey in bytes.
const MinSecretKeyLen = 32

var zeroTime time.Time

type keyring struct {
	key  []byte
	aead cipher.AEAD // AES-256-GCM under a key derived from key, for secrets kept encrypted
	// macs holds HMAC-SHA256 states keyed with key, so that a hash does
	// not derive the key's pads again (every request hashes at least one
	// credential).
	macs *sync.Pool
}

func newKeyring(key []byte) keyring {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("clientreg secret encryption v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	macs := &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	return keyring{key: key, aead: aead, macs: macs}
}

// encrypt seals secret with a random nonce: nonce || ciphertext.
func (k keyring) encrypt(secret string) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return k.aead.Seal(nonce, nonce, []byte(secret), []byte(purposeClientSecret)), nil
}

// decrypt opens what encrypt sealed.
func (k keyring) decrypt(sealed []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(purposeClientSecret))
	if err != nil {
		return "", fmt.Errorf("open sealed secret: %w", err)
	}
	return string(plain), nil
}

// seal encrypts plain for purpose p, bound to label (the record it belongs
// to), with a random nonce: nonce || ciphertext. What seal sealed opens only
// with the same purpose and label.
func (k keyring) seal(p purpose, label string, plain []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return k.aead.Seal(nonce, nonce, plain, sealAD(p, label)), nil
}

// open decrypts what seal sealed for p and label.
func (k keyring) open(p purpose, label string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], sealAD(p, label))
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	return plain, nil
}

func sealAD(p purpose, label string) []byte {
	return append(append([]byte(p), 0), label...)
}

// hash returns the keyed hash of value for purpose p.
func (k keyring) hash(p purpose, value string) []byte {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(p))
	m.Write([]byte{0})
	m.Write([]byte(value))
	sum := m.Sum(make([]byte, 0, sha256.Size))
	k.macs.Put(m)
	return sum
}

// matches reports in constant time whether value hashes to want.
func (k keyring) matches(p purpose, value string, want []byte) bool {
	return want != nil && hmac.Equal(k.hash(p, value), want)
}

// ClientSecretHash returns the keyed hash under which the handler keeps
// the client secret secret: the value that store.Client.SecretHash (or
// PreviousSecretHash) holds for it, HMAC-SHA256 under Config.SecretKey with
// the purpose of client secrets in its input, so that it equals the hash of
// no other kind of credential (docs/behaviour.md §7). It is for an
// authorization server that authenticates the handler's clients itself,
// such as the nested modules adapters/fosite and adapters/gooauth2: a
// secret authenticates client c at a token endpoint when its hash equals,
// by hmac.Equal (constant time), one of TokenSecretHashes(c).
func (h *Handler) ClientSecretHash(secret string) []byte {
	return h.keys.hash(purposeClientSecret, secret)
}

// TokenSecretHashes returns the keyed hashes (see ClientSecretHash) of the
// secrets with which c authenticates now, at a token endpoint, by sending
// its secret (client_secret_basic or client_secret_post): the rule of
// AuthenticateTokenClient. They are the hash of c's current secret, unless
// its SecretExpiresAt has passed, and the hash of the secret that c's last
// rotation replaced, until its PreviousSecretExpiresAt (the overlap,
// Config.SecretOverlap). It returns none when c is disabled
// (store.Client.DisabledAt is set) and when c registered another method
// than client_secret_basic and client_secret_post, since the secret of a
// client_secret_jwt client only signs assertions. "Now" is Config.Now.
//
// The caller enforces which of the two methods c registered
// (c.Metadata.TokenEndpointAuthMethod), and compares every hash, so that
// the time taken does not tell which one matched. The hashes are copies.
func (h *Handler) TokenSecretHashes(c *Client) [][]byte {
	if !c.DisabledAt.IsZero() {
		return nil
	}
	if m := c.Metadata.TokenEndpointAuthMethod; m != "client_secret_basic" && m != "client_secret_post" {
		return nil
	}
	var out [][]byte
	cur, prev := validSecretHashes(c, h.now())
	for _, hash := range [][]byte{cur, prev} {
		if hash != nil {
			out = append(out, bytes.Clone(hash))
		}
	}
	return out
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
