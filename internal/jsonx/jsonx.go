// Package jsonx checks the syntax of untrusted JSON documents more strictly
// than encoding/json does: valid UTF-8, no duplicate member names, bounded
// nesting.
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Syntax errors reported by CheckObject. Their text is safe to show to the
// sender of the document.
var (
	ErrInvalidUTF8 = errors.New("body is not valid UTF-8")
	ErrNotObject   = errors.New("body must be a JSON object")
	ErrTooDeep     = errors.New("JSON nesting is too deep")
)

// DuplicateError reports a member name that occurs twice in one object.
type DuplicateError struct{ Name string }

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("duplicate member name %q", e.Name)
}

// SyntaxError reports malformed JSON.
type SyntaxError struct {
	// Offset is the byte offset in the document at which the error was
	// found.
	Offset int64
	// Msg says what is wrong there, e.g. "unexpected end of input" or
	// "invalid character 'x'"; empty when unknown.
	Msg string
}

func (e *SyntaxError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("malformed JSON near byte %d", e.Offset)
	}
	return fmt.Sprintf("malformed JSON: %s at byte %d", e.Msg, e.Offset)
}

// CheckObject reports whether data is one well-formed JSON object (RFC 8259)
// in valid UTF-8 (surrounding white space allowed), in which no object
// repeats a member name and nesting stays within maxDepth levels. Member
// names are compared as decoded, so "a" and "\u0061" are the same name.
//
// It scans data once, without building values or tokens: it runs on every
// request body and on every write of stored metadata.
func CheckObject(data []byte, maxDepth int) error {
	if !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if len(trimmed) > 0 && !json.Valid(trimmed) {
			return notObjectSyntaxError(data)
		}
		return ErrNotObject
	}
	s := scanner{data: data, maxDepth: maxDepth}
	if err := s.value(0); err != nil {
		return err
	}
	s.skipSpace()
	if s.i != len(data) {
		return s.syntaxError()
	}
	return nil
}

// scanner checks a JSON document from data[i] on.
type scanner struct {
	data     []byte
	i        int
	maxDepth int
}

func (s *scanner) syntaxError() error {
	return &SyntaxError{Offset: int64(s.i), Msg: describeAt(s.data, s.i)}
}

// syntaxErrorIn is syntaxError for an error inside a part of the document
// named what, e.g. "string literal".
func (s *scanner) syntaxErrorIn(what string) error {
	msg := describeAt(s.data, s.i)
	if s.i < len(s.data) {
		msg += " in " + what
	}
	return &SyntaxError{Offset: int64(s.i), Msg: msg}
}

// describeAt says what is wrong at data[i], where a syntax error was found.
func describeAt(data []byte, i int) string {
	if i >= len(data) {
		return "unexpected end of input"
	}
	c := data[i]
	switch {
	case c == '"':
		return "invalid character '\"'"
	case c < 0x20:
		return fmt.Sprintf("invalid control character %q", rune(c))
	case c >= utf8.RuneSelf:
		r, _ := utf8.DecodeRune(data[i:])
		return fmt.Sprintf("invalid character %q", r)
	}
	return fmt.Sprintf("invalid character '%c'", c)
}

// notObjectSyntaxError describes malformed JSON that is not an object, as
// encoding/json finds it.
func notObjectSyntaxError(data []byte) error {
	var v any
	var se *json.SyntaxError
	if err := json.Unmarshal(data, &v); errors.As(err, &se) {
		msg := strings.TrimPrefix(se.Error(), "json: ")
		if msg == "unexpected end of JSON input" {
			msg = "unexpected end of input"
		}
		return &SyntaxError{Offset: se.Offset, Msg: msg}
	}
	return &SyntaxError{}
}

// skipSpace skips JSON white space: space, tab, line feed, carriage return.
func (s *scanner) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value checks one value at nesting depth depth: a container found here is
// at depth+1.
func (s *scanner) value(depth int) error {
	s.skipSpace()
	if s.i >= len(s.data) {
		return s.syntaxError()
	}
	switch c := s.data[s.i]; {
	case c == '{' || c == '[':
		if depth+1 > s.maxDepth {
			return ErrTooDeep
		}
		if c == '{' {
			return s.object(depth + 1)
		}
		return s.array(depth + 1)
	case c == '"':
		_, err := s.str(false)
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	default:
		return s.syntaxError()
	}
}

// object checks the object that starts at data[i], at depth depth.
func (s *scanner) object(depth int) error {
	s.i++ // {
	s.skipSpace()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return nil
	}
	// Most objects have few members: their names are compared in a
	// slice; a map takes over past len(small).
	var small [16][]byte
	names := small[:0]
	var many map[string]struct{}
	for {
		s.skipSpace()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return s.syntaxError()
		}
		name, err := s.str(true)
		if err != nil {
			return err
		}
		if many != nil {
			if _, dup := many[string(name)]; dup {
				return &DuplicateError{Name: string(name)}
			}
			many[string(name)] = struct{}{}
		} else {
			for _, n := range names {
				if bytes.Equal(n, name) {
					return &DuplicateError{Name: string(name)}
				}
			}
			if len(names) < len(small) {
				names = append(names, name)
			} else {
				many = make(map[string]struct{}, 2*len(small))
				for _, n := range names {
					many[string(n)] = struct{}{}
				}
				many[string(name)] = struct{}{}
			}
		}
		s.skipSpace()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return s.syntaxError()
		}
		s.i++
		if err := s.value(depth); err != nil {
			return err
		}
		if more, err := s.next('}'); !more || err != nil {
			return err
		}
	}
}

// array checks the array that starts at data[i], at depth depth.
func (s *scanner) array(depth int) error {
	s.i++ // [
	s.skipSpace()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		if err := s.value(depth); err != nil {
			return err
		}
		if more, err := s.next(']'); !more || err != nil {
			return err
		}
	}
}

// next reads what follows a member or an element of a container that ends
// with end: a comma (more is true) or end (more is false).
func (s *scanner) next(end byte) (more bool, err error) {
	s.skipSpace()
	if s.i < len(s.data) {
		switch s.data[s.i] {
		case ',':
			s.i++
			return true, nil
		case end:
			s.i++
			return false, nil
		}
	}
	return false, s.syntaxError()
}

// str checks the string that starts at data[i]. With decode, it returns
// the string's value, decoded as encoding/json decodes it (an invalid
// surrogate escape becomes U+FFFD): a part of data unless the string has
// escapes.
func (s *scanner) str(decode bool) ([]byte, error) {
	start := s.i
	s.i++ // "
	escaped := false
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			raw := s.data[start:s.i]
			if !decode {
				return nil, nil
			}
			if !escaped {
				return raw[1 : len(raw)-1], nil
			}
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, &SyntaxError{Offset: int64(start), Msg: "invalid string"}
			}
			return []byte(v), nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.data) {
				s.i++
				return nil, s.syntaxErrorIn("string escape code")
			}
			switch s.data[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.data) || !isHex4(s.data[s.i+2:s.i+6]) {
					s.i++
					return nil, s.syntaxErrorIn("\\u escape code")
				}
				s.i += 6
			default:
				s.i++
				return nil, s.syntaxErrorIn("string escape code")
			}
		case c < 0x20:
			return nil, s.syntaxErrorIn("string literal")
		default:
			s.i++
		}
	}
	return nil, s.syntaxError()
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// literal checks that data[i:] starts with lit.
func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.data[s.i:], []byte(lit)) {
		return s.syntaxError()
	}
	s.i += len(lit)
	return nil
}

// number checks the number that starts at data[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.data[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.data) && s.data[s.i] == '0':
		s.i++
	case s.i < len(s.data) && '1' <= s.data[s.i] && s.data[s.i] <= '9':
		s.digits()
	default:
		return s.syntaxError()
	}
	if s.i < len(s.data) && s.data[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.syntaxError()
		}
	}
	if s.i < len(s.data) && (s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		s.i++
		if s.i < len(s.data) && (s.data[s.i] == '+' || s.data[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.syntaxError()
		}
	}
	return nil
}

// digits skips decimal digits and returns how many.
func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}
