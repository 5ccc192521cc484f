package clientreg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// Audit events (docs/behaviour.md §14): every state change the
// handler makes, and every one its operator methods make, is described by
// an AuditEvent handed to Config.Audit after the change is stored. An
// event names what changed, who changed it (AuditActor), the request and
// the address it came from; it never holds a secret, a token, a code or a
// hash of one: an initial access token is named by its InitialTokenID.

// AuditKind names the kind of state change an AuditEvent records.
type AuditKind string

// The kinds of AuditEvent.
const (
	// AuditClientRegistered: a client was registered (Changes: none);
	// Policy is the registration policy it is subject to. Reason
	// "metadata_document": the record of a Client ID Metadata Document
	// client was made at its first use.
	AuditClientRegistered AuditKind = "client.registered"
	// AuditClientUpdated: a client's metadata was replaced (RFC 7592
	// §2.2); Changes lists every member whose value differs, before and
	// after (none when the update changed nothing). Reason
	// "metadata_document": a refetched Client ID Metadata Document changed.
	AuditClientUpdated AuditKind = "client.updated"
	// AuditClientDeleted: a client was deleted, by itself (RFC 7592 §2.3)
	// or by the operator.
	AuditClientDeleted AuditKind = "client.deleted"
	// AuditClientPurged: the lifecycle removed an expired client; Reason
	// is "unused" or "idle".
	AuditClientPurged AuditKind = "client.purged"
	// AuditClientDisabled and AuditClientEnabled: the operator disabled
	// or enabled a client.
	AuditClientDisabled AuditKind = "client.disabled"
	AuditClientEnabled  AuditKind = "client.enabled"
	// AuditClientTokensRevoked: every token and refresh family of a client
	// was revoked; Count is how many.
	AuditClientTokensRevoked AuditKind = "client.tokens_revoked"
	// AuditRegistrationTokenRotated: a client's registration access token
	// was replaced by a new one.
	AuditRegistrationTokenRotated AuditKind = "registration_token.rotated"
	// AuditRegistrationTokenRecovered: a client that authenticated at the
	// token endpoint recovered a new registration access token.
	AuditRegistrationTokenRecovered AuditKind = "registration_token.recovered"
	// AuditClientSecretRotated: a client was issued a new secret by an
	// update; Reason is "rotate_secret" (it asked for one) or
	// "auth_method" (its new authentication method needed one).
	AuditClientSecretRotated AuditKind = "client_secret.rotated"
	// AuditInitialTokenCreated and AuditInitialTokenRevoked: an initial
	// access token (RFC 7591 §3) was created or revoked; InitialTokenID
	// names it.
	AuditInitialTokenCreated AuditKind = "initial_token.created"
	AuditInitialTokenRevoked AuditKind = "initial_token.revoked"
	// AuditGrantRevoked: a refresh token family (a grant) was revoked;
	// Reason is "refresh_token_reuse" (RFC 9700 §4.14.2), "code_reuse"
	// (its authorization code was presented again, RFC 6749 §4.1.2),
	// "expired" (its refresh token was presented after the grant's
	// lifetime) or "revocation" (RFC 7009). The operator's
	// RevokeClientTokens emits one AuditClientTokensRevoked instead.
	AuditGrantRevoked AuditKind = "grant.revoked"
	// AuditAccessTokenRevoked: a client revoked one of its access tokens
	// (RFC 7009); GrantID names the grant it came from, if any.
	AuditAccessTokenRevoked AuditKind = "access_token.revoked"
	// AuditConsentGranted and AuditConsentRevoked: a user's remembered
	// consent for a client was stored or removed; Subject is the user.
	AuditConsentGranted AuditKind = "consent.granted"
	AuditConsentRevoked AuditKind = "consent.revoked"
)

// The kinds of AuditActor.
const (
	// ActorClient: a client, with its registration access token or its
	// client authentication; ID is its client_id.
	ActorClient = "client"
	// ActorInitialToken: a registration made with an initial access
	// token; ID is the token's InitialTokenID.
	ActorInitialToken = "initial_token"
	// ActorAnonymous: an open registration, with no credential.
	ActorAnonymous = "anonymous"
	// ActorOperator: the operator, through a Handler method called from
	// Go or the clientreg command; ID is the name WithOperator gave, ""
	// when none was given.
	ActorOperator = "operator"
	// ActorUser: a signed-in user (consent); ID is the subject.
	ActorUser = "user"
	// ActorSystem: the handler itself (the lifecycle's purges, reuse
	// detection).
	ActorSystem = "system"
)

// AuditActor is who made a change.
type AuditActor struct {
	// Kind is one of ActorClient, ActorInitialToken, ActorAnonymous,
	// ActorOperator, ActorUser and ActorSystem.
	Kind string `json:"kind"`
	// ID identifies the actor within its kind (see the kinds); "" when
	// there is nothing to name.
	ID string `json:"id,omitempty"`
}

// MemberChange is one client metadata member whose value an update
// changed. Before is absent for a member the update added, After for one
// it removed.
type MemberChange struct {
	// Member is the metadata member's name, such as "redirect_uris".
	Member string `json:"member"`
	// Before and After are the member's JSON values.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// AuditEvent describes one state change. Its JSON form (the field tags)
// is what the clientreg server writes, one event per line.
type AuditEvent struct {
	// Time is when the change was made (Config.Now), in UTC.
	Time time.Time `json:"time"`
	// Kind is what changed.
	Kind AuditKind `json:"event"`
	// Actor is who changed it.
	Actor AuditActor `json:"actor"`
	// ClientID is the client the change concerns; "" for changes to
	// initial access tokens.
	ClientID string `json:"client_id,omitempty"`
	// Subject is the user a consent or grant belongs to.
	Subject string `json:"subject,omitempty"`
	// GrantID names the grant of AuditGrantRevoked.
	GrantID string `json:"grant_id,omitempty"`
	// InitialTokenID names an initial access token: the one created or
	// revoked, or the one a client registered with.
	InitialTokenID string `json:"initial_token_id,omitempty"`
	// Policy is the registration policy a registration was subject to.
	Policy string `json:"policy,omitempty"`
	// Changes are the metadata members an update changed.
	Changes []MemberChange `json:"changes,omitempty"`
	// Reason qualifies the change (see the kinds).
	Reason string `json:"reason,omitempty"`
	// Count is how many records the change removed, where it removed
	// several.
	Count int64 `json:"count,omitempty"`
	// RequestID is the HTTP request's ID (its X-Request-Id, or one the
	// handler made), "" for a change made outside a request.
	RequestID string `json:"request_id,omitempty"`
	// RemoteAddr is the address of the client that sent the HTTP request:
	// the connection's peer (host:port), or, when that is one of
	// Limits.TrustedProxies, the client address its X-Forwarded-For names
	// (without a port); "" outside a request.
	RemoteAddr string `json:"remote_addr,omitempty"`
}

// AuditSink receives audit events (Config.Audit). Audit is called once
// per change, after the change is stored, on the goroutine that made it;
// it must return quickly and must not fail the change (an error is the
// sink's to handle). It is called concurrently.
type AuditSink interface {
	Audit(ctx context.Context, e AuditEvent)
}

// AuditFunc adapts a function to an AuditSink.
type AuditFunc func(ctx context.Context, e AuditEvent)

// Audit calls f.
func (f AuditFunc) Audit(ctx context.Context, e AuditEvent) { f(ctx, e) }

type operatorKey struct{}

// WithOperator returns a context that names the operator on whose behalf
// the handler's operator methods (Register, CreateInitialToken,
// DeleteClient, DisableClient and the others) act: their audit events
// carry ActorOperator with ID name.
func WithOperator(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, operatorKey{}, name)
}

// operatorActor is the actor of an operator method called with ctx.
func operatorActor(ctx context.Context) AuditActor {
	name, _ := ctx.Value(operatorKey{}).(string)
	return AuditActor{Kind: ActorOperator, ID: name}
}

// operatorOrSystem is the actor of a change that the handler makes on its
// own schedule (the lifecycle's purges): the operator when ctx names one
// (WithOperator, as "clientreg clients purge" does), the system otherwise
// (the server's periodic sweep).
func operatorOrSystem(ctx context.Context) AuditActor {
	if name, ok := ctx.Value(operatorKey{}).(string); ok {
		return AuditActor{Kind: ActorOperator, ID: name}
	}
	return AuditActor{Kind: ActorSystem}
}

// requestInfo is what an audit event records of the HTTP request that made
// a change; the handler puts it into the request's context.
type requestInfo struct{ id, addr string }

type requestInfoKey struct{}

// withRequestInfo returns ctx carrying the request ID and peer address of
// an HTTP request.
func withRequestInfo(ctx context.Context, id, addr string) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, requestInfo{id: id, addr: addr})
}

// RequestIDHeader is the header that carries a request's ID, in the
// request (the ID a caller or a proxy in front gave it) and in the
// response (the ID the handler recorded).
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds the length of a request ID taken from a request.
const maxRequestIDLen = 128

// validRequestID reports whether s may be a request's ID as sent: 1 to
// maxRequestIDLen characters of A-Z, a-z, 0-9 and ._:/+=- (enough for
// UUIDs, hex and base64 IDs and the trace IDs of proxies; nothing that
// could break a log line).
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("._:/+=-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// newRequestID draws a request ID: 128 random bits from crypto/rand (not
// Config.Rand, which tests make deterministic), in hexadecimal.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}

// withRequestID returns r with its request ID and client address in its
// context, for the audit events of the changes it makes, and sets the ID
// on the response. A request that already carries them (it passed through
// the handler or RequestIDHandler before) is returned as is. The ID is the
// request's X-Request-Id when it has exactly one that validRequestID
// accepts, a fresh one otherwise; the address is the connection's peer
// (r.RemoteAddr), or, when that is one of Limits.TrustedProxies, the
// client its X-Forwarded-For names (as the rate limits take it).
func (h *Handler) withRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	if _, ok := r.Context().Value(requestInfoKey{}).(requestInfo); ok {
		return r
	}
	var id string
	if vs := r.Header.Values(RequestIDHeader); len(vs) == 1 && validRequestID(vs[0]) {
		id = vs[0]
	} else {
		id = newRequestID()
	}
	w.Header().Set(RequestIDHeader, id)
	return r.WithContext(withRequestInfo(r.Context(), id, h.limits.peerAddr(r)))
}

// RequestIDHandler returns next behind the request IDs of the handler's
// own endpoints (docs/behaviour.md §14): every request gets an ID (its
// X-Request-Id, when valid, or a fresh one), set on the response and
// recorded, with the client's address, in the audit events of what next
// changes through the handler (RememberConsent and RevokeConsent called
// with the request's context, for example). Wrap an application's own
// pages with it, or the whole server, so that the handler's endpoints
// behind it keep the ID given here; RequestID reads it.
func (h *Handler) RequestIDHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, h.withRequestID(w, r))
	})
}

// RequestID returns the ID of the HTTP request whose context ctx is (or
// derives from), as the handler or RequestIDHandler gave it; "" for a
// context that did not pass through either.
func RequestID(ctx context.Context) string {
	ri, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	return ri.id
}

// emit hands e to Config.Audit, stamped with the time (unless set) and
// the request ctx carries. Without Config.Audit it does nothing.
func (h *Handler) emit(ctx context.Context, e AuditEvent) {
	if h.audit == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = h.now().UTC()
	}
	if ri, ok := ctx.Value(requestInfoKey{}).(requestInfo); ok {
		e.RequestID, e.RemoteAddr = ri.id, ri.addr
	}
	h.audit.Audit(ctx, e)
}

// InitialTokenID is the name of an initial access token in audit events
// and the operator's listings: the first 16 hexadecimal digits of its
// stored keyed hash, which identify it and cannot be used as it.
func InitialTokenID(t *store.InitialToken) string {
	return initialTokenID(t.Hash)
}

func initialTokenID(hash []byte) string {
	const n = 8
	if len(hash) > n {
		hash = hash[:n]
	}
	return hex.EncodeToString(hash)
}

// credentialMembers are member names that never appear in an event's
// Changes, whatever a stored document holds. The stored metadata has none
// of them (the handler keeps secrets and tokens as keyed hashes, outside
// it); the list guards the rule against an extension member or a future
// format that would.
var credentialMembers = []string{"client_secret", "registration_access_token"}

// memberChanges returns the members whose values differ between two
// stored metadata documents (store.Client.Metadata, JSON objects): each
// member changed, added (no Before) or removed (no After), by name, with
// its values compacted. A document that does not decode counts as empty.
func memberChanges(before, after []byte) []MemberChange {
	b, a := decodeMembers(before), decodeMembers(after)
	var out []MemberChange
	for name, bv := range b {
		if av, ok := a[name]; !ok {
			out = append(out, MemberChange{Member: name, Before: bv})
		} else if !bytes.Equal(av, bv) {
			out = append(out, MemberChange{Member: name, Before: bv, After: av})
		}
	}
	for name, av := range a {
		if _, ok := b[name]; !ok {
			out = append(out, MemberChange{Member: name, After: av})
		}
	}
	slices.SortFunc(out, func(x, y MemberChange) int { return strings.Compare(x.Member, y.Member) })
	return out
}

// decodeMembers returns the members of the JSON object doc, each value
// compacted, without the credentialMembers; nil when doc is not an
// object.
func decodeMembers(doc []byte) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(doc, &m) != nil {
		return nil
	}
	for _, name := range credentialMembers {
		delete(m, name)
	}
	for name, v := range m {
		var c bytes.Buffer
		if json.Compact(&c, v) == nil {
			m[name] = c.Bytes()
		}
	}
	return m
}
