package clientreg

import (
	"context"

	"github.com/clientreg/clientreg/store"
)

// Unexported functions exposed to the external tests (package clientreg_test)
// of this directory. This file is compiled only by "go test".

// CheckRedirectURI is checkRedirectURI with the default preset (PresetMCP),
// the redirect URI classification that registration and update apply to
// every member of redirect_uris.
func CheckRedirectURI(uri string) error { return checkRedirectURI("/redirect_uris/0", uri, PresetMCP) }

// EncodeStoredMetadata is encodeStoredMetadata, the encoder of the stored
// form of client metadata (store.Client.Metadata).
func EncodeStoredMetadata(m Metadata) ([]byte, error) { return encodeStoredMetadata(m) }

// DecodeStoredMetadata is decodeStoredMetadata, the decoder of the stored
// form of client metadata, which the fuzz target FuzzDecodeStoredMetadata
// checks against the strict decoder.
func DecodeStoredMetadata(data []byte) (Metadata, error) { return decodeStoredMetadata(data) }

// DecodeClient is decodeClient: the Client of a stored record, with its
// metadata decoded, as the handler reads it.
func DecodeClient(sc *store.Client) (*Client, error) { return decodeClient(sc) }

// CreateClient is createClient: it stores c in s, its metadata encoded, as
// the handler does.
func CreateClient(ctx context.Context, s store.ClientStore, c *Client, opts store.CreateOptions) error {
	return createClient(ctx, s, c, opts)
}

// UpdateClient is updateClient: it replaces the stored client c.ID in s,
// its metadata encoded, as the handler does.
func UpdateClient(ctx context.Context, s store.ClientStore, c *Client) error {
	return updateClient(ctx, s, c)
}

// GetClient is getClient: it reads the client id from s, its metadata
// decoded, as the handler does.
func GetClient(ctx context.Context, s store.ClientStore, id string) (*Client, error) {
	return getClient(ctx, s, id)
}
