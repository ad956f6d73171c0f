package workflows

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
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
	sides := map[string]bool{} // "<workflow> <change id>=<marker present>..." seen
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
			// A history file is named after its process (<process>_<case>….json) or, for a
			// child workflow that is no process of its own, after its type
			// (VisitWorkflow_<case>….json). Task ids derive from the workflow id, so it is
			// replayed under the original one.
			name, typ, wf, id := replayTarget(t, filepath.Base(f), hist)
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: typ})
			err = r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: id},
			})
			if err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
			// Both sides of versionLocalWrites stay covered: recordings from before it
			// carry its name in the file name, the others its version marker.
			process := name
			before := strings.Contains(f, ".before-local-writes.")
			has := hasVersionMarker(t, hist, versionLocalWrites)
			if has == before {
				t.Fatalf("%s: version marker %q present = %v", f, versionLocalWrites, has)
			}
			side := fmt.Sprintf("%s %s=%v", process, versionLocalWrites, has)
			// Likewise both sides of the contract's versionOutboxMail: recordings from
			// before it (or from before versionLocalWrites) call Notify, the others
			// queue their notices and carry its marker.
			if strings.HasPrefix(filepath.Base(f), "contract") {
				before := before || strings.Contains(f, ".before-outbox-mail.")
				has := hasVersionMarker(t, hist, versionOutboxMail)
				if has == before {
					t.Fatalf("%s: version marker %q present = %v", f, versionOutboxMail, has)
				}
				side += fmt.Sprintf(" %s=%v", versionOutboxMail, has)
			}
			// And both sides of the complaint's versionCustomerLinks: recordings from
			// before it (named so, or from before local-writes) have no marker; of the
			// others, those that reach the feedback step have it.
			if strings.HasPrefix(filepath.Base(f), "complaint") {
				before := before || strings.Contains(f, ".before-customer-links.")
				has := hasVersionMarker(t, hist, versionCustomerLinks)
				if has && before {
					t.Fatalf("%s: version marker %q present in a recording from before it", f, versionCustomerLinks)
				}
				side += fmt.Sprintf(" %s=%v", versionCustomerLinks, has)
			}
			sides[side] = true
		})
	}
	// Each side of each version has a recording.
	for _, side := range []string{
		"complaint local-writes=false customer-links=false", "complaint local-writes=true customer-links=false",
		"complaint local-writes=true customer-links=true",
		"contract local-writes=false outbox-mail=false", "contract local-writes=true outbox-mail=false",
		"contract local-writes=true outbox-mail=true",
	} {
		if !sides[side] {
			t.Errorf("no recorded history of %s", side)
		}
	}
}

// childIDs give the workflow id of a child workflow from its start input.
var childIDs = map[string]func(t *testing.T, p *commonpb.Payloads) string{
	domain.VisitWorkflowType: func(t *testing.T, p *commonpb.Payloads) string {
		var in domain.VisitInput
		if err := converter.GetDefaultDataConverter().FromPayloads(p, &in); err != nil {
			t.Fatal(err)
		}
		return domain.VisitWorkflowID(in.ID())
	},
}

// replayTarget finds the workflow of a recorded history from its file's name: the
// process whose name (the longest: visit_plan, not visit) starts it, or the child
// workflow type that does. It returns the process's name (or the child's type), the
// workflow type and function to register, and the original workflow id.
func replayTarget(t *testing.T, file string, hist *historypb.History) (name, typ string, wf any, id string) {
	t.Helper()
	start := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
	for _, d := range Registry {
		if strings.HasPrefix(file, d.Name+"_") && len(d.Name) > len(name) {
			var in struct {
				ID string `json:"id"`
			}
			if err := converter.GetDefaultDataConverter().FromPayloads(start.GetInput(), &in); err != nil || in.ID == "" {
				t.Fatalf("%s: no business id in the start input (%v)", file, err)
			}
			name, typ, wf, id = d.Name, d.WorkflowType, d.Workflow, d.WorkflowID(in.ID)
		}
		for childType, child := range d.Children {
			if strings.HasPrefix(file, childType+"_") {
				name, typ, wf, id = childType, childType, child, childIDs[childType](t, start.GetInput())
			}
		}
	}
	if name == "" {
		t.Fatalf("%s: no process or child workflow of the registry names it", file)
	}
	return name, typ, wf, id
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
