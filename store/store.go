// Package store owns PostgreSQL: the pgx pool, the embedded migrations and the queries,
// one file per table group.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a row does not exist (or is outside the caller's view).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a state change is not possible any more.
var ErrConflict = errors.New("conflict")

// DefaultConnectTimeout bounds a new connection when DATABASE_URL sets no
// connect_timeout, so that an unreachable server fails a request instead of hanging it.
const DefaultConnectTimeout = 5 * time.Second

// Store wraps the connection pool.
type Store struct {
	Pool *pgxpool.Pool
}

// Querier is satisfied by the pool and by a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Open connects to databaseURL and pings it.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 { // connect_timeout unset (or 0) in the URL
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return &Store{Pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error { return s.Pool.Ping(ctx) }

// Migrate applies the embedded migrations (goose), holding an advisory lock so that
// several processes starting at once do not race.
func (s *Store) Migrate(ctx context.Context) error { return s.MigrateTo(ctx, 0) }

// MigrateTo applies the embedded migrations up to version (0: all of them), as Migrate
// does. Tests use it to build a database as an older release left it.
func (s *Store) MigrateTo(ctx context.Context, version int64) error {
	db := stdlib.OpenDBFromPool(s.Pool)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7471001)"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7471001)") //nolint:errcheck
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	// A Provider keeps no global state, so tests may migrate databases in parallel.
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		return err
	}
	if version > 0 {
		_, err = p.UpTo(ctx, version)
	} else {
		_, err = p.Up(ctx)
	}
	return err
}

// Pipeline sends the statements that queue adds to a batch in one round trip, where
// WithTx spends one per statement plus two. PostgreSQL runs them as one implicit
// transaction: all of them or, when one fails, none. A callback set on a statement
// (QueuedQuery.Exec, QueryRow) runs when its result arrives and its error is returned,
// but it cannot undo what the server has committed by then: a statement that depends on
// an earlier one's outcome says so in its SQL.
func (s *Store) Pipeline(ctx context.Context, queue func(b *pgx.Batch) error) error {
	b := &pgx.Batch{}
	if err := queue(b); err != nil {
		return err
	}
	return s.Pool.SendBatch(ctx, b).Close()
}

// WithTx runs fn in a transaction, committing when it returns nil.
func (s *Store) WithTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, fn)
}

// EnsureDatabase creates the database named in databaseURL when it does not exist,
// connecting to the server's "postgres" database to do so.
func EnsureDatabase(ctx context.Context, databaseURL string) error {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	// pgxpool's own settings (pool_max_conns, …) are not server parameters: a plain
	// connection would send them to the server, which refuses to connect.
	q := admin.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	admin.RawQuery = q.Encode()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created concurrently
		return nil
	}
	return err
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
