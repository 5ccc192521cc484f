package clientreg

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/clientreg/clientreg/store"
)

// Audit events (docs/behaviour.md, "Audit events"): every state change the
// handler makes, and every one its operator methods make, is described by
// an AuditEvent handed to Config.Audit after the change is stored. An
// event names what changed, who changed it (AuditActor), the request and
// the address it came from; it never holds a secret, a token, a code or a
// hash of one: an initial access token is named by its InitialTokenID.

// AuditKind names the kind of state change an AuditEvent records.
type AuditKind string

// The kinds of AuditEvent.
const (
	// AuditClientRegistered: a client was registered (Changes: none).
	AuditClientRegistered AuditKind = "client.registered"
	// AuditClientUpdated: a client's metadata changed (RFC 7592 §2.2);
	// Changes lists every member whose value differs, before and after.
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
	// AuditClientSecretRotated: a client's secret was replaced.
	AuditClientSecretRotated AuditKind = "client_secret.rotated"
	// AuditInitialTokenCreated and AuditInitialTokenRevoked: an initial
	// access token (RFC 7591 §3) was created or revoked; InitialTokenID
	// names it.
	AuditInitialTokenCreated AuditKind = "initial_token.created"
	AuditInitialTokenRevoked AuditKind = "initial_token.revoked"
	// AuditGrantRevoked: a refresh token family (a grant) was revoked;
	// Reason is "refresh_token_reuse" (RFC 9700 §4.14.2), "revocation"
	// (RFC 7009) or "operator".
	AuditGrantRevoked AuditKind = "grant.revoked"
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
	// RemoteAddr is the address of the HTTP request's peer, "" outside a
	// request.
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

// requestInfo is what an audit event records of the HTTP request that made
// a change; the handler puts it into the request's context.
type requestInfo struct{ id, addr string }

type requestInfoKey struct{}

// withRequestInfo returns ctx carrying the request ID and peer address of
// an HTTP request.
func withRequestInfo(ctx context.Context, id, addr string) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, requestInfo{id: id, addr: addr})
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
