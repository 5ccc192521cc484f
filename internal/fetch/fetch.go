// Package fetch is the one HTTP client through which clientreg fetches
// documents that clients point it at (jwks_uri, and later
// sector_identifier_uri and trusted issuers' keys). It guards against
// server-side request forgery: only https (unless allowed for tests),
// destinations resolved to private, loopback, link-local, multicast or
// unspecified addresses refused at dial time (so DNS rebinding and redirects
// to such addresses are refused too), bounded redirects, response size and
// time.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Options configure a Client. The zero value is the production setting.
type Options struct {
	// AllowHTTP permits http URLs (tests only).
	AllowHTTP bool
	// AllowPrivate permits loopback, private and link-local destinations
	// (tests only).
	AllowPrivate bool
	// Timeout bounds a whole fetch; default 5s.
	Timeout time.Duration
	// MaxBytes bounds the response body; default 256 KiB.
	MaxBytes int64
	// MaxRedirects bounds redirects; default 3.
	MaxRedirects int
	// Transport replaces the base transport (tests may pass the TLS
	// transport of an httptest server); the dial guard is still applied
	// when it is an *http.Transport.
	Transport http.RoundTripper
}

// ErrForbiddenDestination reports a URL or an address the guard refuses.
var ErrForbiddenDestination = errors.New("fetch: destination not allowed")

// Client fetches documents with the guard applied.
type Client struct {
	opts Options
	hc   *http.Client
}

// New returns a Client with opts.
func New(opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 10
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 3
	}
	var base *http.Transport
	switch t := opts.Transport.(type) {
	case nil:
		base = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		base = t.Clone()
	}
	var rt http.RoundTripper = opts.Transport
	if base != nil {
		dialer := &net.Dialer{Timeout: opts.Timeout, Control: guardControl(opts.AllowPrivate)}
		base.DialContext = dialer.DialContext
		base.Proxy = nil // a proxy would hide the real destination from the guard
		rt = base
	}
	c := &Client{opts: opts}
	c.hc = &http.Client{
		Transport: rt,
		Timeout:   opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > opts.MaxRedirects {
				return fmt.Errorf("%w: too many redirects", ErrForbiddenDestination)
			}
			return c.checkURL(req.URL)
		},
	}
	return c
}

func (c *Client) checkURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
	case "http":
		if !c.opts.AllowHTTP {
			return fmt.Errorf("%w: %s is not https", ErrForbiddenDestination, u.Redacted())
		}
	default:
		return fmt.Errorf("%w: scheme %q", ErrForbiddenDestination, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%w: URL with user information", ErrForbiddenDestination)
	}
	if !c.opts.AllowPrivate {
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !publicAddr(ip) {
			return fmt.Errorf("%w: address %s", ErrForbiddenDestination, ip)
		}
	}
	return nil
}

// Get fetches rawURL and returns its body, at most MaxBytes long. A non-2xx
// status is an error.
func (c *Client) Get(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if err := c.checkURL(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("fetch: %s answered %s", u.Redacted(), res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, c.opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch: read %s: %w", u.Redacted(), err)
	}
	if int64(len(body)) > c.opts.MaxBytes {
		return nil, fmt.Errorf("fetch: %s is larger than %d bytes", u.Redacted(), c.opts.MaxBytes)
	}
	return body, nil
}

// guardControl refuses connections to non-public addresses after DNS
// resolution, for every connection including those of redirects.
func guardControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrForbiddenDestination, address)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !publicAddr(ip) {
			return fmt.Errorf("%w: address %s", ErrForbiddenDestination, host)
		}
		return nil
	}
}

// publicAddr reports whether ip is a globally routable unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublic are ranges that the netip predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 (could reach private v4)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4 (embeds v4)
	netip.MustParsePrefix("255.255.255.255/32"),
}
