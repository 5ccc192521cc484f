// Package langtag checks the syntax of BCP 47 language tags (RFC 5646 §2.1).
package langtag

import "strings"

// grandfathered are the irregular and regular grandfathered tags of RFC 5646
// §2.1, lower-cased.
var grandfathered = map[string]bool{
	"en-gb-oed": true, "i-ami": true, "i-bnn": true, "i-default": true, "i-enochian": true,
	"i-hak": true, "i-klingon": true, "i-lux": true, "i-mingo": true, "i-navajo": true,
	"i-pwn": true, "i-tao": true, "i-tay": true, "i-tsu": true, "sgn-be-fr": true,
	"sgn-be-nl": true, "sgn-ch-de": true, "art-lojban": true, "cel-gaulish": true,
	"no-bok": true, "no-nyn": true, "zh-guoyu": true, "zh-hakka": true, "zh-min": true,
	"zh-min-nan": true, "zh-xiang": true,
}

// Valid reports whether tag is a well-formed language tag. It checks syntax
// only (case-insensitively), not registration of the subtags.
func Valid(tag string) bool {
	if tag == "" || len(tag) > 255 {
		return false
	}
	lower := strings.ToLower(tag)
	if grandfathered[lower] {
		return true
	}
	parts := strings.Split(lower, "-")
	for _, p := range parts {
		if p == "" || len(p) > 8 || !alnum(p) {
			return false
		}
	}
	if parts[0] == "x" {
		return privateUse(parts[1:])
	}
	i := 0
	// language
	switch l := len(parts[0]); {
	case (l == 2 || l == 3) && alpha(parts[0]):
		i = 1
		// up to three extlang subtags
		for n := 0; n < 3 && i < len(parts) && len(parts[i]) == 3 && alpha(parts[i]); n++ {
			i++
		}
	case l >= 4 && l <= 8 && alpha(parts[0]):
		i = 1
	default:
		return false
	}
	// script
	if i < len(parts) && len(parts[i]) == 4 && alpha(parts[i]) {
		i++
	}
	// region
	if i < len(parts) && ((len(parts[i]) == 2 && alpha(parts[i])) || (len(parts[i]) == 3 && digits(parts[i]))) {
		i++
	}
	// variants, no repeats
	seen := map[string]bool{}
	for i < len(parts) && variant(parts[i]) {
		if seen[parts[i]] {
			return false
		}
		seen[parts[i]] = true
		i++
	}
	// extensions, each singleton at most once
	singletons := map[string]bool{}
	for i < len(parts) && len(parts[i]) == 1 && parts[i] != "x" {
		if singletons[parts[i]] {
			return false
		}
		singletons[parts[i]] = true
		i++
		n := 0
		for i < len(parts) && len(parts[i]) >= 2 {
			i++
			n++
		}
		if n == 0 {
			return false
		}
	}
	if i < len(parts) && parts[i] == "x" {
		return privateUse(parts[i+1:])
	}
	return i == len(parts)
}

func privateUse(rest []string) bool {
	return len(rest) > 0 // each already checked to be 1-8 alphanumerics
}

func variant(s string) bool {
	return (len(s) >= 5 && len(s) <= 8) || (len(s) == 4 && s[0] >= '0' && s[0] <= '9')
}

func alpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
