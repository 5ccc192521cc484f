package clientreg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clientreg/clientreg/internal/fetch"
	"github.com/clientreg/clientreg/store"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
// docs/behaviour.md §10): a client whose client_id is an https URL is
// described by the JSON document at that URL, which the handler fetches,
// validates as a registration and caches, instead of registering first.

// Toggle turns a feature on or off. Its zero value stands for the feature's
// documented default; On turns it on, Off turns it off.
type Toggle int

// On, as the value of a Toggle, turns the feature on.
const On Toggle = 1

// Defaults of ClientMetadataDocumentPolicy fields left zero.
const (
	// DefaultDocumentMaxBytes bounds a client ID metadata document.
	DefaultDocumentMaxBytes = 5 << 10
	// DefaultDocumentTimeout bounds the fetch of a document.
	DefaultDocumentTimeout = 5 * time.Second
	// DefaultDocumentMinCacheTTL is the least time a fetched document is
	// used, whatever its Cache-Control says.
	DefaultDocumentMinCacheTTL = 5 * time.Minute
	// DefaultDocumentMaxCacheTTL is the most time a fetched document is
	// used without a fetch.
	DefaultDocumentMaxCacheTTL = 24 * time.Hour
	// DefaultDocumentFailureTTL is how long a failed fetch of a document
	// is remembered (the URL is not fetched again within it).
	DefaultDocumentFailureTTL = 30 * time.Second
	// DefaultDocumentCacheEntries bounds the document cache.
	DefaultDocumentCacheEntries = 10_000
)

// ClientMetadataDocumentPolicy configures Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): a client_id that is an
// https URL with a path names the JSON document at that URL, which
// describes the client. The handler fetches it through the guarded fetcher
// of Config.Fetch (no redirects, no private or loopback destinations unless
// Config.Fetch allows them), validates it as it validates a registration
// (redirect preset, Config.DefaultPolicy, AnonymousPublicClientsOnly) and
// caches it. Documents need the authorization endpoint (Config.Authorizer).
type ClientMetadataDocumentPolicy struct {
	// Enabled turns documents on or off. The default (0) is on, unless
	// Config.RequireInitialToken closes registration: a document client
	// needs no initial access token, so closed registration keeps them off
	// unless Enabled is On.
	Enabled Toggle
	// AllowedDomains, when not empty, are the only hosts whose documents
	// are accepted: DNS names, "*.example.com" for any subdomain, as
	// Policy.AllowedRedirectHosts reads them.
	AllowedDomains []string
	// DeniedDomains are hosts whose documents are refused, in the same
	// form; they win over AllowedDomains.
	DeniedDomains []string
	// MaxBytes bounds a document; 0 means DefaultDocumentMaxBytes. It
	// cannot be Off.
	MaxBytes int64
	// Timeout bounds the fetch of a document; 0 means
	// DefaultDocumentTimeout. It cannot be Off.
	Timeout time.Duration
	// MinCacheTTL and MaxCacheTTL bound how long a document is used
	// before it is fetched again: its Cache-Control max-age (less its
	// Age), clamped to [MinCacheTTL, MaxCacheTTL]; a document without
	// max-age, or with no-cache or no-store, is kept MinCacheTTL. 0 means
	// DefaultDocumentMinCacheTTL and DefaultDocumentMaxCacheTTL; neither
	// can be Off.
	MinCacheTTL time.Duration
	MaxCacheTTL time.Duration
	// FailureTTL is how long a failed fetch (or an invalid document) is
	// remembered, within which the URL is not fetched again; 0 means
	// DefaultDocumentFailureTTL. It cannot be Off.
	FailureTTL time.Duration
	// MaxCacheEntries bounds the number of documents cached; 0 means
	// DefaultDocumentCacheEntries. It cannot be Off.
	MaxCacheEntries int
}

func (p *ClientMetadataDocumentPolicy) withDefaults() {
	p.AllowedDomains = slices.Clone(p.AllowedDomains)
	p.DeniedDomains = slices.Clone(p.DeniedDomains)
	if p.MaxBytes == 0 {
		p.MaxBytes = DefaultDocumentMaxBytes
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&p.Timeout, DefaultDocumentTimeout)
	def(&p.MinCacheTTL, DefaultDocumentMinCacheTTL)
	def(&p.MaxCacheTTL, DefaultDocumentMaxCacheTTL)
	def(&p.FailureTTL, DefaultDocumentFailureTTL)
	if p.MaxCacheEntries == 0 {
		p.MaxCacheEntries = DefaultDocumentCacheEntries
	}
}

func (p ClientMetadataDocumentPolicy) check() error {
	switch p.Enabled {
	case 0, On, Off:
	default:
		return fmt.Errorf("clientreg: Config.ClientMetadataDocuments.Enabled must be 0, On or Off")
	}
	for _, v := range []struct {
		name string
		v    int64
	}{
		{"MaxBytes", p.MaxBytes},
		{"Timeout", int64(p.Timeout)},
		{"MinCacheTTL", int64(p.MinCacheTTL)},
		{"MaxCacheTTL", int64(p.MaxCacheTTL)},
		{"FailureTTL", int64(p.FailureTTL)},
		{"MaxCacheEntries", int64(p.MaxCacheEntries)},
	} {
		if err := checkOff("Config.ClientMetadataDocuments."+v.name, v.v, false); err != nil {
			return err
		}
	}
	if p.MinCacheTTL > p.MaxCacheTTL {
		return errors.New("clientreg: Config.ClientMetadataDocuments.MinCacheTTL exceeds MaxCacheTTL")
	}
	for _, list := range []struct {
		name     string
		patterns []string
	}{{"AllowedDomains", p.AllowedDomains}, {"DeniedDomains", p.DeniedDomains}} {
		for _, s := range list.patterns {
			hp, ok := parseHostPattern(s)
			if !ok || hp.domain == "" {
				return fmt.Errorf("clientreg: Config.ClientMetadataDocuments.%s: %q is not a DNS name or *.name", list.name, s)
			}
		}
	}
	return nil
}

// documentsEnabled reports whether c serves client ID metadata documents.
func (c *Config) documentsEnabled() bool {
	if c.Authorizer == nil {
		return false
	}
	switch c.ClientMetadataDocuments.Enabled {
	case On:
		return true
	case Off:
		return false
	}
	return !c.RequireInitialToken
}

// documentCache caches validated client ID metadata documents by URL.
type documentCache = fetchCache[*clientDocument]

// clientDocument is a fetched and validated client ID metadata document.
type clientDocument struct {
	metadata Metadata
	policy   string // the policy it was validated under
	max      int64  // that policy's client limit
}

// buildDocuments sets up the document cache and its fetcher when
// documents are on.
func (h *Handler) buildDocuments() error {
	p := &h.cfg.ClientMetadataDocuments
	if !h.cfg.documentsEnabled() {
		return nil
	}
	h.docFetcher = fetch.New(fetch.Options{
		AllowHTTP:     false, // the draft requires https
		AllowPrivate:  h.cfg.Fetch.AllowPrivateNetworks,
		AllowLoopback: h.cfg.Fetch.AllowLoopback,
		Transport:     h.cfg.Fetch.Transport,
		Timeout:       p.Timeout,
		MaxBytes:      p.MaxBytes,
		NoRedirects:   true,
	})
	h.documents = &documentCache{
		failureTTL: p.FailureTTL,
		maxEntries: p.MaxCacheEntries,
		load:       loadDocument,
		stats:      h.metrics.documentStats(),
	}
	return nil
}

// documentError reports a client_id naming a document that cannot be
// used. It wraps store.ErrNotFound: to every caller that looks a client
// up, the client does not exist.
type documentError struct {
	why string
}

func (e *documentError) Error() string {
	return "client ID metadata document: " + e.why
}

func (e *documentError) Unwrap() error { return store.ErrNotFound }

func docErr(format string, args ...any) error {
	return &documentError{why: fmt.Sprintf(format, args...)}
}

// isDocumentID reports whether id names a client ID metadata document
// (when documents are on): it starts with https://.
func isDocumentID(id string) bool {
	return strings.HasPrefix(id, "https://")
}

// checkDocumentURL checks the rules of the draft (§3) on a client_id URL
// and the domain lists.
func (h *Handler) checkDocumentURL(id string) error {
	u, err := url.Parse(id)
	switch {
	case err != nil, u.Scheme != "https", u.Host == "", u.Opaque != "":
		return docErr("the client_id is not an https URL")
	case u.User != nil:
		return docErr("the client_id URL must not carry user information")
	case u.Fragment != "" || strings.Contains(id, "#"):
		return docErr("the client_id URL must not have a fragment")
	case u.RawQuery != "" || u.ForceQuery:
		return docErr("the client_id URL must not have a query")
	case u.Path == "" || u.Path == "/":
		return docErr("the client_id URL must have a path")
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") {
			return docErr("the client_id URL must not have dot segments")
		}
	}
	p := h.cfg.ClientMetadataDocuments
	if hostAllowed(u, p.DeniedDomains) || (len(p.AllowedDomains) > 0 && !hostAllowed(u, p.AllowedDomains)) {
		return docErr("documents of the host %s are not accepted by this server", u.Hostname())
	}
	return nil
}

// documentHost returns the host of a document client's client_id, "" for
// other clients.
func documentHost(c *Client) string {
	if c.Origin != store.OriginMetadataDocument {
		return ""
	}
	u, err := url.Parse(c.ID)
	if err != nil {
		return ""
	}
	return u.Host
}

// loadDocument fetches and validates the document at uri.
func loadDocument(ctx context.Context, h *Handler, uri string) (*clientDocument, time.Duration, error) {
	body, header, err := h.docFetcher.GetWithHeader(ctx, uri)
	if err != nil {
		h.log.WarnContext(ctx, "fetch client ID metadata document failed", "client_id", uri, "err", err)
		return nil, 0, docErr("the document could not be fetched")
	}
	doc, err := h.parseDocument(ctx, uri, body)
	if err != nil {
		h.log.InfoContext(ctx, "client ID metadata document refused", "client_id", uri, "err", err)
		return nil, 0, err
	}
	return doc, h.documentTTL(header), nil
}

// parseDocument validates a fetched document (draft §4.1): a JSON object
// whose client_id is uri exactly, with client_name and redirect_uris, no
// shared secret, and members that pass the registration rules.
func (h *Handler) parseDocument(ctx context.Context, uri string, body []byte) (*clientDocument, error) {
	d, err := decodeMetadata(body)
	if err != nil {
		return nil, docErr("%s", errorDescription(err))
	}
	var id string
	if raw, ok := d.managed["client_id"]; !ok || json.Unmarshal(raw, &id) != nil || id != uri {
		return nil, docErr("the document's client_id is not the URL it was fetched from")
	}
	for _, name := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := d.managed[name]; ok {
			return nil, docErr("the document must not carry %s", name)
		}
	}
	m := d.Metadata
	if m.ClientName == "" {
		return nil, docErr("the document has no client_name")
	}
	if len(m.RedirectURIs) == 0 {
		return nil, docErr("the document has no redirect_uris")
	}
	switch m.TokenEndpointAuthMethod {
	case "":
		m.TokenEndpointAuthMethod = "none"
	case "none":
	case "private_key_jwt":
		if m.JWKSURI == "" {
			return nil, docErr("token_endpoint_auth_method private_key_jwt needs a jwks_uri")
		}
	default:
		return nil, docErr("token_endpoint_auth_method %s is not allowed: a document client uses none or private_key_jwt", m.TokenEndpointAuthMethod)
	}
	srv, err := h.serverMetadata(ctx)
	if err != nil {
		return nil, err
	}
	v := h.newValidation(srv, registering, "")
	v.anonymous = true
	if err := h.validate(ctx, &m, v); err != nil {
		var oe *Error
		if errors.As(err, &oe) {
			return nil, docErr("%s", oe.Description)
		}
		return nil, err
	}
	return &clientDocument{metadata: m, policy: v.policyName, max: v.maxClients()}, nil
}

// errorDescription is the description of an *Error, else its text.
func errorDescription(err error) string {
	var oe *Error
	if errors.As(err, &oe) {
		return oe.Description
	}
	return err.Error()
}

// documentTTL is how long a document fetched with header is used: its
// max-age, less its Age, within the configured bounds.
func (h *Handler) documentTTL(header http.Header) time.Duration {
	p := h.cfg.ClientMetadataDocuments
	limit := int64(p.MaxCacheTTL / time.Second)
	var secs int64
	for _, dir := range strings.Split(header.Get("Cache-Control"), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return p.MinCacheTTL
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n > 0 {
				secs = min(n, limit)
			}
		}
	}
	if age, err := strconv.ParseInt(header.Get("Age"), 10, 64); err == nil && age > 0 {
		secs = max(secs-age, 0)
	}
	return min(max(time.Duration(secs)*time.Second, p.MinCacheTTL), p.MaxCacheTTL)
}

// documentClient returns the client described by the document at id:
// the document is fetched (or taken from the cache) and validated, and the
// client's record (which the codes, pending requests and grants of the
// client refer to) is created on first use and updated when the document
// changed. A disabled record is returned as it is, before any fetch: its
// document is neither fetched nor followed until it is enabled.
func (h *Handler) documentClient(ctx context.Context, id string) (*Client, error) {
	if err := h.checkDocumentURL(id); err != nil {
		return nil, err
	}
	var (
		doc  *clientDocument
		want []byte
	)
	for attempt := 0; ; attempt++ {
		c, err := getClient(ctx, h.store, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		case !c.DisabledAt.IsZero():
			return c, nil // clientByID refuses it
		case c.Origin != store.OriginMetadataDocument:
			return nil, docErr("the client_id names a client that is not described by a document")
		}
		if doc == nil {
			if doc, err = h.documents.get(ctx, h, id, 0); err != nil {
				return nil, err
			}
			if want, err = encodeStoredMetadata(doc.metadata); err != nil {
				return nil, fmt.Errorf("client %q: %w", id, err)
			}
		}
		if c == nil {
			c, err = h.createDocumentClient(ctx, id, doc)
			if errors.Is(err, store.ErrAlreadyExists) && attempt < 2 {
				continue // created meanwhile
			}
			return c, err
		}
		if string(c.Client.Metadata) == string(want) {
			return c, nil
		}
		u := c.Clone()
		u.Metadata = doc.metadata.Clone()
		u.UpdatedAt = h.now().UTC().Truncate(time.Microsecond)
		u.RevokeAccessTokens = accessTokensEndedBy(c, u, false)
		err = updateClient(ctx, h.store, u)
		if (errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound)) && attempt < 2 {
			continue // updated or removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("update document client: %w", err)
		}
		u.RevokeAccessTokens = nil
		if h.audit != nil {
			h.emit(ctx, AuditEvent{Kind: AuditClientUpdated, Actor: AuditActor{Kind: ActorClient, ID: id}, ClientID: id,
				Policy: u.Policy, Changes: memberChanges(c.Client.Metadata, u.Client.Metadata), Reason: "metadata_document"})
		}
		return u, nil
	}
}

// createDocumentClient stores the record of a document client: no secret,
// and a registration access token nobody knows (the record is never
// managed through the client configuration endpoint).
func (h *Handler) createDocumentClient(ctx context.Context, id string, doc *clientDocument) (*Client, error) {
	token, err := randomString(h.cfg.Rand, 32)
	if err != nil {
		return nil, fmt.Errorf("generate registration access token: %w", err)
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	c := &Client{
		Client: store.Client{
			ID:        id,
			IssuedAt:  now,
			UpdatedAt: now,
			Revision:  1,
			Policy:    doc.policy,
			Origin:    store.OriginMetadataDocument,
			TokenHash: h.keys.hash(purposeRegistrationToken, token),
		},
		Metadata: doc.metadata.Clone(),
	}
	err = createClient(ctx, h.store, c, store.CreateOptions{MaxClients: doc.max})
	if errors.Is(err, store.ErrLimitReached) {
		return nil, docErr("the server holds as many clients as it allows")
	}
	if err != nil {
		return nil, err
	}
	h.emit(ctx, AuditEvent{Kind: AuditClientRegistered, Actor: AuditActor{Kind: ActorClient, ID: id}, ClientID: id,
		Policy: c.Policy, Reason: "metadata_document"})
	return c, nil
}

// clientByID returns the client id: a document client when documents are
// on and id is an https URL, else the registered one. A disabled client is
// refused as an unknown one (errDisabled wraps store.ErrNotFound).
func (h *Handler) clientByID(ctx context.Context, id string) (c *Client, err error) {
	if h.documents != nil && isDocumentID(id) {
		c, err = h.documentClient(ctx, id)
	} else {
		c, err = getClient(ctx, h.store, id)
	}
	if err == nil && !c.DisabledAt.IsZero() {
		return nil, errDisabled
	}
	return c, err
}
