package clientreg_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// spoofingRunes are characters that a consent page would show as nothing,
// as a line break, or that reorder what follows them.
var spoofingRunes = []rune{
	0x00, '\r', '\n', 0x1b, 0x7f, // C0 and DEL
	0x85, 0x9b, // C1
	0x202e, 0x202a, 0x2066, 0x2069, 0x200e, 0x061c, // bidi controls
	0x200b, 0x2060, 0xfeff, 0x00ad, 0x180e, 0xe0041, // invisible formatting (Cf)
	0x2028, 0x2029, // line and paragraph separators
	0x3164, // Hangul filler: a letter that renders as nothing
}

// The human-readable members refuse control, formatting and separator
// characters with an ASCII description naming the member and the code
// point, and keep ordinary Unicode text byte-exact.
func TestDisplayStringsRefuseSpoofingCharacters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		type member struct {
			ptr  string
			body func(v string) obj
		}
		members := []member{
			{"/client_name", func(v string) obj { return obj{"client_name": v} }},
			{"/client_name#fr", func(v string) obj { return obj{"client_name#fr": v} }},
			{"/contacts/1", func(v string) obj { return obj{"contacts": []string{"ops@app.example", v}} }},
			{"/software_id", func(v string) obj { return obj{"software_id": v} }},
			{"/software_version", func(v string) obj { return obj{"software_version": v} }},
		}
		for _, m := range members {
			for _, r := range spoofingRunes {
				v := "Good" + string(r) + "App"
				t.Run(fmt.Sprintf("%s/U+%04X", m.ptr, r), func(t *testing.T) {
					before := e.store.created()
					desc := wantError(t, e.post(body(m.body(v)), ""), http.StatusBadRequest, "invalid_client_metadata")
					if !strings.HasPrefix(desc, pointerPrefix(m.ptr)) || !strings.Contains(desc, fmt.Sprintf("U+%04X", r)) {
						t.Errorf("description %q does not start with %s and name U+%04X", desc, m.ptr, r)
					}
					e.wantNothingStored(before)
				})
			}
		}
		// TAB is white space a page renders as a space: kept in names (as
		// TestLanguageTaggedMembers stores it), refused where nobody types one.
		e.register(body(obj{"client_name": "Tab\there"}))
		wantError(t, e.post(body(obj{"contacts": []string{"ops\t@app.example"}}), ""), http.StatusBadRequest, "invalid_client_metadata")

		// Ordinary text in any script, combining marks and emoji stay.
		ok := obj{"client_name": "Café Ünïcode 日本語 العربية 😀 ❤️", "client_name#ja": "クライアント", "software_id": "com.example.app",
			"software_version": "1.2.3-β", "contacts": []string{"José <jose@app.example>"}}
		c := e.register(body(ok))
		if got := c.res.mustStr(t, "client_name"); got != ok["client_name"] {
			t.Errorf("client_name = %q", got)
		}
	})
}

// pointerPrefix is how a description starts for the member at ptr.
func pointerPrefix(ptr string) string {
	return ptr + ": "
}

// URIs are ASCII (RFC 3986 §2; an IDN host arrives in its A-label form,
// RFC 5890), never carry control or formatting characters, a '*' in the
// host or a scheme that renders local or browser-internal content; the
// private-use schemes of MCP desktop clients still register.
func TestURIsAreASCIIAndNotSpoofable(t *testing.T) {
	e := newEnv(t, memoryBackend)
	redirects := []struct{ uri, phrase string }{
		{"https://app.example/\u0085cb", "U+0085"},
		{"https://app.example/\u202ecb", "U+202E"},
		{"https://app.example/c\u200bb", "U+200B"},
		{"https://\u0430pp.example/cb", "U+0430"}, // Cyrillic a
		{"https://bücher.example/cb", "U+00FC"},
		{"https://b%C3%BCcher.example/cb", "A-label"},
		{"https://*.example.com/cb", "*"},
		{"https://a*b.example.com/cb", "*"},
		{"cursor://*/cb", "*"},
		{"https://app!.example/cb", "host"},
		{"https://[fe80::1%25eth0]/cb", "zone"},
		{"view-source:https://app.example/cb", "view-source"},
		{"VIEW-SOURCE:https://app.example/cb", "view-source"},
		{"filesystem:https://app.example/temporary/cb", "filesystem"},
		{"jar:https://app.example/a.jar!/cb", "jar"},
	}
	for _, tc := range redirects {
		t.Run(tc.uri, func(t *testing.T) {
			before := e.store.created()
			desc := wantError(t, e.post(body(obj{"redirect_uris": []string{"https://app.example/ok", tc.uri}}), ""), http.StatusBadRequest, "invalid_redirect_uri")
			if !strings.HasPrefix(desc, "/redirect_uris/1: ") || !strings.Contains(desc, tc.phrase) {
				t.Errorf("description %q does not start with /redirect_uris/1 and name %q", desc, tc.phrase)
			}
			e.wantNothingStored(before)
			if err := clientreg.CheckRedirectURI(tc.uri); err == nil {
				t.Errorf("CheckRedirectURI(%q) accepts it", tc.uri)
			}
		})
	}
	others := []struct {
		member string
		value  any
		ptr    string
	}{
		{"logo_uri", "https://\u0430pp.example/logo.png", "/logo_uri: "},
		{"client_uri", "https://*.app.example/", "/client_uri: "},
		{"tos_uri#fr", "https://app.example/\u202etos", "/tos_uri#fr: "},
		{"policy_uri", "https://b%C3%BCcher.example/p", "/policy_uri: "},
		{"jwks_uri", "https://app.example/\u00a0jwks", "/jwks_uri: "},
		{"initiate_login_uri", "https://app.example/login\u2028", "/initiate_login_uri: "},
		{"request_uris", []string{"https://app.example/r\u0085"}, "/request_uris/0: "},
		{"post_logout_redirect_uris", []string{"https://app.example/\u202eout"}, "/post_logout_redirect_uris/0: "},
		{"post_logout_redirect_uris", []string{"view-source:https://app.example/out"}, "/post_logout_redirect_uris/0: "},
	}
	for _, tc := range others {
		t.Run(tc.member, func(t *testing.T) {
			desc := wantError(t, e.post(body(obj{tc.member: tc.value}), ""), http.StatusBadRequest, "invalid_client_metadata")
			if !strings.HasPrefix(desc, tc.ptr) {
				t.Errorf("description %q does not start with %q", desc, tc.ptr)
			}
		})
	}
	// Still accepted: A-labels, percent-encoded paths, the private-use
	// schemes of MCP desktop clients, IPv6 literals.
	e.register(body(obj{
		"redirect_uris": []string{"https://xn--bcher-kva.example/caf%C3%A9", "cursor://anysphere.cursor-retrieval/oauth/callback",
			"vscode://vscode.github-authentication/did-authenticate", "claude://claude.ai/oauth/callback", "https://[2001:db8::1]:8443/cb",
			"http://127.0.0.1:33418/cb", "https://my_host.example/cb"},
		"logo_uri": "https://xn--bcher-kva.example/logo.png",
	}))
}
