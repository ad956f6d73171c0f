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

// utcNow is the workflow's current time in UTC, the zone of every stored time.
func utcNow(ctx workflow.Context) time.Time { return workflow.Now(ctx).UTC() }
