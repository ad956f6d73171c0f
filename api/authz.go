package api

import (
	"context"
	"errors"
	"slices"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/workflows"
)

// Access holds every rule of who may see and act on a process's cases, a task, an
// escalation, an e-mail and a customer. The JSON handlers ask it, and so will the web
// app: no handler decides access on its own. Who sees and oversees each process comes
// from its registry entry (domain.Process.Viewers, .Overseers); the parties of one case
// (its customer's owner, its submitter, the departments of its route) from the process.
type Access struct {
	st *store.Store
}

// Parties are the people and groups with a part in one case, who see it besides the
// process's viewers.
type Parties struct {
	Users []string // e.g. the submitter, the customer's owning sales rep
	// UsersRole, when set, is the role Users must still have to see the case (a sales
	// rep who moved to another job no longer sees their former customers' complaints).
	UsersRole domain.Role
	Groups    []domain.Role // e.g. the departments of a contract's route
}

// process is the registry entry of name (the zero Process for an unknown one: nobody
// sees it but admin).
func process(name string) domain.Process {
	d, _ := workflows.Lookup(name)
	return d.Process
}

// SeesAll reports whether u sees every case of the process.
func (Access) SeesAll(u store.User, proc string) bool {
	return u.HasRole(domain.RoleAdmin) || u.HasRole(process(proc).Viewers...)
}

// SeesCase reports whether u sees one case of the process with these parties.
func (a Access) SeesCase(u store.User, proc string, p Parties) bool {
	party := slices.Contains(p.Users, u.Username) && (p.UsersRole == "" || u.HasRole(p.UsersRole))
	return a.SeesAll(u, proc) || party || u.HasRole(p.Groups...)
}

// Oversees reports whether u sees every task of the process, whoever holds it.
func (Access) Oversees(u store.User, proc string) bool {
	return u.HasRole(domain.RoleAdmin) || u.HasRole(process(proc).Overseers...)
}

// Overseen lists the processes whose every task u may see, in registry order.
func (a Access) Overseen(u store.User) []string {
	out := []string{}
	for _, d := range workflows.Registry {
		if a.Oversees(u, d.Name) {
			out = append(out, d.Name)
		}
	}
	return out
}

// MayListAllTasks: managers and admin list every task of the processes they oversee.
func (Access) MayListAllTasks(u store.User) bool { return u.HasRole(domain.ManagerRoles...) }

// AllTasksOf is what scope=all lists for u: the tasks of the processes u oversees, or
// (admin, procs nil) every task; ok is false when u may not list all tasks.
func (a Access) AllTasksOf(u store.User) (procs []string, ok bool) {
	switch {
	case !a.MayListAllTasks(u):
		return nil, false
	case u.HasRole(domain.RoleAdmin):
		return nil, true
	}
	return a.Overseen(u), true
}

// TaskAccess is what a user may do with a task.
type TaskAccess struct {
	View  bool // see it (else 404)
	Act   bool // complete it (else 403)
	Claim bool // a member of one of its groups (claim and unclaim need it)
}

// Task applies the task rules: the assignee, or the delegate of an assignee who is out
// of office, may act; on an unassigned task any member of a candidate group may act; a
// manager targeted by an escalation on the task may act. Group members also see the
// group's tasks others hold, the original assignee of a delegated task sees it, the
// process's overseers see its tasks, and admin sees every task. A user on the task's
// exclude list never acts.
func (a Access) Task(ctx context.Context, u store.User, t store.Task) (TaskAccess, error) {
	var ta TaskAccess
	excluded := slices.Contains(t.ExcludeUsers, u.Username)
	member := slices.ContainsFunc(t.CandidateGroups, func(g string) bool { return u.HasRole(domain.Role(g)) })
	ta.Claim = member && !excluded
	switch {
	case t.Assignee == u.Username:
		ta.View, ta.Act = true, true
	case t.Assignee == "":
		ta.View, ta.Act = member, member
	default:
		holder, err := a.st.UserByUsername(ctx, t.Assignee)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return ta, err
		}
		if err == nil && holder.OutOfOffice && holder.Delegate == u.Username {
			ta.View, ta.Act = true, true
		}
		ta.View = ta.View || member || t.DelegatedFrom == u.Username
	}
	if !ta.Act {
		target, err := a.st.IsEscalationTarget(ctx, t.ID, u.Username)
		if err != nil {
			return ta, err
		}
		ta.View, ta.Act = ta.View || target, target
	}
	ta.View = ta.View || a.Oversees(u, t.Process)
	ta.Act = ta.Act && !excluded
	return ta, nil
}

// MaySeeEscalations: managers and admin list and read escalations.
func (Access) MaySeeEscalations(u store.User) bool { return u.HasRole(domain.ManagerRoles...) }

// MayAcknowledge: a target of the escalation, the general manager or admin.
func (a Access) MayAcknowledge(u store.User, e store.Escalation) bool {
	return a.MaySeeEscalations(u) &&
		(slices.Contains(e.Targets, u.Username) || u.HasRole(domain.RoleGeneralManager, domain.RoleAdmin))
}

// MaySeeEmails: managers and admin read the outbox.
func (Access) MaySeeEmails(u store.User) bool { return u.HasRole(domain.ManagerRoles...) }

// SeesAllCustomers: admin, managers and customer service see every customer; a sales
// rep sees the customers they own.
func (Access) SeesAllCustomers(u store.User) bool {
	return u.HasRole(domain.RoleCustomerService) || u.HasRole(domain.ManagerRoles...)
}

// ListsCustomers is Lists for customers: all of them, or a sales rep's own.
func (a Access) ListsCustomers(u store.User) (all, own bool) {
	return a.SeesAllCustomers(u), u.HasRole(domain.RoleSalesRep)
}

// SeesCustomer applies the customer view rule.
func (a Access) SeesCustomer(u store.User, cu store.Customer) bool {
	return a.SeesAllCustomers(u) || (u.HasRole(domain.RoleSalesRep) && cu.Owner == u.Username)
}

// MayFileFor: a case of the process is filed for a customer by someone who sees every
// case of the process, or by the customer's owning sales rep.
func (a Access) MayFileFor(u store.User, proc string, cu store.Customer) bool {
	return a.SeesAll(u, proc) || (u.HasRole(domain.RoleSalesRep) && cu.Owner == u.Username)
}

// CreatesCustomersForAnyone: admin and sales managers create customers for any sales
// rep; a sales rep only customers they own.
func (Access) CreatesCustomersForAnyone(u store.User) bool {
	return u.HasRole(domain.RoleAdmin, domain.RoleSalesManager)
}

// MayCreateCustomer: admin, sales managers and sales reps.
func (Access) MayCreateCustomer(u store.User) bool {
	return u.HasRole(domain.RoleAdmin, domain.RoleSalesManager, domain.RoleSalesRep)
}

// The processes' own rules: who files a case, and who acts on one besides its tasks.

// Lists tells which cases of the process u may list: all of them, or (a sales rep) only
// their own (their customers' complaints, the contracts they submitted); neither: 403.
// Of a process only its viewers list (ViewersOnly: the visit plans), a rep lists none.
func (a Access) Lists(u store.User, proc string) (all, own bool) {
	return a.SeesAll(u, proc), u.HasRole(domain.RoleSalesRep) && !process(proc).ViewersOnly
}

// MayFileComplaint: any complaint viewer, and a sales rep for their own customers.
func (a Access) MayFileComplaint(u store.User) bool {
	return a.SeesAll(u, domain.ProcessComplaint) || u.HasRole(domain.RoleSalesRep)
}

// ComplaintParties: the owning sales rep of the complaint's customer.
func ComplaintParties(c store.Complaint) Parties {
	return Parties{Users: []string{c.CustomerOwner}, UsersRole: domain.RoleSalesRep}
}

// MaySubmitContract: sales reps submit contracts.
func (Access) MaySubmitContract(u store.User) bool { return u.HasRole(domain.RoleSalesRep) }

// ContractParties: the submitter, and the departments of the route of the version under
// review or in force and of an amendment under review.
func ContractParties(st domain.ContractState) Parties {
	var groups []domain.Role
	for _, g := range domain.RouteGroups(st.Class) {
		groups = append(groups, domain.Role(g))
	}
	if am := st.Amendment; am != nil {
		for _, g := range domain.RouteGroups(am.Class) {
			groups = append(groups, domain.Role(g))
		}
	}
	return Parties{Users: []string{st.SubmittedBy}, Groups: groups}
}

// MayReviseContract: only the submitter revises or withdraws a contract.
func (Access) MayReviseContract(u store.User, st domain.ContractState) bool {
	return u.Username == st.SubmittedBy
}

// MayAmendContract: the submitter or a sales manager.
func (Access) MayAmendContract(u store.User, st domain.ContractState) bool {
	return u.Username == st.SubmittedBy || u.HasRole(domain.RoleSalesManager)
}

// MayEnterOrder: sales reps enter orders.
func (Access) MayEnterOrder(u store.User) bool { return u.HasRole(domain.RoleSalesRep) }

// MayEnterOrderFor: a sales rep enters orders for the customers they own.
func (a Access) MayEnterOrderFor(u store.User, cu store.Customer) bool {
	return a.MayEnterOrder(u) && cu.Owner == u.Username
}

// OrderParties: the rep who entered the order (while still a sales rep), and the
// departments every order passes through (production, quality, logistics).
func OrderParties(st domain.OrderState) Parties {
	return Parties{Users: []string{st.Rep}, UsersRole: domain.RoleSalesRep,
		Groups: []domain.Role{domain.RoleProduction, domain.RoleQuality, domain.RoleLogistics}}
}

// MayCancelOrder: the rep who entered the order, or their manager, cancels it and posts
// progress notes.
func (Access) MayCancelOrder(u store.User, st domain.OrderState, repManager string) bool {
	return u.Username == st.Rep || (repManager != "" && u.Username == repManager)
}

// MayPostProgress: the rep who entered the order writes its progress notes to the
// customer (their manager may cancel it, but the customer hears from one person).
func (Access) MayPostProgress(u store.User, st domain.OrderState) bool { return u.Username == st.Rep }

// MayRecordPayments: finance records payments and prepayments.
func (Access) MayRecordPayments(u store.User) bool { return u.HasRole(domain.RoleFinance) }

// MaySeeInvoices: finance, managers and admin list invoices.
func (Access) MaySeeInvoices(u store.User) bool {
	return u.HasRole(domain.RoleFinance) || u.HasRole(domain.ManagerRoles...)
}

// MayMakeVisitPlan: sales managers make return-visit plans.
func (Access) MayMakeVisitPlan(u store.User) bool { return u.HasRole(domain.RoleSalesManager) }

// VisitPlanParties: the sales manager who made the plan, while still one. The plan's
// reps do not see it (it names other reps' customers): each sees their own visits
// through their appointment and return_visit tasks.
func VisitPlanParties(st domain.VisitPlanState) Parties {
	return Parties{Users: []string{st.CreatedBy}, UsersRole: domain.RoleSalesManager}
}

// MayEditVisitPlan: the sales manager who made the plan edits and submits it (while it
// is a draft: the workflow's rule).
func (a Access) MayEditVisitPlan(u store.User, st domain.VisitPlanState) bool {
	return a.MayMakeVisitPlan(u) && u.Username == st.CreatedBy
}

// NewAccess returns the access rules over st, as the API applies them.
func NewAccess(st *store.Store) Access { return Access{st: st} }

// MayManageProgrammes: an admin creates, pauses, resumes and runs survey programmes.
func (Access) MayManageProgrammes(u store.User) bool { return u.HasRole(domain.RoleAdmin) }
