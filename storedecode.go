package clientreg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// encodeStoredMetadata returns the form of m that a store keeps
// (store.Client.Metadata) and that decodeStoredMetadata reads back. It is
// Metadata.MarshalJSON's output, not json.Marshal's, which would compact and
// HTML-escape it and so change the bytes of json.RawMessage members. It also
// decodes that output as strictly as a request body, so that metadata which
// could not be read back (a library caller's, which no request validated) is
// refused rather than stored. Its errors are about storage, not for the
// sender of a request.
func encodeStoredMetadata(m Metadata) ([]byte, error) {
	b, err := m.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %v", err)
	}
	var check Metadata
	if err := check.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("metadata does not survive its JSON encoding: %v", err)
	}
	return b, nil
}

// decodeStoredMetadata decodes metadata that a store kept: data is trusted
// to be what encodeStoredMetadata produced, as kept by the store. The
// handler decodes every client it reads with it (see decodeClient); request
// bodies go through Metadata.UnmarshalJSON.
//
// It reads data in a single pass and skips the checks that only untrusted
// documents need: it does not look for repeated member names, bound the
// nesting, check that the bytes are valid UTF-8 or check language tags. On
// every document that Metadata.UnmarshalJSON accepts it returns the same
// Metadata. Malformed input, or a member of the wrong type, is still an
// error (never a panic); its text is about storage, not for the sender of a
// request.
func decodeStoredMetadata(data []byte) (Metadata, error) {
	// One conversion for the whole document: the strings of the result
	// are substrings of it, rather than one allocation each.
	d := storedDecoder{s: string(data)}
	m, err := d.document()
	if err != nil {
		return Metadata{}, err
	}
	return m, nil
}

// storedDecoder reads one stored metadata document, s, from pos on.
type storedDecoder struct {
	s   string
	pos int
}

func (d *storedDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("stored metadata: %s at byte %d", fmt.Sprintf(format, args...), d.pos)
}

// skipSpace moves past JSON white space.
func (d *storedDecoder) skipSpace() {
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, 0 at the end.
func (d *storedDecoder) peek() byte {
	d.skipSpace()
	if d.pos < len(d.s) {
		return d.s[d.pos]
	}
	return 0
}

// literal consumes lit if it comes next (after white space).
func (d *storedDecoder) literal(lit string) bool {
	d.skipSpace()
	if strings.HasPrefix(d.s[d.pos:], lit) {
		d.pos += len(lit)
		return true
	}
	return false
}

// document reads the top-level object and checks that nothing follows it.
func (d *storedDecoder) document() (Metadata, error) {
	var m Metadata
	if d.peek() != '{' {
		return m, d.errorf("expected a JSON object")
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			name, err := d.str()
			if err != nil {
				return m, err
			}
			if d.peek() != ':' {
				return m, d.errorf("expected ':'")
			}
			d.pos++
			if err := d.member(&m, name); err != nil {
				return m, err
			}
			c := d.peek()
			if c == '}' {
				d.pos++
				break
			}
			if c != ',' {
				return m, d.errorf("expected ',' or '}'")
			}
			d.pos++
		}
	}
	if d.skipSpace(); d.pos != len(d.s) {
		return m, d.errorf("data after the object")
	}
	return m, nil
}

// member reads the value of the member name into m, as decodeMetadata
// does: null is absent, the members of the table have their kind, a
// localized variant of a localizable member is a string, the
// server-managed members are not metadata, and the others are extensions.
func (d *storedDecoder) member(m *Metadata, name string) error {
	if d.literal("null") {
		return nil
	}
	if mb := membersByName[name]; mb != nil {
		return d.known(m, mb)
	}
	if responseMembers[name] {
		_, err := d.raw()
		return err
	}
	if base, _, ok := strings.Cut(name, "#"); ok {
		if mb := membersByName[base]; mb != nil && mb.localizable {
			s, err := d.str()
			if err != nil || s == "" {
				return err
			}
			if m.Localized == nil {
				m.Localized = make(map[string]string)
			}
			m.Localized[name] = s
			return nil
		}
	}
	v, err := d.raw()
	if err != nil {
		return err
	}
	if m.Extensions == nil {
		m.Extensions = make(map[string]json.RawMessage)
	}
	m.Extensions[name] = v
	return nil
}

// known reads the value of the table's member mb into m.
func (d *storedDecoder) known(m *Metadata, mb *member) error {
	switch mb.kind {
	case kindString:
		s, err := d.str()
		if err != nil {
			return err
		}
		*mb.str(m) = s
	case kindStrings:
		if d.peek() != '[' {
			return d.errorf("%s must be an array of strings", mb.name)
		}
		d.pos++
		out := []string{} // non-nil: an empty array is present
		if d.peek() == ']' {
			d.pos++
		} else {
			for {
				s, err := d.str()
				if err != nil {
					return err
				}
				out = append(out, s)
				c := d.peek()
				if c == ']' {
					d.pos++
					break
				}
				if c != ',' {
					return d.errorf("expected ',' or ']'")
				}
				d.pos++
			}
		}
		*mb.strs(m) = out
	case kindObject:
		if d.peek() != '{' {
			return d.errorf("%s must be a JSON object", mb.name)
		}
		v, err := d.raw()
		if err != nil {
			return err
		}
		if bytes.ContainsAny(v, " \t\n\r") {
			v = compactJSON(v)
		}
		*mb.raw(m) = v
	case kindNumber:
		// A JSON number that is a non-negative integer: digits, without
		// a leading zero.
		d.skipSpace()
		start := d.pos
		for d.pos < len(d.s) && d.s[d.pos] >= '0' && d.s[d.pos] <= '9' {
			d.pos++
		}
		t := d.s[start:d.pos]
		if t == "" || len(t) > 1 && t[0] == '0' {
			return d.errorf("%s must be a non-negative integer", mb.name)
		}
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return d.errorf("%s is too large", mb.name)
		}
		*mb.num(m) = &n
	case kindBool:
		switch {
		case d.literal("true"):
			*mb.flag(m) = new(true)
		case d.literal("false"):
			*mb.flag(m) = new(false)
		default:
			return d.errorf("%s must be a boolean", mb.name)
		}
	}
	return nil
}

// str reads a JSON string. One without escapes is a substring of the
// document; the others are decoded by encoding/json, as the strict decoder
// does.
func (d *storedDecoder) str() (string, error) {
	if d.peek() != '"' {
		return "", d.errorf("expected a string")
	}
	start := d.pos
	plain := true
	for i := start + 1; i < len(d.s); i++ {
		switch c := d.s[i]; {
		case c == '"':
			d.pos = i + 1
			if plain {
				return d.s[start+1 : i], nil
			}
			var s string
			if err := json.Unmarshal([]byte(d.s[start:d.pos]), &s); err != nil {
				d.pos = start
				return "", d.errorf("malformed string")
			}
			return s, nil
		case c == '\\':
			plain = false
			i++ // the escaped byte does not end the string
		case c < 0x20:
			d.pos = i
			return "", d.errorf("control character in a string")
		}
	}
	return "", d.errorf("unterminated string")
}

// raw reads any JSON value and returns a copy of its bytes, without the
// white space around it. It finds the value's end by its brackets and
// strings, then has encoding/json check the value.
func (d *storedDecoder) raw() (json.RawMessage, error) {
	d.skipSpace()
	start := d.pos
	depth := 0
scan:
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case '"':
			if _, err := d.str(); err != nil {
				return nil, err
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				break scan
			}
			depth--
			if depth == 0 {
				d.pos++
				break scan
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				break scan
			}
		}
		d.pos++
	}
	v := json.RawMessage(d.s[start:d.pos])
	if !json.Valid(v) {
		d.pos = start
		return nil, d.errorf("malformed JSON value")
	}
	return v, nil
}
