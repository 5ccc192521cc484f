package resource

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clientreg/clientreg"
)

// Defaults of IntrospectorConfig fields left zero.
const (
	// DefaultCacheTTL bounds how long an introspection answer is reused;
	// an active answer is never kept past the token's exp.
	DefaultCacheTTL = 30 * time.Second
	// DefaultCacheSize bounds the number of answers kept.
	DefaultCacheSize = 10000
	// maxIntrospectionBody bounds the introspection response read.
	maxIntrospectionBody = 1 << 20
)

// IntrospectorConfig configures an Introspector. Endpoint, ClientID and
// ClientSecret are required. As in clientreg.Config, 0 means the
// documented default and clientreg.Off turns a feature off.
type IntrospectorConfig struct {
	// Endpoint is the authorization server's introspection endpoint (RFC
	// 7662 §2; introspection_endpoint of its metadata).
	Endpoint string
	// ClientID and ClientSecret are the resource server's client
	// credentials, sent with client_secret_basic. With clientreg, the
	// client must be allowed to introspect other clients' tokens
	// (Config.MayIntrospect; clientreg serve --introspector ID).
	ClientID     string
	ClientSecret string
	// Issuer, when set, must be the iss of every active answer that has
	// one.
	Issuer string
	// CacheTTL bounds how long an answer (active or not) is reused: an
	// active answer is kept until min(its exp, now + CacheTTL). Default
	// DefaultCacheTTL; Off caches nothing. A revocation takes up to this
	// long to be seen. Failures (network, non-200 answers) are never
	// cached.
	CacheTTL time.Duration
	// CacheSize bounds the number of answers kept; default
	// DefaultCacheSize; Off caches nothing.
	CacheSize int
	// Client sends the requests; default http.DefaultClient.
	Client *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Introspector is a Verifier that asks an authorization server's RFC 7662
// introspection endpoint, for a resource server in another process than
// clientreg. Answers are cached by a hash of the token (never the token
// itself) for a short, bounded time. It is safe for concurrent use.
type Introspector struct {
	cfg IntrospectorConfig

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached
}

type cached struct {
	in    *clientreg.Introspection
	until time.Time
}

// NewIntrospector validates cfg and returns an Introspector.
func NewIntrospector(cfg IntrospectorConfig) (*Introspector, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("resource: IntrospectorConfig.Endpoint %q must be an absolute http(s) URL", cfg.Endpoint)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("resource: IntrospectorConfig.ClientID and ClientSecret are required")
	}
	switch {
	case cfg.CacheTTL == 0:
		cfg.CacheTTL = DefaultCacheTTL
	case cfg.CacheTTL == clientreg.Off:
		cfg.CacheTTL = 0
	case cfg.CacheTTL < 0:
		return nil, errors.New("resource: IntrospectorConfig.CacheTTL must be positive, 0 for the default or clientreg.Off")
	}
	switch {
	case cfg.CacheSize == 0:
		cfg.CacheSize = DefaultCacheSize
	case cfg.CacheSize == clientreg.Off:
		cfg.CacheSize = 0
	case cfg.CacheSize < 0:
		return nil, errors.New("resource: IntrospectorConfig.CacheSize must be positive, 0 for the default or clientreg.Off")
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Introspector{cfg: cfg, cache: make(map[[sha256.Size]byte]cached)}, nil
}

// VerifyAccessToken introspects token (or reuses a cached answer) and
// checks it as clientreg.Handler.VerifyAccessToken does: an inactive token
// is clientreg.ErrTokenUnknown (introspection does not tell why), an exp
// in the past ErrTokenExpired, an aud without resource ErrWrongAudience.
func (i *Introspector) VerifyAccessToken(ctx context.Context, token, resource string) (*clientreg.TokenInfo, error) {
	if resource == "" {
		return nil, errors.New("resource: VerifyAccessToken needs the resource the token is presented to")
	}
	if token == "" {
		return nil, clientreg.ErrTokenUnknown
	}
	now := i.cfg.Now()
	key := sha256.Sum256([]byte(token))
	in, ok := i.lookup(key, now)
	if !ok {
		var err error
		if in, err = i.introspect(ctx, token); err != nil {
			return nil, err
		}
		i.store(key, in, now)
	}
	if !in.Active {
		return nil, clientreg.ErrTokenUnknown
	}
	if i.cfg.Issuer != "" && in.Iss != "" && in.Iss != i.cfg.Issuer {
		return nil, clientreg.ErrTokenUnknown
	}
	var exp time.Time
	if in.Exp != 0 {
		exp = time.Unix(in.Exp, 0)
		if !now.Before(exp) {
			return nil, clientreg.ErrTokenExpired
		}
	}
	if !slices.Contains(in.Aud, resource) {
		return nil, clientreg.ErrWrongAudience
	}
	info := &clientreg.TokenInfo{
		ClientID:  in.ClientID,
		Subject:   in.Sub,
		Scopes:    strings.Fields(in.Scope),
		Audience:  slices.Clone([]string(in.Aud)),
		Issuer:    in.Iss,
		ExpiresAt: exp,
	}
	if in.Iat != 0 {
		info.IssuedAt = time.Unix(in.Iat, 0)
	}
	return info, nil
}

// introspect asks the endpoint about token.
func (i *Introspector) introspect(ctx context.Context, token string) (*clientreg.Introspection, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("resource: introspection request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(i.cfg.ClientID), url.QueryEscape(i.cfg.ClientSecret))
	res, err := i.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("resource: introspection: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxIntrospectionBody))
	if err != nil {
		return nil, fmt.Errorf("resource: introspection: read the answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("resource: introspection answered %d: %.200s", res.StatusCode, body)
	}
	var in clientreg.Introspection
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("resource: introspection answer is not RFC 7662 JSON: %w", err)
	}
	return &in, nil
}

// lookup returns the cached answer for key, if it is still fresh.
func (i *Introspector) lookup(key [sha256.Size]byte, now time.Time) (*clientreg.Introspection, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	c, ok := i.cache[key]
	if !ok {
		return nil, false
	}
	if !now.Before(c.until) {
		delete(i.cache, key)
		return nil, false
	}
	return c.in, true
}

// store caches in until min(now + CacheTTL, its exp). When the cache is
// full it drops the stale answers, then arbitrary ones, down to nine
// tenths of its size.
func (i *Introspector) store(key [sha256.Size]byte, in *clientreg.Introspection, now time.Time) {
	if i.cfg.CacheTTL == 0 || i.cfg.CacheSize == 0 {
		return
	}
	until := now.Add(i.cfg.CacheTTL)
	if in.Active && in.Exp != 0 {
		if exp := time.Unix(in.Exp, 0); exp.Before(until) {
			until = exp
		}
	}
	if !now.Before(until) {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.cache) >= i.cfg.CacheSize {
		for k, c := range i.cache {
			if !now.Before(c.until) {
				delete(i.cache, k)
			}
		}
		for k := range i.cache {
			if len(i.cache) < i.cfg.CacheSize*9/10 || len(i.cache) == 0 {
				break
			}
			delete(i.cache, k)
		}
		// A CacheSize below 10 leaves nine tenths at 0: make room for one.
		if len(i.cache) >= i.cfg.CacheSize {
			for k := range i.cache {
				delete(i.cache, k)
				break
			}
		}
	}
	i.cache[key] = cached{in: in, until: until}
}
