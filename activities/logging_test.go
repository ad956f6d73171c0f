package activities_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// An activity's log lines name the workflow and the activity they serve.
func TestActivityLogsCarryWorkflowID(t *testing.T) {
	a, _ := setup(t)
	var buf bytes.Buffer
	a.Log = slog.New(slog.NewJSONHandler(&buf, nil))

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivityWithOptions(a, activity.RegisterOptions{SkipInvalidStructFunctions: true})
	remind := func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		return workflow.ExecuteActivity(ctx, domain.ActSendReminder, domain.ReminderInput{TaskID: "tsk_gone", N: 1}).Get(ctx, nil)
	}
	env.RegisterWorkflowWithOptions(remind, workflow.RegisterOptions{Name: "remind"})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "complaint/cmp_log"})
	env.ExecuteWorkflow("remind")
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	var line map[string]any
	for _, raw := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
		if m["msg"] == "reminder for an unknown task" {
			line = m
		}
	}
	require.NotNil(t, line, "no log line for the unknown task in:\n%s", buf.String())
	assert.Equal(t, "complaint/cmp_log", line["workflow_id"])
	assert.Equal(t, domain.ActSendReminder, line["activity"])
	assert.Equal(t, "tsk_gone", line["task_id"])
	assert.NotEmpty(t, line["run_id"])
}
