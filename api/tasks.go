package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

type taskResponse struct {
	ID              string     `json:"id"`
	Process         string     `json:"process"`
	ProcessID       string     `json:"process_id"`
	Step            string     `json:"step"`
	Title           string     `json:"title"`
	Assignee        *string    `json:"assignee"`
	DelegatedFrom   *string    `json:"delegated_from"`
	CandidateGroups []string   `json:"candidate_groups"`
	Status          string     `json:"status"`
	Priority        int        `json:"priority"`
	DueAt           time.Time  `json:"due_at"`
	CreatedAt       time.Time  `json:"created_at"`
	EscalationLevel int        `json:"escalation_level"`
	Actions         []string   `json:"actions"`
	CompletedAt     *time.Time `json:"completed_at"`
	CompletedBy     *string    `json:"completed_by"`
	Action          *string    `json:"action"`
}

type taskDetail struct {
	taskResponse
	Form     []domain.FormField `json:"form"`
	Context  map[string]any     `json:"context"`
	Comments []commentResponse  `json:"comments"`
}

type commentResponse struct {
	ID        string    `json:"id"`
	Author    string    `json:"author"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

func commentDTO(c store.TaskComment) commentResponse {
	return commentResponse{ID: c.ID, Author: c.Author, Text: c.Text, CreatedAt: c.CreatedAt}
}

func taskDTO(t store.Task) taskResponse {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return taskResponse{
		ID: t.ID, Process: t.Process, ProcessID: t.ProcessID, Step: t.Step, Title: t.Title,
		Assignee: strOrNil(t.Assignee), DelegatedFrom: strOrNil(t.DelegatedFrom),
		CandidateGroups: nonNil(t.CandidateGroups), Status: t.Status, Priority: t.Priority, DueAt: t.DueAt,
		CreatedAt: t.CreatedAt, EscalationLevel: t.EscalationLevel, Actions: nonNil(t.Actions),
		CompletedAt: t.CompletedAt, CompletedBy: strOrNil(t.CompletedBy), Action: strOrNil(t.Action),
	}
}

// loadTask loads the task of the :id path parameter with the caller's access, answering
// 404 when the caller may not see it.
func (s *Server) loadTask(c *gin.Context) (store.Task, TaskAccess, bool) {
	id, ok := pathID(c, "id", "task")
	if !ok {
		return store.Task{}, TaskAccess{}, false
	}
	t, a, err := s.TaskFor(c.Request.Context(), me(c), id)
	if err != nil {
		s.fail(c, err)
		return t, a, false
	}
	return t, a, true
}

// VisibleTasks returns those of tasks ids that u may see (TaskFor's rule), by id, with
// one query for them all: those u oversees, holds or may claim need nothing more, and
// only the others ask Access.Task. The escalation board shows its tasks' titles by it.
func (s *Server) VisibleTasks(ctx context.Context, u store.User, ids []string) (map[string]store.Task, error) {
	tasks, err := s.st.TasksByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for id, t := range tasks {
		member := slices.ContainsFunc(t.CandidateGroups, func(g string) bool { return u.HasRole(domain.Role(g)) })
		if s.access.Oversees(u, t.Process) || t.Assignee == u.Username || member {
			continue
		}
		a, err := s.access.Task(ctx, u, t)
		if err != nil {
			return nil, err
		}
		if !a.View {
			delete(tasks, id)
		}
	}
	return tasks, nil
}

// TaskFor loads task id with what u may do with it: a 404 *Problem when it does not
// exist or u may not see it.
func (s *Server) TaskFor(ctx context.Context, u store.User, id string) (store.Task, TaskAccess, error) {
	t, err := s.st.TaskByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return t, TaskAccess{}, problem(http.StatusNotFound, "task not found")
	}
	if err != nil {
		return t, TaskAccess{}, err
	}
	a, err := s.access.Task(ctx, u, t)
	if err != nil {
		return t, a, err
	}
	if !a.View {
		return t, a, problem(http.StatusNotFound, "task not found")
	}
	return t, a, nil
}

// fail answers err: its status when it is a *Problem, else 500 (or 503).
func (s *Server) fail(c *gin.Context, err error) {
	if p, ok := errors.AsType[*Problem](err); ok {
		writeProblem(c, p)
		return
	}
	s.internal(c, err)
}

func (s *Server) listTasks(c *gin.Context) {
	u := me(c)
	f := store.TaskFilter{Scope: c.DefaultQuery("scope", store.ScopeMine),
		Status: c.DefaultQuery("status", domain.TaskOpen), Process: c.Query("process")}
	var v checks
	f.Limit, f.Cursor = listParams(c, &v, store.CursorTasks)
	v.oneOf("scope", f.Scope, true, []string{store.ScopeMine, store.ScopeGroup, store.ScopeAll})
	v.oneOf("status", f.Status, true, []string{domain.TaskOpen, domain.TaskCompleted, domain.TaskCancelled})
	taskFilters(c.Request.URL.Query(), &f, &v)
	if p := v.problem(); p != nil {
		writeProblem(c, p)
		return
	}
	items, next, err := s.ListTasks(c.Request.Context(), u, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeList(s, c, items, next, nil, taskDTO)
}

// taskFilters reads the inbox filters of a query into f, adding a bad value to v: step,
// tier (A–D), escalated (true or false) and due_before (an RFC 3339 date-time).
func taskFilters(q url.Values, f *store.TaskFilter, v *checks) {
	f.Step, f.Tier = q.Get("step"), q.Get("tier")
	v.text("step", f.Step, false, 100)
	v.oneOf("tier", f.Tier, false, domain.Tiers)
	switch e := q.Get("escalated"); e {
	case "":
	case "true", "false":
		b := e == "true"
		f.Escalated = &b
	default:
		v.add("escalated", "must be true or false")
	}
	if d := q.Get("due_before"); d != "" {
		t, err := time.Parse(time.RFC3339, d)
		if err != nil {
			v.add("due_before", "must be a date-time such as 2026-12-07T18:00:00Z")
		}
		f.DueBefore = t
	}
}

// ListTasks lists a page of u's inbox: f's scope, status, process, filters (step, tier,
// escalated, due before) and page, with User
// and Groups set to u's. Scope all is for managers and admin (else a 403 *Problem), and a
// manager sees there the tasks of the processes they oversee.
func (s *Server) ListTasks(ctx context.Context, u store.User, f store.TaskFilter) ([]store.Task, string, error) {
	f.User, f.Groups, f.Processes = u.Username, u.RoleNames(), nil
	if f.Scope == store.ScopeAll {
		procs, ok := s.access.AllTasksOf(u)
		if !ok {
			return nil, "", problem(http.StatusForbidden, "only managers and admin list all tasks")
		}
		f.Processes = procs
	}
	return s.st.ListTasks(ctx, f)
}

// TaskComments returns the comment thread of t (a task u may see: TaskFor), oldest first.
func (s *Server) TaskComments(ctx context.Context, t store.Task) ([]store.TaskComment, error) {
	return s.st.TaskComments(ctx, t.ID)
}

func (s *Server) taskDetail(ctx context.Context, t store.Task) (taskDetail, error) {
	comments, err := s.TaskComments(ctx, t)
	if err != nil {
		return taskDetail{}, err
	}
	d := taskDetail{taskResponse: taskDTO(t), Form: t.Form, Context: t.Context, Comments: mapSlice(comments, commentDTO)}
	if d.Form == nil {
		d.Form = []domain.FormField{}
	}
	if d.Context == nil {
		d.Context = map[string]any{}
	}
	return d, nil
}

func (s *Server) getTask(c *gin.Context) {
	t, _, ok := s.loadTask(c)
	if !ok {
		return
	}
	d, err := s.taskDetail(c.Request.Context(), t)
	if err != nil {
		s.internal(c, err)
		return
	}
	writeJSON(c, http.StatusOK, d)
}

func (s *Server) claimTask(c *gin.Context) {
	s.changeTask(c, s.ClaimTask)
}

func (s *Server) unclaimTask(c *gin.Context) {
	s.changeTask(c, s.UnclaimTask)
}

// changeTask answers a claim or an unclaim of the :id task.
func (s *Server) changeTask(c *gin.Context, change func(context.Context, store.User, string) (store.Task, error)) {
	id, ok := pathID(c, "id", "task")
	if !ok {
		return
	}
	t, err := change(c.Request.Context(), me(c), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, taskDTO(t))
}

// ClaimTask has u claim task id: 404 when u may not see it, 403 unless u is a member of
// its candidate groups, 409 when it is closed or someone else holds it (all *Problem).
// Claiming a task u already holds is no error.
func (s *Server) ClaimTask(ctx context.Context, u store.User, id string) (store.Task, error) {
	t, a, err := s.TaskFor(ctx, u, id)
	switch {
	case err != nil:
		return t, err
	case !a.Claim:
		return t, problem(http.StatusForbidden, "only a member of the task's candidate groups may claim it")
	case t.Status == domain.TaskOpen && t.Assignee == u.Username:
		return t, nil // already yours
	}
	t, err = s.st.ClaimTask(ctx, t.ID, u.Username, s.now())
	if errors.Is(err, store.ErrConflict) {
		return t, conflict(takenDetail(t))
	}
	return t, err
}

func takenDetail(t store.Task) string {
	if t.Status != domain.TaskOpen {
		return "the task is " + t.Status
	}
	return "the task is already claimed by " + t.Assignee
}

// UnclaimTask has u return task id to its candidate groups: 404 when u may not see it,
// 409 when it is closed or has no group, 403 unless u holds it (all *Problem).
func (s *Server) UnclaimTask(ctx context.Context, u store.User, id string) (store.Task, error) {
	t, _, err := s.TaskFor(ctx, u, id)
	switch {
	case err != nil:
		return t, err
	case t.Status != domain.TaskOpen:
		return t, conflict("the task is " + t.Status)
	case t.Assignee != u.Username:
		return t, problem(http.StatusForbidden, "only the task's assignee may unclaim it")
	case len(t.CandidateGroups) == 0:
		return t, conflict("the task has no candidate group to return to")
	}
	t, err = s.st.UnclaimTask(ctx, t.ID, u.Username, s.now())
	if errors.Is(err, store.ErrConflict) {
		return t, conflict("the task changed meanwhile; reload it")
	}
	return t, err
}

// assignRequest is the body of POST /tasks/{id}/assign.
type assignRequest struct {
	Assignee string `json:"assignee"`
}

func (s *Server) assignTask(c *gin.Context) {
	id, ok := pathID(c, "id", "task")
	if !ok {
		return
	}
	var req assignRequest
	v, ok := decodeJSON(c, &req, false)
	if !ok {
		return
	}
	t, err := s.reassignTask(c.Request.Context(), me(c), id, req.Assignee, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, taskDTO(t))
}

// ReassignTask has u, a manager, give open task id to assignee: 404 when u may not see
// it, 403 unless u oversees its process, 409 when it is closed or bound to its case's
// handler (a task without candidate groups, such as a complaint's respond: the process
// gives the case's next steps to that handler too), and 422 (assignee) unless assignee
// is a member of its candidate groups whom the task does not exclude.
func (s *Server) ReassignTask(ctx context.Context, u store.User, id, assignee string) (store.Task, error) {
	return s.reassignTask(ctx, u, id, assignee, nil)
}

// Assignees lists who task t may be reassigned to (ReassignTask's rule), by username:
// none for a task without candidate groups.
func (s *Server) Assignees(ctx context.Context, t store.Task) ([]string, error) {
	names, err := store.UsernamesInGroups(ctx, s.st.Pool, t.CandidateGroups)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(names, func(n string) bool { return slices.Contains(t.ExcludeUsers, n) }), nil
}

func (s *Server) reassignTask(ctx context.Context, u store.User, id, assignee string, v checks) (store.Task, error) {
	t, _, err := s.TaskFor(ctx, u, id)
	switch {
	case err != nil:
		return t, err
	case !s.access.Oversees(u, t.Process):
		return t, problem(http.StatusForbidden, "only a manager of the "+t.Process+" process may reassign its tasks")
	case t.Status != domain.TaskOpen:
		return t, conflict("the task is " + t.Status)
	case len(t.CandidateGroups) == 0:
		return t, conflict("the task belongs to its case's handler and cannot be given to someone else")
	}
	v.text("assignee", assignee, true, 100)
	if !v.failed("assignee") {
		may, err := s.Assignees(ctx, t)
		if err != nil {
			return t, err
		}
		if !slices.Contains(may, assignee) {
			v.add("assignee", "is not a user who may work on this task")
		}
	}
	if p := v.problem(); p != nil {
		return t, p
	}
	t, err = s.st.ReassignTask(ctx, t.ID, u.Username, assignee, s.now())
	if errors.Is(err, store.ErrConflict) {
		return t, conflict("the task is " + t.Status)
	}
	return t, err
}

type completeRequest struct {
	Action  string         `json:"action"`
	Comment string         `json:"comment,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

type completeResponse struct {
	Task          taskResponse `json:"task"`
	ProcessStatus string       `json:"process_status"`
}

func (s *Server) completeTask(c *gin.Context) {
	t, a, ok := s.loadTask(c)
	if !ok {
		return
	}
	if !a.Act {
		forbidden(c, "you may not act on this task")
		return
	}
	var req completeRequest
	v, ok := decodeJSON(c, &req, false)
	if !ok {
		return
	}
	s.waitForWorkflow(c)
	t, status, err := s.complete(c.Request.Context(), me(c), t, CompleteInput(req), v)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, completeResponse{Task: taskDTO(t), ProcessStatus: status})
}

// CompleteInput is a completion of a task: one of its actions, an optional comment, and
// the data of its form.
type CompleteInput struct {
	Action  string
	Comment string
	Data    map[string]any
}

// CompleteTask has u complete task id with in, through the process's complete-task
// Update, as POST /api/v1/tasks/{id}/complete does: 404 when u may not see the task, 403
// unless u may act on it, 422 naming each bad field ("action", "comment", "data" or
// "data.<name>"), 409 when it is no longer open, 504 when the process does not answer
// in time (all *Problem). It returns the task as settled and the process's status. ctx
// must leave time for the Update (the web app mounts its route with HandleUpdating).
func (s *Server) CompleteTask(ctx context.Context, u store.User, id string, in CompleteInput) (store.Task, string, error) {
	t, a, err := s.TaskFor(ctx, u, id)
	if err != nil {
		return t, "", err
	}
	if !a.Act {
		return t, "", problem(http.StatusForbidden, "you may not act on this task")
	}
	var v checks
	if raw, err := json.Marshal(in.Data); err != nil || hasNUL(raw) || !utf8.Valid(raw) {
		v.add("data", "must not contain NUL characters")
	}
	return s.complete(ctx, u, t, in, v)
}

// complete checks in (adding to the checks v already holds) and sends it to the
// workflow of t, which u may act on.
func (s *Server) complete(ctx context.Context, u store.User, t store.Task, in CompleteInput, v checks) (store.Task, string, error) {
	v.text("action", in.Action, true, 100)
	v.text("comment", in.Comment, false, 10000)
	if p := v.problem(); p != nil {
		return t, "", p
	}
	if t.Status != domain.TaskOpen {
		return t, "", conflict("the task is " + t.Status)
	}
	if !slices.Contains(t.Actions, in.Action) {
		return t, "", invalid(domain.FieldError{Field: "action", Message: "must be one of: " + strings.Join(t.Actions, ", ")})
	}
	var res domain.CompleteTaskResponse
	if err := s.sendUpdate(ctx, t.WorkflowID, domain.UpdateCompleteTask, domain.CompleteTaskRequest{
		TaskID: t.ID, Action: in.Action, Actor: u.Username, Comment: in.Comment, Data: in.Data,
	}, &res, nil); err != nil {
		return t, "", err
	}
	return s.settledTask(ctx, t), res.ProcessStatus, nil
}

// NextTask is the case's next task for u after t: the first open task of the same case
// that is assigned to u, or unassigned and one u may claim, and that u may act on.
// ok is false when there is none.
func (s *Server) NextTask(ctx context.Context, u store.User, t store.Task) (next store.Task, ok bool, err error) {
	tasks, err := s.st.OpenTasksOfCase(ctx, t.Process, t.ProcessID)
	if err != nil {
		return next, false, err
	}
	for _, n := range tasks {
		if n.ID == t.ID || (n.Assignee != "" && n.Assignee != u.Username) {
			continue
		}
		a, err := s.access.Task(ctx, u, n)
		if err != nil {
			return next, false, err
		}
		if a.Act && (n.Assignee == u.Username || a.Claim) {
			return n, true, nil
		}
	}
	return next, false, nil
}

// update sends a workflow Update and waits for its result.
func (s *Server) update(ctx context.Context, workflowID, name string, arg, result any) error {
	h, err := s.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		UpdateID:   updateIDOf(ctx),
		WorkflowID: workflowID, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, result)
}

// updateProblem maps a workflow Update error to a problem, or nil for a 500.
func (s *Server) updateProblem(err error) *Problem {
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	switch {
	case errors.As(err, &appErr):
		switch appErr.Type() {
		case domain.ErrTypeTaskClosed:
			return conflict("the task is no longer open: " + appErr.Message())
		case domain.ErrTypeNotAccepting:
			return conflict("the process does not accept this now: " + appErr.Message())
		case domain.ErrTypeInvalidAction:
			return invalid(domain.FieldError{Field: "action", Message: appErr.Message()})
		case domain.ErrTypeInvalidData:
			var fields []domain.FieldError
			if appErr.HasDetails() {
				_ = appErr.Details(&fields)
			}
			for i := range fields {
				// The form's fields are under data; the completion's own comment (which
				// some actions require: TaskSpec.CommentRequired) is not.
				if !strings.HasPrefix(fields[i].Field, "data.") && fields[i].Field != "comment" {
					fields[i].Field = "data." + fields[i].Field
				}
			}
			if len(fields) == 0 {
				fields = []domain.FieldError{{Field: "data", Message: appErr.Message()}}
			}
			return invalid(fields...)
		}
	case errors.As(err, &notFound):
		return conflict("the process is no longer running")
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusGatewayTimeout, "the process did not answer in time; reload the task to see whether it was taken")
	}
	return nil
}

// settledTask re-reads a task after its completion, waiting briefly for the workflow to
// close the row.
func (s *Server) settledTask(ctx context.Context, t store.Task) store.Task {
	deadline := time.Now().Add(s.settle)
	for {
		cur, err := s.st.TaskByID(ctx, t.ID)
		if err == nil {
			t = cur
		}
		if t.Status != domain.TaskOpen || time.Now().After(deadline) || ctx.Err() != nil {
			return t
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type commentRequest struct {
	Text string `json:"text"`
}

func (s *Server) commentTask(c *gin.Context) {
	t, _, ok := s.loadTask(c)
	if !ok {
		return
	}
	var req commentRequest
	v, ok := decodeJSON(c, &req, false)
	if !ok {
		return
	}
	cm, err := s.comment(c.Request.Context(), me(c), t, req.Text, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusCreated, commentDTO(cm))
}

// CommentTask adds u's comment text to task id, as POST /api/v1/tasks/{id}/comments
// does: 404 when u may not see the task, 422 (field "text") when text is blank, too
// long or not text (all *Problem).
func (s *Server) CommentTask(ctx context.Context, u store.User, id, text string) (store.TaskComment, error) {
	t, _, err := s.TaskFor(ctx, u, id)
	if err != nil {
		return store.TaskComment{}, err
	}
	return s.comment(ctx, u, t, text, nil)
}

func (s *Server) comment(ctx context.Context, u store.User, t store.Task, text string, v checks) (store.TaskComment, error) {
	v.text("text", text, true, 10000)
	if p := v.problem(); p != nil {
		return store.TaskComment{}, p
	}
	return s.st.AddTaskComment(ctx, t, u.Username, text, s.now())
}
