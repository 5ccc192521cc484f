package cli

import (
	"crypto/hmac"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// signinPage is the data of the development sign-in page.
type signinPage struct {
	Title, Action, RequestID, CSRF, Name, Problem string
	Dev                                           bool
}

// devCSRF is the development sign-in form's anti-forgery token, bound to
// the pending request it signs in for.
func (l *login) devCSRF(requestID string) string {
	return l.mac("dev sign-in", requestID)
}

// serveDevLogin serves devLoginPath of --login dev: GET shows the form
// asking for a user name (no password); POST signs the user in under that
// name, keeps a session and goes on with the pending request at
// continuePath.
func (l *login) serveDevLogin(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("request")
	page := signinPage{Title: "Sign in", Action: devLoginPath, Dev: true}
	if r.Method != http.MethodPost {
		if id == "" {
			l.pages.renderError(w, r, http.StatusBadRequest, "Start from the application",
				"This page signs you in for an application that asked for access, and none did.",
				"Connect the application (an MCP client) to this server; it opens this page.")
			return
		}
		page.RequestID, page.CSRF = id, l.devCSRF(id)
		l.pages.render(w, r, http.StatusOK, "signin", page)
		return
	}
	if !l.formPost(w, r, "sign-in form") {
		return
	}
	id = r.PostForm.Get("request")
	if id == "" || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(l.devCSRF(id))) {
		l.pages.renderError(w, r, http.StatusForbidden, "Request refused",
			"The sign-in did not come from the sign-in page this server showed you.", "Start the sign-in again from the application.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("username"))
	if !validSubject(name) || utf8.RuneCountInString(name) > maxDevNameLen {
		page.RequestID, page.CSRF, page.Name = id, l.devCSRF(id), name
		page.Problem = "Enter a user name of 1 to 64 characters, without control characters."
		l.pages.render(w, r, http.StatusBadRequest, "signin", page)
		return
	}
	if _, err := l.sessions.create(r.Context(), w, name, name, sessionClaims{}); err != nil {
		l.serverError(w, r, "create the session", err)
		return
	}
	l.log.InfoContext(r.Context(), "signed in (development sign-in, no password)", "subject", name)
	http.Redirect(w, r, continuePath+"?"+url.Values{"request": {id}}.Encode(), http.StatusSeeOther)
}
