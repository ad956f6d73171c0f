package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/serviceflow/serviceflow/store"
)

// retryAfterSeconds is the Retry-After header of every 503.
const retryAfterSeconds = "5"

// workflowRoutes wait for a workflow on top of their database work, so their deadline
// adds Config.UpdateTimeout (and the settle time of complete).
var workflowRoutes = map[string]bool{
	"POST /api/v1/complaints":         true,
	"POST /api/v1/tasks/:id/complete": true,
	"POST /c/:token":                  true,
	"POST /c/feedback/:token":         true,
}

// deadline bounds each request so that a database that stops answering (a network
// partition rather than a refused connection) gives a 503 instead of a hung request.
func (s *Server) deadline(c *gin.Context) {
	d := s.cfg.DBTimeout
	if workflowRoutes[c.Request.Method+" "+c.FullPath()] {
		d += s.cfg.UpdateTimeout + s.settle
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), d)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// failure maps an unexpected error of a handler to its problem: PostgreSQL being down or
// too slow is a 503 the client may retry; anything else is a 500.
func failure(err error) *Problem {
	if !dbUnavailable(err) {
		return problem(http.StatusInternalServerError, "an internal error occurred")
	}
	detail := "the database is unavailable; retry later"
	if errors.Is(err, context.DeadlineExceeded) {
		detail = "the database did not answer in time; retry later"
	}
	p := problem(http.StatusServiceUnavailable, detail)
	p.Type = typeUnavailable
	return p
}

// dbUnavailable reports whether err means that PostgreSQL could not be reached, went
// away or did not answer in time, as opposed to a query it rejected. A request the
// client cancelled is not an outage.
func dbUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", "53300": // shutting down, crashed, starting up, too many connections
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection exception
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// unreachable describes a failed readiness check of component without its error text,
// which may name hosts and users (the error is logged instead).
func unreachable(component string, err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return component + " did not answer within " + timeout.String()
	}
	return component + " is unreachable"
}

// userByToken looks a bearer token up within DBTimeout, also on the routes whose deadline
// allows for a workflow, so that authentication never waits longer on the database.
func (s *Server) userByToken(c *gin.Context, token string) (store.User, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.DBTimeout)
	defer cancel()
	return s.st.UserByToken(ctx, token)
}
