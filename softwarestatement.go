package clientreg

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Software statements (RFC 7591 §2.3, §3.1.1): a JWS whose claims are client
// metadata asserted by a party the server trusts. The handler verifies them
// against Config.TrustedIssuers with go-jose: the issuer (iss) must be
// trusted, the algorithm on that issuer's allow-list ("none" never is), the
// signature valid under one of its keys, and exp, nbf and iat consistent
// with the clock, within Config.StatementSkew. The statement's claims then
// take precedence over the members of the request, and the statement itself
// is kept and echoed exactly as sent.

// TrustedIssuer is a software statement issuer the server trusts.
type TrustedIssuer struct {
	// Issuer is the iss value of its statements.
	Issuer string
	// Keys are its public keys (see ParsePublicKeys). Either Keys or
	// JWKSURI is required.
	Keys *jose.JSONWebKeySet
	// JWKSURI is where its JWK Set is fetched (https, through the guarded
	// fetcher, cached for five minutes).
	JWKSURI string
	// Algorithms are the JWS algorithms accepted from it; default
	// DefaultStatementAlgorithms. Symmetric algorithms are never accepted.
	Algorithms []string
	// Policy names the registration policy (see Policy) that applies to
	// registrations carrying a statement from this issuer, unless their
	// initial access token names one; "" for none.
	Policy string
}

// DefaultStatementAlgorithms returns the algorithms accepted when a
// TrustedIssuer lists none (a new slice, which the caller may change).
func DefaultStatementAlgorithms() []string { return []string{"RS256", "PS256", "ES256", "EdDSA"} }

// DefaultStatementSkew is the clock skew allowed on exp, nbf and iat.
const DefaultStatementSkew = time.Minute

// ParsePublicKeys reads public keys from a JWK Set (JSON) or from PEM
// blocks (PUBLIC KEY or CERTIFICATE). Private or symmetric keys are
// refused: a trust anchor needs only what verifies.
func ParsePublicKeys(data []byte) (*jose.JSONWebKeySet, error) {
	if block, _ := pem.Decode(data); block != nil {
		var ks jose.JSONWebKeySet
		for rest := data; ; {
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			var pub crypto.PublicKey
			switch block.Type {
			case "PUBLIC KEY":
				k, err := x509.ParsePKIXPublicKey(block.Bytes)
				if err != nil {
					return nil, fmt.Errorf("parse PEM public key: %w", err)
				}
				pub = k
			case "CERTIFICATE":
				cert, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					return nil, fmt.Errorf("parse PEM certificate: %w", err)
				}
				pub = cert.PublicKey
			default:
				return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
			}
			ks.Keys = append(ks.Keys, jose.JSONWebKey{Key: pub, Use: "sig"})
		}
		return &ks, nil
	}
	var ks jose.JSONWebKeySet
	if err := json.Unmarshal(data, &ks); err != nil {
		return nil, fmt.Errorf("neither PEM nor a JWK Set: %w", err)
	}
	for i, k := range ks.Keys {
		if !k.Valid() || !k.IsPublic() {
			return nil, fmt.Errorf("key %d of the JWK Set is not a valid public key", i)
		}
	}
	if len(ks.Keys) == 0 {
		return nil, errors.New("the JWK Set has no keys")
	}
	return &ks, nil
}

// trustRegistry is the SoftwareStatementVerifier built from
// Config.TrustedIssuers.
type trustRegistry struct {
	h       *Handler
	issuers map[string]TrustedIssuer
	algs    []jose.SignatureAlgorithm // union of all issuers' algorithms
	skew    time.Duration
}

func newTrustRegistry(h *Handler, issuers []TrustedIssuer, skew time.Duration) (*trustRegistry, error) {
	tr := &trustRegistry{h: h, issuers: make(map[string]TrustedIssuer, len(issuers)), skew: skew}
	if tr.skew <= 0 {
		tr.skew = DefaultStatementSkew
	}
	for _, ti := range issuers {
		if ti.Issuer == "" {
			return nil, errors.New("a trusted issuer has no Issuer")
		}
		if _, dup := tr.issuers[ti.Issuer]; dup {
			return nil, fmt.Errorf("trusted issuer %q is listed twice", ti.Issuer)
		}
		if (ti.Keys == nil || len(ti.Keys.Keys) == 0) && ti.JWKSURI == "" {
			return nil, fmt.Errorf("trusted issuer %q has neither keys nor a jwks_uri", ti.Issuer)
		}
		if ti.Keys != nil {
			for i, k := range ti.Keys.Keys {
				if !k.IsPublic() {
					return nil, fmt.Errorf("trusted issuer %q: key %d is not a public key", ti.Issuer, i)
				}
			}
		}
		if len(ti.Algorithms) == 0 {
			ti.Algorithms = DefaultStatementAlgorithms()
		}
		for _, a := range ti.Algorithms {
			if !slices.Contains(keyJWTAlgs, jose.SignatureAlgorithm(a)) {
				return nil, fmt.Errorf("trusted issuer %q: algorithm %q is not an accepted public-key JWS algorithm", ti.Issuer, a)
			}
			if !slices.Contains(tr.algs, jose.SignatureAlgorithm(a)) {
				tr.algs = append(tr.algs, jose.SignatureAlgorithm(a))
			}
		}
		tr.issuers[ti.Issuer] = ti
	}
	return tr, nil
}

// VerifySoftwareStatement implements SoftwareStatementVerifier.
func (tr *trustRegistry) VerifySoftwareStatement(ctx context.Context, statement string) (*Metadata, error) {
	invalid := func(why string, args ...any) error {
		return memberError(ErrInvalidSoftwareStatement, jsonPointer("software_statement"), why, args...)
	}
	tok, err := jwt.ParseSigned(statement, slices.Concat(keyJWTAlgs, secretJWTAlgs, []jose.SignatureAlgorithm{"none"}))
	if err != nil {
		return nil, invalid("not a JWS in compact serialization with a supported algorithm")
	}
	alg := tok.Headers[0].Algorithm
	var cl jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&cl); err != nil {
		return nil, invalid("the payload is not a JSON object of claims")
	}
	if cl.Issuer == "" {
		return nil, invalid("iss is required")
	}
	ti, ok := tr.issuers[cl.Issuer]
	if !ok {
		return nil, memberError(ErrUnapprovedSoftwareStatement, jsonPointer("software_statement"), "issuer %s is not trusted by this server", quote(cl.Issuer))
	}
	if !slices.Contains(ti.Algorithms, alg) {
		return nil, invalid("algorithm %s is not accepted from this issuer", quote(alg))
	}
	keys := ti.Keys
	if keys == nil {
		if keys, err = getKeys(ctx, tr.h, ti.JWKSURI, false); err != nil {
			return nil, fmt.Errorf("fetch keys of statement issuer %s: %w", ti.Issuer, err)
		}
	}
	var verified jwt.Claims
	var payload json.RawMessage
	ok = verifyWithKeys(tok, keys, &verified, &payload)
	if !ok && ti.Keys == nil {
		// The issuer may have rotated its keys: fetch them again.
		if keys, err = getKeys(ctx, tr.h, ti.JWKSURI, true); err == nil {
			ok = verifyWithKeys(tok, keys, &verified, &payload)
		}
	}
	if !ok {
		return nil, invalid("the signature does not verify with the issuer's keys")
	}
	now := tr.h.now()
	if err := verified.ValidateWithLeeway(jwt.Expected{Issuer: ti.Issuer, Time: now}, tr.skew); err != nil {
		switch {
		case errors.Is(err, jwt.ErrExpired):
			return nil, invalid("expired")
		case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
			return nil, invalid("not valid yet")
		default:
			return nil, invalid("claims are not valid")
		}
	}
	d, err := decodeMetadata(payload)
	if err != nil {
		var oe *Error
		if errors.As(err, &oe) {
			// The claim's own pointer, inside the statement's claims.
			return nil, invalid("claim %s", oe.Description)
		}
		return nil, invalid("the claims are not client metadata")
	}
	claims := d.Metadata
	claims.SoftwareStatement = ""
	return &claims, nil
}

// statementIssuer returns the iss claim of a statement that has been
// verified, or "".
func statementIssuer(statement string) string {
	tok, err := jwt.ParseSigned(statement, keyJWTAlgs)
	if err != nil {
		return ""
	}
	var cl jwt.Claims
	if tok.UnsafeClaimsWithoutVerification(&cl) != nil {
		return ""
	}
	return cl.Issuer
}

// unverifiedStatementClaims returns the metadata claims of a statement that
// was verified when it was stored.
func unverifiedStatementClaims(statement string) (*Metadata, error) {
	tok, err := jwt.ParseSigned(statement, keyJWTAlgs)
	if err != nil {
		return nil, fmt.Errorf("reparse stored software statement: %w", err)
	}
	var raw json.RawMessage
	if err := tok.UnsafeClaimsWithoutVerification(&raw); err != nil {
		return nil, fmt.Errorf("reparse stored software statement: %w", err)
	}
	d, err := decodeMetadata(raw)
	if err != nil {
		return nil, fmt.Errorf("reparse stored software statement: %w", err)
	}
	claims := d.Metadata
	claims.SoftwareStatement = ""
	return &claims, nil
}
