package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The baseline runs on its own task queue of the same Temporal server, with a worker of
// SDK defaults in this process.
const (
	baselineQueue    = "loadgen-baseline"
	baselineWorkflow = "LoadgenBaseline"
	baselineActivity = "LoadgenEcho"
)

// echoWorkflow runs one activity and returns its result.
func echoWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out int
	err := workflow.ExecuteActivity(ctx, baselineActivity, n).Get(ctx, &out)
	return out, err
}

func echoActivity(_ context.Context, n int) (int, error) { return n, nil }

// runBaseline starts n one-activity workflows from `clients` concurrent clients, each
// waiting for its workflow's result before starting the next: start → result.
func runBaseline(ctx context.Context, tc client.Client, runID string, clients, n int) (Throughput, Latency, error) {
	w := sdkworker.New(tc, baselineQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(echoWorkflow, workflow.RegisterOptions{Name: baselineWorkflow})
	w.RegisterActivityWithOptions(echoActivity, activity.RegisterOptions{Name: baselineActivity})
	if err := w.Start(); err != nil {
		return Throughput{}, Latency{}, err
	}
	defer w.Stop()

	run := func(ctx context.Context, id string, i int) error {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		r, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: baselineQueue}, baselineWorkflow, i)
		if err != nil {
			return err
		}
		var out int
		if err := r.Get(ctx, &out); err != nil {
			return err
		}
		if out != i {
			return fmt.Errorf("baseline workflow %s returned %d, want %d", id, out, i)
		}
		return nil
	}
	// Warm up the worker's pollers and the server's caches; not measured.
	if _, errs := closedLoop(ctx, clients, clients, func(ctx context.Context, _, i int) error {
		return run(ctx, fmt.Sprintf("loadgen/%s/warmup/%d", runID, i), i)
	}); len(errs) > 0 {
		return Throughput{}, Latency{}, fmt.Errorf("baseline warm-up: %w", errs[0])
	}
	var lat samples
	wall, errs := closedLoop(ctx, clients, n, func(ctx context.Context, _, i int) error {
		return lat.time(func() error { return run(ctx, fmt.Sprintf("loadgen/%s/baseline/%d", runID, i), i) })
	})
	return throughput(n, len(errs), wall), lat.summary(), firstErr(errs)
}

func firstErr(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d failed, the first: %w", len(errs), errs[0])
}
