// Package worker registers the workflows and activities with a Temporal worker and runs
// it.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/workflows"
)

// Registered names of the workflows.
const (
	ComplaintWorkflowName = "ComplaintWorkflow"
	ContractWorkflowName  = "ContractWorkflow"
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

// RegisterWorkflows registers every workflow under its fixed name.
func RegisterWorkflows(r WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.ComplaintWorkflow, workflow.RegisterOptions{Name: ComplaintWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ContractWorkflow, workflow.RegisterOptions{Name: ContractWorkflowName})
}

// RegisterActivities registers every activity of acts under its domain.Act* name.
func RegisterActivities(r ActivityRegistry, acts *activities.Activities) {
	for _, a := range named(acts) {
		r.RegisterActivityWithOptions(a.Fn, activity.RegisterOptions{Name: a.Name})
	}
}

// named is acts.Named() plus the contract activities it does not list yet.
func named(acts *activities.Activities) []activities.NamedActivity {
	all := acts.Named()
	for _, a := range []activities.NamedActivity{
		{Name: domain.ActProjectContract, Fn: acts.ProjectContract},
		{Name: domain.ActAssignLedgerNo, Fn: acts.AssignLedgerNo},
		{Name: domain.ActNotify, Fn: acts.Notify},
	} {
		if !slices.ContainsFunc(all, func(n activities.NamedActivity) bool { return n.Name == a.Name }) {
			all = append(all, a)
		}
	}
	return all
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
	// WorkflowTaskPollers is how many workflow-task polls the worker keeps open, split
	// between its sticky and the normal queue (0: the SDK default of 2; 1 is invalid).
	WorkflowTaskPollers int
}

// New returns a worker with every workflow and activity registered, not yet started.
func New(o Options) sdkworker.Worker {
	w := sdkworker.New(o.Client, o.queue(), sdkworker.Options{
		MaxConcurrentActivityExecutionSize: o.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskPollers:   o.WorkflowTaskPollers,
	})
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

func (o Options) queue() string {
	if o.TaskQueue == "" {
		return domain.TaskQueue
	}
	return o.TaskQueue
}
