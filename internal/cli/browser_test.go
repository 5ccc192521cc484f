package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The real-browser tests drive Debian's chromium (headless) with chromedp
// through the whole authorization: the page of the upstream provider or
// the development sign-in, clientreg's consent page, and the redirect to
// the client with a code, which the test exchanges as the client would.
// They skip when chromium is missing, unless CI is set, when they fail.
// CLIENTREG_UPDATE_SCREENSHOT=1 writes the consent page's screenshot to
// docs/consent.png (the README shows it).

// chromium returns a chromedp context on a new headless chromium with an
// empty profile and none of its own network traffic.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is needed for the browser tests (apt-get install chromium; .ci/run installs it): %v", err)
		}
		t.Skipf("chromium is not installed (apt-get install chromium), so the real-browser test is skipped: %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first call starts the browser, which lives as long as the
	// context of that call: no timeout on it.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	// Generous: two cores shared by everything else.
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// where returns the browser's location and page text, for a failure
// message; the steps wait for elements with the test's deadline, so it
// asks with a short one of its own.
func where(ctx context.Context) string {
	short, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(short, chromedp.Location())
	if err != nil {
		return "an unknown page: " + err.Error()
	}
	text, _ := chromedp.Run(short, chromedp.Text(chromedp.CSS("body")))
	return loc + ", showing: " + text
}

// mcpClient is the part of an MCP client the browser tests need: a
// redirect URI on loopback that receives the code, and the registration.
type mcpClient struct {
	id, redirectURI, verifier, challenge string
	codes                                chan url.Values
}

func newMCPClient(t *testing.T, issuer string) *mcpClient {
	t.Helper()
	c := &mcpClient{codes: make(chan url.Values, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" {
			http.NotFound(w, r)
			return
		}
		select {
		case c.codes <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>done</title><p id="done">Signed in; you can close this window.</p>`))
	}))
	t.Cleanup(srv.Close)
	c.redirectURI = srv.URL + "/cb"
	body := `{"client_name":"Example MCP Client","redirect_uris":["` + c.redirectURI + `"],` +
		`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none","scope":"mcp:tools"}`
	r := do(t, http.MethodPost, issuer+"/register", "", body)
	wantStatus(t, "register the MCP client", r, http.StatusCreated)
	c.id = r.need(t, "client_id")
	c.verifier, c.challenge = pkce("z")
	return c
}

func (c *mcpClient) authorizeURL(issuer string) string {
	return issuer + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {c.redirectURI},
		"code_challenge": {c.challenge}, "code_challenge_method": {"S256"}, "state": {"browser-state"},
		"scope": {"mcp:tools"}, "resource": {"https://mcp.example.com/mcp"},
	}.Encode()
}

// finish waits for the code at the redirect URI and exchanges it.
func (c *mcpClient) finish(t *testing.T, issuer string) {
	t.Helper()
	var q url.Values
	select {
	case q = <-c.codes:
	case <-time.After(2 * time.Minute):
		t.Fatal("the browser never reached the client's redirect URI")
	}
	if q.Get("state") != "browser-state" || q.Get("iss") != issuer || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	r := postForm(t, issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {c.redirectURI}, "client_id": {c.id}, "code_verifier": {c.verifier}})
	wantStatus(t, "code exchange", r, http.StatusOK)
	if r.need(t, "access_token") == "" || r.need(t, "refresh_token") == "" {
		t.Fatal("no tokens")
	}
}

// consentScreenshot takes the consent page's screenshot and, with
// CLIENTREG_UPDATE_SCREENSHOT=1, writes it to docs/consent.png.
func consentScreenshot(t *testing.T, buf []byte) {
	t.Helper()
	if len(buf) < 8 || string(buf[1:4]) != "PNG" {
		t.Fatalf("the screenshot is not a PNG (%d bytes)", len(buf))
	}
	if os.Getenv("CLIENTREG_UPDATE_SCREENSHOT") == "" {
		return
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "consent.png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A real browser signs in at an upstream OpenID provider, approves at
// clientreg's consent page, and the client gets its tokens.
func TestBrowserOIDCLogin(t *testing.T) {
	ctx := chromium(t)
	idp := newTestIdP(t)
	s := oidcServer(t, idp.issuer)
	c := newMCPClient(t, s.issuer)
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %v (at %s)\nserver log:\n%s", err, where(ctx), s.stderr)
		}
	}
	fail(chromedp.Do(ctx,
		chromedp.Navigate(c.authorizeURL(s.issuer)),
		chromedp.WaitVisible(chromedp.ID("idp-user")),
		chromedp.SendKeys(chromedp.ID("idp-user"), "alice"),
		chromedp.Click(chromedp.ID("idp-submit")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
	))
	consentText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	fail(err)
	fail(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[value="approve"]`))))
	for _, want := range []string{"Example MCP Client", "Unverified application", "alice", "mcp:tools", "https://mcp.example.com/mcp", "127.0.0.1"} {
		if !strings.Contains(consentText, want) {
			t.Errorf("the consent page lacks %q:\n%s", want, consentText)
		}
	}
	c.finish(t, s.issuer)
}

// The same with the development sign-in, the default of a loopback server;
// its consent page is the README's screenshot.
func TestBrowserDevLogin(t *testing.T) {
	ctx := chromium(t)
	s := startServer(t, nil, "--db", dbIn(t), "--rate-limits=false")
	c := newMCPClient(t, s.issuer)
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %v (at %s)\nserver log:\n%s", err, where(ctx), s.stderr)
		}
	}
	fail(chromedp.Do(ctx,
		chromedp.EmulateViewport(720, 760),
		chromedp.Navigate(c.authorizeURL(s.issuer)),
		chromedp.WaitVisible(chromedp.ID("username")),
	))
	banner, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".banner")))
	fail(err)
	fail(chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), "jane.doe"),
		chromedp.Click(chromedp.CSS(`button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
	))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	fail(err)
	fail(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[value="approve"]`))))
	if !strings.Contains(banner, "Development sign-in") {
		t.Errorf("the sign-in page's banner: %q", banner)
	}
	consentScreenshot(t, shot)
	c.finish(t, s.issuer)
}
