package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/devstack"
	"github.com/serviceflow/serviceflow/worker"
)

// find returns the first series of family name whose labels include want.
func find(fams []*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

func TestMetricsHandlerNamesAndLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := worker.NewMetricsHandler(reg)
	q := h.WithTags(map[string]string{"namespace": "default", "task_queue": "q"})
	q.Counter("temporal_request").Inc(2)
	q.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	q.WithTags(map[string]string{"task_queue": "other"}).Gauge("temporal_num_pollers").Update(5)
	q.Timer("temporal_request_latency").Record(1500 * time.Millisecond)
	q.Counter("temporal_request").Inc(-1) // a counter never goes down
	h.Counter("odd.name-x").Inc(1)

	fams, err := reg.Gather() // also checks that one name with two label sets is valid
	require.NoError(t, err)
	c := find(fams, "temporal_request_total", map[string]string{"namespace": "default", "task_queue": "q"})
	require.NotNil(t, c)
	assert.Len(t, c.GetLabel(), 2)
	assert.Equal(t, 2.0, c.GetCounter().GetValue())
	c = find(fams, "temporal_request_total", map[string]string{"operation": "StartWorkflowExecution"})
	require.NotNil(t, c)
	assert.Equal(t, 1.0, c.GetCounter().GetValue())
	g := find(fams, "temporal_num_pollers", map[string]string{"task_queue": "other", "namespace": "default"})
	require.NotNil(t, g, "WithTags overrides a tag")
	assert.Equal(t, 5.0, g.GetGauge().GetValue())
	lat := find(fams, "temporal_request_latency_seconds", map[string]string{"task_queue": "q"})
	require.NotNil(t, lat)
	assert.Equal(t, uint64(1), lat.GetHistogram().GetSampleCount())
	assert.Equal(t, 1.5, lat.GetHistogram().GetSampleSum())
	assert.NotNil(t, find(fams, "odd_name_x_total", nil))
}

// A real worker against the embedded Temporal server reports the SDK's metrics through
// the handler.
func TestSDKMetricsFromARealWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	port, err := devstack.FreePort()
	require.NoError(t, err)
	quiet := slog.New(slog.DiscardHandler)
	srv, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		Ephemeral: true, FrontendAddr: fmt.Sprintf("127.0.0.1:%d", port), UIAddr: "off", Logger: quiet,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })

	reg := prometheus.NewRegistry()
	c, err := client.DialContext(ctx, client.Options{HostPort: srv.FrontendAddr(), Namespace: "default",
		MetricsHandler: worker.NewMetricsHandler(reg), Logger: tlog.NewStructuredLogger(quiet)})
	require.NoError(t, err)
	defer c.Close()
	const queue = "metrics-test"
	w := sdkworker.New(c, queue, sdkworker.Options{})
	w.RegisterActivityWithOptions(func(context.Context) (string, error) { return "hi", nil }, activity.RegisterOptions{Name: "hello"})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (string, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		var s string
		err := workflow.ExecuteActivity(ctx, "hello").Get(ctx, &s)
		return s, err
	}, workflow.RegisterOptions{Name: "greet"})
	require.NoError(t, w.Start())
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, "greet")
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))

	want := []struct {
		name   string
		labels map[string]string
	}{
		{"temporal_request_total", map[string]string{"operation": "StartWorkflowExecution", "namespace": "default"}},
		{"temporal_workflow_completed_total", map[string]string{"workflow_type": "greet", "task_queue": queue}},
		{"temporal_activity_execution_latency_seconds", map[string]string{"activity_type": "hello", "workflow_type": "greet"}},
		{"temporal_worker_task_slots_available", map[string]string{"worker_type": "ActivityWorker", "task_queue": queue}},
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams, err := reg.Gather()
		require.NoError(t, err)
		var missing []string
		for _, m := range want {
			if find(fams, m.name, m.labels) == nil {
				missing = append(missing, fmt.Sprint(m.name, m.labels))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("missing SDK metrics: %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
