package clientreg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// UpdateRequest is a client update request (RFC 7592 §2.2).
type UpdateRequest struct {
	// ClientID must equal the ID of the client being updated.
	ClientID string
	// ClientSecret, when not empty, must equal the client's current secret.
	// The client never chooses its secret.
	ClientSecret string
	// Metadata replaces the client's metadata entirely: members left out
	// are removed or reset to their defaults.
	Metadata Metadata
	// RotateSecret asks for a new client secret. The response carries it;
	// the previous secret keeps working for Config.SecretOverlap so that a
	// deployment can roll the new one out. It is an extension of RFC 7592
	// §2.2 ("the server MAY issue a new secret"), sent over HTTP as the
	// query parameter rotate_secret=true on the PUT.
	RotateSecret bool
	// IfMatch, when not empty, is the value of an If-Match header: a list
	// of entity tags or "*". The update is made only if one of them equals
	// the client's current ETag; otherwise it fails with
	// ErrPreconditionFailed and changes nothing.
	IfMatch string
}

// forbiddenInUpdate are the members a client MUST NOT send in an update
// request. RFC 7592 §2.2: "The client MUST NOT include the
// "registration_access_token", "registration_client_uri",
// "client_secret_expires_at", or "client_id_issued_at" fields in this
// request."
var forbiddenInUpdate = []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"}

// updateRequestFrom builds an UpdateRequest from a decoded PUT body.
func updateRequestFrom(d decoded) (UpdateRequest, error) {
	for _, name := range forbiddenInUpdate {
		if _, ok := d.managed[name]; ok {
			return UpdateRequest{}, ErrInvalidRequest.WithDescription("member %s must not be sent in an update request (RFC 7592 section 2.2)", name)
		}
	}
	req := UpdateRequest{Metadata: d.Metadata}
	if err := managedString(d, "client_id", &req.ClientID); err != nil {
		return req, err
	}
	if err := managedString(d, "client_secret", &req.ClientSecret); err != nil {
		return req, err
	}
	return req, nil
}

func managedString(d decoded, name string, dst *string) error {
	v, ok := d.managed[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return ErrInvalidRequest.WithDescription("member %s must be a string", name)
	}
	return nil
}

// authorize authenticates token, finds the client clientID and checks that
// the token may perform op on it (RFC 7592 §2). Every authentication
// failure is the same ErrInvalidToken, so no response reveals whether a
// client exists.
func (h *Handler) authorize(ctx context.Context, token, clientID string, op Operation) (*Principal, *Client, error) {
	if token == "" {
		return nil, nil, ErrMissingToken
	}
	// RFC 7592 §2.1: "If the registration access token used to make this
	// request is not valid, the server MUST respond with an error as
	// described in OAuth 2.0 Bearer Token Usage [RFC6750]."
	p, err := h.cfg.Authenticator.AuthenticateToken(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	sc, err := h.cfg.Finder.FindClient(ctx, p, clientID)
	if errors.Is(err, store.ErrNotFound) {
		// RFC 7592 §2.1: "If the client does not exist on this server, the
		// server MUST respond with HTTP 401 Unauthorized and the
		// registration access token used to make this request SHOULD be
		// immediately revoked."
		if p.ClientID == clientID {
			if rerr := h.cfg.Revoker.RevokeToken(ctx, p); rerr != nil {
				return nil, nil, fmt.Errorf("revoke token of deleted client: %w", rerr)
			}
		}
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find client: %w", err)
	}
	c, err := decodeClient(sc)
	if err != nil {
		return nil, nil, fmt.Errorf("find client: %w", err)
	}
	if !c.DisabledAt.IsZero() {
		// A disabled client's registration access token is a credential
		// of the client: refused as any failed token (docs/behaviour.md
		// §11), and kept for when the client is enabled again.
		return nil, nil, ErrInvalidToken
	}
	if err := h.cfg.Permissions.CheckPermission(ctx, p, c, op); err != nil {
		if p.retirePrevious && op != OpRead && p.ClientID == c.ID {
			// The new token was used, even if the operation is refused.
			if _, rerr := h.retirePreviousToken(ctx, c, p); rerr != nil {
				return nil, nil, rerr
			}
		}
		return nil, nil, err
	}
	if p.previous && op == OpDelete {
		// A token that an update replaced may read and repeat an update
		// within its grace window, but not end the client, and with it the
		// tokens that the update handed out.
		return nil, nil, ErrAccessDenied.WithDescription("a registration access token that an update replaced cannot delete the client; use the newest token")
	}
	if p.retirePrevious && op == OpRead {
		// A successful update rewrites the previous token itself and a
		// delete removes it; a read needs a write of its own to retire it.
		if c, err = h.retirePreviousToken(ctx, c, p); err != nil {
			return nil, nil, err
		}
	}
	return p, c, nil
}

// maxRegistrationTokens bounds how many registration access tokens of a
// client are current at once: TokenHash and its siblings, which updates
// made with the previous token within its grace window add (see
// store.Client.SiblingTokenHashes). Past it, such an update is refused with
// 409 and changes nothing.
const maxRegistrationTokens = 5

// retirePreviousToken makes the current registration access token that p
// presented the only one of c: its siblings stop working, and so does the
// rotated one, whose grace ends. A concurrent write to the client wins; the
// retirement then happens at the next use.
func (h *Handler) retirePreviousToken(ctx context.Context, c *Client, p *Principal) (*Client, error) {
	u := c.Clone()
	u.TokenHash, u.SiblingTokenHashes = h.keys.hash(purposeRegistrationToken, p.Token), nil
	u.PreviousTokenHash, u.PreviousTokenExpiresAt = nil, zeroTime
	u.UpdatedAt = h.now().UTC().Truncate(time.Microsecond)
	switch err := updateClient(ctx, h.store, u); {
	case err == nil:
		return u, nil
	case errors.Is(err, store.ErrConflict):
		return c, nil
	default:
		return nil, fmt.Errorf("retire previous registration access token: %w", err)
	}
}

// Read returns the current information of client clientID (RFC 7592 §2.1),
// authorized by its registration access token. The response carries the
// token as presented and omits the client secret, which is stored only as a
// hash.
func (h *Handler) Read(ctx context.Context, token, clientID string) (*ClientInformation, error) {
	p, c, err := h.authorize(ctx, token, clientID, OpRead)
	if err != nil {
		return nil, err
	}
	return h.information(c, "", p.Token), nil
}

// maxUpdateAttempts bounds how often Update re-reads and re-validates when a
// concurrent write to the same client wins the compare-and-swap.
const maxUpdateAttempts = 3

// Update replaces the metadata of client clientID (RFC 7592 §2.2),
// authorized by its registration access token. Validation is exactly that
// of registration, and any failure changes nothing. Switching to a
// secret-based authentication method issues a secret; switching away
// removes it. With RotateOnUpdate the response carries a new registration
// access token, and the presented one keeps working until the new one is
// first used or the grace window ends. An update made with that rotated-out
// token within its grace window (a retry after a lost response) leaves the
// token the first update handed out working: its new token is a sibling of
// that one (see store.Client.SiblingTokenHashes), and the first of them to
// be used becomes the only one.
func (h *Handler) Update(ctx context.Context, token, clientID string, req UpdateRequest) (_ *ClientInformation, err error) {
	defer func() { h.metrics.operation(string(OpUpdate), err) }()
	for attempt := 1; ; attempt++ {
		info, err := h.update(ctx, token, clientID, req)
		if attempt > 1 && errors.Is(err, ErrInvalidToken) {
			// The token was valid when this update began: a concurrent
			// update or use of a newer token retired it meanwhile.
			return nil, ErrConcurrentUpdate.WithDescription("the client was modified concurrently and the registration access token replaced; use the newest token")
		}
		if !errors.Is(err, store.ErrConflict) {
			return info, err
		}
		if attempt == maxUpdateAttempts {
			return nil, ErrConcurrentUpdate.WithDescription("the client was modified concurrently; retry the request")
		}
	}
}

func (h *Handler) update(ctx context.Context, token, clientID string, req UpdateRequest) (info *ClientInformation, err error) {
	p, c, err := h.authorize(ctx, token, clientID, OpUpdate)
	if err != nil {
		return nil, err
	}
	if p.retirePrevious {
		defer func() {
			// The new token was used: a rejected update retires the
			// rotated one as a read would. (A successful one did already.)
			var oe *Error
			if errors.As(err, &oe) {
				if _, rerr := h.retirePreviousToken(ctx, c, p); rerr != nil {
					info, err = nil, rerr
				}
			}
		}()
	}
	if req.IfMatch != "" && !etagMatches(req.IfMatch, ETag(c)) {
		return nil, ErrPreconditionFailed.WithDescription("the client has changed since the ETag in If-Match was issued; read it again")
	}
	// RFC 7592 §2.2: "The client MUST include its "client_id" field in the
	// request, and it MUST be the same as its currently issued client
	// identifier."
	if req.ClientID == "" {
		return nil, ErrInvalidRequest.WithDescription("client_id is missing: an update must repeat the client's own client_id (RFC 7592 section 2.2)")
	}
	if req.ClientID != c.ID {
		return nil, ErrInvalidRequest.WithDescription("client_id differs from the client_id of the client being updated (RFC 7592 section 2.2)")
	}
	// RFC 7592 §2.2: "If the client includes the "client_secret" field in
	// the request, the value of this field MUST match the currently issued
	// client secret for that client. The client MUST NOT be allowed to
	// overwrite its existing client secret with its own chosen value."
	if req.ClientSecret != "" && !h.keys.matches(purposeClientSecret, req.ClientSecret, c.SecretHash) {
		return nil, ErrInvalidRequest.WithDescription("client_secret does not match the client's current secret")
	}
	srv, err := h.serverMetadata(ctx)
	if err != nil {
		return nil, err
	}
	// RFC 7592 §2.2: "Omitted fields MUST be treated as null or empty
	// values by the server, indicating the client's request to delete them
	// from the client's registration." m replaces the metadata whole.
	m := req.Metadata.Clone()
	if kept := c.Metadata.SoftwareStatement; kept != "" {
		// The statement stays unless a new one is sent (RFC 7591 §2.3:
		// its claims keep taking precedence).
		if m.SoftwareStatement == "" {
			m.SoftwareStatement = kept
		}
		ctx = context.WithValue(ctx, keptStatementKey{}, kept)
	}
	if err := h.validate(ctx, &m, h.newValidation(srv, updating, c.Policy)); err != nil {
		return nil, err
	}

	now := h.now().UTC().Truncate(time.Microsecond)
	u := c.Clone()
	u.Metadata = m
	u.UpdatedAt = now
	var secret string
	needsPlaintext := m.TokenEndpointAuthMethod == "client_secret_jwt"
	switch {
	case !usesSecret(m.TokenEndpointAuthMethod):
		if req.RotateSecret {
			return nil, ErrInvalidRequest.WithDescription("rotate_secret: the client's authentication method uses no client secret")
		}
		u.SecretHash, u.SecretExpiresAt, u.SecretCiphertext = nil, zeroTime, nil
		u.PreviousSecretHash, u.PreviousSecretExpiresAt, u.PreviousSecretCiphertext = nil, zeroTime, nil
	case req.RotateSecret && u.SecretHash != nil:
		if h.cfg.SecretOverlap > 0 {
			u.PreviousSecretHash, u.PreviousSecretExpiresAt = u.SecretHash, now.Add(h.cfg.SecretOverlap)
			u.PreviousSecretCiphertext = u.SecretCiphertext
		}
		if secret, err = h.issueSecret(ctx, u, now); err != nil {
			return nil, err
		}
	case u.SecretHash == nil || (needsPlaintext && u.SecretCiphertext == nil):
		// A new secret: none before, or client_secret_jwt needs one whose
		// plaintext the server keeps (encrypted), which a hashed one is not.
		u.PreviousSecretHash, u.PreviousSecretExpiresAt, u.PreviousSecretCiphertext = nil, zeroTime, nil
		if secret, err = h.issueSecret(ctx, u, now); err != nil {
			return nil, err
		}
	case !needsPlaintext:
		u.SecretCiphertext, u.PreviousSecretCiphertext = nil, nil
	}
	newToken := p.Token
	presented := h.keys.hash(purposeRegistrationToken, p.Token)
	if p.retirePrevious {
		// A current token was used: it is the only one from now on.
		u.TokenHash, u.SiblingTokenHashes = presented, nil
		u.PreviousTokenHash, u.PreviousTokenExpiresAt = nil, zeroTime
	}
	if h.cfg.TokenRotation == RotateOnUpdate {
		if p.previous && 1+len(c.SiblingTokenHashes) >= maxRegistrationTokens {
			return nil, ErrConcurrentUpdate.WithDescription("too many updates were made with a registration access token that an update replaced; use the newest token")
		}
		if newToken, err = h.cfg.NewSecret(ctx); err != nil {
			return nil, fmt.Errorf("generate registration access token: %w", err)
		}
		fresh := h.keys.hash(purposeRegistrationToken, newToken)
		switch {
		case p.previous:
			// A repeat of an update made with the rotated-out token: the
			// tokens that earlier updates handed out keep working, and
			// the new one joins them. The rotated-out token keeps its
			// deadline: retrying never extends it.
			u.SiblingTokenHashes = append(u.SiblingTokenHashes, fresh)
		default:
			u.TokenHash, u.SiblingTokenHashes = fresh, nil
			u.PreviousTokenHash, u.PreviousTokenExpiresAt = nil, zeroTime
			if h.cfg.TokenGrace > 0 {
				// The token the client holds stays valid for the grace
				// window, in case this response is lost.
				u.PreviousTokenHash, u.PreviousTokenExpiresAt = presented, now.Add(h.cfg.TokenGrace)
			}
		}
	}
	u.RevokeAccessTokens = accessTokensEndedBy(c, u, secret != "" && req.RotateSecret)
	if err := updateClient(ctx, h.store, u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrInvalidToken
		}
		if errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		return nil, fmt.Errorf("update client: %w", err)
	}
	h.auditUpdated(ctx, p, c, u, secret != "", req.RotateSecret)
	return h.information(u, secret, newToken), nil
}

// auditUpdated emits the events of the stored update of old to u by the
// token of p: client.updated with the members that changed, then
// registration_token.rotated when the update issued a new token, then
// client_secret.rotated when it issued a secret (newSecret), because the
// client asked (rotate) or its new authentication method needed one.
func (h *Handler) auditUpdated(ctx context.Context, p *Principal, old, u *Client, newSecret, rotate bool) {
	if h.audit == nil {
		return
	}
	actor := AuditActor{Kind: ActorClient, ID: p.ClientID}
	h.emit(ctx, AuditEvent{Kind: AuditClientUpdated, Actor: actor, ClientID: u.ID, Policy: u.Policy,
		Changes: memberChanges(old.Client.Metadata, u.Client.Metadata)})
	if h.cfg.TokenRotation == RotateOnUpdate {
		h.emit(ctx, AuditEvent{Kind: AuditRegistrationTokenRotated, Actor: actor, ClientID: u.ID})
	}
	if newSecret {
		reason := "auth_method"
		if rotate {
			reason = "rotate_secret"
		}
		h.emit(ctx, AuditEvent{Kind: AuditClientSecretRotated, Actor: actor, ClientID: u.ID, Reason: reason})
	}
}

// accessTokensEndedBy returns the access tokens of old that the update to
// u ends, for store.Client.RevokeAccessTokens, or nil for none: every one
// when the secret was rotated (it may have leaked: whoever holds the old one
// keeps only getting new tokens during the overlap), when the client gives
// up client_credentials or becomes a public client (none); those with a
// scope the client no longer has when its scope narrows.
func accessTokensEndedBy(old, u *Client, rotated bool) *store.AccessTokenRevocation {
	hadCC := slices.Contains(old.Metadata.GrantTypes, grantClientCredentials)
	switch {
	case rotated,
		hadCC && !slices.Contains(u.Metadata.GrantTypes, grantClientCredentials),
		old.Metadata.TokenEndpointAuthMethod != "none" && u.Metadata.TokenEndpointAuthMethod == "none":
		return &store.AccessTokenRevocation{All: true}
	}
	kept := strings.Fields(u.Metadata.Scope)
	for _, s := range strings.Fields(old.Metadata.Scope) {
		if !slices.Contains(kept, s) {
			return &store.AccessTokenRevocation{Scope: kept}
		}
	}
	return nil
}

// Delete removes client clientID (RFC 7592 §2.3), authorized by its
// registration access token. Its client ID, secret and registration access
// token stop working at once. With Config.DisableDelete it returns
// ErrMethodNotAllowed.
func (h *Handler) Delete(ctx context.Context, token, clientID string) (err error) {
	defer func() { h.metrics.operation(string(OpDelete), err) }()
	// RFC 7592 §2.3: "If the server does not support the delete method, the
	// server MUST respond with HTTP 405 Not Supported."
	if h.cfg.DisableDelete {
		return ErrMethodNotAllowed.WithDescription("this server does not allow clients to be deleted")
	}
	p, c, err := h.authorize(ctx, token, clientID, OpDelete)
	if err != nil {
		return err
	}
	if err := h.store.DeleteClient(ctx, c.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidToken
		}
		return fmt.Errorf("delete client: %w", err)
	}
	h.emit(ctx, AuditEvent{Kind: AuditClientDeleted, Actor: AuditActor{Kind: ActorClient, ID: p.ClientID}, ClientID: c.ID})
	if err := h.cfg.Revoker.RevokeToken(ctx, p); err != nil {
		return fmt.Errorf("revoke token of deleted client: %w", err)
	}
	return nil
}

// etagMatches evaluates an If-Match header value against the current strong
// entity tag (RFC 9110 §13.1.1): "*" or any listed strong tag that equals
// it. Weak tags never match.
func etagMatches(header, current string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == current {
			return true
		}
	}
	return false
}

// recoveryPathSegment is appended to a client's registration_client_uri for
// the recovery of a lost registration access token.
const recoveryPathSegment = "registration_access_token"

// RecoverRegistrationToken issues a new registration access token to a
// client that authenticated with its own client credentials (see
// AuthenticateClient), for a client that lost its token: a response lost
// after a rotation, a crashed deployment. The previous tokens stop working
// at once. Public clients (none) cannot use it: they have no credentials.
//
// Over HTTP it is POST {registration_client_uri}/registration_access_token
// with client authentication, answered like a read (200, client
// information with the new token). It extends RFC 7592.
func (h *Handler) RecoverRegistrationToken(ctx context.Context, ac *AuthenticatedClient) (*ClientInformation, error) {
	if ac.Method == "none" {
		return nil, ErrInvalidClient.WithDescription("public clients cannot recover a registration access token")
	}
	c := ac.Client
	for attempt := 1; ; attempt++ {
		if !c.DisabledAt.IsZero() {
			return nil, ErrInvalidClient
		}
		token, err := h.cfg.NewSecret(ctx)
		if err != nil {
			return nil, fmt.Errorf("generate registration access token: %w", err)
		}
		u := c.Clone()
		u.TokenHash, u.SiblingTokenHashes = h.keys.hash(purposeRegistrationToken, token), nil
		u.PreviousTokenHash, u.PreviousTokenExpiresAt = nil, zeroTime
		u.UpdatedAt = h.now().UTC().Truncate(time.Microsecond)
		err = updateClient(ctx, h.store, u)
		switch {
		case err == nil:
			h.emit(ctx, AuditEvent{Kind: AuditRegistrationTokenRecovered, Actor: AuditActor{Kind: ActorClient, ID: u.ID}, ClientID: u.ID})
			return h.information(u, "", token), nil
		case errors.Is(err, store.ErrNotFound):
			return nil, ErrInvalidClient
		case errors.Is(err, store.ErrConflict) && attempt < maxUpdateAttempts:
			if c, err = getClient(ctx, h.store, c.ID); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil, ErrInvalidClient
				}
				return nil, fmt.Errorf("reload client: %w", err)
			}
		case errors.Is(err, store.ErrConflict):
			return nil, ErrConcurrentUpdate.WithDescription("the client was modified concurrently; retry the request")
		default:
			return nil, fmt.Errorf("recover registration access token: %w", err)
		}
	}
}

func (h *Handler) serveTokenRecovery(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	ctx := r.Context()
	id := r.PathValue("client_id")
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		// No body (curl -X POST -u ID:SECRET): nothing to parse, and no
		// media type to check. A body keeps the form rules.
		r.PostForm = url.Values{}
	}
	ac, err := h.authenticateAt(r, h.ClientURI(id)+"/"+recoveryPathSegment, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if ac.Client.ID != id {
		h.writeError(w, r, h.clientAuthFailed(ctx, ac.Client.ID, "credentials of another client than "+id))
		return
	}
	info, err := h.RecoverRegistrationToken(ctx, ac)
	if errors.Is(err, ErrInvalidClient) {
		// A public client, or one deleted meanwhile: answered like any
		// failed authentication.
		err = h.clientAuthFailed(ctx, id, err.Error())
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", info.ETag)
	writeJSON(w, http.StatusOK, info)
}

// configurationMethods are the methods the client configuration endpoint
// serves (RFC 7592 §2): read, update and, unless disabled, delete.
func (h *Handler) configurationMethods() []string {
	if h.cfg.DisableDelete {
		return []string{http.MethodGet, http.MethodPut}
	}
	return []string{http.MethodGet, http.MethodPut, http.MethodDelete}
}

// serveConfiguration is the client configuration endpoint alone, for
// ConfigurationHandler: it dispatches on the method as the route table of
// New does.
func (h *Handler) serveConfiguration(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.configurationEndpoint(h.serveRead)(w, r)
	case http.MethodPut:
		h.configurationEndpoint(h.serveUpdate)(w, r)
	case http.MethodDelete:
		if !h.cfg.DisableDelete {
			h.configurationEndpoint(h.serveDelete)(w, r)
			return
		}
		fallthrough
	default:
		noStore(w)
		methodNotAllowed(h.configurationMethods()...).ServeHTTP(w, r)
	}
}

// configurationEndpoint wraps one method of the client configuration
// endpoint with what all of them share: no caching, the registration access
// token, and the limit on failed authentication. serve answers success
// itself and returns any error, which is answered here.
//
// RFC 7592 §2: "The client MUST use its Registration Access Token in all
// calls to this endpoint as an OAuth 2.0 Bearer Token [RFC6750]." A request
// without one is 401 with a bare Bearer challenge (RFC 6750 §3.1).
//
// The token is checked first, whatever the limits: a valid token is always
// served, because client IDs are public and failures that anyone can cause
// must not lock a client out. A wrong token counts against the client ID
// and the address (RFC 7592 §5: tokens must not be guessable, attempts are
// limited too), and is answered 429 instead of 401 once either is over the
// failure limit.
func (h *Handler) configurationEndpoint(serve func(w http.ResponseWriter, r *http.Request, token, id string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		id := r.PathValue("client_id")
		if id == "" {
			p := strings.TrimSuffix(r.URL.Path, "/")
			id = p[strings.LastIndexByte(p, '/')+1:]
		}
		token, err := bearerToken(r)
		if err == nil && token == "" {
			err = ErrMissingToken
		}
		if err == nil {
			err = serve(w, r, token, id)
		}
		if err == nil {
			return
		}
		var oe *Error
		if errors.As(err, &oe) && oe.Status == http.StatusUnauthorized && !errors.Is(err, ErrMissingToken) {
			if lerr := h.limits.recordFailedAuth(h.now(), h.limits.clientAddr(r), id); lerr != nil {
				err = lerr
			}
		}
		h.writeError(w, r, err)
	}
}

// serveRead is GET on the client configuration endpoint (RFC 7592 §2.1):
// "the authorization server [...] MUST return all registered metadata about
// the client" in a client information response with 200 OK.
func (h *Handler) serveRead(w http.ResponseWriter, r *http.Request, token, id string) error {
	info, err := h.Read(r.Context(), token, id)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", info.ETag)
	writeJSON(w, http.StatusOK, info)
	return nil
}

// serveUpdate is PUT on the client configuration endpoint (RFC 7592 §2.2):
// the body is the complete new metadata, "This request MUST include all
// client metadata fields as returned to the client from a previous
// registration, read, or update operation", and the answer is 200 OK with
// the client information response.
func (h *Handler) serveUpdate(w http.ResponseWriter, r *http.Request, token, id string) error {
	d, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := updateRequestFrom(d)
	if err != nil {
		return err
	}
	req.IfMatch = strings.Join(r.Header.Values("If-Match"), ",")
	switch v := r.URL.Query().Get("rotate_secret"); v {
	case "", "false":
	case "true":
		req.RotateSecret = true
	default:
		return ErrInvalidRequest.WithDescription("rotate_secret must be true or false")
	}
	info, err := h.Update(r.Context(), token, id, req)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", info.ETag)
	writeJSON(w, http.StatusOK, info)
	return nil
}

// serveDelete is DELETE on the client configuration endpoint (RFC 7592
// §2.3): "If a client has been successfully deprovisioned, the authorization
// server MUST respond with an HTTP 204 No Content message."
func (h *Handler) serveDelete(w http.ResponseWriter, r *http.Request, token, id string) error {
	if err := h.Delete(r.Context(), token, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
