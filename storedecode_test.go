package clientreg_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// storedMetadataValues are metadata values in the form the handler stores
// them (JWKS compact, no empty localized values): every member set, the
// localized and extension members, numbers and booleans (zero and false
// included), empty and nil slices, and strings that need escapes or are not
// ASCII.
func storedMetadataValues() []clientreg.Metadata {
	odd := "quote \" backslash \\ slash / tab \t nl \n cr \r nul \x00 bell \x07 del \x7f <html>&amp; \u2028 \u2029 é 日本語 😀 \ufffd"
	full := clientreg.Metadata{
		RedirectURIs:                 []string{"https://app.example/cb", "http://127.0.0.1:49152/cb?x=1&y=2#frag"},
		TokenEndpointAuthMethod:      "private_key_jwt",
		GrantTypes:                   []string{"authorization_code", "refresh_token"},
		ResponseTypes:                []string{"code", "code id_token"},
		ClientName:                   "Full client",
		ClientURI:                    "https://app.example",
		LogoURI:                      "https://app.example/logo.png",
		Scope:                        "openid profile email",
		Contacts:                     []string{"ops@app.example", "+1 555 0100"},
		TOSURI:                       "https://app.example/tos",
		PolicyURI:                    "https://app.example/policy",
		JWKSURI:                      "https://app.example/jwks",
		JWKS:                         json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"sig","n":1.5e3,"ok":true,"none":null,"s":"a b\u00e9"}]}`),
		SoftwareID:                   "4NRB1-0XZABZI9E6-5SM3R",
		SoftwareVersion:              "2.1.0",
		SoftwareStatement:            "eyJhbGciOiJSUzI1NiJ9.eyJzb2Z0d2FyZV9pZCI6IjROUkIxIn0.c2ln",
		ApplicationType:              "web",
		SectorIdentifierURI:          "https://app.example/sector.json",
		SubjectType:                  "pairwise",
		IDTokenSignedResponseAlg:     "RS256",
		IDTokenEncryptedResponseAlg:  "RSA-OAEP",
		IDTokenEncryptedResponseEnc:  "A128CBC-HS256",
		UserinfoSignedResponseAlg:    "ES256",
		UserinfoEncryptedResponseAlg: "ECDH-ES",
		UserinfoEncryptedResponseEnc: "A256GCM",
		RequestObjectSigningAlg:      "PS256",
		RequestObjectEncryptionAlg:   "RSA-OAEP-256",
		RequestObjectEncryptionEnc:   "A192GCM",
		TokenEndpointAuthSigningAlg:  "EdDSA",
		DefaultMaxAge:                new(int64(3600)),
		RequireAuthTime:              new(true),
		DefaultACRValues:             []string{"urn:mace:incommon:iap:silver", "1"},
		InitiateLoginURI:             "https://app.example/login",
		RequestURIs:                  []string{"https://app.example/req.jwt#Lx4bGnTTkHZdIw"},
		PostLogoutRedirectURIs:       []string{"https://app.example/bye"},
		Localized: map[string]string{
			"client_name#ja-Jpan-JP": "クライアント名",
			"client_name#en":         "Client",
			"logo_uri#fr":            "https://app.example/logo-fr.png",
			"tos_uri#de-CH":          "https://app.example/tos-de",
			"policy_uri#EN-gb":       odd,
			"client_uri#x-private":   "https://app.example/x",
		},
		Extensions: map[string]json.RawMessage{
			"ext_string":       json.RawMessage(`"s"`),
			"ext_number":       json.RawMessage(`-12.5e-3`),
			"ext_bool":         json.RawMessage(`false`),
			"ext_array":        json.RawMessage(`[1,"two",[3],{"four":4},null,true]`),
			"ext_object":       json.RawMessage(`{"a":{"b":[{"c":"}]\"["}]},"d":""}`),
			"ext spaced":       json.RawMessage(`{ "a" : [ 1 , 2 ] }`),
			"ext_escaped\"\\é": json.RawMessage(`"\u00e9\ud83d\ude00\n\"\\"`),
			"client_id#en":     json.RawMessage(`"not a response member"`),
			"scope#en":         json.RawMessage(`"scope is not localizable"`),
			"#":                json.RawMessage(`0`),
			"":                 json.RawMessage(`{}`),
		},
	}
	return []clientreg.Metadata{
		{},
		full,
		{RedirectURIs: []string{"https://app.example/cb"}, ClientName: "bench"},
		// Empty, non-nil slices are present ([]); nil ones are absent.
		{RedirectURIs: []string{}, GrantTypes: []string{}, ResponseTypes: nil, Contacts: []string{""}, DefaultACRValues: []string{}, RequestURIs: []string{}, PostLogoutRedirectURIs: []string{}},
		// Zero and false are present.
		{DefaultMaxAge: new(int64(0)), RequireAuthTime: new(false)},
		{DefaultMaxAge: new(int64(1<<63 - 1))},
		{ClientName: odd, Scope: odd, Contacts: []string{odd, "", odd}, Localized: map[string]string{"client_name#en": odd}},
		{JWKS: json.RawMessage(`{}`)},
		{Extensions: map[string]json.RawMessage{"x": json.RawMessage(`"` + strings.Repeat(`\\`, 5) + `"`)}},
		{Localized: map[string]string{"client_name#en": "only localized"}},
	}
}

// TestDecodeStoredMetadata proves that DecodeStoredMetadata gives, for what
// MarshalJSON wrote, what the strict decoder gives, and that both give back
// the value encoded.
func TestDecodeStoredMetadata(t *testing.T) {
	for i, m := range storedMetadataValues() {
		b, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var strict clientreg.Metadata
		if err := strict.UnmarshalJSON(b); err != nil {
			t.Fatalf("value %d: the strict decoder rejects %s: %v", i, b, err)
		}
		fast, err := clientreg.DecodeStoredMetadata(b)
		if err != nil {
			t.Fatalf("value %d: DecodeStoredMetadata(%s): %v", i, b, err)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Errorf("value %d: DecodeStoredMetadata(%s)\n= %#v\nstrict decoder: %#v", i, b, fast, strict)
		}
		if !reflect.DeepEqual(fast, m) {
			t.Errorf("value %d: DecodeStoredMetadata(%s)\n= %#v\nencoded: %#v", i, b, fast, m)
		}
		if again, _ := fast.MarshalJSON(); !bytes.Equal(again, b) {
			t.Errorf("value %d: the decoded value encodes as %s, want %s", i, again, b)
		}
	}
}

// TestEncodeStoredMetadata checks that EncodeStoredMetadata writes
// MarshalJSON's bytes, which DecodeStoredMetadata reads back, and refuses
// metadata whose encoding could not be read back.
func TestEncodeStoredMetadata(t *testing.T) {
	for i, m := range storedMetadataValues() {
		b, err := clientreg.EncodeStoredMetadata(m)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if want, _ := m.MarshalJSON(); !bytes.Equal(b, want) {
			t.Errorf("value %d: EncodeStoredMetadata = %s, MarshalJSON = %s", i, b, want)
		}
		if back, err := clientreg.DecodeStoredMetadata(b); err != nil || !reflect.DeepEqual(back, m) {
			t.Errorf("value %d: read back as %#v, %v; want %#v", i, back, err, m)
		}
	}
	for name, m := range map[string]clientreg.Metadata{
		"an invalid language tag": {Localized: map[string]string{"client_name#not a tag": "x"}},
		"a nil extension value":   {Extensions: map[string]json.RawMessage{"x": nil}},
		"an invalid extension":    {Extensions: map[string]json.RawMessage{"x": json.RawMessage(`{`)}},
	} {
		if b, err := clientreg.EncodeStoredMetadata(m); err == nil {
			t.Errorf("%s: encoded as %s, want an error", name, b)
		}
	}
}

// storedDecodeDocuments are documents MarshalJSON does not write that the
// strict decoder accepts: white space, nulls, escaped names, server-managed
// members, members in any order, PostgreSQL jsonb's layout.
var storedDecodeDocuments = []string{
	`{}`,
	" \t\r\n{ \n} \n",
	`{"client_name":null,"redirect_uris":null,"jwks":null,"default_max_age":null,"require_auth_time":null,"client_name#en":null,"x":null}`,
	`{ "redirect_uris" : [ "https://a.example/cb" , "https://b.example/cb" ] , "client_name" : "n" }`,
	`{"client_n\u0061me":"escaped name","\u0063lient_name#en":"escaped localized","x\ud800":"lone surrogate"}`,
	`{"client_id":"c","client_secret":"s","registration_access_token":"t","registration_client_uri":"u","client_secret_expires_at":0,"client_id_issued_at":1}`,
	`{"jwks":  { "keys" : [ {"kty" : "oct", "k": "a b"} ] } , "ext":  [ 1 , { "a" : null } ] , "ext2" : "s" }`,
	`{"jwks":{"keys":[]}}`,
	`{"default_max_age":0,"require_auth_time":false,"scope":"","client_name#en":"","contacts":[]}`,
	`{"default_max_age":9223372036854775807}`,
	`{"scope": "a\/b \"q\" \\ \b\f\n\r\t \u0000 \u00e9 \ud83d\ude00 \udc00"}`,
	`{"ext":-0.5E+10,"ext2":true,"ext3":false,"ext4":"}","ext5":"\"]"}`,
	`{"client_name#ja-Jpan-JP":"名前","client_name#EN":"Name","logo_uri#en":"https://a.example/l.png"}`,
	`{"tos_uri#en-US":"https://a.example/t","client_id#en":"ext","scope#en":"ext","#":"ext","":"ext"}`,
}

// TestDecodeStoredMetadataDocuments checks DecodeStoredMetadata against the
// strict decoder on documents that MarshalJSON does not write.
func TestDecodeStoredMetadataDocuments(t *testing.T) {
	for _, doc := range storedDecodeDocuments {
		checkStoredDecode(t, []byte(doc))
	}
}

// storedDecodeMalformed are documents DecodeStoredMetadata must refuse.
var storedDecodeMalformed = []string{
	``, ` `, `null`, `[]`, `"s"`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1`, `{"a":1}x`, `{"a":1}{}`,
	`{a:1}`, `{"a":1 "b":2}`, `{"a" 1}`, `{"a":[1,]}`, `{"a":[}`, `{"a":{]}`, `{"a":tru}`, `{"a":nul}`, `{"a":01}`,
	`{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":"unterminated}`, `{"a":"\"}`, `{"a":[[[}`, `{"a":]}`,
	`{"client_name":1}`, `{"client_name":["x"]}`, `{"redirect_uris":"x"}`, `{"redirect_uris":[1]}`, `{"redirect_uris":[null]}`,
	`{"redirect_uris":["a" "b"]}`, `{"redirect_uris":["a",]}`, `{"redirect_uris":[`, `{"jwks":[]}`, `{"jwks":"x"}`, `{"jwks":{"a"}}`,
	`{"default_max_age":-1}`, `{"default_max_age":1.5}`, `{"default_max_age":1e3}`, `{"default_max_age":"1"}`,
	`{"default_max_age":007}`, `{"default_max_age":+1}`, `{"default_max_age":9223372036854775808}`, `{"default_max_age":}`,
	`{"require_auth_time":"true"}`, `{"require_auth_time":1}`, `{"require_auth_time":True}`, `{"client_name#en":1}`,
	`{"client_id":}`, `{"client_id":[}`, `{"scope":"a"x}`, `{"x":1 2}`, `{"x":"a" "b"}`, `{"x":[1}]}`,
}

// TestDecodeStoredMetadataMalformed checks that DecodeStoredMetadata refuses
// malformed documents and members of the wrong type, as the strict decoder
// does.
func TestDecodeStoredMetadataMalformed(t *testing.T) {
	for _, doc := range storedDecodeMalformed {
		if m, err := clientreg.DecodeStoredMetadata([]byte(doc)); err == nil {
			t.Errorf("DecodeStoredMetadata(%q) = %#v, want an error", doc, m)
		}
		var strict clientreg.Metadata
		if err := strict.UnmarshalJSON([]byte(doc)); err == nil {
			t.Errorf("the strict decoder accepts %q, the test expects a malformed document", doc)
		}
	}
}

// checkStoredDecode checks the fuzz target's property on data: the fast
// path never panics (the fuzzer reports panics), and where the strict
// decoder accepts data it returns the same metadata, whose encoding it
// decodes again to the same value.
func checkStoredDecode(t *testing.T, data []byte) {
	t.Helper()
	fast, fastErr := clientreg.DecodeStoredMetadata(data)
	var strict clientreg.Metadata
	if err := strict.UnmarshalJSON(data); err != nil {
		return
	}
	if fastErr != nil {
		t.Fatalf("DecodeStoredMetadata(%q): %v; the strict decoder accepts it", data, fastErr)
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("DecodeStoredMetadata(%q)\n= %#v\nstrict decoder: %#v", data, fast, strict)
	}
	b, _ := fast.MarshalJSON()
	again, err := clientreg.DecodeStoredMetadata(b)
	if err != nil || !reflect.DeepEqual(again, fast) {
		t.Fatalf("the encoding %s of DecodeStoredMetadata(%q) decodes to %#v, %v; want %#v", b, data, again, err, fast)
	}
}

// FuzzDecodeStoredMetadata checks DecodeStoredMetadata against the strict
// decoder: the same metadata for every document the strict decoder accepts,
// and no panic on any input. Its seeds are in
// testdata/fuzz/FuzzDecodeStoredMetadata, beside those added here.
func FuzzDecodeStoredMetadata(f *testing.F) {
	for _, m := range storedMetadataValues() {
		b, _ := m.MarshalJSON()
		f.Add(b)
	}
	for _, doc := range storedDecodeDocuments {
		f.Add([]byte(doc))
	}
	for _, doc := range storedDecodeMalformed {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkStoredDecode(t, data)
	})
}

// BenchmarkDecodeStoredMetadata compares the two decoders on a typical
// stored client's metadata and on one with every member set.
func BenchmarkDecodeStoredMetadata(b *testing.B) {
	values := storedMetadataValues()
	for _, tc := range []struct {
		name string
		m    clientreg.Metadata
	}{
		{"typical", clientreg.Metadata{
			RedirectURIs:            []string{"http://127.0.0.1:51234/cb"},
			TokenEndpointAuthMethod: "client_secret_basic",
			GrantTypes:              []string{"authorization_code"},
			ResponseTypes:           []string{"code"},
			ClientName:              "bench 1234",
		}},
		{"full", values[1]},
	} {
		data, _ := tc.m.MarshalJSON()
		b.Run(fmt.Sprintf("%s/strict", tc.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m clientreg.Metadata
				if err := m.UnmarshalJSON(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%s/stored", tc.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := clientreg.DecodeStoredMetadata(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
