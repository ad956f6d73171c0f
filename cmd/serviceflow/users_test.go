package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

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

// The API deletes web sessions unused past the idle timeout and failed sign-ins older
// than a day that lock nobody out, and keeps the rest.
func TestPruneWebSessionsLoop(t *testing.T) {
	st := storetest.New(t, "pruneweb")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := st.CreateUser(ctx, store.UserInput{Username: "carol", Email: "c@example.test", Roles: []string{"customer_service"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := st.CreateWebSession(ctx, "carol", now.Add(-2*time.Hour)); err != nil { // idle 2 h
		t.Fatal(err)
	}
	fresh, err := st.CreateWebSession(ctx, "carol", now.Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool.Exec(ctx, `INSERT INTO sign_in_failures (username, failures, first_failed_at, locked_until) VALUES
		('old', 2, now() - interval '2 days', NULL),
		('oldlocked', 5, now() - interval '2 days', now() + interval '1 hour'),
		('recent', 1, now() - interval '1 hour', NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- pruneWebSessions(ctx, st, 30*time.Minute, 20*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	count := func(q string) int {
		var n int
		if err := st.Pool.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for (count(`SELECT count(*) FROM web_sessions`) != 1 || count(`SELECT count(*) FROM sign_in_failures`) != 2) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(`SELECT count(*) FROM web_sessions`); n != 1 {
		t.Fatalf("%d sessions left, want the fresh one", n)
	}
	if _, err := st.WebSessionUser(ctx, fresh, time.Now(), 30*time.Minute, 0); err != nil {
		t.Fatalf("the fresh session was pruned: %v", err)
	}
	if n := count(`SELECT count(*) FROM sign_in_failures WHERE username IN ('oldlocked', 'recent')`); n != 2 ||
		count(`SELECT count(*) FROM sign_in_failures`) != 2 {
		t.Fatalf("failed sign-ins left: %d of oldlocked and recent", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("the loop ended with %v", err)
	}
}
