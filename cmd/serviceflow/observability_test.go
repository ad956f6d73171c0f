package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"

	"github.com/serviceflow/serviceflow/store/storetest"
	"github.com/serviceflow/serviceflow/worker"
)

// The served openapi.yaml describes exactly the routes the binary's HTTP handler serves,
// including those mounted outside the api package (the SendGrid webhook): a route without
// an operation, or an operation without a route, fails.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := newAPI(Config{HTTPAddr: "127.0.0.1:8080", FinanceThreshold: "10000.00 CNY"}, nil, nil, slog.New(slog.DiscardHandler))
	engine, ok := h.(interface{ Routes() gin.RoutesInfo })
	if !ok {
		t.Fatalf("the API handler is a %T, not a gin engine", h)
	}
	served := map[string]bool{}
	param := regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)
	for _, r := range engine.Routes() {
		served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
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

// One registry carries the SDK's metrics and the API's: `serviceflow api` and `dev` serve
// both on the API's /metrics, `serviceflow worker` on its metrics handler.
func TestMetricsShareTheProcessRegistry(t *testing.T) {
	reg := newRegistry()
	worker.NewMetricsHandler(reg).WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(1)
	scrape := func(h http.Handler, path string) string {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, w.Code)
		}
		return w.Body.String()
	}
	quiet := slog.New(slog.DiscardHandler)
	apiBody := scrape(newAPI(Config{HTTPAddr: "127.0.0.1:8080", FinanceThreshold: "10000.00 CNY"}, nil, nil, quiet, reg), "/metrics")
	workerBody := scrape(metricsHandler(reg, quiet), "/metrics")
	for name, body := range map[string]string{"api": apiBody, "worker": workerBody} {
		for _, want := range []string{`temporal_request_total{namespace="default"} 1`, "go_goroutines ", "process_cpu_seconds_total "} {
			if !strings.Contains(body, want) {
				t.Errorf("%s /metrics lacks %q", name, want)
			}
		}
	}
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
