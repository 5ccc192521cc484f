package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxFlowSteps bounds the HTTP requests of one authorization: a server
// that keeps redirecting or showing forms is a failure, not a hang.
const maxFlowSteps = 20

// authorization is one authorization code flow up to the redirect to the
// client, as the code and refresh phases run it.
type authorization struct {
	seq    int64
	client *oauthClient
	// code and verifier are what the exchange needs (RFC 7636 §4.5).
	code, verifier string
	// lat is the time the authorization took (the exchange's is added
	// when it succeeds), steps its HTTP requests.
	lat   time.Duration
	steps int
	// exchanged is set when the code was exchanged for a token.
	exchanged bool
	// o.errKind says why the authorization failed, if it did.
	o outcome
}

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand.Read does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorize runs one authorization request of client c as a browser
// would: it GETs the authorization endpoint with a PKCE S256 challenge
// (RFC 7636 §4.3), a state and the configured scope and resources, follows
// the server's redirects on its own origin with a fresh cookie jar, fills
// and submits the forms its sign-in and consent pages show (see
// chooseForm), and stops at the redirect to the client's redirect URI,
// whose code, state and iss (RFC 9207) it checks. Nothing connects to the
// redirect URI. Every request carries the login header, if configured.
func (r *runner) authorize(ctx context.Context, seq int64, c *oauthClient) *authorization {
	a := &authorization{seq: seq, client: c, verifier: randomString(32)}
	sum := sha256.Sum256([]byte(a.verifier))
	state := randomString(16)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.id},
		"redirect_uri":          {r.cfg.RedirectURI},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if r.cfg.Scope != "" {
		q.Set("scope", r.cfg.Scope)
	}
	if len(r.cfg.Resources) > 0 {
		q["resource"] = r.cfg.Resources
	}
	sep := "?"
	if strings.Contains(r.disc.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	target := r.target(r.disc.AuthorizationEndpoint+sep+q.Encode(), seq)
	origin := originOf(target)
	// The Origin of the form posts is the server's, also when the request
	// goes to another instance (Config.Bases): a browser would have
	// reached them all at one origin, the issuer's.
	serverOrigin := originOf(r.disc.AuthorizationEndpoint)

	jar, _ := cookiejar.New(nil) // no error without options
	browser := &http.Client{
		Transport:     r.cfg.Client.Transport,
		Timeout:       r.cfg.Client.Timeout,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	fail := func(kind, sample string) *authorization {
		a.o.errKind, a.o.sample = "authorize_"+kind, sample
		return a
	}
	redirect, _ := url.Parse(r.cfg.RedirectURI)
	method, form := http.MethodGet, ""
	t0 := time.Now()
	defer func() { a.lat = time.Since(t0) }()
	for a.steps < maxFlowSteps {
		u, err := url.Parse(target)
		if err != nil || checkURL(target, r.cfg.AllowRemote) != nil {
			return fail("offsite", "refused to follow "+target)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(form))
		if err != nil {
			return fail("transport", err.Error())
		}
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		if r.cfg.LoginHeader != "" {
			req.Header.Set(r.cfg.LoginHeader, r.cfg.User)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", serverOrigin)
		}
		a.steps++
		resp, err := roundTrip(browser, req)
		if err != nil {
			return fail(errKind(err), err.Error())
		}
		switch resp.status {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc, err := u.Parse(resp.header.Get("Location"))
			if err != nil || resp.header.Get("Location") == "" {
				return fail("no_location", failureSample(resp))
			}
			if loc.Scheme == redirect.Scheme && loc.Host == redirect.Host && loc.Path == redirect.Path {
				return r.authorizationResponse(a, loc.Query(), state)
			}
			next := r.target(loc.String(), seq)
			if originOf(next) != origin {
				return fail("offsite", "redirect to "+loc.String())
			}
			target = next
			// RFC 9110 §15.4: 307 and 308 repeat the request; the others
			// become a GET.
			if resp.status != http.StatusTemporaryRedirect && resp.status != http.StatusPermanentRedirect {
				method, form = http.MethodGet, ""
			}
		case http.StatusOK:
			f, ok := chooseForm(parseForms(resp.body))
			if !ok {
				return fail("no_form", sampleOf(resp.body))
			}
			action, err := u.Parse(f.action)
			if err != nil {
				return fail("no_form", "bad form action "+f.action)
			}
			action = &url.URL{Scheme: action.Scheme, Host: action.Host, Path: action.Path, RawPath: action.RawPath, RawQuery: action.RawQuery}
			values := f.values(r.cfg.User, r.cfg.Password)
			if f.post {
				method, form = http.MethodPost, values.Encode()
			} else {
				// HTML: a GET form replaces the action's query.
				action.RawQuery = values.Encode()
				method, form = http.MethodGet, ""
			}
			target = r.target(action.String(), seq)
			if originOf(target) != origin {
				return fail("offsite", "form action "+action.String())
			}
		default:
			return fail("http_"+strconv.Itoa(resp.status), failureSample(resp))
		}
	}
	return fail("loop", "no redirect to the client after "+strconv.Itoa(maxFlowSteps)+" requests")
}

// authorizationResponse checks the query of the redirect to the client
// (RFC 6749 §4.1.2, RFC 9207 §2) and keeps its code.
func (r *runner) authorizationResponse(a *authorization, q url.Values, state string) *authorization {
	fail := func(kind, sample string) *authorization {
		a.o.errKind, a.o.sample = "authorize_"+kind, sample
		return a
	}
	iss, hasISS := q["iss"]
	switch {
	case q.Get("error") != "":
		return fail("error_"+q.Get("error"), q.Encode())
	case q.Get("state") != state:
		return fail("state", "state does not match the request's")
	case hasISS && (len(iss) != 1 || r.disc.Issuer != "" && iss[0] != r.disc.Issuer):
		return fail("iss", "iss "+strings.Join(iss, ",")+" is not the issuer "+r.disc.Issuer)
	case !hasISS && r.disc.ISSParameter:
		return fail("iss", "no iss, although the metadata says authorization_response_iss_parameter_supported")
	case q.Get("code") == "":
		return fail("no_code", "no code in the redirect")
	}
	a.code = q.Get("code")
	return a
}
