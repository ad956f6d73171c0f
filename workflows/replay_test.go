package workflows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// TestReplayRecordedHistories replays every history recorded from a real run (see
// `make record-histories`). A change to a released workflow that is not behind
// workflow.GetVersion makes this fail with a non-determinism error.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories under testdata/histories")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			hist, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := worker.NewWorkflowReplayer()
			var id string
			switch {
			case strings.HasPrefix(filepath.Base(f), "complaint"):
				r.RegisterWorkflowWithOptions(ComplaintWorkflow, workflow.RegisterOptions{Name: "ComplaintWorkflow"})
				// Task ids derive from the workflow id, so replay under the original one.
				var in domain.ComplaintInput
				start := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
				if err := converter.GetDefaultDataConverter().FromPayloads(start.GetInput(), &in); err != nil {
					t.Fatal(err)
				}
				id = domain.ComplaintWorkflowID(in.ID)
			case strings.HasPrefix(filepath.Base(f), "contract"):
				r.RegisterWorkflowWithOptions(ContractWorkflow, workflow.RegisterOptions{Name: "ContractWorkflow"})
				var in domain.ContractInput
				start := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
				if err := converter.GetDefaultDataConverter().FromPayloads(start.GetInput(), &in); err != nil {
					t.Fatal(err)
				}
				id = domain.ContractWorkflowID(in.ID)
			default:
				t.Fatalf("no workflow registered for %s", f)
			}
			err = r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: id},
			})
			if err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
