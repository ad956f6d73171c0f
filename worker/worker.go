// Package worker registers the workflows and activities with a Temporal worker and runs
// it.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/workflows"
)

// WorkflowRegistry registers workflows (a worker, a replayer, a test environment).
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// ActivityRegistry registers activities (a worker, a test environment).
type ActivityRegistry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Registry registers both; a worker and a testsuite.TestWorkflowEnvironment are one.
type Registry interface {
	WorkflowRegistry
	ActivityRegistry
}

// RegisterWorkflows registers the workflow of every process in workflows.Registry under
// its workflow type, and its children under theirs (each once).
func RegisterWorkflows(r WorkflowRegistry) {
	children := map[string]bool{}
	for _, d := range workflows.Registry {
		r.RegisterWorkflowWithOptions(d.Workflow, workflow.RegisterOptions{Name: d.WorkflowType})
		for _, name := range slices.Sorted(maps.Keys(d.Children)) {
			if !children[name] {
				children[name] = true
				r.RegisterWorkflowWithOptions(d.Children[name], workflow.RegisterOptions{Name: name})
			}
		}
	}
}

// RegisterActivities registers every exported activity method of acts under its method
// name, which is its domain.Act* name: a process's activities are methods in its own
// file (activities/<process>.go), with nothing to list. Exported methods that are not
// activities (no context first, no error last) are skipped.
func RegisterActivities(r ActivityRegistry, acts *activities.Activities) {
	r.RegisterActivityWithOptions(acts, activity.RegisterOptions{SkipInvalidStructFunctions: true})
}

// RegisterAll registers every workflow and every activity, the same way in production,
// in tests and in the replayer.
func RegisterAll(r Registry, acts *activities.Activities) {
	RegisterWorkflows(r)
	RegisterActivities(r, acts)
}

// Options configures the worker.
type Options struct {
	Client     client.Client
	TaskQueue  string // default domain.TaskQueue
	Activities *activities.Activities
	Log        *slog.Logger
	// MaxConcurrentActivities caps activities run at once (0: the SDK default).
	MaxConcurrentActivities int
	// WorkflowTaskPollers is the most workflow-task polls the worker keeps open on the
	// normal queue, and again on its sticky queue, scaled by the server's hints from
	// half of it, and never fewer than 2 each (see sdkOptions). 0: the SDK's defaults.
	WorkflowTaskPollers int
}

// New returns a worker with every workflow and activity registered, not yet started.
func New(o Options) sdkworker.Worker {
	w := sdkworker.New(o.Client, o.queue(), sdkOptions(o))
	RegisterAll(w, o.Activities)
	return w
}

// Run starts the worker, blocks until ctx is done, then stops it, letting the
// activities in flight finish.
func Run(ctx context.Context, o Options) error {
	if o.Client == nil || o.Activities == nil {
		return errors.New("worker: a Temporal client and the activities are required")
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	w := New(o)
	if err := w.Start(); err != nil {
		return err
	}
	log.Info("worker started", "task_queue", o.queue())
	<-ctx.Done()
	w.Stop()
	log.Info("worker stopped", "task_queue", o.queue())
	return nil
}

// sdkOptions are the SDK worker options of o.
//
// The workflow-task polls are split in two groups, one on the normal queue and one on
// the worker's sticky queue, each scaled between 2 and WorkflowTaskPollers polls.
// With the SDK's default "simple maximum" the polls share one group, and while the
// server's last sticky task reported a backlog (a hint that can outlive the backlog),
// every poll goes to the sticky queue. Once the sticky work stopped, all of them then
// sat out the 60 s long poll there while new workflows' first tasks waited on the
// normal queue: loadgen once saw 200 new complaints wait 62 s for their first
// workflow task.
func sdkOptions(o Options) sdkworker.Options {
	opts := sdkworker.Options{MaxConcurrentActivityExecutionSize: o.MaxConcurrentActivities}
	if n := o.WorkflowTaskPollers; n > 0 {
		opts.WorkflowTaskPollerBehavior = sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{
			InitialNumberOfPollers: max(2, n/2), MinimumNumberOfPollers: 2, MaximumNumberOfPollers: max(2, n),
		})
	}
	return opts
}

func (o Options) queue() string {
	if o.TaskQueue == "" {
		return domain.TaskQueue
	}
	return o.TaskQueue
}
