package clientreg

import (
	"context"
	"fmt"

	"github.com/clientreg/clientreg/store"
)

// Client is a registered client as the handler hands it out: the record a
// Store keeps (store.Client), with its metadata decoded. The Metadata field
// shadows the stored form, store.Client.Metadata, which holds the bytes the
// handler read (or last wrote) for it.
//
// The handler builds a Client from every record it reads and encodes the
// Metadata back into the stored form before it writes one; a Store never
// sees this type.
type Client struct {
	store.Client
	// Metadata is the client's registered metadata, defaults applied.
	Metadata Metadata
}

// Clone returns a deep copy of c, so that a caller may change the copy
// without touching c. Clone of nil is nil.
func (c *Client) Clone() *Client {
	if c == nil {
		return nil
	}
	return &Client{Client: *c.Client.Clone(), Metadata: c.Metadata.Clone()}
}

// decodeClient returns the Client of the record sc, which it keeps (the
// caller does not use sc afterwards). A failure to decode is corruption,
// not a bad request: %v keeps the decoder's error from reaching the client
// as one of its own.
func decodeClient(sc *store.Client) (*Client, error) {
	m, err := decodeStoredMetadata(sc.Metadata)
	if err != nil {
		return nil, fmt.Errorf("client %q: stored metadata does not decode: %v", sc.ID, err)
	}
	return &Client{Client: *sc, Metadata: m}, nil
}

// encode sets the stored form of c's metadata from c.Metadata.
func (c *Client) encode() error {
	b, err := encodeStoredMetadata(c.Metadata)
	if err != nil {
		return fmt.Errorf("client %q: %w", c.ID, err)
	}
	c.Client.Metadata = b
	return nil
}

// getClient reads the client id from s.
func getClient(ctx context.Context, s store.ClientStore, id string) (*Client, error) {
	sc, err := s.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	return decodeClient(sc)
}

// createClient encodes c's metadata and stores c under the conditions of
// opts (see store.ClientStore.CreateClient). Metadata that would not read
// back is refused, with an error about storage, and nothing is written.
func createClient(ctx context.Context, s store.ClientStore, c *Client, opts store.CreateOptions) error {
	if err := c.encode(); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return s.CreateClient(ctx, &c.Client, opts)
}

// updateClient encodes c's metadata and replaces the stored client c.ID
// if its revision is c.Revision, which it then advances (see
// store.ClientStore.UpdateClient). Metadata that would not read back is
// refused, with an error about storage, and nothing is written.
func updateClient(ctx context.Context, s store.ClientStore, c *Client) error {
	if err := c.encode(); err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	return s.UpdateClient(ctx, &c.Client)
}
