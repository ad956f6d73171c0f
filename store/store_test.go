package store_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
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

// A DATABASE_URL may carry pgxpool's own settings (pool_max_conns, …). EnsureDatabase
// connects without a pool, and must not pass them to the server, which would refuse.
func TestEnsureDatabaseAcceptsPoolSettings(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(storetest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower("sft_ensure_" + domain.NewID("")[1:])
	u.Path = "/" + name
	q := u.Query()
	q.Set("pool_max_conns", "3")
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		admin := *u
		admin.Path, admin.RawQuery = "/postgres", ""
		c, err := pgx.Connect(context.Background(), admin.String())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})

	if err := store.EnsureDatabase(ctx, u.String()); err != nil {
		t.Fatalf("EnsureDatabase: %v", err)
	}
	s, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open the new database: %v", err)
	}
	defer s.Close()
	if got := s.Pool.Config().MaxConns; got != 3 {
		t.Errorf("pool_max_conns=3 gave a pool of %d", got)
	}
	if err := store.EnsureDatabase(ctx, u.String()); err != nil {
		t.Errorf("EnsureDatabase on an existing database: %v", err)
	}
}
