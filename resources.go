package clientreg

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Resource indicators (RFC 8707). A client names the resource servers its
// tokens are for with the resource parameter, at the authorization endpoint
// and at the token endpoint; the tokens carry them as their audience, and
// introspection reports it (aud), so that a resource server refuses a token
// that was issued for another. RFC 8707 §2: the value "MUST be an absolute
// URI" and "MUST NOT include a fragment component"; the server refuses
// anything else, or anything its policy does not allow, with
// invalid_target.

// ResourcePolicy says which resource indicators clients may ask for. The
// zero value accepts any absolute URI without a fragment; Allowed and
// AllowedPrefixes, when either is set, narrow that to the URIs they name.
type ResourcePolicy struct {
	// Allowed lists resource URIs accepted by exact string comparison.
	Allowed []string
	// AllowedPrefixes lists URI prefixes: a resource is accepted when it
	// starts with one. Each prefix is an absolute http(s) URI whose path
	// ends in "/", so that https://api.example/ never admits
	// https://api.example.evil/; a resource with a dot segment ("/../")
	// in its path is never accepted by a prefix.
	AllowedPrefixes []string
	// Default is the audience of tokens whose request names no resource;
	// nil (the default) leaves such tokens without an audience. Each value
	// must be allowed by the policy.
	Default []string
}

func (p ResourcePolicy) clone() ResourcePolicy {
	return ResourcePolicy{Allowed: slices.Clone(p.Allowed), AllowedPrefixes: slices.Clone(p.AllowedPrefixes), Default: slices.Clone(p.Default)}
}

func (p ResourcePolicy) check() error {
	for _, a := range p.Allowed {
		if rule := resourceRule(a); rule != "" {
			return fmt.Errorf("clientreg: Config.Resources.Allowed: %q %s", a, rule)
		}
	}
	for _, pre := range p.AllowedPrefixes {
		u, err := parseHTTPURL(pre)
		if err != nil || u.RawQuery != "" || u.Fragment != "" || !strings.HasSuffix(u.Path, "/") {
			return fmt.Errorf("clientreg: Config.Resources.AllowedPrefixes: %q must be an absolute http(s) URI whose path ends in /, without query or fragment", pre)
		}
	}
	for _, d := range p.Default {
		if rule := p.rule(d); rule != "" {
			return fmt.Errorf("clientreg: Config.Resources.Default: %q %s", d, rule)
		}
	}
	return nil
}

// resourceRule returns the RFC 8707 §2 rule that the resource value r
// breaks, or "".
func resourceRule(r string) string {
	if r == "" {
		return "must not be empty"
	}
	if rule := uriTextRule(r); rule != "" {
		return rule
	}
	u, err := url.Parse(r)
	if err != nil || !u.IsAbs() {
		return "must be an absolute URI (RFC 8707 section 2)"
	}
	if u.Fragment != "" || strings.Contains(r, "#") {
		return "must not include a fragment (RFC 8707 section 2)"
	}
	return ""
}

// rule returns why the policy refuses the resource r, or "".
func (p ResourcePolicy) rule(r string) string {
	if rule := resourceRule(r); rule != "" {
		return rule
	}
	if len(p.Allowed) == 0 && len(p.AllowedPrefixes) == 0 {
		return ""
	}
	if slices.Contains(p.Allowed, r) {
		return ""
	}
	if u, err := url.Parse(r); err == nil && !hasDotSegment(u.EscapedPath()) {
		for _, pre := range p.AllowedPrefixes {
			if strings.HasPrefix(r, pre) {
				return ""
			}
		}
	}
	return "is not a resource this server issues tokens for"
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if s, err := url.PathUnescape(seg); err == nil && (s == "." || s == "..") || err != nil {
			return true
		}
	}
	return false
}

// checkResources checks the resource values of a request against the
// policy and returns them without duplicates, or Default when there are
// none. A value that fails is ErrInvalidTarget.
func (p ResourcePolicy) checkResources(values []string) ([]string, error) {
	var out []string
	for _, r := range values {
		if rule := p.rule(r); rule != "" {
			return nil, ErrInvalidTarget.WithDescription("resource %s %s", quote(r), rule)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return slices.Clone(p.Default), nil
	}
	return out, nil
}
