//go:build linux

package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/store/storetest"
)

// httpGet returns the status and body of GET url ("" and 0 when it cannot connect).
func httpGet(url string) (int, string) {
	hc := &http.Client{Timeout: 5 * time.Second}
	res, err := hc.Get(url)
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitMetrics waits until metricsAddr serves /metrics with every one of want.
func waitMetrics(t *testing.T, p *proc, metricsAddr string, want ...string) {
	t.Helper()
	var body string
	eventually(t, 30*time.Second, p.name+"'s metrics on "+metricsAddr, func() bool {
		if p.exited() {
			t.Fatalf("%s exited", p.name)
		}
		var code int
		if code, body = httpGet("http://" + metricsAddr + "/metrics"); code != http.StatusOK {
			return false
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false
			}
		}
		return true
	})
}

// In every mode the metrics are on SERVICEFLOW_METRICS_ADDR and the public API port
// answers /metrics with 404. dev serves its one registry (the API's and the worker's
// pools, the HTTP latencies, the SDK's metrics) on one listener; api and worker each
// serve their own.
func TestMetricsListenerInEachMode(t *testing.T) {
	bin := serviceflowBinary(t)
	dbURL, drop, err := storetest.CreateDB(context.Background(), "metricsmodes")
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	t.Cleanup(drop)
	publicHas404 := func(name, httpAddr string) {
		t.Helper()
		if code, body := httpGet("http://" + httpAddr + "/metrics"); code != http.StatusNotFound {
			t.Errorf("%s: the public API answers GET /metrics with %d, want 404:\n%.300s", name, code, body)
		}
	}

	httpAddr, metricsAddr, temporalAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	dev := startProc(t, "dev", bin, map[string]string{
		"DATABASE_URL": dbURL, "SERVICEFLOW_HTTP_ADDR": httpAddr, "SERVICEFLOW_METRICS_ADDR": metricsAddr,
	}, "dev", "--ephemeral", "--data-dir", filepath.Join(t.TempDir(), "data"), "--temporal-addr", temporalAddr, "--ui-addr", "off")
	waitReady(t, dev, "http://"+httpAddr, 120*time.Second)
	publicHas404("dev", httpAddr)
	waitMetrics(t, dev, metricsAddr, `pool="api"`, `pool="worker"`, `route="/readyz"`, "temporal_request", "serviceflow_read_model_up 1")

	// `serviceflow api` and `serviceflow worker` against dev's Temporal and database.
	apiHTTP, apiMetrics, workerMetrics := freeAddr(t), freeAddr(t), freeAddr(t)
	env := map[string]string{"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": temporalAddr}
	env["SERVICEFLOW_HTTP_ADDR"], env["SERVICEFLOW_METRICS_ADDR"] = apiHTTP, apiMetrics
	api := startProc(t, "api", bin, env, "api")
	waitReady(t, api, "http://"+apiHTTP, 60*time.Second)
	publicHas404("api", apiHTTP)
	waitMetrics(t, api, apiMetrics, `pool="api"`, `route="/readyz"`, "temporal_request", "serviceflow_read_model_up 1")

	env["SERVICEFLOW_METRICS_ADDR"] = workerMetrics
	env["SERVICEFLOW_LINK_SECRET"] = "the metrics test's customer-link secret"
	delete(env, "SERVICEFLOW_HTTP_ADDR")
	waitMetrics(t, startProc(t, "worker", bin, env, "worker"), workerMetrics, `pool="worker"`, "temporal_request")
}
