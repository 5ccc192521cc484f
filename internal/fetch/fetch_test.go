package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestGuardRefusesNonPublicDestinations(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[]}`)) }))
	defer srv.Close()
	c := New(Options{Transport: srv.Client().Transport})
	ctx := context.Background()
	for _, u := range []string{
		srv.URL,                        // 127.0.0.1, refused at dial time
		"https://127.0.0.1/x",          // literal loopback
		"https://10.1.2.3/x",           // private
		"https://169.254.169.254/meta", // link-local (cloud metadata)
		"https://[::1]/x",
		"https://[fd00::1]/x",
		"https://0.0.0.0/x",
		"http://example.com/x", // not https
		"ftp://example.com/x",
		"https://user:pw@example.com/x",
	} {
		if _, err := c.Get(ctx, u); !errors.Is(err, ErrForbiddenDestination) {
			t.Errorf("Get(%s) = %v, want ErrForbiddenDestination", u, err)
		}
	}
}

func TestRedirectToForbiddenAddress(t *testing.T) {
	for _, target := range []string{"https://10.0.0.1/jwks", "https://169.254.169.254/latest", "https://127.0.0.1:1/x"} {
		srv := httptest.NewTLSServer(http.RedirectHandler(target, http.StatusFound))
		// The test server itself is on loopback, so allow private for the
		// first hop only by checking the redirect target: a client that
		// allows private destinations would follow, the production one not.
		c := New(Options{Transport: srv.Client().Transport})
		if _, err := c.Get(context.Background(), srv.URL); !errors.Is(err, ErrForbiddenDestination) {
			t.Errorf("redirect to %s: %v", target, err)
		}
		srv.Close()
	}
}

func TestAllowedFetchAndLimits(t *testing.T) {
	big := strings.Repeat("x", 1000)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write([]byte(big))
		case "/missing":
			http.NotFound(w, r)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			w.Write([]byte(`{"keys":[]}`))
		}
	}))
	defer srv.Close()
	c := New(Options{Transport: srv.Client().Transport, AllowPrivate: true, MaxBytes: 100})
	ctx := context.Background()
	b, err := c.Get(ctx, srv.URL+"/jwks")
	if err != nil || string(b) != `{"keys":[]}` {
		t.Fatalf("Get = %q, %v", b, err)
	}
	if _, err := c.Get(ctx, srv.URL+"/big"); err == nil {
		t.Error("oversized body accepted")
	}
	if _, err := c.Get(ctx, srv.URL+"/missing"); err == nil {
		t.Error("404 accepted")
	}
	if _, err := c.Get(ctx, srv.URL+"/loop"); !errors.Is(err, ErrForbiddenDestination) {
		t.Errorf("redirect loop: %v", err)
	}
}

func TestPublicAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "10.0.0.1": false, "172.16.0.1": false, "192.168.1.1": false,
		"127.0.0.1": false, "169.254.169.254": false, "100.64.0.1": false, "::ffff:10.0.0.1": false, "fe80::1": false, "224.0.0.1": false,
	} {
		if got := publicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", s, got, want)
		}
	}
}

// Every special-purpose range of the IANA IPv4 and IPv6 registries that is
// not globally reachable, and the IPv6 forms that embed an IPv4 address,
// are refused; the embedded IPv4 of NAT64's well-known prefix decides.
func TestPublicAddrSpecialPurpose(t *testing.T) {
	for s, want := range map[string]bool{
		// IPv4 (RFC 6890 and the IANA IPv4 special-purpose registry).
		"0.1.2.3":         false, // "this network"
		"100.127.255.254": false, // CGNAT shared space
		"192.0.0.8":       false, // IETF protocol assignments
		"192.0.2.1":       false, // TEST-NET-1
		"192.88.99.1":     false, // 6to4 relay anycast (deprecated)
		"198.18.0.1":      false, // benchmarking
		"198.19.255.1":    false,
		"198.51.100.7":    false, // TEST-NET-2
		"203.0.113.9":     false, // TEST-NET-3
		"239.1.2.3":       false, // multicast
		"240.0.0.1":       false, // reserved
		"255.255.255.255": false, // broadcast
		"1.1.1.1":         true,
		"192.0.1.1":       true,
		// IPv6 forms that embed an IPv4 address.
		"::127.0.0.1":              false, // IPv4-compatible (deprecated, ::/96)
		"::10.0.0.1":               false,
		"::8.8.8.8":                false,
		"::ffff:127.0.0.1":         false, // IPv4-mapped: the IPv4 address decides
		"::ffff:8.8.8.8":           true,
		"::ffff:0:127.0.0.1":       false, // IPv4-translated (RFC 2765, ::ffff:0:0:0/96)
		"::ffff:0:8.8.8.8":         false,
		"64:ff9b::10.0.0.1":        false, // NAT64 well-known prefix: the embedded IPv4 decides
		"64:ff9b::127.0.0.1":       false,
		"64:ff9b::169.254.169.254": false,
		"64:ff9b::8.8.8.8":         true,
		"64:ff9b:1::a00:1":         false, // local-use NAT64 (RFC 8215): refused whole
		"64:ff9b:1::808:808":       false,
		"2002:a00:1::1":            false, // 6to4: refused whole
		"2002:808:808::1":          false,
		"2001:0:4136:e378::1":      false, // Teredo (2001::/32, in 2001::/23)
		"2001:2::1":                false, // benchmarking
		"2001:db8::1":              false, // documentation
		"3fff::1":                  false, // documentation (RFC 9637)
		"100::1":                   false, // discard-only
		"5f00::1":                  false, // SRv6 SIDs (RFC 9602)
		// Other IPv6 ranges.
		"fec0::1":              false, // site-local (deprecated)
		"fc00::1":              false, // unique local
		"fe80::1":              false, // link-local
		"ff02::1":              false, // multicast
		"ff0e::1":              false,
		"::":                   false,
		"::1":                  false,
		"2001:4860:4860::8888": true,
		"2a00:1450:4001::1":    true,
	} {
		if got := publicAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", s, got, want)
		}
	}
}

// The guard refuses the embedded forms as URL literals and at dial time.
// Nothing is dialed: the URL check must refuse before the transport, which
// fails the test if it is reached, and the dial check is called directly.
func TestGuardRefusesEmbeddedIPv4(t *testing.T) {
	c := New(Options{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("request to %s reached the transport", r.URL)
		return nil, errors.New("refused by the test")
	})})
	for _, u := range []string{"https://[::127.0.0.1]/x", "https://[::ffff:0:7f00:1]/x", "https://[64:ff9b::7f00:1]/x", "https://[fec0::1]/x", "https://[2002:7f00:1::1]/x"} {
		if _, err := c.Get(context.Background(), u); !errors.Is(err, ErrForbiddenDestination) {
			t.Errorf("Get(%s) = %v, want ErrForbiddenDestination", u, err)
		}
	}
	control := guardControl(false, false)
	for _, a := range []string{"[::127.0.0.1]:443", "[::ffff:0:a00:1]:443", "[64:ff9b::a9fe:a9fe]:443", "[fec0::1]:443"} {
		if err := control("tcp", a, nil); !errors.Is(err, ErrForbiddenDestination) {
			t.Errorf("dial %s: %v, want ErrForbiddenDestination", a, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAllowLoopbackOnly(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer srv.Close()
	c := New(Options{Transport: srv.Client().Transport, AllowLoopback: true})
	if _, err := c.Get(context.Background(), srv.URL); err != nil {
		t.Fatalf("loopback with AllowLoopback: %v", err)
	}
	for _, u := range []string{"https://10.1.2.3/x", "https://169.254.169.254/x", "https://[fd00::1]/x"} {
		if _, err := c.Get(context.Background(), u); !errors.Is(err, ErrForbiddenDestination) {
			t.Errorf("%s with AllowLoopback: %v", u, err)
		}
	}
}

func TestNoRedirects(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/to" {
			w.Write([]byte(`{}`))
			return
		}
		http.Redirect(w, r, "/to", http.StatusFound)
	}))
	defer srv.Close()
	c := New(Options{Transport: srv.Client().Transport, AllowPrivate: true, NoRedirects: true})
	if _, err := c.Get(context.Background(), srv.URL+"/from"); !errors.Is(err, ErrForbiddenDestination) {
		t.Fatalf("redirect followed: %v", err)
	}
}
