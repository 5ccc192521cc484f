package oauthsyntax

import "testing"

func TestScopeToken(t *testing.T) {
	for s, want := range map[string]bool{
		"read": true, "mcp:tools": true, "a!#[]~": true,
		"": false, "a b": false, `a"b`: false, `a\b`: false, "é": false, "a\x7f": false,
	} {
		if got := ScopeToken(s); got != want {
			t.Errorf("ScopeToken(%q) = %v, want %v", s, got, want)
		}
	}
}
