package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// metricsText is what the process serves of the API's registry on its metrics listener
// (SERVICEFLOW_METRICS_ADDR): the API's handler does not serve it.
func (e *env) metricsText() *bytes.Buffer {
	e.t.Helper()
	w := httptest.NewRecorder()
	promhttp.HandlerFor(e.srv.cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusOK {
		e.t.Fatalf("metrics: %d", w.Code)
	}
	return w.Body
}

// scrape reads the API's metrics and parses them as Prometheus does.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(e.metricsText())
	if err != nil {
		e.t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// series finds the metric of family name whose labels are exactly want.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) == len(want) && func() bool {
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		}() {
			return m
		}
	}
	t.Fatalf("%s has no series %v; it has %v", name, want, f.GetMetric())
	return nil
}

func TestMetricsFamilies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.insertTask(taskRow{id: "tsk_m1", assignee: "carol"})
	e.insertTask(taskRow{id: "tsk_m2", assignee: "carol"})
	e.insertTask(taskRow{id: "tsk_m3", assignee: "carol", status: domain.TaskCompleted})
	if _, err := e.st.Pool.Exec(ctx, `UPDATE tasks SET escalation_level = 1 WHERE id = 'tsk_m2'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool.Exec(ctx, `INSERT INTO escalations (id, workflow_id, process, process_id, subject, task_id, step, level,
		reason, targets, raised_at) VALUES ('esc_m1', 'complaint/cmp_test', 'complaint', 'cmp_test', 'task/tsk_m2', 'tsk_m2', 'evaluate', 1,
		'overdue', '{dave}', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool.Exec(ctx, `INSERT INTO emails (id, idempotency_key, to_email, locale, template, status, error)
		VALUES ('eml_m1', 'm/1', 'x@example.test', 'en', 'complaint_ack', 'failed', 'bad address')`); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/api/v1/customers/cus_acme", "alice", nil).want(http.StatusOK)

	fams := e.scrape()
	h := series(t, fams, "serviceflow_http_request_duration_seconds",
		map[string]string{"method": "GET", "route": "/api/v1/customers/:id", "code": "200"})
	if h.GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("latency samples: %v", h.GetHistogram())
	}
	gauge := func(name string, labels map[string]string) float64 {
		return series(t, fams, name, labels).GetGauge().GetValue()
	}
	if v := gauge("serviceflow_read_model_up", nil); v != 1 {
		t.Fatalf("read model up = %v", v)
	}
	if v := gauge("serviceflow_emails", map[string]string{"status": "failed"}); v != 1 {
		t.Fatalf("failed e-mails = %v", v)
	}
	if v := gauge("serviceflow_emails", map[string]string{"status": "sent"}); v != 0 { // reported while zero
		t.Fatalf("sent e-mails = %v", v)
	}
	if v := gauge("serviceflow_tasks_open", map[string]string{"process": "complaint", "escalation_level": "0"}); v != 1 {
		t.Fatalf("open tasks at level 0 = %v", v)
	}
	if v := gauge("serviceflow_tasks_open", map[string]string{"process": "complaint", "escalation_level": "1"}); v != 1 {
		t.Fatalf("open tasks at level 1 = %v", v)
	}
	if v := gauge("serviceflow_escalations_open", map[string]string{"process": "complaint", "level": "1"}); v != 1 {
		t.Fatalf("open escalations = %v", v)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Fatal("no Go runtime metrics")
	}

	// An acknowledged escalation is no longer open.
	if _, err := e.st.Pool.Exec(ctx, `UPDATE escalations SET acknowledged_at = now(), acknowledged_by = 'dave'`); err != nil {
		t.Fatal(err)
	}
	if f := e.scrape()["serviceflow_escalations_open"]; f != nil && len(f.GetMetric()) > 0 {
		t.Fatalf("acknowledged escalation still open: %v", f.GetMetric())
	}
}

// The public API does not serve /metrics: what the process measures is on a listener
// of its own, for the operator's scraper only.
func TestMetricsNotOnThePublicAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("GET", "/healthz", "", nil).want(http.StatusOK)
	for _, user := range []string{"", "admin"} {
		checkProblem(t, e.do("GET", "/metrics", user, nil), http.StatusNotFound)
	}
	if !strings.Contains(e.metricsText().String(), `serviceflow_http_request_duration_seconds_count{code="200",method="GET",route="/healthz"} 1`) {
		t.Fatal("the registry lacks the request the API served")
	}
}

// A database that does not answer makes the read model "down" within the timeout; the
// scrape itself still succeeds.
func TestReadModelDown(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c := newReadModelCollector(&store.Store{Pool: pool}, slog.New(slog.DiscardHandler))
	c.timeout = 500 * time.Millisecond
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 1 || fams[0].GetName() != "serviceflow_read_model_up" || fams[0].GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Fatalf("want only serviceflow_read_model_up 0, got %v", fams)
	}
}

// logLines parses JSON log lines.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		out = append(out, m)
	}
	return out
}

// findLog returns the first line with message msg.
func findLog(t *testing.T, lines []map[string]any, msg string) map[string]any {
	t.Helper()
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	t.Fatalf("no log line %q in %v", msg, lines)
	return nil
}

// The request id is answered in X-Request-Id and is on the access log and on the log of
// each workflow started or updated, with the workflow id.
func TestRequestIDInLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var buf bytes.Buffer
	srv := New(Config{PublicURL: "http://example.test", ComplaintPolicy: domain.DefaultComplaintPolicy(), UpdateTimeout: 5 * time.Second},
		e.st, e.tc, slog.New(slog.NewJSONHandler(&buf, nil)))
	srv.settle = 0
	e.srv = srv

	r := e.do("POST", "/api/v1/complaints", "carol", complaintBody()).want(http.StatusCreated)
	rid := r.Header().Get("X-Request-Id")
	if !strings.HasPrefix(rid, "req_") {
		t.Fatalf("X-Request-Id %q", rid)
	}
	lines := logLines(t, &buf)
	access := findLog(t, lines, "http request")
	if access["request_id"] != rid || access["route"] != "/api/v1/complaints" || access["status"] != float64(201) {
		t.Fatalf("access log: %v", access)
	}
	started := findLog(t, lines, "workflow started")
	wantWF := domain.ComplaintWorkflowID(r.json()["id"].(string))
	if started["request_id"] != rid || started["workflow_id"] != wantWF {
		t.Fatalf("workflow start log: %v, want request %s and workflow %s", started, rid, wantWF)
	}

	// A client's own id is kept; an update logs it with the workflow id.
	buf.Reset()
	e.insertTask(taskRow{id: "tsk_log", assignee: "carol"})
	e.tc.mu.Lock()
	e.tc.onUpdate = func(client.UpdateWorkflowOptions) (any, error) {
		return domain.CompleteTaskResponse{ProcessStatus: "responding"}, nil
	}
	e.tc.mu.Unlock()
	r = e.do("POST", "/api/v1/tasks/tsk_log/complete", "carol", map[string]any{"action": "accept", "data": map[string]any{"category": "product"}},
		"X-Request-Id", "client-trace-7").want(http.StatusOK)
	if got := r.Header().Get("X-Request-Id"); got != "client-trace-7" {
		t.Fatalf("X-Request-Id %q", got)
	}
	lines = logLines(t, &buf)
	updated := findLog(t, lines, "workflow update sent")
	if updated["request_id"] != "client-trace-7" || updated["workflow_id"] != "complaint/cmp_test" || updated["update"] != domain.UpdateCompleteTask {
		t.Fatalf("update log: %v", updated)
	}
	if access := findLog(t, lines, "http request"); access["request_id"] != "client-trace-7" {
		t.Fatalf("access log: %v", access)
	}
}
