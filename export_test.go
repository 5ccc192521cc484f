package clientreg

// Unexported functions exposed to the external tests (package clientreg_test)
// of this directory. This file is compiled only by "go test".

// CheckRedirectURI is checkRedirectURI with the default preset (PresetMCP),
// the redirect URI classification that registration and update apply to
// every member of redirect_uris.
func CheckRedirectURI(uri string) error { return checkRedirectURI("/redirect_uris/0", uri, PresetMCP) }
