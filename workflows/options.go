// Package workflows holds the deterministic process code: one file per process and the
// shared human-task helper. It calls activities by name only (domain.Act*) and never
// imports the packages that perform I/O.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ActivityTimeout bounds one attempt of any activity.
const ActivityTimeout = 30 * time.Second

// activityRetry retries with backoff and never gives up: projections, e-mails and task
// rows must not be lost while the database or the mail provider is down. Activities
// that must not be retried return a non-retryable application error.
var activityRetry = temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    time.Minute,
	MaximumAttempts:    0, // unlimited
}

// withActivityOptions returns ctx with the options every activity call uses.
func withActivityOptions(ctx workflow.Context) workflow.Context {
	retry := activityRetry
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: ActivityTimeout,
		RetryPolicy:         &retry,
	})
}

// execute runs the named activity with the standard options and decodes its result into
// out (which may be nil).
func execute(ctx workflow.Context, name string, in any, out any) error {
	return workflow.ExecuteActivity(withActivityOptions(ctx), name, in).Get(ctx, out)
}

// versionLocalWrites marks the change that runs the short database writes between a
// task's completion and the workflow's next waiting point (closing the task, opening the
// next one, the read-model projections) as local activities, and sends the task
// notifications afterwards instead of inside CreateTask. A regular activity costs the
// server a task hand-off and history events each; these writes are a few milliseconds
// each, and the complete-task Update waits for all of them. Runs started before the
// change keep regular activities.
const versionLocalWrites = "local-writes"

// localWriteDeadline bounds the retries of one local write. Like activityRetry it must
// outlast a database outage: the process may not lose a projection or a task row.
const localWriteDeadline = 30 * 24 * time.Hour

// withLocalOptions returns ctx with the options of a local write: the same attempt
// timeout and retry policy as a regular activity.
func withLocalOptions(ctx workflow.Context) workflow.Context {
	retry := activityRetry
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: localWriteDeadline,
		StartToCloseTimeout:    ActivityTimeout,
		RetryPolicy:            &retry,
	})
}

// startWrite starts a short database write: a local activity when local is set,
// otherwise a regular one (runs from before versionLocalWrites).
func startWrite(ctx workflow.Context, local bool, name string, in any) workflow.Future {
	if local {
		return workflow.ExecuteLocalActivity(withLocalOptions(ctx), name, in)
	}
	return workflow.ExecuteActivity(withActivityOptions(ctx), name, in)
}

// write runs a short database write (see startWrite) and decodes its result into out.
func write(ctx workflow.Context, local bool, name string, in any, out any) error {
	return startWrite(ctx, local, name, in).Get(ctx, out)
}

// utcNow is the workflow's current time in UTC, the zone of every stored time.
func utcNow(ctx workflow.Context) time.Time { return workflow.Now(ctx).UTC() }

// updateHandler is one workflow Update of a process: its name, handler and validator.
type updateHandler struct {
	name      string
	handler   any
	validator any
}

// setUpdateHandlers registers a process's Updates, each with its validator.
func setUpdateHandlers(ctx workflow.Context, updates ...updateHandler) error {
	for _, u := range updates {
		err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: u.validator})
		if err != nil {
			return err
		}
	}
	return nil
}
