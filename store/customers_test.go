package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

func TestCustomersStore(t *testing.T) {
	s := storetest.New(t, "customers")
	ctx := context.Background()
	if err := s.CreateUser(ctx, store.UserInput{Username: "alice", Roles: []string{"sales_rep"}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateCustomer(ctx, store.CustomerInput{ID: "cus_a", Name: "Acme", Email: "a@x.test", Locale: "en", Tier: "A",
		Owner: "alice", CreditLimit: domain.Money{Amount: "1234.5", Currency: "CNY"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.CreditLimit.Amount != "1234.50" || c.CreatedAt.IsZero() {
		t.Fatalf("%+v", c)
	}
	// A given id is upserted, so a seed can run again.
	if _, err := s.CreateCustomer(ctx, store.CustomerInput{ID: "cus_a", Name: "Acme Ltd", Email: "a@x.test", Locale: "en", Tier: "B", Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	n, err := s.CreateCustomer(ctx, store.CustomerInput{Name: "New", Email: "n@x.test", Locale: "zh-CN", Tier: "C", Owner: "alice"})
	if err != nil || len(n.ID) < 10 || n.CreditLimit != (domain.Money{Amount: "0.00", Currency: "CNY"}) {
		t.Fatalf("%+v %v", n, err)
	}
	got, err := s.CustomerByID(ctx, "cus_a")
	if err != nil || got.Name != "Acme Ltd" || got.Tier != "B" {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := s.CustomerByID(ctx, "cus_zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	items, next, err := s.ListCustomers(ctx, store.CustomerFilter{Owner: "alice", Limit: 1})
	if err != nil || len(items) != 1 || next == "" {
		t.Fatalf("%v %q %v", items, next, err)
	}
	rest, next2, err := s.ListCustomers(ctx, store.CustomerFilter{Owner: "alice", Limit: 1, Cursor: next})
	if err != nil || len(rest) != 1 || next2 != "" || rest[0].ID == items[0].ID {
		t.Fatalf("%v %q %v", rest, next2, err)
	}
	if items, _, _ := s.ListCustomers(ctx, store.CustomerFilter{Tier: "C"}); len(items) != 1 || items[0].ID != n.ID {
		t.Fatalf("tier filter: %v", items)
	}
	if _, _, err := s.ListCustomers(ctx, store.CustomerFilter{Cursor: "!"}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}
