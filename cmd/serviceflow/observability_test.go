package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"

	"github.com/serviceflow/serviceflow/store/storetest"
	"github.com/serviceflow/serviceflow/web"
	"github.com/serviceflow/serviceflow/worker"
)

// The served openapi.yaml describes exactly the routes the binary's HTTP handler serves,
// including those mounted outside the api package (the SendGrid webhook): a route without
// an operation, or an operation without a route, fails. The web app's pages (web.Routes)
// are no part of the JSON API: they must be served, and are not described.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := newAPI(t.Context(), Config{HTTPAddr: "127.0.0.1:8080", FinanceThreshold: "10000.00 CNY"}, nil, nil, slog.New(slog.DiscardHandler))
	engine, ok := h.(interface{ Routes() gin.RoutesInfo })
	if !ok {
		t.Fatalf("the API handler is a %T, not a gin engine", h)
	}
	served := map[string]bool{}
	param := regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)
	pages := web.Routes()
	for _, r := range engine.Routes() {
		if i := slices.Index(pages, r.Method+" "+r.Path); i >= 0 {
			pages = slices.Delete(pages, i, i+1)
			continue
		}
		served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	if len(pages) > 0 {
		t.Errorf("web app routes not served: %v", pages)
	}

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: %d", w.Code)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	described := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(methods, key) {
				described[strings.ToUpper(key)+" "+path] = true
			}
		}
	}

	for op := range served {
		if !described[op] {
			t.Errorf("served but not in openapi.yaml: %s", op)
		}
	}
	for op := range described {
		if !served[op] {
			t.Errorf("in openapi.yaml but not served: %s", op)
		}
	}
	if !served["POST /webhooks/sendgrid"] || len(served) < 20 {
		t.Fatalf("the routes were not all listed: %v", served)
	}
}

// One registry carries the SDK's metrics and the API's, and the metrics handler serves
// it all; the API's handler, on the public port, answers 404 on /metrics.
func TestMetricsShareTheProcessRegistry(t *testing.T) {
	reg := newRegistry()
	worker.NewMetricsHandler(reg).WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(1)
	get := func(h http.Handler, path string) *httptest.ResponseRecorder {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	quiet := slog.New(slog.DiscardHandler)
	api := newAPI(t.Context(), Config{HTTPAddr: "127.0.0.1:8080", FinanceThreshold: "10000.00 CNY"}, nil, nil, quiet, reg)
	if w := get(api, "/healthz"); w.Code != http.StatusOK {
		t.Fatalf("GET /healthz: %d", w.Code)
	}
	if w := get(api, "/metrics"); w.Code != http.StatusNotFound {
		t.Errorf("the public API answers GET /metrics with %d, want 404:\n%.200s", w.Code, w.Body.String())
	}
	w := get(metricsHandler(reg, quiet), "/metrics")
	if w.Code != http.StatusOK {
		t.Fatalf("metrics handler: %d", w.Code)
	}
	for _, want := range []string{`temporal_request_total{namespace="default"} 1`, "go_goroutines ", "process_cpu_seconds_total ",
		`serviceflow_http_request_duration_seconds_count{code="200",method="GET",route="/healthz"} 1`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// SERVICEFLOW_METRICS_ADDR serves the process's registry on a listener of its own; unset,
// nothing listens, and the API never serves it.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	g, ctx := errgroup.WithContext(t.Context())
	if err := serveMetrics(ctx, g, "", newRegistry(), quiet); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	g, gctx := errgroup.WithContext(ctx)
	addr := freeListenAddr(t)
	reg := newRegistry()
	if err := serveMetrics(gctx, g, addr, reg, quiet); err != nil {
		t.Fatal(err)
	}
	if err := serveMetrics(gctx, g, addr, reg, quiet); err == nil || !strings.Contains(err.Error(), "SERVICEFLOW_METRICS_ADDR") {
		t.Errorf("a second listener on %s: %v, want an error naming SERVICEFLOW_METRICS_ADDR", addr, err)
	}
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines ") {
		t.Errorf("GET /metrics on %s: %d, want 200 with the Go runtime metrics", addr, res.StatusCode)
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Errorf("metrics server did not stop cleanly: %v", err)
	}
}

// freeListenAddr is a 127.0.0.1 address nothing listens on (it was free a moment ago).
func freeListenAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The process's /metrics reports its PostgreSQL pool, so an operator sees requests and
// activities waiting for a connection.
func TestMetricsReportTheDatabasePool(t *testing.T) {
	st := storetest.New(t, "poolmetrics")
	reg := newRegistry()
	registerPool(reg, st, "api")
	for range 3 {
		if err := st.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	w := httptest.NewRecorder()
	metricsHandler(reg, slog.New(slog.DiscardHandler)).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := w.Body.String()
	db := st.Pool.Config().ConnConfig.Database
	for _, want := range []string{
		`pgxpool_acquire_count{db_name="` + db + `",pool="api"} `,
		`pgxpool_empty_acquire_wait_time_ns{db_name="` + db + `",pool="api"} `,
		fmt.Sprintf(`pgxpool_max_conns{db_name="%s",pool="api"} %d`, db, st.Pool.Config().MaxConns),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`pgxpool_acquire_count\{[^}]*\} (\d+)`).FindStringSubmatch(body); m == nil || m[1] == "0" {
		t.Errorf("acquire count after three pings: %v", m)
	}
}

// SERVICEFLOW_DEBUG_ADDR serves Go's profiles on a listener of its own, and only there:
// the API never exposes them. Unset, nothing listens.
func TestDebugProfilesOnTheirOwnListener(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	g, ctx := errgroup.WithContext(t.Context())
	if err := serveDebug(ctx, g, "", quiet); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	g, gctx := errgroup.WithContext(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := serveDebug(gctx, g, addr, quiet); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/debug/pprof/": "goroutine", "/debug/pprof/heap?debug=1": "heap profile"} {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want 200 with %q", path, res.StatusCode, want)
		}
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Errorf("debug server did not stop cleanly: %v", err)
	}

	w := httptest.NewRecorder()
	api := newAPI(t.Context(), Config{HTTPAddr: "127.0.0.1:8080", FinanceThreshold: "10000.00 CNY"}, nil, nil, quiet)
	api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("the API answers GET /debug/pprof/ with %d, want 404", w.Code)
	}
}

// The API forgets SendGrid webhook events older than the retention, at start and then
// on every tick, and keeps the newer ones.
func TestPruneEmailEventsLoop(t *testing.T) {
	st := storetest.New(t, "prune")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := st.Pool.Exec(ctx, `INSERT INTO email_events (event_id, event, received_at)
		VALUES ('old', 'delivered', now() - interval '8 days'), ('new', 'delivered', now() - interval '1 hour')`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- pruneEmailEvents(ctx, st, 7*24*time.Hour, 20*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	ids := func() []string {
		rows, err := st.Pool.Query(ctx, `SELECT event_id FROM email_events ORDER BY event_id`)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ids()) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := ids(); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("events left: %v, want [new]", got)
	}
	// An event that ages past the retention goes at a later tick.
	if _, err := st.Pool.Exec(ctx, `UPDATE email_events SET received_at = now() - interval '9 days'`); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(ids()) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := ids(); len(got) != 0 {
		t.Fatalf("events left after a later tick: %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("the loop ended with %v", err)
	}
}
