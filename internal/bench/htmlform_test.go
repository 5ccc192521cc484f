package bench

import (
	"net/url"
	"testing"
)

func TestParseForms(t *testing.T) {
	page := `<!doctype html><html><head>
<style>form > button { color: red } /* <form action="/in-style"> */</style>
<script>if (a < b) { document.write('<form action="/in-script">') }</script>
</head><body>
<!-- <form action="/in-comment"><input name="x"></form> -->
<input type="hidden" name="outside" value="1">
<form method="POST" action="http:&#x2F;&#x2F;127.0.0.1:3000&#x2F;interaction&#x2F;abc?x=1&amp;y=2">
  <input type=hidden name=prompt value=login />
  <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
  <input type='password' name='password'>
  <input type="checkbox" name="remember" checked>
  <input type="checkbox" name="spam" value="yes">
  <input type="text" name="locale" value="en">
  <input type="text" name="note" value="x" disabled>
  <textarea name="comment">a &amp; b</textarea>
  <button type="submit" class="login">Sign-<b>in</b></button>
</form>
<form action="/search"><input name="q"><INPUT TYPE="SUBMIT" VALUE="Go"></form>
</body></html>`
	forms := parseForms([]byte(page))
	if len(forms) != 2 {
		t.Fatalf("%d forms, want 2: %+v", len(forms), forms)
	}
	f := forms[0]
	if !f.post || f.action != "http://127.0.0.1:3000/interaction/abc?x=1&y=2" || len(f.controls) != 9 {
		t.Errorf("first form: post=%v action=%q, %d controls %+v", f.post, f.action, len(f.controls), f.controls)
	}
	if b := f.controls[8]; b.tag != "button" || b.text != "Sign-in" || !b.isSubmit() {
		t.Errorf("button %+v", b)
	}
	if g := forms[1]; g.post || g.action != "/search" || len(g.controls) != 2 || !g.controls[1].isSubmit() || g.controls[1].value != "Go" {
		t.Errorf("second form %+v", g)
	}

	chosen, ok := chooseForm(forms)
	if !ok || chosen.action != f.action || chosen.submit == nil || chosen.submit.text != "Sign-in" {
		t.Fatalf("chooseForm = %+v, %v; want the sign-in form and its button", chosen, ok)
	}
	got := chosen.values("ada", "pw")
	want := url.Values{"prompt": {"login"}, "login": {"ada"}, "password": {"pw"}, "remember": {"on"},
		"locale": {"en"}, "comment": {"a & b"}}
	if got.Encode() != want.Encode() {
		t.Errorf("values = %s, want %s", got.Encode(), want.Encode())
	}
}

func TestChooseForm(t *testing.T) {
	for _, tc := range []struct {
		name, page string
		ok         bool
		action     string
		values     string
	}{
		{"consent after a sign-out form, deny first",
			`<form method="post" action="/logout"><input type="hidden" name="csrf" value="l"><button>Sign out</button></form>
			 <form method="post" action="/consent"><input type="hidden" name="request" value="r1">
			 <button type="submit" name="decision" value="deny">Deny</button>
			 <button type="submit" name="decision" value="approve">Allow</button></form>`,
			true, "/consent", "decision=approve&request=r1"},
		{"a lone unnamed continue button",
			`<form autocomplete="off" action="/i/1/confirm" method="post"><input type="hidden" name="prompt" value="consent"/><button autofocus type="submit">Continue</button></form>`,
			true, "/i/1/confirm", "prompt=consent"},
		{"submit inputs: yes, not no",
			`<form method="post" action="/a"><input type="submit" name="no" value="No"><input type="submit" name="yes" value="Yes, allow"></form>`,
			true, "/a", "yes=Yes%2C+allow"},
		{"a form without buttons is submitted as Enter would",
			`<form method="post" action="/login"><input name="username"></form>`,
			true, "/login", "username=ada"},
		{"a neutral button when none approves",
			`<form method="post" action="/x"><button name="b" value="1">Proceed</button><button name="c" value="2">Cancel</button></form>`,
			true, "/x", "b=1"},
		{"only refusals",
			`<form method="post" action="/consent"><button name="decision" value="deny">Deny</button></form>
			 <form method="post" action="/logout"><button>Sign in again</button></form>`,
			false, "", ""},
		{"no form", `<html><body><p>Something went wrong.</p></body></html>`, false, "", ""},
		{"the password form before another neutral one",
			`<form action="/lang"><button>English</button></form><form method="post" action="/pw"><input type="password" name="p"><button>Go</button></form>`,
			true, "/pw", "p=pw"},
	} {
		f, ok := chooseForm(parseForms([]byte(tc.page)))
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v (%+v)", tc.name, ok, tc.ok, f)
			continue
		}
		if !ok {
			continue
		}
		if got := f.values("ada", "pw").Encode(); f.action != tc.action || got != tc.values {
			t.Errorf("%s: action %q values %q, want %q %q", tc.name, f.action, got, tc.action, tc.values)
		}
	}
}
