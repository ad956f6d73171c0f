package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLanguageSwitch: the header's switch sets the user's language, and the page it came
// from comes back in it; a forged language or a foreign back link changes nothing.
func TestLanguageSwitch(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.session("carol")

	if w := e.req(http.MethodGet, "/", tok, nil); !strings.Contains(w.Body.String(), `id="lang-switch"`) {
		t.Fatalf("the inbox has no language switch: %s", w.Body.String())
	}
	same := []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://example.test"}
	w := e.req(http.MethodPost, "/preferences/language", tok, url.Values{"locale": {"zh-CN"}},
		append(same, "Referer", "http://example.test/?tab=group")...)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/?tab=group" {
		t.Fatalf("switch: %d to %q", w.Code, w.Header().Get("Location"))
	}
	u, err := e.st.UserByUsername(context.Background(), "carol")
	if err != nil || u.Locale != "zh-CN" {
		t.Fatalf("carol's locale %q (%v)", u.Locale, err)
	}
	body := e.req(http.MethodGet, "/?tab=group", tok, nil).Body.String()
	if !strings.Contains(body, `<html lang="zh-CN">`) || !strings.Contains(body, "<h1>待办</h1>") {
		t.Fatalf("the inbox is not in Chinese after the switch: %s", body)
	}

	// A language the app does not have, and back links off the app.
	for _, back := range []string{"https://evil.example/", "http://example.test.evil/x", "http://u@example.test/x",
		"javascript:alert(1)", "http://example.test//evil.example/", ""} {
		w := e.req(http.MethodPost, "/preferences/language", tok, url.Values{"locale": {"fr"}}, append(same, "Referer", back)...)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
			t.Errorf("back %q: %d to %q", back, w.Code, w.Header().Get("Location"))
		}
	}
	if u, _ := e.st.UserByUsername(context.Background(), "carol"); u.Locale != "zh-CN" {
		t.Fatalf("a forged language changed carol's to %q", u.Locale)
	}
	// From another site: refused.
	w = e.req(http.MethodPost, "/preferences/language", tok, url.Values{"locale": {"en"}}, "Sec-Fetch-Site", "cross-site")
	if w.Code != http.StatusForbidden {
		t.Fatalf("a cross-site switch: %d", w.Code)
	}
	// Signed out: to the sign-in page.
	if w := e.req(http.MethodPost, "/preferences/language", "", url.Values{"locale": {"en"}}); w.Code != http.StatusSeeOther ||
		!strings.HasPrefix(w.Header().Get("Location"), "/signin") {
		t.Fatalf("signed out: %d to %q", w.Code, w.Header().Get("Location"))
	}
}
