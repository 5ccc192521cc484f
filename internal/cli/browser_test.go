package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The real-browser tests run the whole MCP authorization with real parts:
// clientreg serve (JWT access tokens), the example MCP server of
// adapters/mcp verifying them offline, the MCP TypeScript SDK's client
// (e2e/mcp-browser.mjs), and Debian's chromium (headless) driven by
// chromedp through the page of the upstream provider or the development
// sign-in and clientreg's consent page back to the client's loopback
// callback; the client then calls the tool with its token. They skip when
// chromium, node or e2e/node_modules is missing, unless CI is set, when
// they fail.
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

// mcpExample is adapters/mcp/examples/mcp-server, built once per test run
// (TestMain removes it).
var mcpExample builtBinary

// mcpExampleBinary builds the example MCP server (a nested module) with
// "go build -C ../../adapters/mcp", once per test run.
func mcpExampleBinary(t *testing.T) string {
	t.Helper()
	mcpExample.once.Do(func() {
		b := &mcpExample
		goTool, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("the go command is needed to build the example MCP server: %w", err)
			return
		}
		if b.dir, err = os.MkdirTemp("", "clientreg-mcp-example-"); err != nil {
			b.err = err
			return
		}
		exe := filepath.Join(b.dir, "mcp-server")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		args := []string{"build", "-C", filepath.Join("..", "..", "adapters", "mcp"), "-o", exe, "./examples/mcp-server"}
		if out, err := exec.CommandContext(ctx, goTool, args...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
			return
		}
		b.path = exe
	})
	if mcpExample.err != nil {
		t.Fatal(mcpExample.err)
	}
	return mcpExample.path
}

// needNodeSDK returns the path of node when it and e2e/node_modules (npm
// ci in e2e; .ci/run does it) are there; otherwise the test is skipped,
// unless CI is set, when it fails.
func needNodeSDK(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("..", "..", "e2e", "node_modules", "@modelcontextprotocol", "sdk", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node and the MCP TypeScript SDK are needed for the browser tests (cd e2e && npm ci; .ci/run does it): %v", err)
		}
		t.Skipf("node or e2e/node_modules is missing (cd e2e && npm ci), so the real-browser test is skipped: %v", err)
	}
	return node
}

// lineReader collects the lines of a process's output: all of them, for
// failure messages, and each on a channel, closed at the end.
type lineReader struct {
	all   syncBuffer
	lines chan string
	eof   chan struct{} // closed once the output is read
}

func readLines(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 100), eof: make(chan struct{})}
	go func() {
		defer close(lr.eof)
		defer close(lr.lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lr.all.Write([]byte(sc.Text() + "\n"))
			select {
			case lr.lines <- sc.Text():
			default: // nobody waits for it; it is in all
			}
		}
	}()
	return lr
}

// wait returns the rest of the first line beginning with prefix, or fails
// the test at the timeout or the end of the output.
func (lr *lineReader) wait(t *testing.T, what, prefix string, timeout time.Duration, logs func() string) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lr.lines:
			if !ok {
				t.Fatalf("%s: the output ended without a %q line:\n%s\n%s", what, prefix, lr.all.String(), logs())
			}
			if rest, found := strings.CutPrefix(l, prefix); found {
				return rest
			}
		case <-deadline:
			t.Fatalf("%s: no %q line within %v:\n%s\n%s", what, prefix, timeout, lr.all.String(), logs())
		}
	}
}

// mcpStack is the rest of the end-to-end setup beside clientreg serve: the
// example MCP server, verifying serve's JWT access tokens offline, and the
// MCP TypeScript SDK's client (e2e/mcp-browser.mjs), which waits for the
// browser at its loopback callback.
type mcpStack struct {
	mcpURL       string
	authorizeURL string // the URL the client "opens in the browser"
	client       *lineReader
	clientErr    *syncBuffer
	clientDone   chan error
	serverLog    *syncBuffer
	s            *server
}

func startMCPStack(t *testing.T, s *server) *mcpStack {
	t.Helper()
	node := needNodeSDK(t)
	exe := mcpExampleBinary(t)
	st := &mcpStack{s: s, serverLog: &syncBuffer{}, clientErr: &syncBuffer{}, clientDone: make(chan error, 1)}

	example := exec.Command(exe, "-addr", "127.0.0.1:0", "-authorization-server", s.issuer)
	example.Stderr = st.serverLog
	out, err := example.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := example.Start(); err != nil {
		t.Fatal(err)
	}
	exampleOut := readLines(out)
	t.Cleanup(func() {
		_ = example.Process.Kill()
		_ = example.Wait()
	})
	base := exampleOut.wait(t, "the example MCP server", "listening on ", time.Minute, st.logs)
	st.mcpURL = base + "/mcp"

	client := exec.Command(node, filepath.Join("..", "..", "e2e", "mcp-browser.mjs"))
	client.Env = append(os.Environ(), "MCP_URL="+st.mcpURL)
	client.Stderr = st.clientErr
	cout, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	st.client = readLines(cout)
	go func() {
		<-st.client.eof // Wait after the output is read (StdoutPipe's rule)
		st.clientDone <- client.Wait()
	}()
	t.Cleanup(func() {
		_ = client.Process.Kill()
		<-st.clientDone
	})
	st.authorizeURL = st.client.wait(t, "the MCP client", "AUTHORIZE ", 2*time.Minute, st.logs)
	if !strings.HasPrefix(st.authorizeURL, s.issuer+"/authorize?") {
		t.Fatalf("the MCP client opens %s, want clientreg's authorization endpoint", st.authorizeURL)
	}
	return st
}

// clientID is the client_id the MCP client registered, from its
// authorization URL.
func (st *mcpStack) clientID() string {
	u, _ := url.Parse(st.authorizeURL)
	return u.Query().Get("client_id")
}

func (st *mcpStack) logs() string {
	return "MCP client's stderr:\n" + st.clientErr.String() + "\nexample MCP server's log:\n" + st.serverLog.String() +
		"\nclientreg serve's log:\n" + st.s.stderr.String()
}

// toolAnswer waits for the client to print the whoami tool's answer and
// exit 0, and returns the answer.
func (st *mcpStack) toolAnswer(t *testing.T) string {
	t.Helper()
	answer := st.client.wait(t, "the MCP client", "TOOL ", 2*time.Minute, st.logs)
	select {
	case err := <-st.clientDone:
		st.clientDone <- err // for the cleanup
		if err != nil {
			t.Fatalf("the MCP client: %v\n%s", err, st.logs())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the MCP client did not exit after the tool call\n%s", st.logs())
	}
	t.Logf("the MCP client's output:\n%s", st.client.all.String())
	return answer
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
	s := oidcServer(t, idp.issuer, "--access-token-format", "jwt")
	st := startMCPStack(t, s)
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %v (at %s)\n%s", err, where(ctx), st.logs())
		}
	}
	fail(chromedp.Do(ctx,
		chromedp.Navigate(st.authorizeURL),
		chromedp.WaitVisible(chromedp.ID("idp-user")),
		chromedp.SendKeys(chromedp.ID("idp-user"), "alice"),
		chromedp.Click(chromedp.ID("idp-submit")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
	))
	consentText, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	fail(err)
	fail(chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[value="approve"]`)),
		chromedp.WaitVisible(chromedp.ID("done")),
	))
	for _, want := range []string{"Example MCP Client", "Unverified application", "alice", "mcp:tools", st.mcpURL, "127.0.0.1"} {
		if !strings.Contains(consentText, want) {
			t.Errorf("the consent page lacks %q:\n%s", want, consentText)
		}
	}
	answer := st.toolAnswer(t)
	if want := "you are " + idp.issuer + "|sub-alice (client " + st.clientID() + ")"; answer != want {
		t.Errorf("whoami answered %q, want %q", answer, want)
	}
}

// The same with the development sign-in, the default of a loopback server;
// its consent page is the README's screenshot.
func TestBrowserDevLogin(t *testing.T) {
	ctx := chromium(t)
	s := startServer(t, nil, "--db", dbIn(t), "--rate-limits=false", "--access-token-format", "jwt")
	st := startMCPStack(t, s)
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %v (at %s)\n%s", err, where(ctx), st.logs())
		}
	}
	fail(chromedp.Do(ctx,
		chromedp.EmulateViewport(720, 760),
		chromedp.Navigate(st.authorizeURL),
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
	fail(chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[value="approve"]`)),
		chromedp.WaitVisible(chromedp.ID("done")),
	))
	if !strings.Contains(banner, "Development sign-in") {
		t.Errorf("the sign-in page's banner: %q", banner)
	}
	consentScreenshot(t, shot)
	answer := st.toolAnswer(t)
	if want := "you are jane.doe (client " + st.clientID() + ")"; answer != want {
		t.Errorf("whoami answered %q, want %q", answer, want)
	}
}
