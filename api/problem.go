package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/serviceflow/serviceflow/domain"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Errors    []domain.FieldError `json:"errors"`
	RequestID string              `json:"request_id,omitempty"`
}

// Problem types. Generic HTTP errors use about:blank with the status text as title.
const (
	typeValidation     = "urn:serviceflow:problem:validation"
	typeMalformed      = "urn:serviceflow:problem:malformed-request"
	typeConflict       = "urn:serviceflow:problem:conflict"
	typeIdempotencyKey = "urn:serviceflow:problem:idempotency-key-reused"
	typeUnavailable    = "urn:serviceflow:problem:unavailable"
)

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// problem builds an about:blank problem with the status text as title.
func problem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// invalid builds a 422 validation problem with one entry per bad field.
func invalid(errs ...domain.FieldError) *Problem {
	return &Problem{Type: typeValidation, Title: "Validation failed", Status: http.StatusUnprocessableEntity,
		Detail: "the request has invalid fields", Errors: errs}
}

func conflict(detail string) *Problem {
	return &Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict, Detail: detail}
}

// writeProblem sends p as application/problem+json and aborts the handler chain.
func writeProblem(c *gin.Context, p *Problem) {
	out := *p
	if out.Errors == nil {
		out.Errors = []domain.FieldError{}
	}
	out.RequestID = c.GetString(ctxRequestID)
	if out.Status == http.StatusUnauthorized && c.Writer.Header().Get("WWW-Authenticate") == "" {
		c.Header("WWW-Authenticate", `Bearer realm="serviceflow"`)
	}
	if out.Status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", retryAfterSeconds)
	}
	b, _ := json.Marshal(out)
	c.Abort()
	c.Data(out.Status, "application/problem+json", b)
}

// writeJSON sends v as JSON with status.
func writeJSON(c *gin.Context, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(c, problem(http.StatusInternalServerError, "could not encode the response"))
		return
	}
	c.Data(status, "application/json; charset=utf-8", b)
}
