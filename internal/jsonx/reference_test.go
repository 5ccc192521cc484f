package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// referenceCheckObject is CheckObject as it was first written, on
// encoding/json's Decoder.Token: slower, and obviously in agreement with
// encoding/json. FuzzCheckObject holds the scanner to it.
func referenceCheckObject(data []byte, maxDepth int) error {
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
	if err := refCheckValue(dec, 0, maxDepth); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &SyntaxError{Offset: dec.InputOffset()}
	}
	return nil
}

func refCheckValue(dec *json.Decoder, depth, maxDepth int) error {
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
			if err := refCheckValue(dec, depth+1, maxDepth); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := refCheckValue(dec, depth+1, maxDepth); err != nil {
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

// errorKind names the kind of a CheckObject error, with the name of a
// duplicate member.
func errorKind(err error) string {
	var dup *DuplicateError
	var syn *SyntaxError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &dup):
		return "duplicate " + dup.Name
	case errors.As(err, &syn):
		return "syntax"
	case errors.Is(err, ErrInvalidUTF8), errors.Is(err, ErrNotObject), errors.Is(err, ErrTooDeep):
		return err.Error()
	}
	return "unexpected: " + err.Error()
}

// FuzzCheckObject checks that CheckObject accepts exactly the documents that
// referenceCheckObject accepts, with the same kind of error otherwise, and
// that what it accepts encoding/json decodes.
func FuzzCheckObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {"a":1} `, `{"a":{"b":[1,{"c":null}]},"d":"\u00e9"}`, `{"a":1,"a":2}`,
		`{"a":1,"\u0061":2}`, `{"\ud800":1,"\udc00":2}`, `{"a":[1,2,]}`, `{"a":-0.5e+3,"b":01}`,
		`{"a":tru}`, `{"a":"\x"}`, `{"a":"` + "\t" + `"}`, `{"a" 1}`, `{"a":1,}`, `[1]`, `"s"`, ``, `  `,
		`{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}`, "{\"a\":\"\xff\"}", "\u00a0{}",
		`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k1":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want := CheckObject(data, 8), referenceCheckObject(data, 8)
		if errorKind(got) != errorKind(want) {
			t.Fatalf("CheckObject(%q) = %v (%s), reference %v (%s)", data, got, errorKind(got), want, errorKind(want))
		}
		if got == nil {
			// Numbers are decoded as json.Number: a number beyond float64's
			// range (1e400) is valid JSON (RFC 8259 §6 lets a decoder limit
			// the range it converts, not the syntax it accepts).
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			var v map[string]any
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("CheckObject(%q) = nil, but encoding/json fails: %v", data, err)
			}
			if _, err := dec.Token(); err != io.EOF {
				t.Fatalf("CheckObject(%q) = nil, but encoding/json finds more after the object: %v", data, err)
			}
		}
	})
}

// BenchmarkCheckObject checks a registration request body of the usual
// size, against the reference implementation.
func BenchmarkCheckObject(b *testing.B) {
	body := []byte(`{"client_name":"Example \u00e9 App","redirect_uris":["https://app.example.com/cb","http://127.0.0.1:8080/cb"],` +
		`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_basic",` +
		`"scope":"openid profile email","contacts":["ops@example.com"],"logo_uri":"https://app.example.com/logo.png",` +
		`"client_uri":"https://app.example.com","software_id":"4NRB1-0XZABZI9E6-5SM3R","software_version":"2.1.0",` +
		`"client_name#fr":"Exemple","x_extension":{"nested":[1,2.5,true,null,"s"]}}`)
	for _, impl := range []struct {
		name string
		fn   func([]byte, int) error
	}{{"scanner", CheckObject}, {"reference", referenceCheckObject}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := impl.fn(body, 8); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
