package clientreg

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Abuse limits. A registration endpoint is open to the internet by design
// (RFC 7591 §3 recommends open registration), so the handler rate-limits
// registrations per client address, per initial access token and per
// software_id, and failed authentication attempts per client ID and per
// address (RFC 7592 §5: guard against token guessing). A limited request
// gets 429 with Retry-After and a JSON error, and changes nothing. The
// limits are on by default with generous numbers; the request limits (body
// size, nesting depth, list lengths, member length) always apply.
//
// Failed authentication is a wrong registration access token at the client
// configuration endpoint, and a failed client authentication
// (invalid_client) at the token, introspection and revocation endpoints and
// at the recovery of registration access tokens. The credential is always
// checked first, and a valid one is always served: client IDs are public,
// so a limit that refused valid credentials would let anyone lock a client
// out. Only failures are counted, against the address and the client ID the
// request named, and once either is over the limit a failure is answered
// 429 instead of 401. This cannot slow a guesser down (each guess is still
// checked, and a right guess would be served); what makes guessing futile
// is that every credential the default generators issue carries 256 random
// bits (RFC 6749 §10.10 asks for at most a 2^-128 chance per guess). The
// limit makes abuse visible and tells misbehaving clients to back off.
//
// The per-address limit comes first and counts every registration request.
// The registrations of an initial access token and of a software_id are
// counted only for requests that pass validation, with the software_id that
// validation leaves (a software statement's, when it carries one), so that
// invalid requests naming them starve nobody. A dry run creates nothing and
// counts only against its address.
//
// A client address is an IPv4 address, or the /64 of an IPv6 address
// (Limits.IPv6PrefixLength), since one subscriber holds a whole /64.

// Limits configures the abuse limits. As everywhere in Config, 0 means the
// default named and Off turns a rate limit off; the request limits cannot
// be Off.
type Limits struct {
	// Disabled turns every rate limit off (the request limits stay).
	Disabled bool
	// RegistrationsPerMinute is the sustained rate of registrations per
	// client address (every request), and per initial access token and per
	// software_id (valid registrations only, not dry runs); default 120.
	// Off (here or in RegistrationBurst) turns the registration limit off.
	RegistrationsPerMinute float64
	// RegistrationBurst is how many registrations may come at once before
	// the rate applies; default 60.
	RegistrationBurst int
	// FailedAuthPerMinute is the sustained rate of failed authentication
	// attempts (registration access tokens, and client authentication at
	// the token, introspection, revocation and recovery endpoints) per
	// client ID and per address; default 60. Past it a failure gets 429
	// instead of 401; a valid credential is always served.
	// Off (here or in FailedAuthBurst) turns the limit on failed attempts
	// off.
	FailedAuthPerMinute float64
	// FailedAuthBurst is the burst of failed attempts; default 100.
	FailedAuthBurst int
	// TrustedProxies are the proxies whose X-Forwarded-For header names the
	// client address; from anyone else the header is ignored. Empty: the
	// connection's address is the client address.
	TrustedProxies []netip.Prefix
	// IPv6PrefixLength is the prefix by which the per-address limits count
	// an IPv6 client: one subscriber is usually given a whole /64 and can
	// change its address within it at will. Default 64; Off counts each
	// IPv6 address alone; 1 to 128 otherwise. An IPv4 client is counted by
	// its address, and an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as that
	// IPv4 address.
	IPv6PrefixLength int
	// MaxRedirectURIs bounds redirect_uris, and each of the OpenID Connect
	// lists request_uris, post_logout_redirect_uris and default_acr_values;
	// default 64.
	MaxRedirectURIs int
	// MaxContacts bounds contacts; default 32.
	MaxContacts int
	// MaxMemberLength bounds the length in bytes of every string member
	// and array element; default 2048 (a software statement or jwks may be
	// larger: they are bounded by the body size).
	MaxMemberLength int
}

func (l Limits) withDefaults() Limits {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.RegistrationsPerMinute, 120)
	defInt(&l.RegistrationBurst, 60)
	def(&l.FailedAuthPerMinute, 60)
	defInt(&l.FailedAuthBurst, 100)
	defInt(&l.IPv6PrefixLength, 64)
	defInt(&l.MaxRedirectURIs, 64)
	defInt(&l.MaxContacts, 32)
	defInt(&l.MaxMemberLength, 2048)
	return l
}

// check applies Config's one rule to l, whose defaults are applied.
func (l Limits) check() error {
	for _, v := range []struct {
		name     string
		v        float64
		mayBeOff bool
	}{
		{"RegistrationsPerMinute", l.RegistrationsPerMinute, true},
		{"RegistrationBurst", float64(l.RegistrationBurst), true},
		{"FailedAuthPerMinute", l.FailedAuthPerMinute, true},
		{"FailedAuthBurst", float64(l.FailedAuthBurst), true},
		{"IPv6PrefixLength", float64(l.IPv6PrefixLength), true},
		{"MaxRedirectURIs", float64(l.MaxRedirectURIs), false},
		{"MaxContacts", float64(l.MaxContacts), false},
		{"MaxMemberLength", float64(l.MaxMemberLength), false},
	} {
		switch {
		case v.v > 0 || v.v == Off && v.mayBeOff:
		case v.v == Off:
			return fmt.Errorf("clientreg: Config.Limits.%s cannot be Off", v.name)
		default:
			return fmt.Errorf("clientreg: Config.Limits.%s must be positive, 0 for the default or Off", v.name)
		}
	}
	if l.IPv6PrefixLength > 128 {
		return fmt.Errorf("clientreg: Config.Limits.IPv6PrefixLength must be at most 128, 0 for the default or Off")
	}
	return nil
}

// ErrRateLimited answers a request over a rate limit (429, with
// Retry-After).
var ErrRateLimited = &Error{Code: "temporarily_unavailable", Status: http.StatusTooManyRequests}

// rateError is ErrRateLimited with the wait the client is told.
func rateError(wait time.Duration) *Error {
	e := ErrRateLimited.WithDescription("too many requests; retry later")
	e.retryAfter = int(math.Ceil(wait.Seconds()))
	if e.retryAfter < 1 {
		e.retryAfter = 1
	}
	return e
}

// buckets is a set of token buckets by key, bounded in size.
type buckets struct {
	mu    sync.Mutex
	rate  float64 // tokens per second
	burst float64
	m     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 100_000

// newBuckets returns the buckets of a rate limit, or nil (which admits
// everything) when the limit is Off.
func newBuckets(perMinute float64, burst int) *buckets {
	if perMinute == Off || burst == Off {
		return nil
	}
	return &buckets{rate: perMinute / 60, burst: float64(burst), m: make(map[string]*bucket)}
}

// refill returns key's bucket brought up to now; the caller holds mu.
func (b *buckets) refill(key string, now time.Time) *bucket {
	bk, ok := b.m[key]
	if !ok {
		if len(b.m) >= maxBuckets {
			b.prune(now)
		}
		bk = &bucket{tokens: b.burst, last: now}
		b.m[key] = bk
		return bk
	}
	if el := now.Sub(bk.last).Seconds(); el > 0 {
		bk.tokens = math.Min(b.burst, bk.tokens+el*b.rate)
		bk.last = now
	}
	return bk
}

// prune drops the buckets that are full again (they hold no state worth
// keeping), and all of them if that is not enough.
func (b *buckets) prune(now time.Time) {
	for k, bk := range b.m {
		if bk.tokens+now.Sub(bk.last).Seconds()*b.rate >= b.burst {
			delete(b.m, k)
		}
	}
	if len(b.m) >= maxBuckets {
		clear(b.m)
	}
}

// take spends one token of key, or reports how long until one is there.
// Nil buckets (a limit that is Off) always admit.
func (b *buckets) take(key string, now time.Time) (bool, time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := b.refill(key, now)
	if bk.tokens >= 1 {
		bk.tokens--
		return true, 0
	}
	return false, time.Duration((1 - bk.tokens) / b.rate * float64(time.Second))
}

// takeAll spends one token of each key if every key has one, and
// otherwise spends nothing and reports the longest wait. Nil buckets always
// admit.
func (b *buckets) takeAll(keys []string, now time.Time) (bool, time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ok, wait := true, time.Duration(0)
	bks := make([]*bucket, len(keys))
	for i, k := range keys {
		bks[i] = b.refill(k, now)
		if bks[i].tokens < 1 {
			ok = false
			wait = max(wait, time.Duration((1-bks[i].tokens)/b.rate*float64(time.Second)))
		}
	}
	if !ok {
		return false, wait
	}
	for _, bk := range bks {
		bk.tokens--
	}
	return true, 0
}

// limiter holds the handler's rate limit state.
type limiter struct {
	cfg          Limits
	registration *buckets // keys: "addr:", "iat:", "sw:"
	failedAuth   *buckets // keys: "addr:", "client:"
	metrics      *metrics // counts refusals; nil counts nothing
}

func newLimiter(cfg Limits) *limiter {
	return &limiter{
		cfg:          cfg,
		registration: newBuckets(cfg.RegistrationsPerMinute, cfg.RegistrationBurst),
		failedAuth:   newBuckets(cfg.FailedAuthPerMinute, cfg.FailedAuthBurst),
	}
}

// allowRegistration spends a registration token of every key given, or,
// when any of them is exhausted, none and refuses the request.
func (l *limiter) allowRegistration(now time.Time, keys ...string) error {
	if l.cfg.Disabled {
		return nil
	}
	if ok, wait := l.registration.takeAll(keys, now); !ok {
		l.metrics.rateLimited(limitRegistration)
		return rateError(wait)
	}
	return nil
}

// recordFailedAuth records a failed authentication attempt from addr for
// clientID ("" when the request named no client), and returns a rate error
// when either was already over the failure limit: the failure is then
// answered 429 instead of 401. It is called only for failures, after the
// credential was checked, so that a valid credential is never refused.
func (l *limiter) recordFailedAuth(now time.Time, addr, clientID string) error {
	if l.cfg.Disabled {
		return nil
	}
	ok, wait := l.failedAuth.take("addr:"+addr, now)
	if clientID != "" {
		okID, waitID := l.failedAuth.take("client:"+clientID, now)
		ok, wait = ok && okID, max(wait, waitID)
	}
	if !ok {
		l.metrics.rateLimited(limitFailedAuth)
		return rateError(wait)
	}
	return nil
}

// clientAddr returns the key of the client that made r for the
// per-address limits: the connection's address, or, when that is a trusted
// proxy, the nearest address in X-Forwarded-For that is not a trusted
// proxy; see addrKey.
func (l *limiter) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if !l.trusted(addr) {
		return l.addrKey(addr)
	}
	if a, ok := l.forwardedFor(r); ok {
		return l.addrKey(a)
	}
	return l.addrKey(addr)
}

// forwardedFor returns the nearest address in r's X-Forwarded-For that is
// not a trusted proxy, for a request whose connection comes from one; ok
// is false when there is none, or a malformed hop comes first (nothing
// beyond the proxy is trusted then).
func (l *limiter) forwardedFor(r *http.Request) (netip.Addr, bool) {
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false
		}
		if !l.trusted(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// peerAddr is the client address of r that audit events record: the
// connection's peer as is (r.RemoteAddr, host:port), or, when that is a
// trusted proxy, the client address its X-Forwarded-For names (the
// address of clientAddr, not its per-address key), without a port.
func (l *limiter) peerAddr(r *http.Request) string {
	if len(l.cfg.TrustedProxies) == 0 {
		return r.RemoteAddr
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !l.trusted(addr) {
		return r.RemoteAddr
	}
	if a, ok := l.forwardedFor(r); ok {
		return a.Unmap().WithZone("").String()
	}
	return r.RemoteAddr
}

// addrKey is the per-address key of a: an IPv4 address (IPv4-mapped ones
// included) as itself, an IPv6 address as its prefix of IPv6PrefixLength
// bits (itself when that is Off), zone dropped.
func (l *limiter) addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() || l.cfg.IPv6PrefixLength == Off {
		return a.String()
	}
	p, err := a.Prefix(l.cfg.IPv6PrefixLength)
	if err != nil {
		return a.String()
	}
	return p.String()
}

func (l *limiter) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkSizes enforces the list and member length limits on m.
func (l *limiter) checkSizes(m *Metadata) error {
	if n := len(m.RedirectURIs); n > l.cfg.MaxRedirectURIs {
		return metadataError(jsonPointer("redirect_uris"), "has %d entries; at most %d are allowed", n, l.cfg.MaxRedirectURIs)
	}
	if n := len(m.Contacts); n > l.cfg.MaxContacts {
		return metadataError(jsonPointer("contacts"), "has %d entries; at most %d are allowed", n, l.cfg.MaxContacts)
	}
	max := l.cfg.MaxMemberLength
	for i := range members {
		mb := &members[i]
		switch {
		case mb.kind == kindString && mb.name != "software_statement":
			if len(*mb.str(m)) > max {
				return metadataError(jsonPointer(mb.name), "is longer than %d bytes", max)
			}
		case mb.kind == kindStrings:
			list := *mb.strs(m)
			if oidcLists[mb.name] && len(list) > l.cfg.MaxRedirectURIs {
				return metadataError(jsonPointer(mb.name), "has %d entries; at most %d are allowed", len(list), l.cfg.MaxRedirectURIs)
			}
			for i, v := range list {
				if len(v) > max {
					return metadataError(jsonPointer(mb.name, i), "is longer than %d bytes", max)
				}
			}
		}
	}
	for k, v := range m.Localized {
		if len(v) > max {
			return metadataError(jsonPointer(k), "is longer than %d bytes", max)
		}
	}
	return nil
}

// retryAfterHeader returns the Retry-After value of e, or "".
func retryAfterHeader(e *Error) string {
	if e.retryAfter <= 0 {
		return ""
	}
	return strconv.Itoa(e.retryAfter)
}
