package cli

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Crash safety of refresh token rotation: "clientreg serve --login header"
// is killed with SIGKILL while several clients refresh their grants in
// loops, then restarted on the same database. For every grant, the refresh
// token of the last 200 that reached the client still works, and so does
// the token a request cut by the kill presented (it is either still the
// current one, or, if the cut request committed, the previous one within
// its grace): a crash never locks a client out of its grant, and every
// rotation the client saw is durable.
func TestCrashSIGKILLRefresh(t *testing.T) {
	t.Parallel()
	bin := hardBuild(t)
	db := filepath.Join(t.TempDir(), "refresh.db")
	args := []string{"--db", db, "--rate-limits=false", "--login", "header", "--trusted-proxy", "127.0.0.1/32"}
	p := mustServe(t, bin, args...)

	const grants = 8
	type grant struct {
		client, token string
	}
	held := make([]grant, grants)
	for i := range held {
		client, creds := codeFlowCredentials(t, p.issuer, "")
		held[i] = grant{client: client, token: creds["refresh token 2"]}
	}

	var (
		mu       sync.Mutex
		failures []string
		acked    atomic.Int64
		inFlight atomic.Int64
		killing  atomic.Bool
		wg       sync.WaitGroup
	)
	killed := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for i := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := hardClient()
			for {
				select {
				case <-killed:
					return
				default:
				}
				mu.Lock()
				g := held[i]
				mu.Unlock()
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.token}, "client_id": {g.client}}
				inFlight.Add(1)
				r, err := sendForm(ctx, c, p.issuer+"/token", form)
				inFlight.Add(-1)
				if err != nil {
					if !killing.Load() {
						mu.Lock()
						failures = append(failures, "refresh before the kill: "+err.Error())
						mu.Unlock()
					}
					return // the token presented is what the client still holds
				}
				if r.status != http.StatusOK {
					mu.Lock()
					failures = append(failures, "refresh: "+string(r.body))
					mu.Unlock()
					return
				}
				mu.Lock()
				held[i].token = r.str(t, "refresh_token")
				mu.Unlock()
				acked.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(90 * time.Second)
	for acked.Load() < 40 || inFlight.Load() == 0 {
		if time.Now().After(deadline) {
			close(killed)
			wg.Wait()
			t.Fatalf("only %d refreshes in 90s; failures %q", acked.Load(), failures)
		}
		time.Sleep(time.Millisecond)
	}
	killing.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(killed)
	p.wait(t, 30*time.Second)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("refreshes failed before the kill: %q", failures)
	}
	t.Logf("killed after %d refreshes", acked.Load())

	p2 := mustServe(t, bin, args...)
	c := hardClient()
	for i, g := range held {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.token}, "client_id": {g.client}}
		r, err := sendForm(t.Context(), c, p2.issuer+"/token", form)
		if err != nil || r.status != http.StatusOK {
			t.Errorf("grant %d: the refresh token the client holds after the crash: %v %d %s", i, err, r.status, r.body)
		}
	}
	p2.terminate(t)
}

// sendForm posts a form through c and reads the whole response.
func sendForm(ctx context.Context, c *http.Client, u string, form url.Values) (response, error) {
	return send(ctx, c, http.MethodPost, u, "", form.Encode(), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}
