package clientreg

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// Idempotent registration (docs/behaviour.md §11): the Idempotency-Key
// request header of draft-ietf-httpapi-idempotency-key-header on POST to
// the registration endpoint. A key is reserved in the Store before the
// registration runs (one reservation wins, across instances), completed
// with the response, sealed under the server key, when the registration
// succeeds, and released when it fails, so that a retry runs again.

// IdempotencyLease is how long a reservation of an Idempotency-Key holds
// the key while its registration runs: a request that dies (a crashed
// instance) blocks its key no longer than this.
const IdempotencyLease = time.Minute

// The bounds of an Idempotency-Key: at least as long as a random 96-bit
// value, so that keys of different clients do not collide (a UUID has 36
// characters), and at most 255 characters.
const (
	minIdempotencyKeyLen = 16
	maxIdempotencyKeyLen = 255
)

// The errors of idempotent registration (the draft's section 2.7).
var (
	// ErrIdempotencyKeyReused: the Idempotency-Key was used with another
	// request (422).
	ErrIdempotencyKeyReused = &Error{Code: "invalid_request", Status: http.StatusUnprocessableEntity,
		Description: "the Idempotency-Key was used with a different request; use a new key for a new request"}
	// ErrIdempotencyKeyInProgress: a request with the same Idempotency-Key
	// is still being processed (409).
	ErrIdempotencyKeyInProgress = &Error{Code: "invalid_request", Status: http.StatusConflict,
		Description: "a request with this Idempotency-Key is being processed; retry later"}
)

// idempotencyKey returns the Idempotency-Key of r ("" when it has none), or
// a 400 error when the header is repeated or is not a Structured Field
// String (RFC 9651 §3.3.3; parameters are allowed and ignored) of the
// accepted length.
func idempotencyKey(r *http.Request) (string, error) {
	vals := r.Header.Values("Idempotency-Key")
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", ErrInvalidRequest.WithDescription("the request carries more than one Idempotency-Key header")
	}
	key, err := parseSFStringItem(vals[0])
	if err != nil {
		return "", ErrInvalidRequest.WithDescription("the Idempotency-Key header is not a structured field string: %s", err.Error())
	}
	if n := len(key); n < minIdempotencyKeyLen || n > maxIdempotencyKeyLen {
		return "", ErrInvalidRequest.WithDescription("the Idempotency-Key must have %d to %d characters (a UUID, for example)", minIdempotencyKeyLen, maxIdempotencyKeyLen)
	}
	return key, nil
}

// parseSFStringItem parses v as a Structured Field Item (RFC 9651 §4.2)
// whose bare item is a String, and returns the string. Parameters are
// checked for syntax and ignored.
func parseSFStringItem(v string) (string, error) {
	v = strings.Trim(v, " ")
	s, rest, err := parseSFString(v)
	if err != nil {
		return "", err
	}
	for rest != "" {
		if rest[0] != ';' {
			return "", errors.New("unexpected characters after the string")
		}
		rest = strings.TrimLeft(rest[1:], " ")
		i := 0
		for i < len(rest) && (rest[i] >= 'a' && rest[i] <= 'z' || rest[i] == '*' ||
			i > 0 && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '_' || rest[i] == '-' || rest[i] == '.')) {
			i++
		}
		if i == 0 {
			return "", errors.New("a parameter has no valid key")
		}
		rest = rest[i:]
		if rest == "" || rest[0] != '=' {
			continue // a boolean true parameter
		}
		if rest, err = skipSFBareItem(rest[1:]); err != nil {
			return "", err
		}
	}
	return s, nil
}

// parseSFString parses the sf-string at the start of v and returns it and
// the rest of v.
func parseSFString(v string) (string, string, error) {
	if v == "" || v[0] != '"' {
		return "", "", errors.New("it does not start with a double quote")
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			i++
			if i == len(v) || v[i] != '"' && v[i] != '\\' {
				return "", "", errors.New("invalid escape")
			}
			b.WriteByte(v[i])
		case c == '"':
			return b.String(), v[i+1:], nil
		case c < 0x20 || c > 0x7e:
			return "", "", errors.New("a character outside printable ASCII")
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated string")
}

// skipSFBareItem skips the bare item (RFC 9651 §3.3) at the start of v: a
// string, a byte sequence, a boolean, a number or a token.
func skipSFBareItem(v string) (string, error) {
	if v == "" {
		return "", errors.New("a parameter has no value")
	}
	end := func(ok func(c byte) bool) string {
		i := 1
		for i < len(v) && ok(v[i]) {
			i++
		}
		return v[i:]
	}
	switch c := v[0]; {
	case c == '"':
		_, rest, err := parseSFString(v)
		return rest, err
	case c == ':':
		i := strings.IndexByte(v[1:], ':')
		if i < 0 {
			return "", errors.New("unterminated byte sequence")
		}
		if _, err := base64.StdEncoding.DecodeString(v[1 : i+1]); err != nil {
			return "", errors.New("invalid byte sequence")
		}
		return v[i+2:], nil
	case c == '?':
		if len(v) < 2 || v[1] != '0' && v[1] != '1' {
			return "", errors.New("invalid boolean")
		}
		return v[2:], nil
	case c == '-' || c >= '0' && c <= '9':
		return end(func(c byte) bool { return c >= '0' && c <= '9' || c == '.' }), nil
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		return end(func(c byte) bool {
			return c > 0x20 && c < 0x7f && !strings.ContainsRune("\"(),;<=>?@[\\]{}", rune(c))
		}), nil
	}
	return "", errors.New("invalid parameter value")
}

// idempotentRegistration is a registration under an Idempotency-Key: the
// key's scoped hash and the request's hash.
type idempotentRegistration struct {
	keyHash, requestHash []byte
}

// newIdempotentRegistration scopes key to the initial access token
// presented (anonymous requests share one scope), so that a key of one
// token's holder never reaches another's record, and hashes the request:
// the body as read and the token.
func (h *Handler) newIdempotentRegistration(key, token string, body []byte) idempotentRegistration {
	scope := "anonymous"
	if token != "" {
		scope = "iat:" + base64.RawURLEncoding.EncodeToString(h.keys.hash(purposeInitialToken, token))
	}
	return idempotentRegistration{
		keyHash:     h.keys.hash(purposeIdempotencyKey, scope+"\x00"+key),
		requestHash: h.keys.hash(purposeIdempotencyRequest, token+"\x00"+string(body)),
	}
}

// serveIdempotentRegistration answers a registration request that carries
// an Idempotency-Key: it reserves the key and registers, or answers from
// the key's record (a replay of the original response, 409 while that
// request runs, 422 for another request).
func (h *Handler) serveIdempotentRegistration(w http.ResponseWriter, r *http.Request, ir idempotentRegistration, token string, d decoded) {
	ctx := r.Context()
	now := h.now().UTC().Truncate(time.Microsecond)
	rec := &store.IdempotencyRecord{
		KeyHash:     ir.keyHash,
		RequestHash: ir.requestHash,
		State:       store.IdempotencyPending,
		CreatedAt:   now,
		ExpiresAt:   now.Add(IdempotencyLease),
	}
	for attempt := 0; ; attempt++ {
		err := h.store.ReserveIdempotencyKey(ctx, rec)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrAlreadyExists) {
			h.writeError(w, r, fmt.Errorf("reserve idempotency key: %w", err))
			return
		}
		old, err := h.store.GetIdempotencyKey(ctx, ir.keyHash)
		switch {
		case errors.Is(err, store.ErrNotFound) && attempt == 0:
			continue // released meanwhile: reserve it
		case errors.Is(err, store.ErrNotFound):
			h.writeError(w, r, ErrIdempotencyKeyInProgress)
			return
		case err != nil:
			h.writeError(w, r, fmt.Errorf("get idempotency key: %w", err))
			return
		}
		switch {
		case old.Expired(now) && attempt == 0:
			continue // expired since the reservation was refused
		case old.Expired(now):
			h.writeError(w, r, ErrIdempotencyKeyInProgress)
		case !hmac.Equal(old.RequestHash, ir.requestHash):
			h.writeError(w, r, ErrIdempotencyKeyReused)
		case old.State != store.IdempotencyDone:
			h.writeError(w, r, ErrIdempotencyKeyInProgress)
		default:
			h.replay(w, r, old)
		}
		return
	}

	info, err := h.register(ctx, token, d.Metadata, true, endpointOrigin(token))
	// The record is written whatever happens to the request's context: the
	// client exists (or does not) either way.
	bg := context.WithoutCancel(ctx)
	if err != nil {
		if rerr := h.store.ReleaseIdempotencyKey(bg, ir.keyHash, now); rerr != nil {
			h.log.WarnContext(ctx, "releasing an idempotency key failed; it is free when its lease ends", "err", rerr)
		}
		h.writeError(w, r, err)
		return
	}
	body, err := info.MarshalJSON()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sealed, err := h.keys.seal(purposeIdempotencyResponse, string(ir.keyHash), encodeReplay(info.ETag, info.RegistrationClientURI, body))
	if err == nil {
		err = h.store.CompleteIdempotencyKey(bg, ir.keyHash, now, sealed, h.now().UTC().Truncate(time.Microsecond).Add(h.cfg.IdempotencyKeyLifetime))
	}
	if err != nil {
		// The client is registered; only a retry's replay is lost.
		h.log.WarnContext(ctx, "recording the response of an idempotent registration failed", "client_id", info.ClientID, "err", err)
	}
	writeRegistered(w, info.ETag, info.RegistrationClientURI, body)
}

// replay answers with the response that rec keeps.
func (h *Handler) replay(w http.ResponseWriter, r *http.Request, rec *store.IdempotencyRecord) {
	plain, err := h.keys.open(purposeIdempotencyResponse, string(rec.KeyHash), rec.ResponseCiphertext)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("open idempotent response: %w", err))
		return
	}
	etag, location, body, ok := decodeReplay(plain)
	if !ok {
		h.writeError(w, r, errors.New("malformed idempotent response"))
		return
	}
	writeRegistered(w, etag, location, body)
}

// writeRegistered writes the 201 response of a registration (RFC 7591
// §3.2.1), whose body is already encoded.
func writeRegistered(w http.ResponseWriter, etag, location string, body []byte) {
	w.Header().Set("ETag", etag)
	w.Header().Set("Location", location)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

// replayVersion starts every sealed response, for a later format.
const replayVersion = "v1\n"

// encodeReplay is the plaintext of a sealed response: the version, the
// ETag and the Location (neither has a newline), then the body.
func encodeReplay(etag, location string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(replayVersion)
	b.WriteString(etag)
	b.WriteByte('\n')
	b.WriteString(location)
	b.WriteByte('\n')
	b.Write(body)
	return b.Bytes()
}

func decodeReplay(plain []byte) (etag, location string, body []byte, ok bool) {
	rest, ok := bytes.CutPrefix(plain, []byte(replayVersion))
	if !ok {
		return "", "", nil, false
	}
	e, rest, ok1 := bytes.Cut(rest, []byte{'\n'})
	l, rest, ok2 := bytes.Cut(rest, []byte{'\n'})
	return string(e), string(l), rest, ok1 && ok2
}
