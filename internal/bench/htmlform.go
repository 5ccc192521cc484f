package bench

import (
	"html"
	"net/url"
	"regexp"
	"strings"
)

// The sign-in and consent pages of an authorization server are HTML forms.
// The code flow submits them as a person would: it finds the forms of a
// page with a small scanner (the pages are the server's own, simple HTML;
// no script runs), picks the one that goes on (see chooseForm) and fills it
// (see htmlForm.values).

// control is an input, button, select or textarea of a form.
type control struct {
	tag      string // input, button, select or textarea
	typ      string // the type attribute, lower case ("" for none)
	name     string
	value    string
	text     string // a button's or textarea's content
	checked  bool
	disabled bool
}

// htmlForm is a form of a page.
type htmlForm struct {
	action   string
	post     bool
	controls []control
	// submit is the button chooseForm picked, if the form has any.
	submit *control
}

// isSubmit reports whether c submits its form.
func (c *control) isSubmit() bool {
	switch c.tag {
	case "button":
		return c.typ == "" || c.typ == "submit"
	case "input":
		return c.typ == "submit" || c.typ == "image"
	}
	return false
}

// label is what a person reads on a submit button.
func (c *control) label() string { return c.name + " " + c.value + " " + c.text }

// parseForms returns the forms of the HTML document b, in document order.
// Comments and the content of script and style elements are skipped;
// controls outside any form are ignored.
func parseForms(b []byte) []htmlForm {
	s := string(b)
	var forms []htmlForm
	in := false // inside the last form of forms
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		name, attrs, end := scanTag(s, i)
		i = end
		switch name {
		case "script", "style", "textarea", "button", "option":
			// Raw or escapable text up to the end tag: its content.
			content := s[i:]
			if close := indexFold(content, "</"+name); close >= 0 {
				content = content[:close]
			}
			i += len(content)
			if !in || name == "script" || name == "style" || name == "option" {
				continue
			}
			c := newControl(name, attrs)
			c.text = strings.TrimSpace(html.UnescapeString(stripTags(content)))
			if name == "textarea" {
				c.value = c.text
			}
			f := &forms[len(forms)-1]
			f.controls = append(f.controls, c)
		case "form":
			forms = append(forms, htmlForm{action: attrs["action"], post: strings.EqualFold(attrs["method"], "post")})
			in = true
		case "/form":
			in = false
		case "input", "select":
			if in {
				f := &forms[len(forms)-1]
				f.controls = append(f.controls, newControl(name, attrs))
			}
		}
	}
	return forms
}

func newControl(tag string, attrs map[string]string) control {
	_, checked := attrs["checked"]
	_, disabled := attrs["disabled"]
	return control{tag: tag, typ: strings.ToLower(attrs["type"]), name: attrs["name"], value: attrs["value"], checked: checked, disabled: disabled}
}

// scanTag reads the tag that starts at s[i] ('<'): its lower-case name
// ("/form" for an end tag), its attributes (names in lower case, values
// unescaped) and the index after its '>'.
func scanTag(s string, i int) (string, map[string]string, int) {
	j := i + 1
	start := j
	if j < len(s) && s[j] == '/' {
		j++
	}
	for j < len(s) && !isSpace(s[j]) && s[j] != '>' && s[j] != '/' {
		j++
	}
	name := strings.ToLower(s[start:j])
	attrs := map[string]string{}
	for j < len(s) {
		for j < len(s) && (isSpace(s[j]) || s[j] == '/') {
			j++
		}
		if j >= len(s) || s[j] == '>' {
			break
		}
		k := j
		for j < len(s) && !isSpace(s[j]) && s[j] != '=' && s[j] != '>' && s[j] != '/' {
			j++
		}
		attr := strings.ToLower(s[k:j])
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		val := ""
		if j < len(s) && s[j] == '=' {
			j++
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			if j < len(s) && (s[j] == '"' || s[j] == '\'') {
				q := s[j]
				end := strings.IndexByte(s[j+1:], q)
				if end < 0 {
					end = len(s) - j - 1
				}
				val = s[j+1 : j+1+end]
				j += end + 2
			} else {
				k := j
				for j < len(s) && !isSpace(s[j]) && s[j] != '>' {
					j++
				}
				val = s[k:j]
			}
		}
		if _, seen := attrs[attr]; !seen && attr != "" {
			attrs[attr] = html.UnescapeString(val)
		}
	}
	return name, attrs, min(j+1, len(s))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// indexFold is strings.Index without ASCII case.
func indexFold(s, sub string) int {
	return strings.Index(strings.ToLower(s), strings.ToLower(sub))
}

// stripTags drops the tags of an element's content, keeping its text.
func stripTags(s string) string {
	var b strings.Builder
	for {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:lt])
		gt := strings.IndexByte(s[lt:], '>')
		if gt < 0 {
			return b.String()
		}
		s = s[lt+gt+1:]
	}
}

var (
	// approveRE matches the labels of buttons that go on: approve a
	// request, sign in, continue.
	approveRE = regexp.MustCompile(`(?i)\b(allow|approve|accept|authori[sz]e|consent|confirm|continue|grant|yes|ok|sign[ -]?in|log[ -]?in|submit|next)\b`)
	// refuseRE matches the labels of buttons and the actions of forms
	// that must not be used: deny a request, sign out, abort.
	refuseRE = regexp.MustCompile(`(?i)(deny|reject|decline|cancel|abort|refuse|sign[ -]?out|log[ -]?out|\bno\b)`)
	// userRE matches the names of text fields that take the user name.
	userRE = regexp.MustCompile(`(?i)(user|login|email|account|subject|name)`)
)

// chooseForm picks the form of a page that a person signing in and
// approving the request would submit, and its submit button: forms whose
// action signs out or aborts are skipped, a form with a button labelled as
// approving (approveRE) is preferred, then one with a password field, then
// the first. Its button is the first approving one, else the first that
// does not refuse (refuseRE); a form whose only buttons refuse is not
// submitted. A form without buttons is submitted as Enter would.
func chooseForm(forms []htmlForm) (htmlForm, bool) {
	best, bestScore := -1, -1
	for i := range forms {
		f := &forms[i]
		if refuseRE.MatchString(f.action) {
			continue
		}
		var approve, other *control
		buttons := 0
		password := false
		for j := range f.controls {
			c := &f.controls[j]
			if c.disabled {
				continue
			}
			if c.tag == "input" && c.typ == "password" {
				password = true
			}
			if !c.isSubmit() {
				continue
			}
			buttons++
			switch l := c.label(); {
			case approveRE.MatchString(l) && !refuseRE.MatchString(l):
				if approve == nil {
					approve = c
				}
			case !refuseRE.MatchString(l):
				if other == nil {
					other = c
				}
			}
		}
		score := 0
		switch {
		case approve != nil:
			f.submit, score = approve, 3
		case password && (other != nil || buttons == 0):
			f.submit, score = other, 2
		case other != nil || buttons == 0:
			f.submit, score = other, 1
		default:
			continue // only buttons that refuse
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return htmlForm{}, false
	}
	return forms[best], true
}

// values returns what submitting f sends: its hidden fields and other
// values as the page set them, user in the text fields that ask for a user
// name (empty or named like one, userRE), password in password fields,
// checked checkboxes and radio buttons, and the chosen submit button's
// name and value.
func (f *htmlForm) values(user, password string) url.Values {
	v := url.Values{}
	for i := range f.controls {
		c := &f.controls[i]
		if c.name == "" || c.disabled {
			continue
		}
		switch c.tag {
		case "textarea":
			v.Add(c.name, c.value)
		case "select":
			// The pages of sign-in and consent have none that matters;
			// an unset select sends nothing here.
		case "input":
			switch c.typ {
			case "hidden":
				v.Add(c.name, c.value)
			case "", "text", "email", "search", "tel", "url":
				if c.value == "" || userRE.MatchString(c.name) {
					v.Add(c.name, user)
				} else {
					v.Add(c.name, c.value)
				}
			case "password":
				v.Add(c.name, password)
			case "checkbox", "radio":
				if c.checked {
					val := c.value
					if val == "" {
						val = "on"
					}
					v.Add(c.name, val)
				}
			}
		}
	}
	if f.submit != nil && f.submit.name != "" {
		v.Add(f.submit.name, f.submit.value)
	}
	return v
}
