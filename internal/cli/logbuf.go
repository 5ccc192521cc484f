package cli

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logFlushInterval is how long an Info record may wait in a logBuffer
// before it is written out.
const logFlushInterval = 100 * time.Millisecond

// logBufferSize is how many bytes a logBuffer holds before it writes them
// out at once.
const logBufferSize = 32 << 10

// logBuffer is the writer of the server's log. The access log writes a
// line per request; one write(2) each was up to a tenth of the CPU of a
// read (docs/performance.md). logBuffer gathers the lines and writes them
// out together, logFlushInterval after the first of them at the latest, or
// at once when logBufferSize bytes are waiting or Flush is called. The
// server's logger (bufferedLogger) calls Flush after every record at level
// Warn or above, so that warnings and errors reach the log at once, and
// serve calls it before it returns; what a kill of the process loses is
// at most logFlushInterval of Info lines.
type logBuffer struct {
	mu       sync.Mutex
	w        io.Writer
	buf      []byte
	interval time.Duration
	timer    *time.Timer // runs Flush; armed while buf holds bytes
}

// newLogBuffer returns a logBuffer that writes to w at most interval after
// a write.
func newLogBuffer(w io.Writer, interval time.Duration) *logBuffer {
	b := &logBuffer{w: w, buf: make([]byte, 0, logBufferSize), interval: interval}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write buffers p. It does not fail: an error of the underlying writer is
// returned by the Flush that meets it (the log has nowhere to report it).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		b.timer.Reset(b.interval)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBufferSize {
		_ = b.flushLocked()
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	b.timer.Stop()
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// bufferedLogger returns a logger in format ("text" or "json") that writes
// to w through a logBuffer, and the buffer, which the caller flushes before
// it returns.
func bufferedLogger(format string, w io.Writer) (*slog.Logger, *logBuffer) {
	return newBufferedLogger(format, newLogBuffer(w, logFlushInterval))
}

func newBufferedLogger(format string, b *logBuffer) (*slog.Logger, *logBuffer) {
	return slog.New(flushingHandler{newLogger(format, b).Handler(), b}), b
}

// flushingHandler flushes its logBuffer after each record at level Warn or
// above.
type flushingHandler struct {
	slog.Handler
	buf *logBuffer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.buf}
}
