package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// CreateTask inserts a human task (once per task id) with its task_created audit event,
// then e-mails task_assigned to the assignee, or to every member of the candidate groups
// when the task is unassigned. An out-of-office assignee with a delegate has the task
// routed to the delegate. A retry returns what the first call stored.
func (a *Activities) CreateTask(ctx context.Context, in domain.CreateTaskInput) (domain.CreateTaskResult, error) {
	if in.TaskID == "" || in.WorkflowID == "" || in.Step == "" {
		return domain.CreateTaskResult{}, invalidInput("task needs an id, a workflow id and a step")
	}
	if in.Assignee == "" && len(in.CandidateGroups) == 0 {
		return domain.CreateTaskResult{}, invalidInput("task needs an assignee or candidate groups")
	}
	in.CreatedAt = orNow(in.CreatedAt)
	// Routing reads first, then one round trip for the row, its audit event and its
	// snapshot.
	if err := a.avoidSelfReview(ctx, a.Store.Pool, &in); err != nil {
		return domain.CreateTaskResult{}, err
	}
	assignee, delegatedFrom, err := a.routeTo(ctx, a.Store.Pool, in.Assignee)
	if err != nil {
		return domain.CreateTaskResult{}, err
	}
	var t store.TaskSnapshot
	err = a.Store.Pipeline(ctx, func(b *pgx.Batch) error {
		return store.QueueCreateTask(b, in, assignee, delegatedFrom, &t)
	})
	if err != nil {
		return domain.CreateTaskResult{}, err
	}
	res := domain.CreateTaskResult{TaskID: t.ID, Assignee: t.Assignee, DelegatedFrom: t.DelegatedFrom}
	a.logger(ctx).Info("task created", "task_id", t.ID, "step", t.Step, "assignee", t.Assignee,
		"candidate_groups", t.CandidateGroups)
	if in.DeferNotify {
		return res, nil // DeliverEmails sends the notices, open task or not
	}
	if t.Status != domain.TaskOpen {
		// A late retry: nobody needs to hear about a closed task any more, but what an
		// earlier attempt queued still goes out, exactly once.
		return res, a.finishNotices(ctx, t.ID)
	}
	if err := a.notifyTask(ctx, t); err != nil {
		return domain.CreateTaskResult{}, err
	}
	return res, nil
}

// notifyTask sends the task_assigned notices of an open task, to the assignee or to
// every member of the candidate groups, once per recipient.
func (a *Activities) notifyTask(ctx context.Context, t store.TaskSnapshot) error {
	to, err := a.taskRecipients(ctx, t)
	if err != nil {
		return err
	}
	data := a.taskMailData(t)
	if t.DelegatedFrom != "" {
		data["delegated_from"] = t.DelegatedFrom
	}
	return a.notifyUsers(ctx, to, "task/"+t.ID+"/assigned/", a.taskMail(t, domain.TmplTaskAssigned), data)
}

// notifyDeferred sends the notices of a task opened with DeferNotify. A task closed in
// the meantime gets no new notice, but what an earlier attempt queued still goes out.
func (a *Activities) notifyDeferred(ctx context.Context, taskID string) error {
	t, err := store.GetTaskSnapshot(ctx, a.Store.Pool, taskID)
	if errors.Is(err, store.ErrNotFound) {
		a.logger(ctx).Warn("notice for an unknown task", "task_id", taskID)
		return nil
	}
	if err != nil {
		return err
	}
	if t.Status == domain.TaskOpen {
		return a.notifyTask(ctx, t)
	}
	return a.finishNotices(ctx, t.ID)
}

// finishNotices delivers the notices of a closed task that an earlier attempt queued
// but did not see sent (it died mid-send, say).
func (a *Activities) finishNotices(ctx context.Context, taskID string) error {
	keys, err := a.Store.UnsettledEmailKeys(ctx, "task/"+taskID+"/assigned/")
	if err != nil {
		return err
	}
	for _, key := range keys {
		if _, err := a.Mail.Deliver(ctx, key); err != nil && !isNonRetryable(err) {
			return err
		}
	}
	return nil
}

// avoidSelfReview applies the rule that nobody reviews their own submission: the users in
// ExcludeUsers may not act on the task, so a group task goes to the other members. When
// no other member is left, the task goes to the manager of ExcludeUsers[0] (the
// submitter) instead, and delegation then applies to that manager as to anyone.
func (a *Activities) avoidSelfReview(ctx context.Context, q store.Querier, in *domain.CreateTaskInput) error {
	if in.Assignee != "" || len(in.ExcludeUsers) == 0 {
		return nil
	}
	members, err := store.UsernamesInGroups(ctx, q, in.CandidateGroups)
	if err != nil {
		return err
	}
	for _, m := range members {
		if !slices.Contains(in.ExcludeUsers, m) {
			return nil // someone else in the group can review it
		}
	}
	u, err := store.LookupUser(ctx, q, in.ExcludeUsers[0])
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if u.Manager == "" {
		a.logger(ctx).Warn("no reviewer other than the submitter, and no manager to route to",
			"task_id", in.TaskID, "submitter", in.ExcludeUsers[0], "groups", in.CandidateGroups)
		return nil
	}
	in.Assignee = u.Manager
	return nil
}

// routeTo resolves the assignee after delegation: an out-of-office user with a delegate
// hands new tasks to the delegate. An unknown user is kept as is.
func (a *Activities) routeTo(ctx context.Context, q store.Querier, username string) (assignee, delegatedFrom string, err error) {
	if username == "" {
		return "", "", nil
	}
	u, err := store.LookupUser(ctx, q, username)
	if errors.Is(err, store.ErrNotFound) {
		a.logger(ctx).Warn("task assignee is not a user", "username", username)
		return username, "", nil
	}
	if err != nil {
		return "", "", err
	}
	if u.OutOfOffice && u.Delegate != "" && u.Delegate != username {
		return u.Delegate, username, nil
	}
	return username, "", nil
}

// CloseTask completes or cancels a task that is still open, with its audit event. A task
// already closed (a retry, or a cancel that lost a race) is left untouched.
func (a *Activities) CloseTask(ctx context.Context, in domain.CloseTaskInput) error {
	if in.Status != domain.TaskCompleted && in.Status != domain.TaskCancelled {
		return invalidInput(fmt.Sprintf("cannot close a task as %q", in.Status))
	}
	in.At = orNow(in.At)
	event := "task_completed"
	if in.Status == domain.TaskCancelled {
		event = "task_cancelled"
	}
	detail := map[string]any{"task_id": in.TaskID} // QueueCloseTask adds the step
	if in.Action != "" {
		detail["action"] = in.Action
	}
	if in.Comment != "" {
		detail["comment"] = in.Comment
	}
	audit := domain.AuditInput{
		Key: "task/" + in.TaskID + "/" + in.Status, Process: in.Process, ProcessID: in.ProcessID,
		Actor: orDefault(in.Actor, "system"), Event: event, Detail: detail, At: in.At,
	}
	// One round trip for the close and its audit event.
	return a.Store.Pipeline(ctx, func(b *pgx.Batch) error { return store.QueueCloseTask(b, in, audit) })
}

// SendReminder reminds the assignee (or the candidate groups) of an open task, once per
// reminder number, and records a task_reminder audit event. A closed task is skipped.
func (a *Activities) SendReminder(ctx context.Context, in domain.ReminderInput) error {
	t, err := store.GetTaskSnapshot(ctx, a.Store.Pool, in.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		a.logger(ctx).Warn("reminder for an unknown task", "task_id", in.TaskID)
		return nil
	}
	if err != nil {
		return err
	}
	if t.Status != domain.TaskOpen {
		return nil
	}
	to, err := a.taskRecipients(ctx, t)
	if err != nil {
		return err
	}
	data := a.taskMailData(t)
	data["n"] = in.N
	prefix := "task/" + t.ID + "/reminder/" + strconv.Itoa(in.N) + "/"
	if err := a.notifyUsers(ctx, to, prefix, a.taskMail(t, domain.TmplTaskReminder), data); err != nil {
		return err
	}
	return store.InsertAudit(ctx, a.Store.Pool, domain.AuditInput{
		Key: "task/" + t.ID + "/reminder/" + strconv.Itoa(in.N), Process: t.Process, ProcessID: t.ProcessID,
		Actor: "system", Event: "task_reminder", At: orNow(in.At),
		Detail: map[string]any{"task_id": t.ID, "step": t.Step, "n": in.N, "recipients": to,
			"due_at": formatTime(t.DueAt)},
	})
}

// taskRecipients is whom a task notice goes to: its assignee, else every member of its
// candidate groups who is not excluded.
func (a *Activities) taskRecipients(ctx context.Context, t store.TaskSnapshot) ([]string, error) {
	if t.Assignee != "" {
		return []string{t.Assignee}, nil
	}
	members, err := store.UsernamesInGroups(ctx, a.Store.Pool, t.CandidateGroups)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(members, func(u string) bool { return slices.Contains(t.ExcludeUsers, u) }), nil
}

// taskMail is the e-mail envelope of a notice about t; the key, recipient and data are
// filled per recipient.
func (a *Activities) taskMail(t store.TaskSnapshot, template string) domain.SendEmailInput {
	return domain.SendEmailInput{Template: template, Process: t.Process, ProcessID: t.ProcessID, WorkflowID: t.WorkflowID}
}

// taskMailData is the template data every task notice carries.
func (a *Activities) taskMailData(t store.TaskSnapshot) map[string]any {
	return map[string]any{
		"task_id":    t.ID,
		"task_title": t.Title,
		"step":       t.Step,
		"process":    t.Process,
		"process_id": t.ProcessID,
		"due_at":     formatTime(t.DueAt),
		"task_url":   a.link(TaskPage(t.ID)),
	}
}
