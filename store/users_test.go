package store_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

func TestUsersAndTokens(t *testing.T) {
	s := storetest.New(t, "users")
	ctx := context.Background()
	if err := s.CreateUser(ctx, store.UserInput{Username: "dave", Email: "dave@x.test", Roles: []string{"service_manager"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.UserInput{Username: "carol", DisplayName: "Carol", Email: "carol@x.test",
		Roles: []string{"customer_service", "admin", "admin"}, Manager: "dave"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByUsername(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if u.Manager != "dave" || u.Locale != "en" || !slices.Equal(u.RoleNames(), []string{"admin", "customer_service"}) {
		t.Fatalf("created %+v", u)
	}
	// Seeding again updates the profile and sets exactly the given roles.
	if err := s.CreateUser(ctx, store.UserInput{Username: "carol", DisplayName: "Carol C.", Email: "carol@x.test", Locale: "zh-CN",
		Roles: []string{"customer_service"}, Delegate: "dave", OutOfOffice: true}); err != nil {
		t.Fatal(err)
	}
	u2, err := s.UserByUsername(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if u2.ID != u.ID || u2.DisplayName != "Carol C." || u2.Manager != "" || u2.Delegate != "dave" || !u2.OutOfOffice ||
		u2.Locale != "zh-CN" || !slices.Equal(u2.RoleNames(), []string{"customer_service"}) {
		t.Fatalf("updated %+v", u2)
	}
	if err := s.CreateUser(ctx, store.UserInput{Username: "x", Roles: []string{"wizard"}}); err == nil {
		t.Fatal("unknown role accepted")
	}
	if err := s.CreateUser(ctx, store.UserInput{Username: "y", Manager: "nobody"}); err == nil {
		t.Fatal("unknown manager accepted")
	}

	tok, err := s.CreateToken(ctx, "carol", "cli")
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := s.Pool.QueryRow(ctx, `SELECT token_hash FROM tokens WHERE username = 'carol'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, domain.HashToken(tok)) || bytes.Contains(stored, []byte(tok)) {
		t.Fatal("the token is not stored as its hash only")
	}
	got, err := s.UserByToken(ctx, tok)
	if err != nil || got.Username != "carol" || !got.HasRole(domain.RoleCustomerService) {
		t.Fatalf("by token: %+v %v", got, err)
	}
	if _, err := s.UserByToken(ctx, tok+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("wrong token: %v", err)
	}
	if err := s.RevokeToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByToken(ctx, tok); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked token: %v", err)
	}
	if err := s.RevokeToken(ctx, tok); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
}

// TestUpdatingAUserKeepsTheirLanguageAndZone: creating a user sets en and UTC unless
// given; updating one (its roles, say) keeps the language and time zone they chose
// unless new ones are given; a bad zone is refused.
func TestUpdatingAUserKeepsTheirLanguageAndZone(t *testing.T) {
	s := storetest.New(t, "userprefs")
	ctx := context.Background()
	in := store.UserInput{Username: "zoe", Email: "zoe@example.test", Roles: []string{"customer_service"}}
	if err := s.CreateUser(ctx, in); err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByUsername(ctx, "zoe")
	if err != nil || u.Locale != "en" || u.TimeZone != "UTC" {
		t.Fatalf("a new user: %+v %v", u, err)
	}
	if err := s.SetPreferences(ctx, "zoe", "zh-CN", "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	in.Roles = []string{"customer_service", "finance"}
	if err := s.CreateUser(ctx, in); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.UserByUsername(ctx, "zoe"); u.Locale != "zh-CN" || u.TimeZone != "Asia/Shanghai" || len(u.Roles) != 2 {
		t.Fatalf("after an update without language or zone: %+v", u)
	}
	in.Locale, in.TimeZone = "en", "Europe/Berlin"
	if err := s.CreateUser(ctx, in); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.UserByUsername(ctx, "zoe"); u.Locale != "en" || u.TimeZone != "Europe/Berlin" {
		t.Fatalf("after an update with both: %+v", u)
	}
	in.TimeZone = "Mars/Olympus"
	if err := s.CreateUser(ctx, in); err == nil {
		t.Fatal("an unknown time zone was taken")
	}
}
