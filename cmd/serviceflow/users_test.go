package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
	"github.com/serviceflow/serviceflow/web"
)

// TestUsersSetsPassword runs `serviceflow users --password-stdin`: on a new user with
// its profile, then on an existing one alone; the stored hash checks the password read
// from standard input, and a too-short password is refused.
func TestUsersSetsPassword(t *testing.T) {
	ctx := context.Background()
	dbURL, drop, err := storetest.CreateDB(ctx, "users")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	t.Setenv("DATABASE_URL", dbURL)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	t.Cleanup(func() { stdin = os.Stdin })

	check := func(pw string, want bool) {
		t.Helper()
		h, err := st.PasswordHash(ctx, "zoe")
		if err != nil || h == "" {
			t.Fatalf("no password hash: %q %v", h, err)
		}
		if ok, err := web.CheckPassword(h, pw); err != nil || ok != want {
			t.Fatalf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	stdin = strings.NewReader("first-password\n")
	if err := runUsers(ctx, []string{"--username", "zoe", "--email", "zoe@example.test", "--roles", "customer_service", "--password-stdin"}); err != nil {
		t.Fatal(err)
	}
	if u, err := st.UserByUsername(ctx, "zoe"); err != nil || u.Email != "zoe@example.test" {
		t.Fatalf("user: %+v %v", u, err)
	}
	check("first-password", true)

	stdin = strings.NewReader("second-password\r\n")
	if err := runUsers(ctx, []string{"--username", "zoe", "--password-stdin"}); err != nil {
		t.Fatal(err)
	}
	check("second-password", true)
	check("first-password", false)

	stdin = strings.NewReader("short\n")
	if err := runUsers(ctx, []string{"--username", "zoe", "--password-stdin"}); err == nil {
		t.Fatal("a 5-character password was accepted")
	}
	check("second-password", true)
	stdin = strings.NewReader("long-enough-pw\n")
	if err := runUsers(ctx, []string{"--username", "nobody", "--password-stdin"}); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Fatalf("unknown user: %v", err)
	}
}
