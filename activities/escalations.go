package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// RaiseEscalation records an escalation once per workflow, subject and level and writes
// the escalated audit event, then e-mails every target. About a human task (TaskID), it
// also raises the task's escalation level; about any other deadline (a Subject and no
// task), it touches no task row and its targets come from the rung alone. A retry finds
// the stored escalation and resends nothing.
func (a *Activities) RaiseEscalation(ctx context.Context, in domain.EscalationInput) (domain.EscalationResult, error) {
	if in.WorkflowID == "" || (in.TaskID == "" && in.Subject == "") || in.Rung.Level < 1 {
		return domain.EscalationResult{}, invalidInput("escalation needs a workflow id, a task id or a subject, and a level ≥ 1")
	}
	if in.TaskID != "" && in.Subject != "" && in.Subject != domain.TaskSubject(in.TaskID) {
		return domain.EscalationResult{}, invalidInput("an escalation about a task has the task's subject")
	}
	in.At = orNow(in.At)
	subject := domain.EscalationSubject(in.Subject, in.TaskID)
	var (
		res  domain.EscalationResult
		task store.TaskSnapshot
	)
	err := a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		if in.TaskID != "" {
			task, err = store.GetTaskSnapshot(ctx, tx, in.TaskID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		targets, err := a.escalationTargets(ctx, tx, in.Rung, task.Assignee)
		if err != nil {
			return err
		}
		if len(targets) == 0 {
			a.logger(ctx).Warn("escalation has no target", "subject", subject, "task_id", in.TaskID, "level", in.Rung.Level)
		}
		res.EscalationID, res.Targets, err = store.EnsureEscalation(ctx, tx, store.NewEscalation{
			ID: domain.NewID("esc"), WorkflowID: in.WorkflowID, Process: in.Process, ProcessID: in.ProcessID,
			Subject: subject, TaskID: in.TaskID, Step: in.Step, Level: in.Rung.Level, Reason: in.Reason,
			Targets: targets, RaisedAt: in.At,
		})
		if err != nil {
			return err
		}
		detail := map[string]any{"escalation_id": res.EscalationID, "level": in.Rung.Level,
			"targets": res.Targets, "task_id": in.TaskID, "step": in.Step, "reason": in.Reason}
		if in.TaskID == "" {
			delete(detail, "task_id")
			detail["subject"] = subject
		} else if err := store.RaiseTaskEscalationLevel(ctx, tx, in.TaskID, in.Rung.Level); err != nil {
			return err
		}
		return store.InsertAudit(ctx, tx, domain.AuditInput{
			Key: escalationKey(in), Process: in.Process, ProcessID: in.ProcessID,
			Actor: "system", Event: "escalated", At: in.At, Detail: detail,
		})
	})
	if err != nil {
		return domain.EscalationResult{}, err
	}
	data := map[string]any{
		"escalation_id":  res.EscalationID,
		"level":          in.Rung.Level,
		"reason":         in.Reason,
		"task_id":        in.TaskID,
		"task_title":     task.Title,
		"step":           in.Step,
		"assignee":       task.Assignee,
		"process":        in.Process,
		"process_id":     in.ProcessID,
		"due_at":         formatTime(in.DueAt),
		"task_url":       a.link(TaskPage(in.TaskID)),
		"escalation_url": a.link(EscalationPage(res.EscalationID)),
		"subject":        subject,
	}
	if in.TaskID == "" { // no task: the e-mail names the subject
		data["task_title"], data["task_url"] = cmp.Or(in.Title, subject), ""
	}
	mail := domain.SendEmailInput{Template: domain.TmplEscalation, Process: in.Process, ProcessID: in.ProcessID, WorkflowID: in.WorkflowID}
	if err := a.notifyUsers(ctx, res.Targets, escalationKey(in)+"/", mail, data); err != nil {
		return domain.EscalationResult{}, err
	}
	a.logger(ctx).Info("escalation raised", "escalation_id", res.EscalationID, "subject", subject, "task_id", in.TaskID,
		"level", in.Rung.Level, "targets", res.Targets)
	return res, nil
}

// escalationTargets resolves a rung to usernames: its named user, else the manager of
// the user it names (TargetManagerOf) or of the assignee when the rung asks for it and
// there is one, else every user with the rung's role (sorted).
func (a *Activities) escalationTargets(ctx context.Context, q store.Querier, rung domain.EscalationRung, assignee string) ([]string, error) {
	if rung.TargetUser != "" {
		return []string{rung.TargetUser}, nil
	}
	if rung.TargetManagerOf != "" {
		assignee = rung.TargetManagerOf
	}
	if (rung.TargetAssigneeManager || rung.TargetManagerOf != "") && assignee != "" {
		u, err := store.LookupUser(ctx, q, assignee)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if u.Manager != "" {
			return []string{u.Manager}, nil
		}
	}
	if rung.TargetRole == "" {
		return []string{}, nil
	}
	return store.UsernamesWithRole(ctx, q, string(rung.TargetRole))
}

// escalationKey identifies an escalation in audit and e-mail keys: by its task when it
// has one (as before subjects), else by its subject.
func escalationKey(in domain.EscalationInput) string {
	return fmt.Sprintf("esc/%s/%s/%d", in.WorkflowID, cmp.Or(in.TaskID, in.Subject), in.Rung.Level)
}
