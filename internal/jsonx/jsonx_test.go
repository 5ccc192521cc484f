package jsonx

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckObject(t *testing.T) {
	ok := []string{`{}`, ` {"a":1} `, `{"a":{"b":[1,{"c":null}]},"d":"\u00e9"}`, `{"a":1,"b":{"a":2}}`}
	for _, s := range ok {
		if err := CheckObject([]byte(s), 8); err != nil {
			t.Errorf("CheckObject(%s) = %v", s, err)
		}
	}
	var dup *DuplicateError
	var syn *SyntaxError
	bad := []struct {
		in    string
		check func(error) bool
	}{
		{`{"a":1,"a":2}`, func(e error) bool { return errors.As(e, &dup) && dup.Name == "a" }},
		{`{"x":{"k":1,"k":1}}`, func(e error) bool { return errors.As(e, &dup) && dup.Name == "k" }},
		{`{"x":[{"k":1,"k":1}]}`, func(e error) bool { return errors.As(e, &dup) }},
		{`[]`, func(e error) bool { return errors.Is(e, ErrNotObject) }},
		{`"s"`, func(e error) bool { return errors.Is(e, ErrNotObject) }},
		{``, func(e error) bool { return errors.Is(e, ErrNotObject) }},
		{"{\"a\":\"\xff\"}", func(e error) bool { return errors.Is(e, ErrInvalidUTF8) }},
		{`{"a":1`, func(e error) bool { return errors.As(e, &syn) }},
		{`{"a":1}{}`, func(e error) bool { return errors.As(e, &syn) }},
		{`{"a":1} x`, func(e error) bool { return errors.As(e, &syn) }},
		{`[1,`, func(e error) bool { return errors.As(e, &syn) }},
		{strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9), func(e error) bool { return errors.Is(e, ErrTooDeep) }},
	}
	for _, tc := range bad {
		if err := CheckObject([]byte(tc.in), 8); err == nil || !tc.check(err) {
			t.Errorf("CheckObject(%q) = %v", tc.in, err)
		}
	}
}

// A syntax error says what is wrong and where.
func TestSyntaxErrorMessage(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1`:                 "malformed JSON: unexpected end of input at byte 6",
		`{"a":x}`:                "malformed JSON: invalid character 'x' at byte 5",
		`{"a":1,}`:               "malformed JSON: invalid character '}' at byte 7",
		`{"a" 1}`:                "malformed JSON: invalid character '1' at byte 5",
		"{\"a\":\"\n\"}":         `malformed JSON: invalid control character '\n' in string literal at byte 6`,
		`{"a":1} x`:              "malformed JSON: invalid character 'x' at byte 8",
		`{"client_id":"abc"`:     "malformed JSON: unexpected end of input at byte 18",
		`{"a":"\x"}`:             `malformed JSON: invalid character 'x' in string escape code at byte 7`,
		`[1,`:                    "malformed JSON: unexpected end of input",
		`nope`:                   "malformed JSON: invalid character 'o' in literal null (expecting 'u')",
		"{\"a\":1,\"é\":\u00a0}": "malformed JSON: invalid character '\\u00a0' at byte 12",
	} {
		err := CheckObject([]byte(in), 8)
		var syn *SyntaxError
		if !errors.As(err, &syn) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("CheckObject(%q) = %v, want %q", in, err, want)
		}
	}
}
