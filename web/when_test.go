package web

import (
	"testing"
	"time"
)

// TestWhenShowsTheUsersTimeZone: a moment is shown in the user's zone with its offset.
func TestWhenShowsTheUsersTimeZone(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 30, 0, 0, time.UTC)
	zone := func(name string) *time.Location {
		l, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, c := range []struct {
		tz   *time.Location
		want string
	}{
		{nil, "2026-12-07 01:30 UTC"},
		{zone("Asia/Shanghai"), "2026-12-07 09:30 UTC+8"},
		{zone("Asia/Kolkata"), "2026-12-07 07:00 UTC+5:30"},
		{zone("America/New_York"), "2026-12-06 20:30 UTC-5"},
	} {
		if got := (page{tz: c.tz}).When(at); got != c.want {
			t.Errorf("When in %v = %q, want %q", c.tz, got, c.want)
		}
	}
	if got := (page{}).When(time.Time{}); got != "" {
		t.Errorf("the zero time shows %q", got)
	}
}
