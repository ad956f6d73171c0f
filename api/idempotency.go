package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// createFunc creates the resource with business id id inside tx. It returns the 201
// body, or a 4xx problem when nothing was created, or an error (a *Problem with a 5xx
// status, or any error for a 500) after which the key keeps its business id.
type createFunc func(ctx context.Context, tx pgx.Tx, id string) (body any, p *Problem, err error)

// create runs a create POST under the Idempotency-Key header when there is one (see
// createKeyed), scoped by user and route, and answers its result: 201 with Location, or
// the stored response of a replay with Idempotent-Replayed.
func (s *Server) create(c *gin.Context, req any, idPrefix, location string, fn createFunc) {
	res, err := s.createKeyed(c.Request.Context(), me(c), c.Request.Method+" "+c.FullPath(),
		c.GetHeader("Idempotency-Key"), req, idPrefix, fn)
	if err != nil {
		s.failCreate(c, err)
		return
	}
	writeCreated(c, location+"/"+res.ResourceID, res)
}

// failCreate answers the error of createKeyed, logging a 5xx problem.
func (s *Server) failCreate(c *gin.Context, err error) {
	if p, ok := errors.AsType[*Problem](err); ok && p.Status >= 500 {
		s.log.Error("create failed", "err", p.Detail, "request_id", c.GetString(ctxRequestID))
	}
	s.fail(c, err)
}

// writeCreated answers the result of a create: its status and body, with Location and,
// for a replay, Idempotent-Replayed.
func writeCreated(c *gin.Context, location string, res store.IdempotentResult) {
	c.Header("Location", location)
	if res.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Data(res.Status, "application/json; charset=utf-8", res.Body)
}

// createKeyed runs a create for u under the idempotency key when there is one (""
// none): the same key and request replay the first response (the same id), another
// request → a 409 *Problem, and concurrent duplicates create once. The key is scoped by
// user and scope ("POST /api/v1/complaints"); the request is compared by the SHA-256 of
// its JSON encoding. The JSON routes and the web app's forms share it, so both keep the
// same rules. A 4xx of fn is returned as its *Problem (and forgets the key).
func (s *Server) createKeyed(ctx context.Context, u store.User, scope, key string, req any, idPrefix string, fn createFunc) (store.IdempotentResult, error) {
	var clientErr *Problem
	run := func(ctx context.Context, tx pgx.Tx, id string) (int, []byte, error) {
		body, p, err := fn(ctx, tx, id)
		if err != nil {
			return 0, nil, err
		}
		if p != nil {
			clientErr = p
			b, _ := json.Marshal(p)
			return p.Status, b, nil
		}
		b, err := json.Marshal(body)
		return http.StatusCreated, b, err
	}
	newID := domain.NewID(idPrefix)
	var res store.IdempotentResult
	var err error
	if key == "" {
		res, err = s.st.WithoutIdempotency(ctx, newID, run)
	} else {
		if len(key) > 255 || !validRequestID(key) {
			return res, invalid(domain.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 visible ASCII characters"})
		}
		canonical, _ := json.Marshal(req)
		hash := sha256.Sum256(canonical)
		k := store.IdempotencyKey{Username: u.Username, Scope: scope, Key: key, RequestHash: hash[:]}
		res, err = s.st.Idempotent(ctx, k, newID, run)
	}
	switch {
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return res, &Problem{Type: typeIdempotencyKey, Title: "Idempotency key reused", Status: http.StatusConflict,
			Detail: "this Idempotency-Key was already used with a different request body"}
	case err != nil:
		return res, err
	case clientErr != nil && !res.Replayed:
		return res, clientErr
	}
	return res, nil
}
