package api

import (
	"context"
	"errors"
	"log/slog"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

type requestIDKey struct{}

// withRequestID returns ctx carrying the request id, so that code below the handlers
// (the Temporal client) can log it.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// loggingClient logs every workflow the API starts or updates with its workflow id and
// the request id, so that a request can be followed into Temporal and the worker's logs.
type loggingClient struct {
	client.Client
	log *slog.Logger
}

func (c loggingClient) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	run, err := c.Client.ExecuteWorkflow(ctx, opts, workflow, args...)
	attrs := []slog.Attr{slog.String("request_id", RequestID(ctx)), slog.String("workflow_id", opts.ID)}
	if name, ok := workflow.(string); ok {
		attrs = append(attrs, slog.String("workflow_type", name))
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		c.log.LogAttrs(ctx, slog.LevelInfo, "workflow already started", attrs...)
	case err != nil:
		c.log.LogAttrs(ctx, slog.LevelWarn, "workflow start failed", append(attrs, slog.Any("err", err))...)
	default:
		c.log.LogAttrs(ctx, slog.LevelInfo, "workflow started", append(attrs, slog.String("run_id", run.GetRunID()))...)
	}
	return run, err
}

func (c loggingClient) UpdateWorkflow(ctx context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	h, err := c.Client.UpdateWorkflow(ctx, opts)
	attrs := []slog.Attr{slog.String("request_id", RequestID(ctx)), slog.String("workflow_id", opts.WorkflowID),
		slog.String("update", opts.UpdateName)}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "workflow update failed", append(attrs, slog.Any("err", err))...)
		return h, err
	}
	// A rejected update (a closed task, a wrong action) surfaces later, from the handle, as
	// a 409 or 422 in the access log.
	c.log.LogAttrs(ctx, slog.LevelInfo, "workflow update sent", attrs...)
	return h, nil
}
