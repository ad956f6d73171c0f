package worker

import (
	"reflect"
	"testing"

	sdkworker "go.temporal.io/sdk/worker"
)

// The workflow-task polls run in two groups, normal and sticky, so that the normal
// queue always has polls open (see sdkOptions); without a number, the SDK's defaults.
func TestWorkflowTaskPollsInTwoGroups(t *testing.T) {
	o := sdkOptions(Options{WorkflowTaskPollers: 8, MaxConcurrentActivities: 3})
	want := sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{
		InitialNumberOfPollers: 4, MinimumNumberOfPollers: 2, MaximumNumberOfPollers: 8,
	})
	if !reflect.DeepEqual(o.WorkflowTaskPollerBehavior, want) {
		t.Errorf("workflow-task poller behaviour = %#v, want %#v", o.WorkflowTaskPollerBehavior, want)
	}
	if o.MaxConcurrentWorkflowTaskPollers != 0 || o.MaxConcurrentActivityExecutionSize != 3 {
		t.Errorf("options = %+v", o)
	}
	if d := sdkOptions(Options{}); d.WorkflowTaskPollerBehavior != nil || d.MaxConcurrentWorkflowTaskPollers != 0 {
		t.Errorf("without a number of polls: %+v, want the SDK's defaults", d)
	}
}
