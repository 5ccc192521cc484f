package clientreg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/clientreg/clientreg/store"
)

// ClientInformation is the client information response of RFC 7591 §3.2.1
// and RFC 7592 §3: the registered metadata plus the server-managed members.
// It is always built from the stored record, never from the request.
type ClientInformation struct {
	// ClientID is the issued client identifier.
	ClientID string
	// ClientSecret is the client secret, set only in the response that
	// issues it (registration, or an update that issues a new secret). The
	// server keeps only a hash, so a read response omits it.
	ClientSecret string
	// IssuedAt is client_id_issued_at.
	IssuedAt time.Time
	// HasSecret reports whether the client has a secret; then
	// client_secret_expires_at is present.
	HasSecret bool
	// SecretExpiresAt is client_secret_expires_at; zero means never (0).
	SecretExpiresAt time.Time
	// RegistrationAccessToken is the token for the configuration endpoint.
	RegistrationAccessToken string
	// RegistrationClientURI is the client's configuration endpoint.
	RegistrationClientURI string
	// Metadata is the registered metadata, defaults included.
	Metadata Metadata
	// ETag is the entity tag of the client's configuration (its metadata
	// and secret state; not its registration access token). A client sends
	// it back in If-Match to update only what it has seen.
	ETag string
}

// MarshalJSON encodes the response: the server-managed members first, then
// the metadata members.
func (ci *ClientInformation) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"client_id":`)
	writeJSONString(&buf, ci.ClientID)
	if ci.ClientSecret != "" {
		buf.WriteString(`,"client_secret":`)
		writeJSONString(&buf, ci.ClientSecret)
	}
	buf.WriteString(`,"client_id_issued_at":`)
	buf.WriteString(strconv.FormatInt(ci.IssuedAt.Unix(), 10))
	if ci.HasSecret {
		var exp int64
		if !ci.SecretExpiresAt.IsZero() {
			exp = ci.SecretExpiresAt.Unix()
		}
		buf.WriteString(`,"client_secret_expires_at":`)
		buf.WriteString(strconv.FormatInt(exp, 10))
	}
	if ci.RegistrationAccessToken != "" {
		buf.WriteString(`,"registration_access_token":`)
		writeJSONString(&buf, ci.RegistrationAccessToken)
	}
	if ci.RegistrationClientURI != "" {
		buf.WriteString(`,"registration_client_uri":`)
		writeJSONString(&buf, ci.RegistrationClientURI)
	}
	ci.Metadata.encodeMembers(&buf, true)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// ClientURI returns the registration_client_uri of the client with the
// given ID: the registration endpoint followed by the escaped ID.
func (h *Handler) ClientURI(clientID string) string {
	return h.regEndpoint + "/" + url.PathEscape(clientID)
}

// information builds the response for c with the given plaintext
// credentials (empty when not issued in this response).
func (h *Handler) information(c *Client, secret, token string) *ClientInformation {
	return &ClientInformation{
		ClientID:                c.ID,
		ClientSecret:            secret,
		IssuedAt:                c.IssuedAt,
		HasSecret:               c.SecretHash != nil,
		SecretExpiresAt:         c.SecretExpiresAt,
		RegistrationAccessToken: token,
		RegistrationClientURI:   h.ClientURI(c.ID),
		Metadata:                c.Metadata.Clone(),
		ETag:                    ETag(c),
	}
}

// ETag returns the strong entity tag of c's configuration: a digest of its
// metadata, its secret and the secret's expiry. Token bookkeeping (rotation,
// retirement of a rotated token) does not change it, so a client's If-Match
// stays valid until the configuration itself changes.
func ETag(c *Client) string {
	d := sha256.New()
	var buf bytes.Buffer
	c.Metadata.encodeMembers(&buf, false)
	d.Write(buf.Bytes())
	d.Write([]byte{0})
	d.Write(c.SecretHash)
	d.Write([]byte{0})
	if !c.SecretExpiresAt.IsZero() {
		d.Write([]byte(strconv.FormatInt(c.SecretExpiresAt.Unix(), 10)))
	}
	return `"` + base64.RawURLEncoding.EncodeToString(d.Sum(nil)[:18]) + `"`
}

// Register registers a new client (RFC 7591 §3). initialToken is the
// initial access token presented, or "" when none was; it is required when
// Config.RequireInitialToken is set, and honoured whenever it is given (its
// policy applies, its use counts, a bad one is ErrInvalidToken). m is validated
// exactly as a registration request is; on success the returned information
// carries the new credentials, which the server does not keep in plaintext.
//
// Errors are *Error values for anything the caller can correct; nothing is
// stored when Register fails.
//
// Register applies no rate limit; the HTTP endpoint does (see Limits).
// Its audit event (client.registered) names the operator as the actor,
// with the name WithOperator put into ctx.
func (h *Handler) Register(ctx context.Context, initialToken string, m Metadata) (*ClientInformation, error) {
	return h.register(ctx, initialToken, m, false, store.OriginOperator)
}

// register is Register; with limited set, a registration that passed
// validation spends a registration of its initial access token and of its
// final software_id (a software statement's, when it carries one) before
// anything is stored or used up, and over either limit fails with a rate
// error. Requests that fail validation spend neither, so that nobody can
// starve a software_id or a token by sending invalid requests naming it.
//
// origin is recorded as the client's store.Client.Origin.
func (h *Handler) register(ctx context.Context, initialToken string, m Metadata, limited bool, origin string) (info *ClientInformation, err error) {
	defer func() { h.metrics.operation(metricRegister, err) }()
	var opts store.CreateOptions
	policy, err := h.checkInitialToken(ctx, initialToken)
	if err != nil {
		return nil, err
	}
	srv, err := h.serverMetadata(ctx)
	if err != nil {
		return nil, err
	}
	m = m.Clone()
	v := h.newValidation(srv, registering, policy)
	v.anonymous = initialToken == ""
	if err := h.validate(ctx, &m, v); err != nil {
		return nil, err
	}
	if limited {
		if err := h.limits.allowRegistration(h.now(), h.identityKeys(initialToken, &m)...); err != nil {
			return nil, err
		}
	}
	opts.MaxClients = v.maxClients()
	if initialToken != "" {
		if sb, ok := h.cfg.InitialTokens.(StoreBackedInitialTokens); ok && sb.InitialTokensInStore() {
			// The Store records the use in the transaction that stores
			// the client: a registration that fails spends nothing.
			opts.InitialTokenHash = h.keys.hash(purposeInitialToken, initialToken)
			opts.Now = h.now()
		} else if err := h.cfg.InitialTokens.UseInitialToken(ctx, initialToken); err != nil {
			return nil, err
		}
	}

	now := h.now().UTC().Truncate(time.Microsecond)
	token, err := h.cfg.NewSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("generate registration access token: %w", err)
	}
	c := &Client{
		Client: store.Client{
			IssuedAt:  now,
			UpdatedAt: now,
			Revision:  1,
			Policy:    v.policyName,
			Origin:    origin,
			TokenHash: h.keys.hash(purposeRegistrationToken, token),
		},
		Metadata: m,
	}
	var secret string
	if usesSecret(m.TokenEndpointAuthMethod) {
		if secret, err = h.issueSecret(ctx, c, now); err != nil {
			return nil, err
		}
	}
	// A generated ID that collides is drawn again; with 128 random bits a
	// second collision means the generator is broken.
	for attempt := 0; ; attempt++ {
		if c.ID, err = h.cfg.NewClientID(ctx); err != nil {
			return nil, fmt.Errorf("generate client_id: %w", err)
		}
		err = createClient(ctx, h.store, c, opts)
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, store.ErrLimitReached):
			return nil, limitError(err, v)
		case errors.Is(err, store.ErrNotFound) && opts.InitialTokenHash != nil:
			// Used up or expired since it was checked.
			return nil, ErrInvalidToken
		case !errors.Is(err, store.ErrAlreadyExists) || attempt == 2:
			return nil, fmt.Errorf("save client: %w", err)
		}
	}
	h.auditRegistered(ctx, c, initialToken)
	return h.information(c, secret, token), nil
}

// auditRegistered emits the client.registered event of c, registered
// with initialToken ("" for none): the operator registered it
// (Handler.Register), or its initial access token, named by its
// InitialTokenID, or nobody (open registration).
func (h *Handler) auditRegistered(ctx context.Context, c *Client, initialToken string) {
	if h.audit == nil {
		return
	}
	e := AuditEvent{Kind: AuditClientRegistered, ClientID: c.ID, Policy: c.Policy, Actor: AuditActor{Kind: ActorAnonymous}}
	if initialToken != "" {
		e.InitialTokenID = initialTokenID(h.keys.hash(purposeInitialToken, initialToken))
		e.Actor = AuditActor{Kind: ActorInitialToken, ID: e.InitialTokenID}
	}
	if c.Origin == store.OriginOperator {
		e.Actor = operatorActor(ctx)
	}
	h.emit(ctx, e)
}

// endpointOrigin is the origin of a client registered at the registration
// endpoint with initialToken ("" for none).
func endpointOrigin(initialToken string) string {
	if initialToken == "" {
		return store.OriginAnonymous
	}
	return store.OriginInitialToken
}

// identityKeys are the registration limit's keys of a valid registration
// other than its address: its initial access token (when registration
// requires one) and its software_id, as validation left them.
func (h *Handler) identityKeys(initialToken string, m *Metadata) []string {
	var keys []string
	if h.cfg.RequireInitialToken && initialToken != "" {
		keys = append(keys, "iat:"+string(h.keys.hash(purposeInitialToken, initialToken)[:16]))
	}
	if m.SoftwareID != "" {
		keys = append(keys, "sw:"+m.SoftwareID)
	}
	return keys
}

// checkInitialToken checks the initial access token when registration
// requires one, without using it up, and returns the policy it names.
//
// A token is honoured whenever it is presented, also when registration is
// open: its policy applies and its use counts, and a bad one is refused
// (401 invalid_token), so that an operator can run open registration under
// a default policy and hand partners tokens with a wider one. Without a
// token, open registration goes on anonymously.
func (h *Handler) checkInitialToken(ctx context.Context, initialToken string) (string, error) {
	if initialToken == "" {
		if h.cfg.RequireInitialToken {
			return "", ErrMissingToken
		}
		return "", nil
	}
	return h.cfg.InitialTokens.CheckInitialToken(ctx, initialToken)
}

// DryRun validates a registration request exactly as Register does,
// initial access token included (without using it up), and returns the
// metadata that would be registered, defaults applied. It stores nothing
// and issues no credentials. Over HTTP it is POST with ?dry_run=true,
// answered 200 with the metadata.
func (h *Handler) DryRun(ctx context.Context, initialToken string, m Metadata) (Metadata, error) {
	policy, err := h.checkInitialToken(ctx, initialToken)
	if err != nil {
		return Metadata{}, err
	}
	srv, err := h.serverMetadata(ctx)
	if err != nil {
		return Metadata{}, err
	}
	m = m.Clone()
	v := h.newValidation(srv, registering, policy)
	v.anonymous = initialToken == ""
	if err := h.validate(ctx, &m, v); err != nil {
		return Metadata{}, err
	}
	return m, nil
}

// issueSecret generates a new client secret for c, stores its hash and
// expiry in c and returns the plaintext.
func (h *Handler) issueSecret(ctx context.Context, c *Client, now time.Time) (string, error) {
	secret, err := h.cfg.NewSecret(ctx)
	if err != nil {
		return "", fmt.Errorf("generate client_secret: %w", err)
	}
	c.SecretHash = h.keys.hash(purposeClientSecret, secret)
	c.SecretCiphertext = nil
	if c.Metadata.TokenEndpointAuthMethod == "client_secret_jwt" {
		// Verifying an HMAC-signed assertion needs the secret itself.
		if c.SecretCiphertext, err = h.keys.encrypt(secret); err != nil {
			return "", err
		}
	}
	c.SecretExpiresAt = zeroTime
	if h.cfg.SecretLifetime > 0 {
		c.SecretExpiresAt = now.Add(h.cfg.SecretLifetime).Truncate(time.Second)
	}
	return secret, nil
}

// usesSecret reports whether the token endpoint auth method authenticates
// with a client secret (docs/behaviour.md §4).
func usesSecret(method string) bool {
	switch method {
	case "client_secret_basic", "client_secret_post", "client_secret_jwt":
		return true
	}
	return false
}

// InitialTokenOptions are the limits of a new initial access token.
type InitialTokenOptions struct {
	// MaxUses is how many registrations the token allows; 0 means no limit.
	MaxUses int64
	// ExpiresIn is how long the token is valid; 0 means it never expires.
	ExpiresIn time.Duration
	// Policy names the registration policy that registrations with the
	// token are subject to; it must be configured (Config.Policies). ""
	// for none.
	Policy string
}

// CreateInitialToken creates an initial access token (RFC 7591 §3) in the
// Store and returns it. Only its keyed hash is stored: the returned string
// is the only copy of the token. Its audit event (initial_token.created)
// names the operator of ctx (WithOperator) and the token's InitialTokenID.
func (h *Handler) CreateInitialToken(ctx context.Context, opts InitialTokenOptions) (string, *store.InitialToken, error) {
	if opts.MaxUses < 0 || opts.ExpiresIn < 0 {
		return "", nil, errors.New("clientreg: initial token limits must not be negative")
	}
	if opts.Policy != "" && h.policies[opts.Policy] == nil {
		return "", nil, fmt.Errorf("clientreg: no registration policy is named %q", opts.Policy)
	}
	token, err := h.cfg.NewSecret(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("generate initial access token: %w", err)
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	t := &store.InitialToken{Hash: h.keys.hash(purposeInitialToken, token), CreatedAt: now, MaxUses: opts.MaxUses, Policy: opts.Policy}
	if opts.ExpiresIn > 0 {
		t.ExpiresAt = now.Add(opts.ExpiresIn)
	}
	if err := h.store.CreateInitialToken(ctx, t); err != nil {
		return "", nil, fmt.Errorf("save initial access token: %w", err)
	}
	h.emit(ctx, AuditEvent{Kind: AuditInitialTokenCreated, Actor: operatorActor(ctx), InitialTokenID: InitialTokenID(t), Policy: t.Policy})
	return token, t, nil
}

// serveRegistration is the client registration endpoint of RFC 7591 §3.
// The route table gives it only POST: "To register, the client or developer
// sends an HTTP POST to the client registration endpoint".
func (h *Handler) serveRegistration(w http.ResponseWriter, r *http.Request) {
	// RFC 7591 §3.2.1 (by RFC 6749 §5.1, for responses with credentials):
	// the client information response carries secrets, so no caching.
	noStore(w)
	addr := h.limits.clientAddr(r)
	if err := h.limits.allowRegistration(h.now(), "addr:"+addr); err != nil {
		h.writeError(w, r, err)
		return
	}
	// RFC 7591 §3: "The client registration endpoint MAY be an OAuth 2.0
	// protected resource and it MAY accept an initial access token in the
	// form of an OAuth 2.0 access token to limit registration to only
	// previously authorized parties."
	// A presented token is honoured in open registration too (see
	// checkInitialToken); only a request without one is anonymous.
	token, err := bearerToken(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if token == "" && h.cfg.RequireInitialToken {
		h.writeError(w, r, ErrMissingToken)
		return
	}
	// RFC 7591 §3: "The client registration endpoint MUST accept HTTP POST
	// messages with request parameters encoded in the entity body using
	// the "application/json" format." readBody refuses any other media
	// type, and decodeMetadata obeys §2: "The authorization server MUST
	// ignore any client metadata sent by the client that it does not
	// understand".
	d, err := h.readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "false":
	case "true":
		// A dry run creates nothing, so it spends only the address's
		// registrations above, not its token's or its software_id's.
		m, err := h.DryRun(r.Context(), token, d.Metadata)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, m)
		return
	default:
		h.writeError(w, r, ErrInvalidRequest.WithDescription("dry_run must be true or false"))
		return
	}
	// RFC 7591 §3.2.2: an error is "an HTTP 400 status code (unless
	// otherwise specified) with content type "application/json"" and the
	// error and error_description members; writeError answers every error
	// that way.
	// The initial access token's and the software_id's limits are spent in
	// register, after validation: only by registrations that would succeed.
	// An Idempotency-Key makes a retry of the same request replay the
	// response (idempotency.go, docs/behaviour.md §11).
	if h.cfg.IdempotencyKeyLifetime != Off {
		if key, err := idempotencyKey(r); err != nil {
			h.writeError(w, r, err)
			return
		} else if key != "" {
			h.serveIdempotentRegistration(w, r, h.newIdempotentRegistration(key, token, d.raw), token, d)
			return
		}
	}
	info, err := h.register(r.Context(), token, d.Metadata, true, endpointOrigin(token))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// RFC 7591 §3.2.1: "The server responds with an HTTP 201 Created status
	// code and a body of type "application/json" with content as described
	// in Section 3.2.1", which "MUST contain the "client_id"" and "MUST
	// return all registered metadata about the client".
	w.Header().Set("ETag", info.ETag)
	w.Header().Set("Location", info.RegistrationClientURI)
	writeJSON(w, http.StatusCreated, info)
}
