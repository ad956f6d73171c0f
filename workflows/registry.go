package workflows

import "github.com/serviceflow/serviceflow/domain"

// Definition is one process of the house: what the platform knows of it (domain.Process)
// and its workflow function. A process is its own files plus one entry in Registry.
type Definition struct {
	domain.Process
	// Workflow is the workflow function, registered under Process.WorkflowType.
	Workflow any
	// Children are the workflows of the process that are no process of their own, by
	// type name: a detractor's or a planned return visit (VisitWorkflow), whose tasks
	// belong to the case that started it. Two processes may name the same one.
	Children map[string]any
}

// Registry lists every process. The worker registers each workflow from it, the replay
// test replays each recorded history with it, and the API takes each process's access
// rules from it.
var Registry = []Definition{
	{Process: domain.ComplaintProcess, Workflow: ComplaintWorkflow},
	{Process: domain.ContractProcess, Workflow: ContractWorkflow},
	{Process: domain.OrderProcess, Workflow: OrderWorkflow},
	{Process: domain.SurveyProcess, Workflow: SurveyCycleWorkflow,
		Children: map[string]any{domain.VisitWorkflowType: VisitWorkflow}},
	{Process: domain.VisitPlanProcess, Workflow: VisitPlanWorkflow,
		Children: map[string]any{domain.VisitWorkflowType: VisitWorkflow}},
}

// Lookup returns the process named name.
func Lookup(name string) (Definition, bool) {
	for _, d := range Registry {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}
