package clientreg

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/clientreg/clientreg/store"
)

// Error is an OAuth error: an RFC error code, a description for the client
// and the HTTP status it is answered with. Every error that the handler
// answers with a JSON error body is an *Error; any other error becomes a
// bare server_error and is logged, never shown.
//
// The package-level Err… values are sentinels. Derive a described error from
// one with WithDescription; errors.Is matches the derived error against its
// sentinel (by code and status).
type Error struct {
	// Code is the RFC error code, e.g. "invalid_client_metadata".
	Code string
	// Description is the human-readable error_description. It is ASCII and
	// never carries internal details.
	Description string
	// Status is the HTTP status code.
	Status int
	// Challenge is the WWW-Authenticate header to send, if any.
	Challenge string

	cause      error
	retryAfter int // seconds, for 429
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the internal cause recorded with WithCause, if any. The cause
// is for logs; it never reaches the client.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same code and status, so
// that errors.Is(err, ErrInvalidRedirectURI) holds for every described copy.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Status == e.Status
}

// WithDescription returns a copy of e with the description set from format
// and args. The sentinel e itself is not modified.
func (e *Error) WithDescription(format string, args ...any) *Error {
	c := *e
	c.Description = asciiOnly(fmt.Sprintf(format, args...))
	return &c
}

// WithCause returns a copy of e that records cause for logging.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

// The errors of RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2 and RFC 7592
// that the handler uses. Compare with errors.Is.
var (
	// ErrInvalidRequest: the request is malformed (RFC 6749 §5.2).
	ErrInvalidRequest = &Error{Code: "invalid_request", Status: http.StatusBadRequest}
	// ErrUnsupportedMediaType: the request body is not application/json.
	ErrUnsupportedMediaType = &Error{Code: "invalid_request", Status: http.StatusUnsupportedMediaType}
	// ErrRequestTooLarge: the request body exceeds the configured limit.
	ErrRequestTooLarge = &Error{Code: "invalid_request", Status: http.StatusRequestEntityTooLarge}
	// ErrMethodNotAllowed: the endpoint does not support the HTTP method.
	ErrMethodNotAllowed = &Error{Code: "invalid_request", Status: http.StatusMethodNotAllowed}
	// ErrInvalidRedirectURI: a redirect URI is invalid (RFC 7591 §3.2.2).
	ErrInvalidRedirectURI = &Error{Code: "invalid_redirect_uri", Status: http.StatusBadRequest}
	// ErrInvalidClientMetadata: a metadata member is invalid (RFC 7591 §3.2.2).
	ErrInvalidClientMetadata = &Error{Code: "invalid_client_metadata", Status: http.StatusBadRequest}
	// ErrInvalidSoftwareStatement: the software statement is malformed or
	// does not verify (RFC 7591 §3.2.2).
	ErrInvalidSoftwareStatement = &Error{Code: "invalid_software_statement", Status: http.StatusBadRequest}
	// ErrUnapprovedSoftwareStatement: the software statement is not approved
	// for use at this server (RFC 7591 §3.2.2).
	ErrUnapprovedSoftwareStatement = &Error{Code: "unapproved_software_statement", Status: http.StatusBadRequest}
	// ErrMissingToken: the request carries no Bearer token. It is answered
	// with 401 and a bare Bearer challenge, without an error code
	// (RFC 6750 §3.1).
	ErrMissingToken = &Error{Code: "", Status: http.StatusUnauthorized, Challenge: "Bearer"}
	// ErrInvalidToken: the Bearer token is unknown, expired, used up, revoked
	// or bound to another client (RFC 6750 §3.1). Every such cause gets the
	// same response.
	ErrInvalidToken = &Error{Code: "invalid_token", Description: "the token is not valid", Status: http.StatusUnauthorized, Challenge: `Bearer error="invalid_token"`}
	// ErrAccessDenied: the token is valid but policy forbids the operation.
	ErrAccessDenied = &Error{Code: "access_denied", Description: "this operation is not allowed for this client", Status: http.StatusForbidden}
	// ErrConcurrentUpdate: the client changed while an update was validated,
	// more often than the handler retries.
	ErrConcurrentUpdate = &Error{Code: "invalid_request", Status: http.StatusConflict}
	// ErrPreconditionFailed: an If-Match precondition of an update does
	// not hold (RFC 9110 §13.1.1); nothing was changed.
	ErrPreconditionFailed = &Error{Code: "invalid_request", Status: http.StatusPreconditionFailed}
	// ErrInvalidClient: client authentication failed (RFC 6749 §5.2).
	ErrInvalidClient = &Error{Code: "invalid_client", Description: "client authentication failed", Status: http.StatusUnauthorized}
	// ErrInvalidGrant: the grant is invalid (RFC 6749 §5.2).
	ErrInvalidGrant = &Error{Code: "invalid_grant", Status: http.StatusBadRequest}
	// ErrUnauthorizedClient: the client may not use this grant type.
	ErrUnauthorizedClient = &Error{Code: "unauthorized_client", Status: http.StatusBadRequest}
	// ErrUnsupportedGrantType: the grant type is not supported.
	ErrUnsupportedGrantType = &Error{Code: "unsupported_grant_type", Status: http.StatusBadRequest}
	// ErrInvalidScope: the requested scope exceeds the client's.
	ErrInvalidScope = &Error{Code: "invalid_scope", Status: http.StatusBadRequest}
	// ErrInvalidTarget: a resource indicator is invalid, unknown or not
	// allowed (RFC 8707 §2).
	ErrInvalidTarget = &Error{Code: "invalid_target", Status: http.StatusBadRequest}
	// ErrUnsupportedResponseType: the authorization endpoint does not
	// support the response type (RFC 6749 §4.1.2.1); it serves code only.
	ErrUnsupportedResponseType = &Error{Code: "unsupported_response_type", Status: http.StatusBadRequest}
	// ErrAuthorizationNotFound: the pending authorization request that
	// PendingAuthorization, CompleteAuthorization or DenyAuthorization
	// names is unknown, expired, already completed or denied, or was
	// started in another browser. The answers are the same, so that a
	// handle tells nothing to a browser that did not start the request.
	ErrAuthorizationNotFound = &Error{Code: "invalid_request", Status: http.StatusNotFound,
		Description: "the authorization request is unknown, expired or already completed, or was started in another browser"}
	// ErrConsentNotFound: RevokeConsent found no remembered consent of the
	// user for the client (404).
	ErrConsentNotFound = &Error{Code: "invalid_request", Status: http.StatusNotFound,
		Description: "no consent of this user for this client is remembered"}
	// ErrUnsupportedTokenType: revocation of this token type is not
	// supported (RFC 7009 §2.2.1).
	ErrUnsupportedTokenType = &Error{Code: "unsupported_token_type", Status: http.StatusBadRequest}
	// ErrServerError: an unexpected internal failure (details are logged).
	ErrServerError = &Error{Code: "server_error", Description: "internal error", Status: http.StatusInternalServerError}
	// ErrTemporarilyUnavailable: the storage backend is unreachable.
	ErrTemporarilyUnavailable = &Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable}
)

// asOAuthError maps any error to the *Error the client is shown. The second
// result reports whether err was internal (and so must be logged).
func asOAuthError(err error) (*Error, bool) {
	var oe *Error
	if errors.As(err, &oe) {
		return oe, false
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		// A store that is down, or too slow to answer within the request's
		// deadline: the client may retry later.
		return ErrTemporarilyUnavailable.WithDescription("the client store is unavailable, retry later"), true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The request's deadline (set by the server, e.g. a timeout
		// middleware) ended while the store was still busy: an outage as
		// far as the client can tell.
		return ErrTemporarilyUnavailable.WithDescription("the request timed out, retry later"), true
	}
	return ErrServerError, true
}

// asciiOnly makes s a valid error_description (RFC 6749 §5.2 allows
// %x20-21 / %x23-5B / %x5D-7E): a double quote becomes an apostrophe, a
// backslash a slash, and any other byte outside that range a question mark.
// Values quoted from a request are escaped with quote first, so nothing of
// them is lost.
func asciiOnly(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '"':
			b[i] = '\''
		case c == '\\':
			b[i] = '/'
		case c < 0x20 || c > 0x7e:
			b[i] = '?'
		}
	}
	return string(b)
}
