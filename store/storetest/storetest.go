// Package storetest gives each test package its own freshly migrated database, so
// packages can run in parallel against one PostgreSQL server.
package storetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// DefaultServerURL is used when DATABASE_URL is not set.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is DATABASE_URL or the local default.
func ServerURL() string {
	if v := os.Getenv("DATABASE_URL"); v != "" {
		return v
	}
	return DefaultServerURL
}

// CreateDB creates a database named after prefix plus a random suffix on the server of
// DATABASE_URL, migrates it and returns its URL with a func that drops it.
func CreateDB(ctx context.Context, prefix string) (string, func(), error) {
	return CreateDBAt(ctx, prefix, 0)
}

// CreateDBAt is CreateDB with the migrations applied up to version only (0: all).
func CreateDBAt(ctx context.Context, prefix string, version int64) (string, func(), error) {
	u, err := url.Parse(ServerURL())
	if err != nil {
		return "", nil, err
	}
	name := strings.ToLower(fmt.Sprintf("sft_%s_%s", prefix, domain.NewID("")[1:]))
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return "", nil, fmt.Errorf("connect to test PostgreSQL (%s): %w", admin.Redacted(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	dbURL := *u
	dbURL.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	s, err := store.Open(ctx, dbURL.String())
	if err != nil {
		drop()
		return "", nil, err
	}
	defer s.Close()
	if err := s.MigrateTo(ctx, version); err != nil {
		drop()
		return "", nil, err
	}
	return dbURL.String(), drop, nil
}

// New returns a Store on a fresh database that is dropped when the test ends.
func New(t testing.TB, prefix string) *store.Store {
	t.Helper()
	return NewAt(t, prefix, 0)
}

// NewAt is New with the migrations applied up to version only (0: all): a database as
// an older release left it, for a test to migrate further with Store.Migrate.
func NewAt(t testing.TB, prefix string, version int64) *store.Store {
	t.Helper()
	ctx := context.Background()
	dbURL, drop, err := CreateDBAt(ctx, prefix, version)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	s, err := store.Open(ctx, dbURL)
	if err != nil {
		drop()
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { s.Close(); drop() })
	return s
}
