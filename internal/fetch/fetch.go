// Package fetch is the one HTTP client through which clientreg fetches
// documents that clients point it at (jwks_uri, and later
// sector_identifier_uri and trusted issuers' keys). It guards against
// server-side request forgery: only https (unless allowed for tests),
// destinations resolved to private, loopback, link-local, multicast or
// unspecified addresses, or to any other special-purpose range that is not
// globally reachable (see publicAddr), refused at dial time (so DNS
// rebinding and redirects to such addresses are refused too), bounded
// redirects, response size and time.
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
	// AllowLoopback permits loopback destinations only (development and
	// tests); private and link-local ones stay refused.
	AllowLoopback bool
	// Timeout bounds a whole fetch; default 5s.
	Timeout time.Duration
	// MaxBytes bounds the response body; default 256 KiB.
	MaxBytes int64
	// MaxRedirects bounds redirects; default 3.
	MaxRedirects int
	// NoRedirects refuses every redirect: a 3xx answer is an error.
	NoRedirects bool
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
		dialer := &net.Dialer{Timeout: opts.Timeout, Control: guardControl(opts.AllowPrivate, opts.AllowLoopback)}
		base.DialContext = dialer.DialContext
		base.Proxy = nil // a proxy would hide the real destination from the guard
		rt = base
	}
	c := &Client{opts: opts}
	c.hc = &http.Client{
		Transport: rt,
		Timeout:   opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if opts.NoRedirects {
				return fmt.Errorf("%w: redirects are not followed", ErrForbiddenDestination)
			}
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
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !allowedAddr(ip, c.opts.AllowLoopback) {
			return fmt.Errorf("%w: address %s", ErrForbiddenDestination, ip)
		}
	}
	return nil
}

// Get fetches rawURL and returns its body, at most MaxBytes long. A non-2xx
// status is an error.
func (c *Client) Get(ctx context.Context, rawURL string) ([]byte, error) {
	body, _, err := c.GetWithHeader(ctx, rawURL)
	return body, err
}

// GetWithHeader is Get that also returns the response's header (for its
// caching directives).
func (c *Client) GetWithHeader(ctx context.Context, rawURL string) ([]byte, http.Header, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch: %w", err)
	}
	if err := c.checkURL(u); err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, nil, fmt.Errorf("fetch: %s answered %s", u.Redacted(), res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, c.opts.MaxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch: read %s: %w", u.Redacted(), err)
	}
	if int64(len(body)) > c.opts.MaxBytes {
		return nil, nil, fmt.Errorf("fetch: %s is larger than %d bytes", u.Redacted(), c.opts.MaxBytes)
	}
	return body, res.Header, nil
}

// guardControl refuses connections to non-public addresses after DNS
// resolution, for every connection including those of redirects.
func guardControl(allowPrivate, allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrForbiddenDestination, address)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !allowedAddr(ip, allowLoopback) {
			return fmt.Errorf("%w: address %s", ErrForbiddenDestination, host)
		}
		return nil
	}
}

// allowedAddr reports whether the guard lets ip through: a public address,
// or a loopback one when allowLoopback.
func allowedAddr(ip netip.Addr, allowLoopback bool) bool {
	return publicAddr(ip) || (allowLoopback && ip.Unmap().IsLoopback())
}

// publicAddr reports whether ip is a globally routable unicast address:
// not in any range of the IANA IPv4 and IPv6 special-purpose address
// registries that is not globally reachable, and, for the IPv6 forms that
// carry an IPv4 address, only where that address is public. An
// IPv4-mapped address (::ffff:a.b.c.d) is its IPv4 address; NAT64's
// well-known prefix (64:ff9b::/96, RFC 6052) is public exactly when the
// embedded IPv4 address is (RFC 6052 §3.1 forbids it for non-global ones, so
// a gateway would reach them only by mistake), so IPv6-only networks with
// DNS64 keep working. The forms whose embedded address cannot be told or
// that have no legitimate use for a fetch are refused whole: IPv4-compatible
// (::/96, deprecated by RFC 4291), IPv4-translated (::ffff:0:0:0/96, RFC 2765),
// local-use NAT64 (64:ff9b:1::/48, RFC 8215: the operator picks where the
// IPv4 address sits), 6to4 (2002::/16, deprecated by RFC 7526) and Teredo
// (2001::/32, within 2001::/23).
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	if nat64WellKnown.Contains(ip) {
		b := ip.As16()
		return publicAddr(netip.AddrFrom4([4]byte(b[12:])))
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nat64WellKnown is the NAT64 well-known prefix of RFC 6052 §2.1; the IPv4
// address is its last 32 bits.
var nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")

// nonPublic are the ranges that the netip predicates do not cover: every
// entry of the IANA special-purpose registries (RFC 6890) that is not
// globally reachable, or that embeds an address the guard cannot check.
// A few globally reachable anycast services inside 2001::/23 (PCP, AMT,
// AS112) are refused with it: none serves documents.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network" (RFC 791)
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space, carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation, TEST-NET-1 (RFC 5737)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated, RFC 7526)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking (RFC 2544)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation, TEST-NET-2 (RFC 5737)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation, TEST-NET-3 (RFC 5737)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved (RFC 1112), broadcast included
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated, RFC 4291 §2.5.5.1)
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated, ::ffff:0:a.b.c.d (RFC 2765; ::ffff:0:0/96 is IPv4-mapped)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("100::/64"),        // discard-only (RFC 6666)
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments: Teredo, benchmarking, ORCHID (RFC 2928)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation (RFC 3849)
	netip.MustParsePrefix("2002::/16"),       // 6to4 (embeds IPv4; deprecated, RFC 7526)
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs (RFC 9602)
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated, RFC 3879)
}
