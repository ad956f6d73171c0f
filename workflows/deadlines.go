package workflows

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// Reminder is when a deadline's reminder falls: at a fraction of its window
// (WindowFraction, a task's 50 % and 80 %) or at an offset from its due time
// (FromDue, an invoice's −3 days, 0 and +7 days).
type Reminder struct {
	fromDue  bool
	fraction float64
	offset   time.Duration
}

// WindowFraction is a reminder at WindowStart + f × (DueAt − WindowStart).
func WindowFraction(f float64) Reminder { return Reminder{fraction: f} }

// FromDue is a reminder at DueAt + d (d < 0: before the due time).
func FromDue(d time.Duration) Reminder { return Reminder{fromDue: true, offset: d} }

// WindowFractions turns fractions of the window into reminders.
func WindowFractions(fs []float64) []Reminder {
	out := make([]Reminder, len(fs))
	for i, f := range fs {
		out[i] = WindowFraction(f)
	}
	return out
}

func (r Reminder) at(d *Deadline) time.Time {
	if r.fromDue {
		return d.DueAt.Add(r.offset)
	}
	window := d.DueAt.Sub(d.WindowStart)
	return d.WindowStart.Add(time.Duration(r.fraction * float64(window)).Round(time.Millisecond))
}

// Deadline is a due time a workflow holds (a human task's, an invoice's, ...), with the
// reminders that run up to it and the escalation ladder that runs past it.
type Deadline struct {
	WorkflowID, Process, ProcessID string // whose deadline
	// Subject names what it is about, "<kind>/<id>": "invoice/INV-2026-0001", or
	// domain.TaskSubject(id) for a task. Escalations are unique per subject and level.
	Subject string
	Title   string // for people, e.g. "Invoice INV-2026-0001"
	// TaskID and Step are set when the deadline is a human task's: its escalations are
	// then the task's (RaiseEscalation raises the task row's level, targets its assignee's
	// manager).
	TaskID, Step string
	// Reason of each escalation; "" gives `"<Title>" is overdue since <DueAt>`.
	Reason      string
	WindowStart time.Time // where WindowFraction reminders count from
	DueAt       time.Time
	Reminders   []Reminder
	Ladder      []domain.EscalationRung // rung n at DueAt + rung.After
	// Met, when set, reports that the deadline no longer needs chasing (a task completed,
	// an invoice paid): nothing more is sent once it holds. Stopping does the same.
	Met func() bool
	// OnReminder sends reminder r. Nil: reminders are not run.
	OnReminder func(ctx workflow.Context, r DeadlineReminder)
	// OnEscalation, when set, is called after an escalation has been raised.
	OnEscalation func(ctx workflow.Context, e Escalation)
}

// DeadlineReminder is handed to Deadline.OnReminder.
type DeadlineReminder struct {
	N     int       // 1-based, the reminder's place in Deadline.Reminders
	At    time.Time // when it was meant to fall
	DueAt time.Time
}

// StartDeadline runs d's reminders and ladder in a coroutine (RunDeadline). stop cancels
// the timers still pending, then waits until a reminder or escalation already under way
// has finished, so the caller can rely on nothing more being sent; call it once.
func StartDeadline(ctx workflow.Context, d Deadline) (stop func(ctx workflow.Context) error) {
	sctx, cancel := workflow.WithCancel(ctx)
	done := false
	workflow.Go(sctx, func(sctx workflow.Context) {
		defer func() { done = true }()
		RunDeadline(sctx, d)
	})
	return func(ctx workflow.Context) error {
		cancel()
		return workflow.Await(ctx, func() bool { return done })
	}
}

// step is one point of a deadline's timeline: a reminder or a rung.
type step struct {
	at       time.Time
	reminder int // index in Deadline.Reminders, or -1 for a rung
	rung     domain.EscalationRung
}

// RunDeadline sleeps until each reminder and each escalation rung, in time order (a
// reminder before a rung at the same time), until ctx is cancelled or d.Met holds.
// Reminders already past when it starts are skipped; rungs already past fire at once,
// in order. A reminder that fell due while an earlier one was still being retried (a
// database or mail outage) is sent late, unless the escalation already speaks: for a
// reminder up to the due time, once it is due; for one after, once a later rung is.
// Reminders and escalations run on a disconnected context, so that stopping never
// interrupts one half-way.
func RunDeadline(ctx workflow.Context, d Deadline) {
	actx, _ := workflow.NewDisconnectedContext(ctx)
	start := utcNow(ctx)
	var steps []step
	if d.OnReminder != nil {
		for i, r := range d.Reminders {
			steps = append(steps, step{at: r.at(&d), reminder: i})
		}
	}
	for _, rung := range d.Ladder {
		steps = append(steps, step{at: d.DueAt.Add(rung.After), reminder: -1, rung: rung})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })

	for i, s := range steps {
		if s.reminder >= 0 {
			if now := utcNow(ctx); s.at.Before(now) && !sendLateReminder(ctx, start, s.at, now, d.lateCutoff(steps[i+1:], s.at)) {
				continue
			}
			if !d.sleepUntil(ctx, s.at) {
				return
			}
			d.OnReminder(actx, DeadlineReminder{N: s.reminder + 1, At: s.at, DueAt: d.DueAt})
			continue
		}
		if !d.sleepUntil(ctx, s.at) {
			return
		}
		d.escalate(ctx, actx, s.rung)
	}
}

// lateCutoff is when a late reminder meant for at gives way to the escalation: the due
// time for a reminder up to it, else the next rung after it (none: never).
func (d *Deadline) lateCutoff(later []step, at time.Time) time.Time {
	if !at.After(d.DueAt) {
		return d.DueAt
	}
	for _, s := range later {
		if s.reminder < 0 && s.at.After(at) {
			return s.at
		}
	}
	return time.Time{}
}

// escalate raises rung (RaiseEscalation) and reports it to OnEscalation. A failure is
// only logged: the next rung still follows.
func (d *Deadline) escalate(ctx, actx workflow.Context, rung domain.EscalationRung) {
	now := utcNow(ctx)
	in := domain.EscalationInput{
		WorkflowID: d.WorkflowID, Process: d.Process, ProcessID: d.ProcessID,
		TaskID: d.TaskID, Step: d.Step, Rung: rung,
		Reason: cmp.Or(d.Reason, fmt.Sprintf("%q is overdue since %s", d.Title, d.DueAt.UTC().Format(time.RFC3339))),
		DueAt:  d.DueAt, At: now,
	}
	if d.TaskID == "" { // a task's escalation is known by its task id alone, as before subjects
		in.Subject, in.Title = d.Subject, d.Title
	}
	var res domain.EscalationResult
	if err := execute(actx, domain.ActRaiseEscalation, in, &res); err != nil {
		workflow.GetLogger(ctx).Warn("raise escalation", "subject", d.Subject, "task_id", d.TaskID, "level", rung.Level, "error", err)
		return
	}
	if d.OnEscalation != nil {
		d.OnEscalation(actx, Escalation{
			Subject: d.Subject, TaskID: d.TaskID, Step: d.Step, Level: rung.Level,
			EscalationID: res.EscalationID, Targets: res.Targets, At: now,
		})
	}
}

// sleepUntil sleeps until at and reports whether the deadline should still be chased:
// neither stopped nor met meanwhile.
func (d *Deadline) sleepUntil(ctx workflow.Context, at time.Time) bool {
	if dur := at.Sub(utcNow(ctx)); dur > 0 {
		if err := workflow.Sleep(ctx, dur); err != nil {
			return false
		}
	}
	return ctx.Err() == nil && (d.Met == nil || !d.Met())
}

// sendLateReminder decides about a reminder whose time (at) has passed. One already past
// when the deadline started is skipped. One that fell due while an earlier reminder was
// still being retried is sent late, if the escalation does not yet speak instead (now
// before cutoff; a zero cutoff never comes). Runs from before this rule skipped it too.
func sendLateReminder(ctx workflow.Context, start, at, now, cutoff time.Time) bool {
	if at.Before(start) || (!cutoff.IsZero() && !now.Before(cutoff)) {
		return false
	}
	return workflow.GetVersion(ctx, "send-late-reminders", workflow.DefaultVersion, 1) >= 1
}
