package clientreg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// readBody checks the media type and size of a JSON request body and
// decodes it.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (decoded, error) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return decoded{}, ErrUnsupportedMediaType.WithDescription("the request body must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return decoded{}, ErrUnsupportedMediaType.WithDescription("the request body must be UTF-8 JSON")
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		return decoded{}, ErrRequestTooLarge.WithDescription("the request body exceeds %d bytes", h.cfg.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decoded{}, ErrRequestTooLarge.WithDescription("the request body exceeds %d bytes", h.cfg.MaxBodyBytes)
		}
		return decoded{}, ErrInvalidRequest.WithDescription("the request body could not be read").WithCause(err)
	}
	d, err := decodeMetadata(body)
	d.raw = body
	return d, err
}

// bearerToken extracts an RFC 6750 §2.1 Bearer token. It returns "" and no
// error when the request carries no Bearer credentials.
func bearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", nil
	}
	if len(vals) > 1 {
		return "", ErrInvalidRequest.WithDescription("more than one Authorization header")
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	tok := strings.TrimLeft(rest, " ")
	if !validToken68(tok) {
		return "", ErrInvalidToken
	}
	return tok, nil
}

// validToken68 reports whether s matches RFC 6750's b64token
// (1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=").
func validToken68(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0 {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// errNotFound answers a path the handler does not serve.
var errNotFound = &Error{Code: "invalid_request", Status: http.StatusNotFound, Description: "no such endpoint"}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

func methodNotAllowed(allow ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeErrorBody(w, ErrMethodNotAllowed.WithDescription("method %s is not allowed here; use %s", r.Method, strings.Join(allow, " or ")))
	})
}

// writeError answers err: an *Error as itself, anything else as a bare
// server_error (or temporarily_unavailable for a storage outage), logged
// with the request's context.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	oe, internal := asOAuthError(err)
	if internal && errors.Is(r.Context().Err(), context.Canceled) {
		// The client went away; nothing failed on our side. (A deadline
		// that ended is ours, not the client's: it is logged below.)
		h.log.DebugContext(r.Context(), "request canceled", "request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
	} else if internal {
		h.log.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
	} else if oe.Unwrap() != nil {
		h.log.DebugContext(r.Context(), "request rejected", "request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", oe.Unwrap())
	}
	writeErrorBody(w, oe)
}

func writeErrorBody(w http.ResponseWriter, e *Error) {
	if ra := retryAfterHeader(e); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	if e.Challenge != "" {
		w.Header().Set("WWW-Authenticate", e.Challenge)
	}
	if e.Code == "" {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(e.Status)
		return
	}
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer putJSONBuffer(buf)
	// Not json.Marshal: it would HTML-escape <, > and & in the output of
	// ClientInformation.MarshalJSON, and values must be echoed byte-exact.
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	b := []byte(`{"error":"server_error"}`)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
	} else {
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonBuffers holds the buffers writeJSON encodes responses into, so that
// a response costs no new buffer.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putJSONBuffer returns buf to jsonBuffers, unless it grew past what a
// usual response needs: one outsized response must not stay in memory.
func putJSONBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 64<<10 {
		return
	}
	buf.Reset()
	jsonBuffers.Put(buf)
}

// parseHTTPURL parses an absolute http or https URL with a host.
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return u, nil
}
