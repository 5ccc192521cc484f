package clientreg

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/clientreg/clientreg/store"
)

// JWT access tokens (RFC 9068; docs/behaviour.md §9, §13), issued when
// Config.AccessTokenFormat is TokenFormatJWT. Each token is also stored, as
// an opaque token is, under the keyed hash of the whole JWT, so that
// introspection, revocation and VerifyAccessToken work unchanged; the
// signature lets resource servers in other processes verify it offline with
// the keys published at the jwks_uri.
//
// The signing keys live in the Store (store.SigningKeyStore), their private
// halves encrypted under Config.SecretKey, so every instance sharing the
// store signs with the same keys and publishes the same JWKS. The key
// manager (signingKeys) lists them, cached for signingKeyCacheTTL, and rotates them
// on Config.SigningKeyRotation's schedule following the store's rule: of
// several creations of one generation exactly one succeeds, and the losers
// list again and use the winner's key.

// JWKSPath is the path, after the issuer's, of the JWK Set document (RFC
// 7517 §5) that publishes the public keys of JWT access tokens; it is the
// jwks_uri of the server metadata when Config.AccessTokenFormat is
// TokenFormatJWT.
const JWKSPath = "/jwks.json"

const (
	// signingKeyCacheTTL is how long the handler uses a listing of the signing
	// keys before it lists them again; a token signed with a key it does
	// not know makes it list them at once.
	signingKeyCacheTTL = time.Minute
	// jwksMaxAge is the max-age of the JWKS document: shorter than
	// DefaultSigningKeyPublishLead less signingKeyCacheTTL.
	jwksMaxAge = 5 * time.Minute
	// jwtLeeway is the clock skew allowed on iat and exp (between the
	// instances of one deployment); the stored record's expiry is exact.
	jwtLeeway = time.Minute
	// jwtType is the typ header of RFC 9068 §2.1.
	jwtType = "at+jwt"
)

// jwtAlgs are the JWS algorithms of access tokens.
var jwtAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// accessTokenClaims are the claims of a JWT access token (RFC 9068 §2.2).
type accessTokenClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
}

// isJWT reports whether token has the shape of a JWS compact serialization.
func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

// newAccessTokenValue makes the token of the record t, whose fields but Hash
// are set, and sets t.Hash: an opaque secret, or a JWT of t's claims.
func (h *Handler) newAccessTokenValue(ctx context.Context, t *store.AccessToken) (string, error) {
	var token string
	var err error
	if h.cfg.AccessTokenFormat == TokenFormatJWT {
		token, err = h.signAccessToken(ctx, t)
	} else if token, err = h.cfg.NewSecret(ctx); err != nil {
		err = fmt.Errorf("generate access token: %w", err)
	}
	if err != nil {
		return "", err
	}
	t.Hash = h.keys.hash(purposeAccessToken, token)
	return token, nil
}

// signAccessToken returns the JWT of t.
func (h *Handler) signAccessToken(ctx context.Context, t *store.AccessToken) (string, error) {
	k, err := h.signing.signer(ctx)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	jti, err := randomString(h.cfg.Rand, 16)
	if err != nil {
		return "", fmt.Errorf("generate jti: %w", err)
	}
	c := accessTokenClaims{
		Issuer:    h.issuer,
		Subject:   t.Subject,
		Audience:  Audience(t.Resources),
		ExpiresAt: t.ExpiresAt.Unix(),
		IssuedAt:  t.IssuedAt.Unix(),
		JTI:       jti,
		ClientID:  t.ClientID,
		Scope:     t.Scope,
	}
	if c.Subject == "" {
		// RFC 9068 §2.2: a token for the client itself has its client
		// id as subject.
		c.Subject = t.ClientID
	}
	if len(c.Audience) == 0 {
		// RFC 9068 §3: aud is required, and a default is used when the
		// request named no resource. Without Config.Resources.Default the
		// default is the issuer itself, which names no resource server:
		// such a token is accepted by none (VerifyAccessToken refuses it
		// for every resource, as it refuses an opaque token without an
		// audience).
		c.Audience = Audience{h.issuer}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return jws.CompactSerialize()
}

// verifyJWT checks the signature and claims of a JWT access token whose
// record VerifyAccessToken did not find: ErrTokenUnknown when it is not a token this
// server signed (a bad signature, an unknown kid, the wrong typ, alg or
// iss), ErrTokenExpired when its exp has passed.
func (h *Handler) verifyJWT(ctx context.Context, token string) error {
	tok, err := jwt.ParseSigned(token, jwtAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return ErrTokenUnknown
	}
	hdr := tok.Headers[0]
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, jwtType) && !strings.EqualFold(typ, "application/"+jwtType) {
		return ErrTokenUnknown
	}
	k, err := h.signing.key(ctx, hdr.KeyID)
	if err != nil {
		return err
	}
	if k == nil || k.stored.Algorithm != hdr.Algorithm {
		return ErrTokenUnknown
	}
	var c jwt.Claims
	if err := tok.Claims(k.public, &c); err != nil {
		return ErrTokenUnknown
	}
	switch err := c.ValidateWithLeeway(jwt.Expected{Issuer: h.issuer, Time: h.now()}, jwtLeeway); {
	case errors.Is(err, jwt.ErrExpired):
		return ErrTokenExpired
	case err != nil || c.Expiry == nil:
		return ErrTokenUnknown
	}
	return nil
}

// signingKeys is the handler's key manager: a cached listing of the
// stored signing keys, with their public and (once used) private halves
// decoded.
type signingKeys struct {
	h    *Handler
	snap atomic.Pointer[keySnapshot]
	// create serializes this process's key creations (and the listings
	// that decide on them), so that one process makes one key per
	// rotation; the store's rule does the same across processes.
	create sync.Mutex
}

// keySnapshot is one listing of the keys, never changed once published.
type keySnapshot struct {
	at   time.Time // when it was listed (Config.Now)
	keys []*signingKey
	jwks []byte // the JWK Set of keys, as published
}

// signingKey is one stored key, decoded.
type signingKey struct {
	stored *store.SigningKey
	public *jose.JSONWebKey
	once   sync.Once
	signer jose.Signer // set by once when the key signs; nil on failure
	err    error
}

// snapshot returns the listing, listed again when refresh is set or when
// it is older than signingKeyCacheTTL.
func (m *signingKeys) snapshot(ctx context.Context, refresh bool) (*keySnapshot, error) {
	now := m.h.now()
	if s := m.snap.Load(); s != nil && !refresh && !now.Before(s.at) && now.Sub(s.at) < signingKeyCacheTTL {
		return s, nil
	}
	return m.list(ctx, now)
}

// list lists the keys at now and publishes the snapshot.
func (m *signingKeys) list(ctx context.Context, now time.Time) (*keySnapshot, error) {
	stored, err := m.h.store.ListSigningKeys(ctx, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	prev := map[string]*signingKey{}
	if s := m.snap.Load(); s != nil {
		for _, k := range s.keys {
			prev[k.stored.ID] = k
		}
	}
	s := &keySnapshot{at: now}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, sk := range stored {
		k := prev[sk.ID]
		if k == nil || k.stored.Generation != sk.Generation {
			var pub jose.JSONWebKey
			if err := pub.UnmarshalJSON(sk.PublicJWK); err != nil || !pub.Valid() || !pub.IsPublic() {
				m.h.log.ErrorContext(ctx, "signing key: the stored public JWK is invalid", "kid", sk.ID, "err", err)
				continue
			}
			k = &signingKey{stored: sk, public: &pub}
		}
		s.keys = append(s.keys, k)
		set.Keys = append(set.Keys, *k.public)
	}
	if s.jwks, err = json.Marshal(set); err != nil {
		return nil, err
	}
	m.snap.Store(s)
	return s, nil
}

// key returns the published key kid, listing the keys again when the
// listing does not have it (a key another instance made meanwhile), or nil
// when there is none. Each token with an unknown kid costs one store read,
// as each opaque token does.
func (m *signingKeys) key(ctx context.Context, kid string) (*signingKey, error) {
	if kid == "" {
		return nil, nil
	}
	for refresh := range 2 {
		s, err := m.snapshot(ctx, refresh == 1)
		if err != nil {
			return nil, err
		}
		now := m.h.now()
		for _, k := range s.keys {
			if k.stored.ID == kid {
				if k.stored.Expired(now) {
					return nil, nil
				}
				return k, nil
			}
		}
	}
	return nil, nil
}

// choose picks the key that signs at now: the newest whose ActivateAt <=
// now < RetireAt; failing that, the newest that has not retired (published
// already, but activated early because its predecessor retired before it
// took over). due reports that the newest generation needs a successor
// (or that there is no key): the caller makes one.
func (m *signingKeys) choose(s *keySnapshot, now time.Time) (k *signingKey, due bool) {
	var newest *signingKey
	for _, c := range s.keys {
		sk := c.stored
		if sk.Expired(now) {
			continue
		}
		if newest == nil || sk.Generation > newest.stored.Generation {
			newest = c
		}
		if !sk.ActivateAt.After(now) && now.Before(sk.RetireAt) && (k == nil || !sk.ActivateAt.Before(k.stored.ActivateAt)) {
			k = c
		}
	}
	if newest == nil {
		return nil, true
	}
	if k == nil && now.Before(newest.stored.RetireAt) {
		k = newest
	}
	lead := m.h.cfg.SigningKeyPublishLead
	if lead == Off {
		lead = 0
	}
	due = !now.Before(newest.stored.ActivateAt.Add(m.h.cfg.SigningKeyRotation - lead))
	return k, due
}

// signer returns the key to sign with now, making the next generation
// first when it is due.
func (m *signingKeys) signer(ctx context.Context) (*signingKey, error) {
	k, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	k.once.Do(func() { k.signer, k.err = m.newSigner(k.stored) })
	if k.err != nil {
		return nil, k.err
	}
	return k, nil
}

// current returns the key that signs now, making the next generation when
// it is due (the JWKS document calls it too, so that a server whose
// verifiers poll its JWKS rotates on time even when it issues no token).
func (m *signingKeys) current(ctx context.Context) (*signingKey, error) {
	s, err := m.snapshot(ctx, false)
	if err != nil {
		return nil, err
	}
	if k, due := m.choose(s, m.h.now()); k != nil && !due {
		return k, nil
	}
	m.create.Lock()
	defer m.create.Unlock()
	for range 3 {
		now := m.h.now()
		if s, err = m.list(ctx, now); err != nil {
			return nil, err
		}
		k, due := m.choose(s, now)
		if !due {
			return k, nil
		}
		var gen int64
		for _, c := range s.keys {
			if !c.stored.Expired(now) {
				gen = max(gen, c.stored.Generation)
			}
		}
		// With no key to sign with at all, the new key signs at once.
		err := m.createKey(ctx, gen+1, now, k == nil)
		switch {
		case err == nil, errors.Is(err, store.ErrAlreadyExists):
			// Ours, or another instance's: list again and use it.
		case k != nil:
			// The current key still signs; try the rotation again later.
			m.h.log.ErrorContext(ctx, "rotate signing key", "generation", gen+1, "err", err)
			return k, nil
		default:
			return nil, err
		}
	}
	s, err = m.list(ctx, m.h.now())
	if err != nil {
		return nil, err
	}
	if k, _ := m.choose(s, m.h.now()); k != nil {
		return k, nil
	}
	return nil, errors.New("no signing key could be made")
}

// createKey makes and stores a key of generation gen, created at now and
// signing from now + the publish lead (from now when immediate).
func (m *signingKeys) createKey(ctx context.Context, gen int64, now time.Time, immediate bool) error {
	cfg := m.h.cfg
	kid, err := randomString(rand.Reader, 16)
	if err != nil {
		return err
	}
	var priv crypto.Signer
	switch cfg.AccessTokenSigningAlg {
	case SigningAlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	sealed, err := m.h.keys.seal(purposeSigningKey, kid, der)
	if err != nil {
		return err
	}
	pub, err := (&jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: cfg.AccessTokenSigningAlg, Use: "sig"}).MarshalJSON()
	if err != nil {
		return err
	}
	created := now.UTC().Truncate(time.Microsecond)
	activate := created
	if !immediate && cfg.SigningKeyPublishLead != Off {
		activate = created.Add(cfg.SigningKeyPublishLead)
	}
	retire := activate.Add(2 * cfg.SigningKeyRotation)
	return m.h.store.CreateSigningKey(ctx, &store.SigningKey{
		ID:                   kid,
		Generation:           gen,
		Algorithm:            cfg.AccessTokenSigningAlg,
		PrivateKeyCiphertext: sealed,
		PublicJWK:            pub,
		CreatedAt:            created,
		ActivateAt:           activate,
		RetireAt:             retire,
		ExpiresAt:            retire.Add(cfg.AccessTokenLifetime),
	})
}

// newSigner decrypts the private key of sk and returns its signer.
func (m *signingKeys) newSigner(sk *store.SigningKey) (jose.Signer, error) {
	der, err := m.h.keys.open(purposeSigningKey, sk.ID, sk.PrivateKeyCiphertext)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w (was Config.SecretKey changed?)", sk.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.ID, err)
	}
	if !slices.Contains(jwtAlgs, jose.SignatureAlgorithm(sk.Algorithm)) {
		return nil, fmt.Errorf("signing key %s: unsupported algorithm %q", sk.ID, sk.Algorithm)
	}
	return jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Algorithm), Key: jose.JSONWebKey{Key: priv, KeyID: sk.ID}},
		(&jose.SignerOptions{}).WithType(jwtType),
	)
}

// serveJWKS serves the JWK Set of the signing keys: every key that has not
// expired, those that will sign included. It is public, so any origin may
// read it, and cacheable for jwksMaxAge.
func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if _, err := h.signing.current(ctx); err != nil {
		h.log.ErrorContext(ctx, "signing keys", "err", err)
	}
	s, err := h.signing.snapshot(ctx, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(jwksMaxAge/time.Second)))
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(s.jwks)
	}
}
