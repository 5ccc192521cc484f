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
