package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// NewHTTPClient returns the client a run uses by default: HTTP/1.1 with
// keep-alive and enough idle connections per host that every one of
// concurrency workers keeps its own connection open between requests (so a
// run measures requests, not TCP handshakes), no compression, no redirects
// followed (a redirect is reported as its 3xx status), and timeout per
// request. Unless allowRemote is set, it dials only loopback addresses.
func NewHTTPClient(concurrency int, timeout time.Duration, allowRemote bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	dial := d.DialContext
	if !allowRemote {
		dial = loopbackDial(d)
	}
	idle := max(2*concurrency, 4)
	tr := &http.Transport{
		Proxy:                 nil, // never send load through a proxy
		DialContext:           dial,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// checkURL checks that raw is an absolute http(s) URL and, unless
// allowRemote, that its host is a loopback name or address.
func checkURL(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bench: bad URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("bench: URL %q: want an absolute http or https URL", raw)
	}
	if !allowRemote && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("bench: URL %q: only loopback hosts (127.0.0.0/8, ::1, localhost) are allowed without -allow-remote", raw)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackDial dials only when every address the host resolves to is a
// loopback address. It guards the URLs a server hands out
// (registration_client_uri) as well as the ones given on the command line.
func loopbackDial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("bench: no address for %s", host)
		}
		for _, ip := range ips {
			if !ip.IP.IsLoopback() {
				return nil, fmt.Errorf("bench: refusing non-loopback address %s of %s", ip.IP, host)
			}
		}
		return d.DialContext(ctx, network, net.JoinHostPort(ips[0].IP.String(), port))
	}
}

// maxResponseBytes caps how much of a response body is read.
const maxResponseBytes = 1 << 20

// response is what one request got back.
type response struct {
	status int
	body   []byte
	// challenge is the WWW-Authenticate header, if any.
	challenge string
	// header is the response's header.
	header http.Header
}

// do sends one request and reads the whole response body, so that the
// connection goes back to the idle pool.
func do(ctx context.Context, client *http.Client, method, u, bearer string, body []byte) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return roundTrip(client, req)
}

// postForm sends form to u, application/x-www-form-urlencoded, with the
// extra header fields of h.
func postForm(ctx context.Context, client *http.Client, u string, h http.Header, form string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form))
	if err != nil {
		return response{}, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	return roundTrip(client, req)
}

// roundTrip sends req and reads the whole response body.
func roundTrip(client *http.Client, req *http.Request) (response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	// Drain what the limit left, so that the connection can be reused.
	_, _ = io.Copy(io.Discard, resp.Body)
	return response{status: resp.StatusCode, body: b, challenge: resp.Header.Get("WWW-Authenticate"), header: resp.Header}, err
}
