package workflows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
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
	withLinks := 0 // complaint recordings that ask for feedback through a customer link
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
			// Both sides of versionLocalWrites stay covered: recordings from before it
			// carry its name in the file name, the others its version marker.
			before := strings.Contains(f, ".before-local-writes.")
			if has := hasVersionMarker(t, hist, versionLocalWrites); has == before {
				t.Fatalf("%s: version marker %q present = %v", f, versionLocalWrites, has)
			}
			// And both sides of versionCustomerLinks: the recordings from before it
			// (named so, or from before local-writes) have no marker; of the others,
			// those that reach the feedback step have it (checked below).
			has := hasVersionMarker(t, hist, versionCustomerLinks)
			beforeLinks := before || strings.Contains(f, ".before-customer-links.")
			if has && beforeLinks {
				t.Fatalf("%s: version marker %q present in a recording from before it", f, versionCustomerLinks)
			}
			if has {
				withLinks++
			}
		})
	}
	if withLinks == 0 {
		t.Fatalf("no recorded history has the version marker %q: record them (make record-histories)", versionCustomerLinks)
	}
}

// hasVersionMarker reports whether the history recorded a GetVersion marker for changeID.
func hasVersionMarker(t *testing.T, hist *historypb.History, changeID string) bool {
	for _, ev := range hist.Events {
		m := ev.GetMarkerRecordedEventAttributes()
		if m == nil || m.GetMarkerName() != "Version" {
			continue
		}
		var id string
		if p := m.GetDetails()["change-id"]; p != nil {
			if err := converter.GetDefaultDataConverter().FromPayloads(p, &id); err != nil {
				t.Fatal(err)
			}
		}
		if id == changeID {
			return true
		}
	}
	return false
}
