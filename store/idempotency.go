package store

import (
	"bytes"
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// IdempotencyKey identifies one client request of a create POST: the key is unique per
// user and scope, and RequestHash (SHA-256 of the body) tells a retry from a misuse.
type IdempotencyKey struct {
	Username    string
	Scope       string // e.g. "POST /api/v1/complaints"
	Key         string
	RequestHash []byte
}

// ErrIdempotencyMismatch: the key was already used with another request body.
var ErrIdempotencyMismatch = errors.New("idempotency key already used with a different request")

// IdempotentResult is the response of an idempotent create.
type IdempotentResult struct {
	ResourceID string
	Status     int
	Body       []byte
	Replayed   bool // the stored response of an earlier request
}

// CreateFunc performs a create inside tx for the business id resourceID. It returns the
// response to store: a 2xx is stored for replay; a 4xx (nothing was created) is returned
// but forgets the key, so the client may fix the request and retry with it. An error
// rolls back and keeps the key's business id, so a retry resumes with the same id (and a
// process start with the same workflow id starts nothing new).
type CreateFunc func(ctx context.Context, tx pgx.Tx, resourceID string) (status int, body []byte, err error)

// Idempotent runs create at most once per key: the first request maps the key to
// newID (committed before create runs), later requests with the same key and body wait
// for it (row lock) and replay its response, and a different body gives
// ErrIdempotencyMismatch.
func (s *Store) Idempotent(ctx context.Context, k IdempotencyKey, newID string, create CreateFunc) (IdempotentResult, error) {
	for attempt := 0; attempt < 5; attempt++ {
		if _, err := s.Pool.Exec(ctx, `INSERT INTO idempotency_keys (username, scope, key, request_hash, resource_id)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, k.Username, k.Scope, k.Key, k.RequestHash, newID); err != nil {
			return IdempotentResult{}, err
		}
		var res IdempotentResult
		gone := false
		err := s.WithTx(ctx, func(tx pgx.Tx) error {
			var hash []byte
			var status *int
			err := tx.QueryRow(ctx, `SELECT request_hash, resource_id, status_code, response_body FROM idempotency_keys
				WHERE username = $1 AND scope = $2 AND key = $3 FOR UPDATE`, k.Username, k.Scope, k.Key).
				Scan(&hash, &res.ResourceID, &status, &res.Body)
			if errors.Is(err, pgx.ErrNoRows) { // forgotten by a concurrent 4xx: start over
				gone = true
				return nil
			}
			if err != nil {
				return err
			}
			if !bytes.Equal(hash, k.RequestHash) {
				return ErrIdempotencyMismatch
			}
			if status != nil {
				res.Status, res.Replayed = *status, true
				return nil
			}
			sp, err := tx.Begin(ctx) // savepoint: a 4xx undoes create's writes but not the key's
			if err != nil {
				return err
			}
			res.Status, res.Body, err = create(ctx, sp, res.ResourceID)
			if err != nil {
				return err
			}
			if isClientError(res.Status) {
				if err := sp.Rollback(ctx); err != nil {
					return err
				}
				_, err = tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE username = $1 AND scope = $2 AND key = $3`,
					k.Username, k.Scope, k.Key)
				return err
			}
			if err := sp.Commit(ctx); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE idempotency_keys SET status_code = $4, response_body = $5
				WHERE username = $1 AND scope = $2 AND key = $3`, k.Username, k.Scope, k.Key, res.Status, res.Body)
			return err
		})
		if err != nil {
			return IdempotentResult{}, err
		}
		if !gone {
			return res, nil
		}
	}
	return IdempotentResult{}, errors.New("idempotency key contended, retry")
}

// WithoutIdempotency runs create in a transaction for newID, for a POST without a key.
func (s *Store) WithoutIdempotency(ctx context.Context, newID string, create CreateFunc) (IdempotentResult, error) {
	res := IdempotentResult{ResourceID: newID}
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		res.Status, res.Body, err = create(ctx, tx, newID)
		if err == nil && isClientError(res.Status) {
			return errRollback
		}
		return err
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	return res, err
}

// errRollback makes WithTx roll back a transaction whose create answered 4xx.
var errRollback = errors.New("rollback")

func isClientError(status int) bool { return status >= 400 && status < 500 }
