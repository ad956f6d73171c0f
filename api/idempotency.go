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

// create runs a create POST under the Idempotency-Key header when there is one: the
// same key and body replay the first response (the same id), another body → 409, and
// concurrent duplicates create once. The key is scoped by user and route; the request
// is compared by the SHA-256 of its decoded, re-encoded form.
func (s *Server) create(c *gin.Context, req any, idPrefix, location string, fn createFunc) {
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
	ctx := c.Request.Context()
	newID := domain.NewID(idPrefix)
	var res store.IdempotentResult
	var err error
	if key := c.GetHeader("Idempotency-Key"); key == "" {
		res, err = s.st.WithoutIdempotency(ctx, newID, run)
	} else {
		if len(key) > 255 || !validRequestID(key) {
			writeProblem(c, invalid(domain.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 visible ASCII characters"}))
			return
		}
		canonical, _ := json.Marshal(req)
		hash := sha256.Sum256(canonical)
		k := store.IdempotencyKey{Username: me(c).Username, Scope: c.Request.Method + " " + c.FullPath(), Key: key, RequestHash: hash[:]}
		res, err = s.st.Idempotent(ctx, k, newID, run)
	}
	var p *Problem
	switch {
	case errors.Is(err, store.ErrIdempotencyMismatch):
		writeProblem(c, &Problem{Type: typeIdempotencyKey, Title: "Idempotency key reused", Status: http.StatusConflict,
			Detail: "this Idempotency-Key was already used with a different request body"})
		return
	case errors.As(err, &p):
		if p.Status >= 500 {
			s.log.Error("create failed", "err", p.Detail, "request_id", c.GetString(ctxRequestID))
		}
		writeProblem(c, p)
		return
	case err != nil:
		s.internal(c, err)
		return
	case clientErr != nil && !res.Replayed:
		writeProblem(c, clientErr)
		return
	}
	c.Header("Location", location+"/"+res.ResourceID)
	if res.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Data(res.Status, "application/json; charset=utf-8", res.Body)
}
