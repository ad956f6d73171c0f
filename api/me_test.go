package api

import (
	"net/http"
	"slices"
	"testing"
)

// TestPatchMe: a user changes their language and time zone; bad values are a 422 naming
// each field, and change nothing.
func TestPatchMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	m := e.do("PATCH", "/api/v1/me", "carol", map[string]any{"locale": "zh-CN", "time_zone": "Asia/Shanghai"}).want(http.StatusOK).json()
	if m["locale"] != "zh-CN" || m["time_zone"] != "Asia/Shanghai" || m["username"] != "carol" {
		t.Fatalf("patched: %v", m)
	}
	// Only what is given changes.
	m = e.do("PATCH", "/api/v1/me", "carol", map[string]any{"locale": "en"}).want(http.StatusOK).json()
	if m["locale"] != "en" || m["time_zone"] != "Asia/Shanghai" {
		t.Fatalf("locale only: %v", m)
	}

	for _, c := range []struct {
		name   string
		body   any
		fields []string
	}{
		{"both bad", map[string]any{"locale": "fr", "time_zone": "Mars/Olympus"}, []string{"locale", "time_zone"}},
		{"empty", map[string]any{"locale": "", "time_zone": ""}, []string{"locale", "time_zone"}},
		{"Local is not a zone", map[string]any{"time_zone": "Local"}, []string{"time_zone"}},
		{"unknown field, bad type", `{"nickname":"c","locale":5}`, []string{"locale", "nickname"}},
		{"NUL", map[string]any{"time_zone": "Asia/\x00"}, []string{"time_zone"}},
	} {
		got := checkProblem(t, e.do("PATCH", "/api/v1/me", "carol", c.body), http.StatusUnprocessableEntity)
		slices.Sort(got)
		if !slices.Equal(got, c.fields) {
			t.Errorf("%s: fields %v, want %v", c.name, got, c.fields)
		}
	}
	checkProblem(t, e.do("PATCH", "/api/v1/me", "carol", `{"locale":`), http.StatusBadRequest)
	e.do("PATCH", "/api/v1/me", "", map[string]any{"locale": "en"}).problem(http.StatusUnauthorized)

	m = e.do("GET", "/api/v1/me", "carol", nil).want(http.StatusOK).json()
	if m["locale"] != "en" || m["time_zone"] != "Asia/Shanghai" {
		t.Fatalf("a refused change changed the profile: %v", m)
	}
}
