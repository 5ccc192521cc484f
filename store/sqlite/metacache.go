package sqlite

import (
	"fmt"
	"sync"

	"github.com/clientreg/clientreg"
)

// Decoding stored metadata (Metadata.UnmarshalJSON, which checks the
// document as strictly as a request body) costs more than the rest of a
// read. metaCache remembers the decoded form of recent encodings, keyed by
// the encoding itself: decoding is a function of the bytes alone, so an
// entry is never stale, whichever client or process wrote them. Clients
// registered by one application often share their metadata byte for byte,
// and a client read after it was written (or read before) finds the
// encoding that the write checked.
const (
	// metaCacheGeneration is how many encodings a generation holds; the
	// cache keeps two.
	metaCacheGeneration = 512
	// metaCacheMaxLen is the longest encoding the cache keeps, which bounds
	// its memory to about 2 × metaCacheGeneration × (metaCacheMaxLen plus
	// the decoded copy).
	metaCacheMaxLen = 4 << 10
)

// metaCache maps metadata encodings to their decoded form. It keeps two
// generations: an entry found in the old one moves to the current one, and
// when the current one is full it becomes the old one, so the encodings in
// use stay and the others go. The values are never modified; callers get
// clones.
type metaCache struct {
	mu       sync.Mutex
	cur, old map[string]clientreg.Metadata
}

// lookup returns the decoded form of b, if the cache holds it.
func (c *metaCache) lookup(b []byte) (clientreg.Metadata, bool) {
	c.mu.Lock()
	m, ok := c.cur[string(b)]
	if !ok {
		if m, ok = c.old[string(b)]; ok {
			c.addLocked(string(b), m)
		}
	}
	c.mu.Unlock()
	return m, ok
}

// add records that b decodes to m, which the caller no longer modifies.
func (c *metaCache) add(b []byte, m clientreg.Metadata) {
	if len(b) > metaCacheMaxLen {
		return
	}
	c.mu.Lock()
	c.addLocked(string(b), m)
	c.mu.Unlock()
}

func (c *metaCache) addLocked(k string, m clientreg.Metadata) {
	if len(c.cur) >= metaCacheGeneration {
		c.old, c.cur = c.cur, nil
	}
	if c.cur == nil {
		c.cur = make(map[string]clientreg.Metadata, metaCacheGeneration)
	}
	c.cur[k] = m
}

// decodeMetadata returns the metadata that b, as stored, encodes: a value
// the caller owns.
func (s *Store) decodeMetadata(b []byte) (clientreg.Metadata, error) {
	if m, ok := s.meta.lookup(b); ok {
		return m.Clone(), nil
	}
	var m clientreg.Metadata
	if err := m.UnmarshalJSON(b); err != nil {
		return clientreg.Metadata{}, err
	}
	s.meta.add(b, m.Clone())
	return m, nil
}

// encodeMetadata returns the JSON form of m that the clients table keeps. It
// calls MarshalJSON directly: json.Marshal would compact and HTML-escape the
// output, which changes the bytes of json.RawMessage members. It also
// checks that the result decodes, so that a value that could not be read
// back is refused rather than stored; an encoding the cache holds decoded
// before.
func (s *Store) encodeMetadata(m clientreg.Metadata) ([]byte, error) {
	b, err := m.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %v", err)
	}
	if _, ok := s.meta.lookup(b); ok {
		return b, nil
	}
	var check clientreg.Metadata
	if err := check.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("metadata does not survive its JSON encoding: %v", err)
	}
	s.meta.add(b, check)
	return b, nil
}
