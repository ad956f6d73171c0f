package store_test

import (
	"context"
	"testing"

	"github.com/serviceflow/serviceflow/store/storetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	s := storetest.New(t, "store")
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_name IN ('users','tasks','escalations','emails','audit_events','complaints','idempotency_keys')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Fatalf("want 7 core tables, got %d", n)
	}
}
