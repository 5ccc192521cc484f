package clientreg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/clientreg/clientreg/store"
)

// Token introspection (RFC 7662), served when Config.ServeTokenEndpoints is
// set. The caller authenticates as a client (public clients cannot). By
// default a client learns about its own tokens only: any other token is
// reported inactive, so introspection is no oracle for other clients'
// tokens. Config.MayIntrospect widens that for resource servers.

// Introspection is an introspection response (RFC 7662 §2.2).
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	// Sub is the user the token acts for (the Approval's Subject); absent
	// for client_credentials tokens, which act for the client itself.
	Sub string `json:"sub,omitempty"`
	// Aud is the token's audience, its RFC 8707 resource indicators;
	// absent when it has none.
	Aud Audience `json:"aud,omitempty"`
	Iss string   `json:"iss,omitempty"`
}

// Audience is the aud member of an introspection response (RFC 7662 §2.2,
// "as defined in JWT"): RFC 7519 §4.1.3 makes it an array of strings, or a
// single string when there is one audience. It is encoded the way JWT
// libraries and RFC 9068 access tokens most often carry it: a string for
// one value, an array for several; it decodes from either.
type Audience []string

// MarshalJSON encodes one value as a string, several as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON decodes a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// IntrospectionPolicy decides whether caller may learn about token, an
// active access token issued to token.ClientID.
type IntrospectionPolicy func(caller *Client, token *store.AccessToken) bool

// OwnTokensOnly is the default IntrospectionPolicy.
func OwnTokensOnly(caller *Client, token *store.AccessToken) bool { return caller.ID == token.ClientID }

// Introspect reports on token as RFC 7662 §2.2 describes, to the
// authenticated client caller.
func (h *Handler) Introspect(ctx context.Context, caller *Client, token string) (*Introspection, error) {
	inactive := &Introspection{Active: false}
	t, err := h.store.GetAccessToken(ctx, h.keys.hash(purposeAccessToken, token))
	if errors.Is(err, store.ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up access token: %w", err)
	}
	if !h.now().Before(t.ExpiresAt) || !h.cfg.MayIntrospect(caller, t) {
		return inactive, nil
	}
	return &Introspection{
		Active:    true,
		Scope:     t.Scope,
		ClientID:  t.ClientID,
		TokenType: "Bearer",
		Exp:       t.ExpiresAt.Unix(),
		Iat:       t.IssuedAt.Unix(),
		Sub:       t.Subject,
		Aud:       Audience(t.Resources),
		Iss:       h.issuer,
	}, nil
}

func (h *Handler) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	ctx := r.Context()
	ac, err := h.authenticateAt(r, h.introspectionEP, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if ac.Method == "none" {
		// Introspection requires client authentication: a public client is
		// answered like any failed authentication, which does not tell
		// that it exists.
		h.writeError(w, r, h.clientAuthFailed(ctx, ac.Client.ID, "public clients cannot introspect"))
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		h.writeError(w, r, ErrInvalidRequest.WithDescription("token is required"))
		return
	}
	res, err := h.Introspect(ctx, ac.Client, token)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
