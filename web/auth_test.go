package web

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("s3cret-enough")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "s3cret") {
		t.Fatalf("hash %q", h)
	}
	if h2, _ := HashPassword("s3cret-enough"); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"s3cret-enough": true, "s3cret-enougH": false, "": false} {
		if ok, err := CheckPassword(h, pw); err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "plain", "$2a$10$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=0,t=2,p=1$AAAA$AAAA",
		strings.Replace(h, "$argon2id$", "$argon2i$", 1)} {
		if _, err := CheckPassword(bad, "x"); err == nil {
			t.Errorf("CheckPassword accepted the hash %q", bad)
		}
	}
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, Config{})

	// Signed out, / is the sign-in page.
	w := e.req(http.MethodGet, "/", "", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `action="/signin"`) {
		t.Fatalf("GET / signed out: %d %s", w.Code, w.Body.String())
	}

	for _, c := range []struct{ user, pw string }{{"carol", "wrong password"}, {"carol", ""}, {"nobody", testPassword}} {
		w := e.signIn(c.user, c.pw)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Wrong username or password.") {
			t.Fatalf("sign in %s/%q: %d %s", c.user, c.pw, w.Code, w.Body.String())
		}
		if sessionCookie(w, e.app.cookie) != nil {
			t.Fatalf("sign in %s/%q set a session cookie", c.user, c.pw)
		}
	}

	w = e.signIn("carol", testPassword)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("sign in: %d %v", w.Code, w.Header())
	}
	c := sessionCookie(w, "sf_session")
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" || len(c.Value) < 32 {
		t.Fatalf("session cookie %+v", c)
	}
	// Only the token's hash is stored.
	var n int
	sum := sha256.Sum256([]byte(c.Value))
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions WHERE token_hash = $1 AND username = 'carol'`,
		sum[:]).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stored sessions with the token's hash: %d, %v", n, err)
	}
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM web_sessions WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'`,
		c.Value).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the token itself is stored: %d, %v", n, err)
	}

	w = e.req(http.MethodGet, "/", c.Value, nil)
	if body := w.Body.String(); w.Code != http.StatusOK || !strings.Contains(body, "Signed in as Carol") || !strings.Contains(body, "<h1>Inbox</h1>") {
		t.Fatalf("GET / signed in: %d %s", w.Code, body)
	}
	if w := e.req(http.MethodGet, "/signin", c.Value, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("GET /signin signed in: %d, want a redirect to the inbox", w.Code)
	}

	// A forged or unknown cookie is no session.
	if w := e.req(http.MethodGet, "/", c.Value+"x", nil); strings.Contains(w.Body.String(), "Signed in as") {
		t.Fatal("a wrong token signed in")
	}

	// Sign-out ends the session: the old cookie no longer works.
	w = e.req(http.MethodPost, "/signout", c.Value, url.Values{})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/signin" {
		t.Fatalf("sign out: %d", w.Code)
	}
	if cl := sessionCookie(w, "sf_session"); cl == nil || cl.MaxAge >= 0 {
		t.Fatalf("sign out did not clear the cookie: %+v", cl)
	}
	if w := e.req(http.MethodGet, "/", c.Value, nil); strings.Contains(w.Body.String(), "Signed in as") {
		t.Fatal("the session works after sign-out")
	}
}

func TestSecureCookieWhenPublicURLIsHTTPS(t *testing.T) {
	e := newEnv(t, Config{PublicURL: "https://serviceflow.example"})
	w := e.req(http.MethodPost, "/signin", "", url.Values{"username": {"carol"}, "password": {testPassword}},
		"Sec-Fetch-Site", "same-origin")
	c := sessionCookie(w, "__Host-sf_session")
	if w.Code != http.StatusSeeOther || c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("sign in over https: %d, cookie %+v", w.Code, c)
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	e := newEnv(t, Config{IdleTimeout: 30 * time.Minute, MaxAge: 8 * time.Hour})
	tok := e.session("carol")
	signedIn := func() bool {
		return strings.Contains(e.req(http.MethodGet, "/", tok, nil).Body.String(), "Signed in as Carol")
	}

	// Used every 25 minutes, the session lives on past the idle timeout from sign-in...
	for range 3 {
		e.clock.advance(25 * time.Minute)
		if !signedIn() {
			t.Fatalf("signed out after 25 min idle (idle timeout 30 min), at %v", e.clock.now())
		}
	}
	// ...but 31 minutes without use end it, for good.
	e.clock.advance(31 * time.Minute)
	if signedIn() {
		t.Fatal("still signed in after 31 min idle")
	}
	e.clock.advance(-31 * time.Minute)
	if signedIn() {
		t.Fatal("the expired session came back")
	}

	// MaxAge ends a session in use.
	tok = e.session("carol")
	for range 20 { // 20 × 25 min > 8 h
		e.clock.advance(25 * time.Minute)
		signedIn()
	}
	if signedIn() {
		t.Fatal("signed in past the maximum session age")
	}
}

func TestSignInLockout(t *testing.T) {
	e := newEnv(t, Config{Lockout: lockout(3, 10*time.Minute, 15*time.Minute)})
	for i := 1; i <= 2; i++ {
		if w := e.signIn("carol", "guess"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, w.Code)
		}
	}
	w := e.signIn("Carol", "guess") // the same username, however typed
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "Too many failed sign-ins") ||
		w.Header().Get("Retry-After") != "900" {
		t.Fatalf("third failure: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	// Locked: even the right password is refused, and sets no cookie.
	e.clock.advance(10 * time.Minute)
	if w := e.signIn("carol", testPassword); w.Code != http.StatusTooManyRequests || sessionCookie(w, e.app.cookie) != nil {
		t.Fatalf("right password while locked: %d", w.Code)
	}
	// Others are not locked out by carol's lockout.
	e.session("cathy")
	// Once the lock ends, the right password works and clears the count.
	e.clock.advance(6 * time.Minute)
	e.session("carol")
	for i := 1; i <= 2; i++ {
		if w := e.signIn("carol", "guess"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d after a success: %d (the count was not cleared)", i, w.Code)
		}
	}
	// Failures spread wider than the window do not lock.
	e.clock.advance(11 * time.Minute)
	if w := e.signIn("carol", "guess"); w.Code != http.StatusUnauthorized {
		t.Fatalf("a failure after the window: %d", w.Code)
	}
	// Unknown usernames are counted too (so nobody learns which exist).
	for range 3 {
		e.signIn("mallory", "guess")
	}
	if w := e.signIn("mallory", "guess"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("unknown username: %d, want it locked like a known one", w.Code)
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.session("carol")
	now := e.clock.now()
	e.insertTask(taskRow{id: "t1", created: now, due: now.Add(time.Hour)})

	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site", "Origin", "http://sub.example.test"},
		{"Origin", "http://evil.example"}, // an older browser: no Sec-Fetch-Site
	} {
		w := e.req(http.MethodPost, "/tasks/t1/claim", tok, url.Values{"tab": {"group"}}, hdr...)
		if w.Code != http.StatusForbidden {
			t.Errorf("claim with %v: %d, want 403", hdr, w.Code)
		}
		if a := e.assignee("t1"); a != "" {
			t.Fatalf("a cross-origin claim took the task for %q", a)
		}
		w = e.req(http.MethodPost, "/signin", "", url.Values{"username": {"carol"}, "password": {testPassword}}, hdr...)
		if w.Code != http.StatusForbidden || sessionCookie(w, e.app.cookie) != nil {
			t.Errorf("sign-in with %v: %d, want 403", hdr, w.Code)
		}
		w = e.req(http.MethodPost, "/signout", tok, url.Values{}, hdr...)
		if w.Code != http.StatusForbidden {
			t.Errorf("sign-out with %v: %d, want 403", hdr, w.Code)
		}
	}
	// The session survived the forged sign-outs, and a same-origin claim works.
	if w := e.req(http.MethodPost, "/tasks/t1/claim", tok, url.Values{"tab": {"group"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("same-origin claim: %d %s", w.Code, w.Body.String())
	}
	if a := e.assignee("t1"); a != "carol" {
		t.Fatalf("assignee %q after a same-origin claim", a)
	}
	// The trusted public origin (a proxy that rewrites Host) passes too.
	e2 := newEnv(t, Config{PublicURL: "https://serviceflow.example"})
	w := e2.req(http.MethodPost, "/signin", "", url.Values{"username": {"carol"}, "password": {testPassword}},
		"Origin", "https://serviceflow.example")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in from the public origin: %d", w.Code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.session("carol")
	for _, c := range []struct{ path, tok string }{{"/", ""}, {"/signin", ""}, {"/", tok}, {"/static/app.css", ""}} {
		w := e.req(http.MethodGet, c.path, c.tok, nil)
		csp := w.Header().Get("Content-Security-Policy")
		for _, must := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, must) {
				t.Errorf("%s: CSP %q lacks %q", c.path, csp, must)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
			t.Errorf("%s: CSP %q allows unsafe or any source", c.path, csp)
		}
		if xfo := w.Header().Get("X-Frame-Options"); xfo != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", c.path, xfo)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
	}
	// The pages keep to the policy: no inline script, no inline style or event handler.
	now := e.clock.now()
	e.insertTask(taskRow{id: "t1", assignee: "carol", created: now, due: now.Add(time.Hour)})
	for _, c := range []struct{ path, tok string }{{"/signin", ""}, {"/?tab=mine", tok}, {"/?tab=group", tok}} {
		body := e.req(http.MethodGet, c.path, c.tok, nil).Body.String()
		checkNoInline(t, c.path, body)
	}
	// The API's JSON routes are untouched: no page headers there.
	if w := e.req(http.MethodGet, "/healthz", "", nil); w.Header().Get("Content-Security-Policy") != "" || w.Code != http.StatusOK {
		t.Errorf("/healthz: %d, CSP %q", w.Code, w.Header().Get("Content-Security-Policy"))
	}
}

// checkNoInline fails when html has a script element without src, a style element or
// attribute, or an on* event handler attribute.
func checkNoInline(t *testing.T, name, html string) {
	t.Helper()
	lower := strings.ToLower(html)
	for i := 0; ; {
		j := strings.Index(lower[i:], "<script")
		if j < 0 {
			break
		}
		tag := lower[i+j : i+j+strings.Index(lower[i+j:], ">")]
		if !strings.Contains(tag, " src=") {
			t.Errorf("%s: inline script %q", name, tag)
		}
		i += j + len(tag)
	}
	for _, bad := range []string{"<style", " style=", " onclick=", " onload=", " onsubmit=", "javascript:"} {
		if strings.Contains(lower, bad) {
			t.Errorf("%s: has %q", name, bad)
		}
	}
}
