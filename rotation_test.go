package clientreg_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/memory"
)

// A client that lost two update responses in a row still holds its first
// token, which keeps working only until the grace window of the first
// rotation ends: retrying never extends it.
func TestRotationGraceIsNotExtendedByRetries(t *testing.T) {
	clock := newClockAt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	h, err := clientreg.New(clientreg.Config{
		Issuer: "https://as.test", Store: memory.New(), SecretKey: bytes.Repeat([]byte{1}, 32),
		Now: clock.Now, TokenGrace: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := h.Register(ctx, "", clientreg.Metadata{RedirectURIs: []string{"https://app.test/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	t1 := info.RegistrationAccessToken
	update := func(tok string) (*clientreg.ClientInformation, error) {
		return h.Update(ctx, tok, info.ClientID, clientreg.UpdateRequest{
			ClientID: info.ClientID, Metadata: clientreg.Metadata{RedirectURIs: []string{"https://app.test/cb"}},
		})
	}
	if _, err := update(t1); err != nil { // response "lost"
		t.Fatal(err)
	}
	clock.Add(8 * time.Minute)
	if _, err := update(t1); err != nil { // retried within the grace window, lost again
		t.Fatalf("retry with the previous token within the grace window: %v", err)
	}
	clock.Add(3 * time.Minute) // 11 minutes after the first rotation
	if _, err := h.Read(ctx, t1, info.ClientID); !errors.Is(err, clientreg.ErrInvalidToken) {
		t.Fatalf("previous token after the first grace window: err = %v, want invalid_token", err)
	}
}

// Using the new token retires the previous one at once, whether the first
// use is a read or an update.
func TestRotationFirstUseRetiresPrevious(t *testing.T) {
	for _, firstUse := range []string{"read", "update", "rejected update", "forbidden update"} {
		t.Run(firstUse, func(t *testing.T) {
			forbid := false
			h, err := clientreg.New(clientreg.Config{Issuer: "https://as.test", Store: memory.New(), SecretKey: bytes.Repeat([]byte{1}, 32),
				Permissions: clientreg.PermissionCheckerFunc(func(ctx context.Context, p *clientreg.Principal, c *clientreg.Client, op clientreg.Operation) error {
					if forbid && op == clientreg.OpUpdate {
						return clientreg.ErrAccessDenied
					}
					return clientreg.OwnClientOnly{}.CheckPermission(ctx, p, c, op)
				})})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			req := func(id string) clientreg.UpdateRequest {
				return clientreg.UpdateRequest{ClientID: id, Metadata: clientreg.Metadata{RedirectURIs: []string{"https://app.test/cb"}}}
			}
			info, err := h.Register(ctx, "", clientreg.Metadata{RedirectURIs: []string{"https://app.test/cb"}})
			if err != nil {
				t.Fatal(err)
			}
			old := info.RegistrationAccessToken
			up, err := h.Update(ctx, old, info.ClientID, req(info.ClientID))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Read(ctx, old, info.ClientID); err != nil {
				t.Fatalf("previous token before the new one is used: %v", err)
			}
			switch firstUse {
			case "read":
				_, err = h.Read(ctx, up.RegistrationAccessToken, info.ClientID)
			case "update":
				_, err = h.Update(ctx, up.RegistrationAccessToken, info.ClientID, req(info.ClientID))
			case "rejected update":
				bad := req(info.ClientID)
				bad.Metadata.RedirectURIs = []string{"javascript:alert(1)"}
				if _, err := h.Update(ctx, up.RegistrationAccessToken, info.ClientID, bad); !errors.Is(err, clientreg.ErrInvalidRedirectURI) {
					t.Fatalf("bad update: err = %v", err)
				}
			case "forbidden update":
				forbid = true
				if _, err := h.Update(ctx, up.RegistrationAccessToken, info.ClientID, req(info.ClientID)); !errors.Is(err, clientreg.ErrAccessDenied) {
					t.Fatalf("forbidden update: err = %v", err)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Read(ctx, old, info.ClientID); !errors.Is(err, clientreg.ErrInvalidToken) {
				t.Fatalf("previous token after the new one was used: err = %v, want invalid_token", err)
			}
		})
	}
}
