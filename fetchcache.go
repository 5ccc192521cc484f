package clientreg

import (
	"context"
	"sync"
	"time"
)

// fetchCache caches documents fetched by URI (JWK Sets, client ID metadata
// documents) so that requests that anyone can send cannot make the server
// fetch at will:
//
//   - a fetched value is used until the lifetime its loader gave it ends
//     (or, when a caller asks for a younger one, until it is maxAge old);
//   - a failed fetch is remembered for failureTTL, by the clock of
//     Config.Now: within it the URI is not fetched again, and requests get
//     the failure, or, when keepOnFailure is set, the value fetched before,
//     if any;
//   - one fetch per URI is in flight at a time, and every request that
//     needs it waits for its result, each until its own context ends; the
//     fetch itself is bounded by its fetcher's timeout, not by the request
//     that started it;
//   - at most maxEntries URIs are kept: when full, entries that have
//     expired are dropped, then an arbitrary one.
type fetchCache[T any] struct {
	failureTTL    time.Duration
	maxEntries    int
	keepOnFailure bool
	// load fetches uri and returns its value and how long it may be used.
	load func(ctx context.Context, h *Handler, uri string) (T, time.Duration, error)
	// stats counts hits and fetches; nil counts nothing.
	stats *fetchStats

	mu       sync.Mutex
	entries  map[string]*cacheEntry[T]
	inflight map[string]*cacheFetch[T]
}

// cacheEntry is what is known of one URI; its fields are read and written
// under fetchCache.mu.
type cacheEntry[T any] struct {
	val     T
	has     bool      // val was fetched
	fetched time.Time // when val was fetched
	expires time.Time // when val stops being used
	failed  time.Time // when the last fetch failed, zero if it did not
	err     error     // the answer to the last failure
}

// cacheFetch is a fetch in flight; val, has and err are set before done
// closes.
type cacheFetch[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// get returns the value of uri, fetched at most maxAge ago when maxAge is
// positive.
func (fc *fetchCache[T]) get(ctx context.Context, h *Handler, uri string, maxAge time.Duration) (T, error) {
	var zero T
	now := h.now()
	fc.mu.Lock()
	if e := fc.entries[uri]; e != nil {
		if e.has && now.Before(e.expires) && (maxAge <= 0 || now.Sub(e.fetched) < maxAge) {
			v := e.val
			fc.mu.Unlock()
			fc.stats.hit()
			return v, nil
		}
		if !e.failed.IsZero() && now.Sub(e.failed) < fc.failureTTL {
			v, has, err := e.val, e.has, e.err
			fc.mu.Unlock()
			if has && fc.keepOnFailure {
				return v, nil // keep using what we had
			}
			return zero, err
		}
	}
	f := fc.inflight[uri]
	if f == nil {
		f = &cacheFetch[T]{done: make(chan struct{})}
		if fc.inflight == nil {
			fc.inflight = make(map[string]*cacheFetch[T])
		}
		fc.inflight[uri] = f
		go fc.fetch(context.WithoutCancel(ctx), h, uri, f)
	}
	fc.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// fetch fetches uri for f, records the result and wakes f's waiters.
func (fc *fetchCache[T]) fetch(ctx context.Context, h *Handler, uri string, f *cacheFetch[T]) {
	defer close(f.done)
	v, ttl, failure := fc.load(ctx, h, uri)
	fc.stats.fetch(failure)
	now := h.now()
	fc.mu.Lock()
	defer fc.mu.Unlock()
	delete(fc.inflight, uri)
	e := fc.entries[uri]
	if e == nil {
		fc.makeRoom(now)
		e = &cacheEntry[T]{}
		fc.entries[uri] = e
	}
	if failure != nil {
		e.failed, e.err = now, failure
		if e.has && fc.keepOnFailure {
			f.val = e.val
		} else {
			f.err = failure
		}
		return
	}
	e.val, e.has, e.fetched, e.expires, e.failed, e.err = v, true, now, now.Add(ttl), time.Time{}, nil
	f.val = v
}

// makeRoom makes room for one more entry; the caller holds mu.
func (fc *fetchCache[T]) makeRoom(now time.Time) {
	if fc.entries == nil {
		fc.entries = make(map[string]*cacheEntry[T])
	}
	if len(fc.entries) < fc.maxEntries {
		return
	}
	for uri, e := range fc.entries {
		if !now.Before(e.expires) && now.Sub(e.failed) >= fc.failureTTL {
			delete(fc.entries, uri)
		}
	}
	for uri := range fc.entries {
		if len(fc.entries) < fc.maxEntries {
			break
		}
		delete(fc.entries, uri)
	}
}
