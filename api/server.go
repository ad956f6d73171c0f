// Package api serves the HTTP API of API.md with gin: middleware (request id, access log,
// recovery, body limit, bearer auth, problem+json errors, idempotency), the handlers,
// and the OpenAPI document.
package api

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/workflows"
)

//go:embed openapi.yaml
var openapiYAML []byte

// devServerURL is the server URL written in openapi.yaml, replaced by Config.PublicURL.
const devServerURL = "http://127.0.0.1:8080"

// Config configures the API server.
type Config struct {
	PublicURL       string // the API's public base URL, shown as the server in /openapi.yaml
	ComplaintPolicy domain.ComplaintPolicy
	ContractPolicy  domain.ContractPolicy // zero: domain.DefaultContractPolicy()
	OrderPolicy     domain.OrderPolicy    // zero: domain.DefaultOrderPolicy()
	SurveyPolicy    domain.SurveyPolicy   // zero: domain.DefaultSurveyPolicy()
	TaskQueue       string                // default domain.TaskQueue
	UpdateTimeout   time.Duration         // how long complete and feedback wait for the workflow (default 30s)
	// DBTimeout bounds a request's database work (default 5s): a database that does not
	// answer gives a 503 instead of a hung request. Routes that wait for a workflow get
	// UpdateTimeout on top.
	DBTimeout time.Duration
	// Registry receives the HTTP and read-model metrics. The API does not serve it: the
	// process serves it on a listener of its own (SERVICEFLOW_METRICS_ADDR), never on the
	// public port. Nil: a new registry with the Go and process collectors.
	Registry *prometheus.Registry
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	st      *store.Store
	tc      client.Client
	log     *slog.Logger
	engine  *gin.Engine
	access  Access
	openapi []byte
	latency *prometheus.HistogramVec
	now     func() time.Time
	// settle is how long complete waits for the workflow to close the task row before
	// answering with the re-read task.
	settle time.Duration
}

var ginMode sync.Once

// New builds the server and its routes.
func New(cfg Config, st *store.Store, tc client.Client, log *slog.Logger) *Server {
	ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	if cfg.TaskQueue == "" {
		cfg.TaskQueue = domain.TaskQueue
	}
	if cfg.ContractPolicy.StepSLA <= 0 {
		cfg.ContractPolicy = domain.DefaultContractPolicy()
	}
	if cfg.OrderPolicy.ReviewSLA <= 0 {
		cfg.OrderPolicy = domain.DefaultOrderPolicy()
	}
	if cfg.SurveyPolicy.CloseAfter <= 0 {
		cfg.SurveyPolicy = domain.DefaultSurveyPolicy()
	}
	if cfg.UpdateTimeout <= 0 {
		cfg.UpdateTimeout = 30 * time.Second
	}
	if cfg.DBTimeout <= 0 {
		cfg.DBTimeout = 5 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, st: st, tc: loggingClient{Client: tc, log: log}, log: log, now: time.Now, settle: 3 * time.Second,
		access: NewAccess(st)}
	s.latency = register(cfg.Registry, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "serviceflow_http_request_duration_seconds",
		Help:    "HTTP request latency by method, route and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route", "code"}))
	if st != nil {
		register(cfg.Registry, newReadModelCollector(st, log))
	}
	s.openapi = openapiYAML
	if u := strings.TrimRight(cfg.PublicURL, "/"); u != "" {
		s.openapi = bytes.Replace(openapiYAML, []byte("url: "+devServerURL), []byte("url: "+u), 1)
	}
	s.routes()
	return s
}

// Handler returns the http.Handler serving every route.
func (s *Server) Handler() http.Handler { return s.engine }

// Access returns the access rules the server applies: the web app asks the same ones.
func (s *Server) Access() Access { return s.access }

// Handle mounts an extra handler (for example the SendGrid webhook) behind the common
// middleware (request id, access log, recovery, body limit, the DBTimeout deadline),
// without bearer auth. Call it before serving.
func (s *Server) Handle(method, path string, h http.Handler) {
	s.engine.Handle(method, path, gin.WrapH(h))
}

// HandleUpdating is Handle for a handler that updates a workflow (CompleteTask): its
// requests get the deadline of the JSON routes that do (DBTimeout plus UpdateTimeout).
func (s *Server) HandleUpdating(method, path string, h http.Handler) {
	wrapped := gin.WrapH(h)
	s.engine.Handle(method, path, func(c *gin.Context) {
		s.waitForWorkflow(c)
		wrapped(c)
	})
}

// HandleStream is Handle for a long-lived response (server-sent events): the handler's
// request context ends when the client goes away, not at the DBTimeout deadline.
func (s *Server) HandleStream(method, path string, h http.Handler) {
	s.engine.Handle(method, path, func(c *gin.Context) {
		if b, ok := c.Get(ctxBudget); ok {
			c.Request = c.Request.WithContext(b.(*budget).parent)
		}
		h.ServeHTTP(c.Writer, c.Request)
	})
}

func (s *Server) routes() {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(requestID, s.accessLog, s.recovery, limitBody, s.deadline)
	e.NoRoute(func(c *gin.Context) { writeProblem(c, problem(http.StatusNotFound, "no such resource")) })
	e.NoMethod(func(c *gin.Context) {
		writeProblem(c, problem(http.StatusMethodNotAllowed, "method not allowed on this resource"))
	})

	e.GET("/healthz", func(c *gin.Context) { writeJSON(c, http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", s.openapi) })

	// Customer links; /c/feedback/{token} is the path of the feedback links e-mailed
	// before customer links, served by the same handler.
	e.GET(linkCSSPath, s.linkCSS)
	e.GET("/c/:token", s.linkPage)
	e.POST("/c/:token", s.answerLink)
	e.GET("/c/feedback/:token", s.linkPage)
	e.POST("/c/feedback/:token", s.answerLink)

	v1 := e.Group("/api/v1", s.authenticate)
	v1.GET("/me", s.getMe)
	v1.PATCH("/me", s.patchMe)

	v1.POST("/customers", s.createCustomer)
	v1.GET("/customers", s.listCustomers)
	v1.GET("/customers/:id", s.getCustomer)

	for _, d := range workflows.Registry {
		mount, ok := processRoutes[d.Name]
		if !ok {
			panic("api: process " + d.Name + " is in the registry but has no routes (processRoutes)")
		}
		mount(s, v1)
	}

	v1.GET("/tasks", s.listTasks)
	v1.GET("/tasks/:id", s.getTask)
	v1.POST("/tasks/:id/claim", s.claimTask)
	v1.POST("/tasks/:id/unclaim", s.unclaimTask)
	v1.POST("/tasks/:id/assign", s.assignTask)
	v1.POST("/tasks/:id/complete", s.completeTask)
	v1.POST("/tasks/:id/comments", s.commentTask)

	v1.GET("/escalations", s.listEscalations)
	v1.GET("/escalations/:id", s.getEscalation)
	v1.POST("/escalations/:id/acknowledge", s.acknowledgeEscalation)

	v1.GET("/emails", s.listEmails)
	s.engine = e
}

// readyTimeout bounds each readiness check.
const readyTimeout = 3 * time.Second

// readyz reports whether PostgreSQL and Temporal are reachable, checking both at once.
// Not ready is a 503 problem naming each unreachable dependency; the errors themselves
// (which name hosts and users) are logged.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	var pgErr, temporalErr error
	var wg sync.WaitGroup
	wg.Go(func() { pgErr = s.st.Ping(ctx) })
	wg.Go(func() { _, temporalErr = s.tc.CheckHealth(ctx, &client.CheckHealthRequest{}) })
	wg.Wait()
	var failed []string
	if pgErr != nil {
		s.log.Warn("not ready: PostgreSQL", "err", pgErr)
		failed = append(failed, "postgres: "+unreachable("PostgreSQL", pgErr, readyTimeout))
	}
	if temporalErr != nil {
		s.log.Warn("not ready: Temporal", "err", temporalErr)
		failed = append(failed, "temporal: "+unreachable("Temporal", temporalErr, readyTimeout))
	}
	if len(failed) > 0 {
		p := problem(http.StatusServiceUnavailable, "not ready: "+strings.Join(failed, "; "))
		p.Type = typeUnavailable
		writeProblem(c, p)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"status": "ready"})
}

// listPage is the response of every list.
type listPage[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func newPage[T any](items []T, next string) listPage[T] {
	if items == nil {
		items = []T{}
	}
	p := listPage[T]{Items: items}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}

// servePage answers one page of a list: it checks the list parameters into *limit and
// *cursor (a cursor must be one the list named kind issued), then the filter's own
// fields (check, which may be nil), and lists f.
func servePage[F, T, D any](s *Server, c *gin.Context, f *F, kind string, limit *int, cursor *string,
	check func(v *checks), list func(context.Context, F) ([]T, string, error), dto func(T) D) {
	var v checks
	*limit, *cursor = listParams(c, &v, kind)
	if check != nil {
		check(&v)
	}
	if p := v.problem(); p != nil {
		writeProblem(c, p)
		return
	}
	items, next, err := list(c.Request.Context(), *f)
	writeList(s, c, items, next, err, dto)
}

// listOwner is whose cases of the process u may list: "" for all of them, u's username
// for their own only; a 403 *Problem when u may list none. The list functions
// (ListComplaints, ListContracts, ListLedger) narrow their filter by it.
func (s *Server) listOwner(u store.User, proc string) (string, error) {
	switch all, own := s.access.Lists(u, proc); {
	case all:
		return "", nil
	case own:
		return u.Username, nil
	}
	return "", problem(http.StatusForbidden, "your roles do not give access to the "+proc+" list")
}

// mayList answers 403 and reports false when the caller may list no case of the
// process: a list route checks it before its query parameters.
func (s *Server) mayList(c *gin.Context, proc string) bool {
	if _, err := s.listOwner(me(c), proc); err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

// statusIn checks an optional status filter against the process's statuses.
func statusIn(status string, statuses []string) func(v *checks) {
	return func(v *checks) { v.oneOf("status", status, false, statuses) }
}

// writeList answers a list request with one page of items mapped to their DTOs, or with
// the store's error.
func writeList[T, D any](s *Server, c *gin.Context, items []T, next string, err error, dto func(T) D) {
	if errors.Is(err, store.ErrBadCursor) { // listParams checks it first; never a 500
		writeProblem(c, invalid(domain.FieldError{Field: "cursor", Message: "is not a cursor returned by this list"}))
		return
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	writeJSON(c, http.StatusOK, newPage(mapSlice(items, dto), next))
}

// mapSlice converts a slice with f.
func mapSlice[A, B any](in []A, f func(A) B) []B {
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

// strOrNil maps "" to JSON null.
func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
