package langtag

import "testing"

func TestValid(t *testing.T) {
	good := []string{"en", "fr-CA", "ja-Jpan-JP", "zh-Hant-TW", "de-CH-1901", "sl-rozaj-biske",
		"es-419", "zh-yue-HK", "en-US-x-twain", "x-whatever", "i-klingon", "en-a-bbb-x-a-ccc", "sr-Latn-RS", "hy-Latn-IT-arevela"}
	bad := []string{"", "-", "en-", "a", "123", "de-419-DE-", "abcdefghi", "en--US", "en_US", "de-DE-1901-1901",
		"en-a-bbb-a-ccc", "x", "en-x", "ja-Jpan-JP-a", "fr#ca", "en US", "\u00e9n"}
	for _, s := range good {
		if !Valid(s) {
			t.Errorf("Valid(%q) = false, want true", s)
		}
	}
	for _, s := range bad {
		if Valid(s) {
			t.Errorf("Valid(%q) = true, want false", s)
		}
	}
}
