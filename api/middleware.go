package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// Gin context keys.
const (
	ctxRequestID = "request_id"
	ctxUser      = "user"
)

// maxBodyBytes limits every request body (413 above it).
const maxBodyBytes = 1 << 20

// requestID takes a sane X-Request-Id from the client or makes one, and echoes it. The
// id is also put in the request's context, for the logs of the code below the handlers.
func requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !validRequestID(id) {
		id = domain.NewID("req")
	}
	c.Set(ctxRequestID, id)
	c.Request = c.Request.WithContext(withRequestID(c.Request.Context(), id))
	c.Header("X-Request-Id", id)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// accessLog logs each request and observes its latency by route and status code.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	d := time.Since(start)
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	s.latency.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Observe(d.Seconds())
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case route == "/healthz" || route == "/readyz":
		level = slog.LevelDebug
	}
	path := c.Request.URL.Path
	if strings.HasPrefix(route, "/c/") { // customer links carry their secret token in the path
		path = route
	}
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method), slog.String("path", path),
		slog.String("route", route), slog.Int("status", status), slog.Duration("duration", d),
		slog.Int("bytes", c.Writer.Size()), slog.String("request_id", c.GetString(ctxRequestID)),
	}
	if u, ok := c.Get(ctxUser); ok {
		attrs = append(attrs, slog.String("user", u.(store.User).Username))
	}
	s.log.LogAttrs(c.Request.Context(), level, "http request", attrs...)
}

// recovery turns a panic into a 500 problem.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			s.log.Error("panic in handler", "panic", r, "route", c.FullPath(), "request_id", c.GetString(ctxRequestID))
			if !c.Writer.Written() {
				writeProblem(c, problem(http.StatusInternalServerError, "an internal error occurred"))
			}
			c.Abort()
		}
	}()
	c.Next()
}

// limitBody caps the request body at maxBodyBytes.
func limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	}
	c.Next()
}

// authenticate resolves the bearer token to a user: 401 when it is missing, malformed,
// unknown or revoked.
func (s *Server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if h == "" {
		writeProblem(c, problem(http.StatusUnauthorized, "an Authorization: Bearer <token> header is required"))
		return
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		writeProblem(c, problem(http.StatusUnauthorized, "the Authorization header must be Bearer <token>"))
		return
	}
	u, err := s.userByToken(c, token)
	if errors.Is(err, store.ErrNotFound) {
		c.Header("WWW-Authenticate", `Bearer realm="serviceflow", error="invalid_token"`)
		writeProblem(c, problem(http.StatusUnauthorized, "the token is invalid or revoked"))
		return
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	c.Set(ctxUser, u)
	c.Next()
}

// me returns the authenticated user.
func me(c *gin.Context) store.User { return c.MustGet(ctxUser).(store.User) }

// internal logs err and answers 500, or 503 when the database is unavailable (failure).
func (s *Server) internal(c *gin.Context, err error) {
	s.log.Error("request failed", "err", err, "route", c.FullPath(), "request_id", c.GetString(ctxRequestID))
	writeProblem(c, failure(err))
}

// forbidden answers 403.
func forbidden(c *gin.Context, detail string) {
	writeProblem(c, problem(http.StatusForbidden, detail))
}

// notFound answers 404.
func notFound(c *gin.Context, what string) {
	writeProblem(c, problem(http.StatusNotFound, what+" not found"))
}
