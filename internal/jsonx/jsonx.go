// Package jsonx checks the syntax of untrusted JSON documents more strictly
// than encoding/json does: valid UTF-8, no duplicate member names, bounded
// nesting.
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
type SyntaxError struct{ Offset int64 }

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON near byte %d", e.Offset)
}

// CheckObject reports whether data is one well-formed JSON object in valid
// UTF-8 (surrounding white space allowed), in which no object repeats a member
// name and nesting stays within maxDepth levels.
func CheckObject(data []byte, maxDepth int) error {
	if !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if len(trimmed) > 0 && !json.Valid(trimmed) {
			return &SyntaxError{}
		}
		return ErrNotObject
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := checkValue(dec, 0, maxDepth); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &SyntaxError{Offset: dec.InputOffset()}
	}
	return nil
}

func checkValue(dec *json.Decoder, depth, maxDepth int) error {
	tok, err := dec.Token()
	if err != nil {
		return &SyntaxError{Offset: dec.InputOffset()}
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth+1 > maxDepth {
		return ErrTooDeep
	}
	switch d {
	case '{':
		seen := make(map[string]struct{})
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return &SyntaxError{Offset: dec.InputOffset()}
			}
			k, ok := kt.(string)
			if !ok {
				return &SyntaxError{Offset: dec.InputOffset()}
			}
			if _, dup := seen[k]; dup {
				return &DuplicateError{Name: k}
			}
			seen[k] = struct{}{}
			if err := checkValue(dec, depth+1, maxDepth); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := checkValue(dec, depth+1, maxDepth); err != nil {
				return err
			}
		}
	default:
		return &SyntaxError{Offset: dec.InputOffset()}
	}
	if _, err := dec.Token(); err != nil { // closing delimiter
		return &SyntaxError{Offset: dec.InputOffset()}
	}
	return nil
}
