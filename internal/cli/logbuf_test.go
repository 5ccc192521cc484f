package cli

import (
	"strings"
	"testing"
	"time"
)

// TestLogBuffer checks when the server's buffered log reaches its writer:
// warnings at once, with the Info records before them; Info records on
// Flush or when the buffer is full. The buffer's timer is set to an hour
// here, so that no flush comes from it; TestLogBufferTimer checks it.
func TestLogBuffer(t *testing.T) {
	var out syncBuffer
	log, buf := newBufferedLogger("text", newLogBuffer(&out, time.Hour))

	log.Info("first")
	if got := out.String(); got != "" {
		t.Errorf("an Info record was written at once, not buffered: %q", got)
	}
	// A warning is written at once, after the Info record before it;
	// also through a logger derived with With.
	log.With("component", "store").Warn("second")
	got := out.String()
	first, second := strings.Index(got, "msg=first"), strings.Index(got, "msg=second component=store")
	if first < 0 || second < first {
		t.Errorf("after a Warn record, the log is %q; want the Info record, then the warning", got)
	}

	log.Info("third")
	if strings.Contains(out.String(), "msg=third") {
		t.Errorf("an Info record after a warning was written at once: %q", out.String())
	}
	if err := buf.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "msg=third") {
		t.Errorf("Flush did not write the buffered record: %q", out.String())
	}

	// A full buffer is written without waiting.
	before := len(out.String())
	log.Info("big", "v", strings.Repeat("x", logBufferSize))
	if n := len(out.String()) - before; n < logBufferSize {
		t.Errorf("a record of %d bytes waited in the buffer (%d bytes written)", logBufferSize, n)
	}

	// JSON records go through the buffer too.
	var jout syncBuffer
	jlog, _ := newBufferedLogger("json", newLogBuffer(&jout, time.Hour))
	jlog.Error("failed", "err", "boom")
	if !strings.Contains(jout.String(), `"msg":"failed"`) {
		t.Errorf("a JSON Error record was not written at once: %q", jout.String())
	}
}

// TestLogBufferTimer checks that buffered Info records are written without
// a Flush once the buffer's interval has passed, again and again.
func TestLogBufferTimer(t *testing.T) {
	var out syncBuffer
	log, _ := newBufferedLogger("text", newLogBuffer(&out, 10*time.Millisecond))
	for _, msg := range []string{"one", "two"} {
		log.Info(msg)
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), "msg="+msg) {
			if time.Now().After(deadline) {
				t.Fatalf("the Info record %q was not written within 10s (interval 10ms): %q", msg, out.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
}
