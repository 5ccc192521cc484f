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
