package clientreg

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestWriteJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\n\r\t", "<>&", "日本語 🎉", "a\u2028b\u2029c", "bad\xffutf8", "\u0041"} {
		var buf bytes.Buffer
		writeJSONString(&buf, s)
		var got string
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", s, buf.Bytes(), err)
		}
		want := s
		if s == "bad\xffutf8" {
			want = "bad\ufffdutf8"
		}
		if got != want {
			t.Errorf("round trip of %q = %q", s, got)
		}
	}
}
