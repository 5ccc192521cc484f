package clientreg_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/clientreg/clientreg"
)

// etagDo sends a request with the If-Match header ifMatch (none when "")
// and returns its status, its headers and its body as a JSON object.
func etagDo(e *testEnv, method, url, token, ifMatch, body string) (int, http.Header, map[string]any) {
	e.t.Helper()
	ct := ""
	if body != "" {
		ct = jsonType
	}
	req := e.request(method, url, strings.NewReader(body), ct, bearer(token))
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	r := e.send(req)
	return r.status, r.header, r.m
}

// etagEnv is the handler of the ETag tests, with the default rate limits.
func etagEnv(t *testing.T, mutate func(*clientreg.Config)) *testEnv {
	return newEnv(t, memoryBackend, func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{}
		if mutate != nil {
			mutate(c)
		}
	})
}

func TestETagIfMatch(t *testing.T) {
	e := etagEnv(t, nil)

	st, hdr, reg := etagDo(e, "POST", e.iss+"/register", "", "", `{"redirect_uris":["https://app.test/cb"],"client_name":"one"}`)
	if st != 201 || hdr.Get("ETag") == "" {
		t.Fatalf("register: %d, ETag %q", st, hdr.Get("ETag"))
	}
	id, tok := reg["client_id"].(string), reg["registration_access_token"].(string)
	uri := e.iss + "/register/" + id
	put := func(name string) string {
		return `{"client_id":"` + id + `","redirect_uris":["https://app.test/cb"],"client_name":"` + name + `"}`
	}

	regETag := hdr.Get("ETag")
	st, hdr, _ = etagDo(e, "GET", uri, tok, "", "")
	etag1 := hdr.Get("ETag")
	if st != 200 || etag1 != regETag {
		t.Fatalf("read: %d, ETag %q", st, etag1)
	}
	if !strings.HasPrefix(etag1, `"`) || strings.HasPrefix(etag1, `W/`) {
		t.Fatalf("ETag %q is not a strong entity tag", etag1)
	}

	// A matching If-Match updates and yields a new ETag.
	st, hdr, body := etagDo(e, "PUT", uri, tok, etag1, put("two"))
	if st != 200 {
		t.Fatalf("PUT with current ETag: %d %v", st, body)
	}
	etag2 := hdr.Get("ETag")
	if etag2 == etag1 || etag2 == "" {
		t.Fatalf("ETag after a change = %q, before %q", etag2, etag1)
	}
	tok = body["registration_access_token"].(string)

	// Token bookkeeping (first use of the rotated token) leaves the ETag alone.
	st, hdr, _ = etagDo(e, "GET", uri, tok, "", "")
	if st != 200 || hdr.Get("ETag") != etag2 {
		t.Fatalf("GET after rotation: %d ETag %q, want %q", st, hdr.Get("ETag"), etag2)
	}

	// A stale If-Match gets 412 with a JSON error and changes nothing.
	st, hdr, body = etagDo(e, "PUT", uri, tok, etag1, put("three"))
	if st != http.StatusPreconditionFailed || body["error"] != "invalid_request" || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("PUT with stale ETag: %d %v", st, body)
	}
	_, _, cur := etagDo(e, "GET", uri, tok, "", "")
	if cur["client_name"] != "two" {
		t.Fatalf("after a failed precondition client_name = %v, want two", cur["client_name"])
	}

	// A list containing the current tag matches; so does "*".
	st, _, body = etagDo(e, "PUT", uri, tok, `"nope", `+etag2, put("four"))
	if st != 200 {
		t.Fatalf("If-Match list with the current tag: %d %v", st, body)
	}
	tok = body["registration_access_token"].(string)
	st, _, body = etagDo(e, "PUT", uri, tok, "*", put("five"))
	if st != 200 {
		t.Fatalf("If-Match *: %d %v", st, body)
	}
	tok = body["registration_access_token"].(string)
	st, _, _ = etagDo(e, "PUT", uri, tok, "W/"+etag2, put("six"))
	if st != http.StatusPreconditionFailed {
		t.Fatalf("weak tag in If-Match: %d, want 412", st)
	}
}

// Concurrent updates that carry the same If-Match: exactly one wins, every
// other one gets 412.
func TestETagConcurrentUpdates(t *testing.T) {
	e := etagEnv(t, func(c *clientreg.Config) { c.TokenRotation = clientreg.RotateNever })
	_, _, reg := etagDo(e, "POST", e.iss+"/register", "", "", `{"redirect_uris":["https://app.test/cb"]}`)
	id, tok := reg["client_id"].(string), reg["registration_access_token"].(string)
	uri := e.iss + "/register/" + id
	_, hdr, _ := etagDo(e, "GET", uri, tok, "", "")
	etag := hdr.Get("ETag")

	const n = 12
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := `{"client_id":"` + id + `","redirect_uris":["https://app.test/cb"],"client_name":"writer-` + string(rune('a'+i)) + `"}`
			statuses[i], _, _ = etagDo(e, "PUT", uri, tok, etag, body)
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case 200:
			won++
		case http.StatusPreconditionFailed:
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	if won != 1 {
		t.Fatalf("%d updates won with the same If-Match, want exactly 1 (%v)", won, statuses)
	}
}
