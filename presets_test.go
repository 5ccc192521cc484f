package clientreg_test

import (
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// The redirect URI presets: which URI each accepts, and an error that names
// the URI and the rule.
func TestRedirectPresets(t *testing.T) {
	uris := []string{
		"https://app.example/cb",          // 0 web URL / claimed https
		"http://127.0.0.1:49152/cb",       // 1 loopback, any port
		"http://localhost/cb",             // 2
		"cursor://anysphere.cursor/cb",    // 3 private-use, not reverse-DNS
		"com.example.app:/oauth2redirect", // 4 private-use, reverse-DNS (RFC 8252 7.1)
		"http://app.example/cb",           // 5 plain http, remote
		"javascript:alert(1)",             // 6 never
	}
	want := map[clientreg.RedirectPreset][]bool{
		clientreg.PresetMCP:    {true, true, true, true, true, false, false},
		clientreg.PresetWeb:    {true, true, true, false, false, false, false},
		clientreg.PresetNative: {true, true, true, false, true, false, false},
		"":                     {true, true, true, true, true, false, false}, // default: mcp
	}
	for preset, oks := range want {
		t.Run(string(preset), func(t *testing.T) {
			e := newOAuthEnv(t, func(c *clientreg.Config) { c.RedirectPreset = preset })
			for i, u := range uris {
				r := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"redirect_uris": []string{u}})
				if got := r.status == 201; got != oks[i] {
					t.Errorf("%s: accepted = %v, want %v (%s)", u, got, oks[i], r.body)
				}
				if !oks[i] && (r.str("error") != "invalid_redirect_uri" || !strings.Contains(r.str("error_description"), "'"+u+"'")) {
					t.Errorf("%s: error does not name the URI: %s", u, r.body)
				}
			}
		})
	}
}
