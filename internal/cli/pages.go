package cli

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
)

// The server's pages (development sign-in, consent, sign-out, errors) share one embedded template set: a
// layout with inline styles and the page's content. They work without
// JavaScript, load nothing from elsewhere, and are readable on a phone.
//
//go:embed pages/*.html
var pageFiles embed.FS

// pageSet holds the parsed pages, each the layout with its own content.
type pageSet struct {
	pages map[string]*template.Template
	log   *slog.Logger
	dev   bool // every page shows the development banner (--login dev)
}

func newPageSet(log *slog.Logger) (*pageSet, error) {
	ps := &pageSet{pages: map[string]*template.Template{}, log: log}
	for _, name := range []string{"consent", "error", "signin", "signout"} {
		t, err := template.ParseFS(pageFiles, "pages/layout.html", "pages/"+name+".html")
		if err != nil {
			return nil, err
		}
		ps.pages[name] = t
	}
	return ps, nil
}

// pageCSP is the Content-Security-Policy of every page: nothing but the
// page's own inline style, no scripts, no framing (clickjacking), forms
// posted only to this origin.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// render writes page name with status and data, with the headers every
// page carries.
func (ps *pageSet) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := ps.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		ps.log.ErrorContext(r.Context(), "rendering a page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	Title, Heading, Message, Detail string
	Dev                             bool
}

// renderError writes the error page.
func (ps *pageSet) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message, detail string) {
	ps.render(w, r, status, "error", errorPage{Title: heading, Heading: heading, Message: message, Detail: detail, Dev: ps.dev})
}
