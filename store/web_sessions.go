package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// SetPasswordHash stores a user's password hash (an encoded argon2id hash; the store
// never sees the password). ErrNotFound when the user does not exist.
func (s *Store) SetPasswordHash(ctx context.Context, username, hash string) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE username = $1`, username, hash)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// PasswordHash returns a user's password hash, "" when they have none; ErrNotFound
// when the user does not exist.
func (s *Store) PasswordHash(ctx context.Context, username string) (string, error) {
	var h *string
	err := s.Pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE username = $1`, username).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil || h == nil {
		return "", err
	}
	return *h, nil
}

// CreateWebSession starts a web session for username at now and returns its token,
// which only the cookie holds: the store keeps its hash.
func (s *Store) CreateWebSession(ctx context.Context, username string, now time.Time) (string, error) {
	token := domain.NewToken()
	_, err := s.Pool.Exec(ctx, `INSERT INTO web_sessions (token_hash, username, created_at, last_seen_at)
		VALUES ($1, $2, $3, $3)`, domain.HashToken(token), username, now)
	if err != nil {
		return "", err
	}
	return token, nil
}

// WebSessionUser resolves a session token to its user and marks the session seen at
// now. ErrNotFound when the token is unknown, signed out, idle for longer than idle, or
// older than maxAge (0: no limit); an expired session is deleted.
func (s *Store) WebSessionUser(ctx context.Context, token string, now time.Time, idle, maxAge time.Duration) (User, error) {
	hash := domain.HashToken(token)
	var username string
	var created, seen time.Time
	err := s.Pool.QueryRow(ctx, `SELECT username, created_at, last_seen_at FROM web_sessions WHERE token_hash = $1`, hash).
		Scan(&username, &created, &seen)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	if now.Sub(seen) > idle || (maxAge > 0 && now.Sub(created) > maxAge) {
		if _, err := s.Pool.Exec(ctx, `DELETE FROM web_sessions WHERE token_hash = $1`, hash); err != nil {
			return User{}, err
		}
		return User{}, ErrNotFound
	}
	// Only a move of more than a few seconds is written, so a page and its assets cost
	// one write at most.
	if now.Sub(seen) > 5*time.Second {
		if _, err := s.Pool.Exec(ctx, `UPDATE web_sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE token_hash = $1`,
			hash, now); err != nil {
			return User{}, err
		}
	}
	return s.UserByUsername(ctx, username)
}

// DeleteWebSession signs a session out; deleting an unknown token is no error.
func (s *Store) DeleteWebSession(ctx context.Context, token string) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM web_sessions WHERE token_hash = $1`, domain.HashToken(token))
	return err
}

// DeleteIdleWebSessions deletes the sessions last seen before cutoff and reports how many.
func (s *Store) DeleteIdleWebSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM web_sessions WHERE last_seen_at < $1`, cutoff)
	return tag.RowsAffected(), err
}

// LockoutPolicy is how failed sign-ins lock a username out: Limit failures within
// Window lock it for Lock.
type LockoutPolicy struct {
	Limit  int
	Window time.Duration
	Lock   time.Duration
}

func signInKey(username string) string { return strings.ToLower(strings.TrimSpace(username)) }

// SignInLockedUntil reports until when username is locked out, or the zero time when it
// is not locked at now.
func (s *Store) SignInLockedUntil(ctx context.Context, username string, now time.Time) (time.Time, error) {
	var until *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT locked_until FROM sign_in_failures WHERE username = $1`, signInKey(username)).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (until == nil || !until.After(now))) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return until.UTC(), nil
}

// RecordSignInFailure counts a failed sign-in for username at now and returns the
// failures in the current window and until when the username is locked (zero: not
// locked). A window older than p.Window, or a lockout that has ended, starts afresh.
func (s *Store) RecordSignInFailure(ctx context.Context, username string, now time.Time, p LockoutPolicy) (int, time.Time, error) {
	var n int
	var until *time.Time
	// $2 the time, $3 the limit, $4 the window, $5 the lock; a window or lock that has
	// ended starts the count afresh.
	err := s.Pool.QueryRow(ctx, `
		WITH p AS (SELECT $2::timestamptz AS now, $3::int AS lim, $4::interval AS win, $5::interval AS lock)
		INSERT INTO sign_in_failures AS f (username, failures, first_failed_at, locked_until)
		SELECT $1, 1, p.now, CASE WHEN p.lim <= 1 THEN p.now + p.lock END FROM p
		ON CONFLICT (username) DO UPDATE SET
			failures = CASE WHEN f.first_failed_at < EXCLUDED.first_failed_at - $4::interval OR f.locked_until <= EXCLUDED.first_failed_at
				THEN 1 ELSE f.failures + 1 END,
			first_failed_at = CASE WHEN f.first_failed_at < EXCLUDED.first_failed_at - $4::interval OR f.locked_until <= EXCLUDED.first_failed_at
				THEN EXCLUDED.first_failed_at ELSE f.first_failed_at END,
			locked_until = CASE
				WHEN f.locked_until > EXCLUDED.first_failed_at THEN f.locked_until
				WHEN (CASE WHEN f.first_failed_at < EXCLUDED.first_failed_at - $4::interval OR f.locked_until <= EXCLUDED.first_failed_at
					THEN 1 ELSE f.failures + 1 END) >= $3::int
					THEN EXCLUDED.first_failed_at + $5::interval
				END
		RETURNING failures, locked_until`,
		signInKey(username), now, p.Limit, p.Window, p.Lock).Scan(&n, &until)
	if err != nil {
		return 0, time.Time{}, err
	}
	if until == nil {
		return n, time.Time{}, nil
	}
	return n, until.UTC(), nil
}

// ClearSignInFailures forgets the failed sign-ins of username (after a successful one).
func (s *Store) ClearSignInFailures(ctx context.Context, username string) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM sign_in_failures WHERE username = $1`, signInKey(username))
	return err
}

// TaskCustomers returns the customer name each task's context names ("customer_name",
// which every process puts in its tasks' context), by task id; tasks without one are
// left out. The inbox page shows it; the task list itself does not read the context.
func (s *Store) TaskCustomers(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, context->>'customer_name' FROM tasks
		WHERE id = ANY($1) AND context->>'customer_name' IS NOT NULL`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, rows.Err()
}

// PruneSignInFailures forgets the failed sign-ins whose window began before cutoff and
// that lock nobody out any more, and reports how many.
func (s *Store) PruneSignInFailures(ctx context.Context, cutoff, now time.Time) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM sign_in_failures
		WHERE first_failed_at < $1 AND (locked_until IS NULL OR locked_until <= $2)`, cutoff, now)
	return tag.RowsAffected(), err
}
