package domain

import "strings"

// Process is what the platform knows of one business process: its name, how its
// workflow is registered and named, and who may see it. Each process declares its own
// (ComplaintProcess, ContractProcess, in the process's file); workflows.Registry lists
// them with their workflow functions, and the worker, the replay test, the API's access
// rules and the mail templates all read them from there.
type Process struct {
	// Name is the process's name in ids, task rows, audit events and template folders.
	Name string
	// WorkflowType is the name its workflow is registered and started under.
	WorkflowType string
	// IDPrefix starts every business id the API assigns (cmp_01J…).
	IDPrefix string
	// Viewers may see every case of the process. Who else sees a case (a sales rep their
	// customer's complaint, the submitter their contract) is the process's own rule.
	Viewers []Role
	// Overseers see every task of the process, whoever holds it, and list them with
	// scope=all.
	Overseers []Role
	// Links are the purposes of the customer links the process sends (complaint_feedback,
	// …): the form of each purpose's page and the check of its answer. The page itself is
	// api/templates/links/<purpose>.<locale>.html.
	Links map[string]LinkPurpose
	// ViewersOnly: nobody but its Viewers lists its cases (a sales rep has no cases of
	// their own to list, as they have their complaints, contracts and orders).
	ViewersOnly bool
	// Path is the URL segment of its cases under /api/v1 ("" for Name + "s": complaints,
	// orders); a survey cycle is at survey-cycles/{id}.
	Path string
}

// CasePath is the URL segment of the process's cases under /api/v1.
func (p Process) CasePath() string {
	if p.Path != "" {
		return p.Path
	}
	return p.Name + "s"
}

// WorkflowID is the Temporal workflow id of the case with business id id:
// <process>/<business id> (ARCHITECTURE.md, "Process start").
func (p Process) WorkflowID(id string) string { return p.Name + "/" + id }

// BusinessID is the business id of one of the process's workflow ids, and whether the
// workflow id is one of this process's.
func (p Process) BusinessID(workflowID string) (string, bool) {
	return strings.CutPrefix(workflowID, p.Name+"/")
}
