package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// processRoutes mounts each process's routes under /api/v1. A process's own file adds
// its entry (in an init func), and routes mounts the routes of every process in
// workflows.Registry, refusing to start when one has none.
var processRoutes = map[string]func(s *Server, v1 *gin.RouterGroup){}

// caseAccess decides whether u may see one case of a process (its page, its timeline),
// as the process's own read route does: nil, or a 404 *Problem. A process's own file
// adds its entry beside its routes; SeesCase and CaseTimeline ask it.
var caseAccess = map[string]func(s *Server, ctx context.Context, u store.User, id string) error{}

// SeesCase reports whether u may see case id of process proc. Users who see every case
// of the process are answered without a query (the inbox asks it for every row), so for
// them an unknown id is not told apart: its page answers 404.
func (s *Server) SeesCase(ctx context.Context, u store.User, proc, id string) (bool, error) {
	if s.access.SeesAll(u, proc) {
		return true, nil
	}
	check, ok := caseAccess[proc]
	if !ok {
		return false, nil
	}
	err := check(s, ctx, u, id)
	if p, isProblem := errors.AsType[*Problem](err); isProblem && p.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// CaseTimeline returns the audit timeline of case id of process proc for u, oldest
// first: a 404 *Problem when u may not see the case.
func (s *Server) CaseTimeline(ctx context.Context, u store.User, proc, id string) ([]store.TimelineEntry, error) {
	ok, err := s.SeesCase(ctx, u, proc, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, problem(http.StatusNotFound, proc+" not found")
	}
	return s.st.Timeline(ctx, id)
}

// The functions every process's routes use to start and act on a workflow. Each gives
// the request the workflow deadline (waitForWorkflow) itself, so that no route that
// starts or updates a workflow can be left with the plain database deadline.

// caseStart is what a process's create route hands to startCase for a new case with
// business id id: the workflow input, the 201 body, and the read-model row it writes
// in tx; or a 4xx *Problem when the case cannot be created (nothing it wrote is kept,
// and an idempotency key is forgotten, so the corrected request may reuse it). The row
// is written before the workflow starts and commits with the idempotency record, so the
// workflow's first projection finds it.
type caseStart func(ctx context.Context, tx pgx.Tx, id string) (input, body any, err error)

// startCase creates one case of process p for u: under the idempotency key rules of
// createKeyed (key "" for none, scoped like the process's create route), it runs
// prepare, then starts the workflow <process>/<id> with its input. A start that fails
// is a 503 *Problem and rolls back the row, so a retry with the same key starts afresh;
// a retried start of a workflow that already runs starts nothing new. The caller gives
// the request the workflow deadline first (waitForWorkflow, or a route mounted with
// HandleUpdating).
func (s *Server) startCase(ctx context.Context, u store.User, p domain.Process, key string, req any, prepare caseStart) (store.IdempotentResult, error) {
	return s.createKeyed(ctx, u, createScope(p), key, req, p.IDPrefix, func(ctx context.Context, tx pgx.Tx, id string) (any, *Problem, error) {
		input, body, err := prepare(ctx, tx, id)
		if p, ok := errors.AsType[*Problem](err); ok && p.Status < 500 {
			return nil, p, nil // nothing was created: the key is forgotten
		}
		if err != nil {
			return nil, nil, err
		}
		if err := s.startWorkflow(ctx, p, id, input); err != nil {
			pr := problem(http.StatusServiceUnavailable, "the "+p.Name+" process could not be started; retry with the same Idempotency-Key")
			pr.Type = typeUnavailable
			s.log.Error("start workflow", "err", err, "process", p.Name, "process_id", id)
			return nil, nil, pr
		}
		return body, nil, nil
	})
}

// createScope is the idempotency scope of process p's create route, POST
// /api/v1/<process>s: the web app's form shares it, so a key means one case whichever
// way it was sent.
func createScope(p domain.Process) string { return http.MethodPost + " " + createPath(p) }

// createPath is the path of process p's create route (and, with "/<id>", of a case).
func createPath(p domain.Process) string { return "/api/v1/" + p.CasePath() }

// createdBody is the 201 body startCase stored (or replays) as T, or err.
func createdBody[T any](res store.IdempotentResult, err error) (T, error) {
	var out T
	if err == nil {
		err = json.Unmarshal(res.Body, &out)
	}
	return out, err
}

// startWorkflow starts the workflow of case id of p. A start for an id that already
// runs or ran is not an error: a retried request starts nothing new.
func (s *Server) startWorkflow(ctx context.Context, p domain.Process, id string, input any) error {
	_, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       p.WorkflowID(id),
		TaskQueue:                s.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, p.WorkflowType, input)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// updateCase sends a workflow Update to workflowID and waits up to UpdateTimeout for
// its result. On error it answers the problem itself (409, 422, 504, else 500), trying
// mapErr first when it is not nil, and reports false.
func (s *Server) updateCase(c *gin.Context, workflowID, name string, arg, result any, mapErr func(error) *Problem) bool {
	s.waitForWorkflow(c)
	if err := s.sendUpdate(c.Request.Context(), workflowID, name, arg, result, mapErr); err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

// sendUpdate sends a workflow Update to workflowID and waits up to UpdateTimeout for its
// result. An error it can name is a *Problem (409, 422, 504), from mapErr first when it
// is not nil; any other error is returned as it is (a 500).
func (s *Server) sendUpdate(ctx context.Context, workflowID, name string, arg, result any, mapErr func(error) *Problem) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.UpdateTimeout)
	defer cancel()
	err := s.update(ctx, workflowID, name, arg, result)
	if err == nil {
		return nil
	}
	var p *Problem
	if mapErr != nil {
		p = mapErr(err)
	}
	if p == nil {
		p = s.updateProblem(err)
	}
	if p == nil {
		return err
	}
	return p
}

// invalidDataFields reads the fields at fault of a workflow's InvalidData rejection (its
// details), else a field named fallback with the rejection's message; ok is false for
// any other error.
func invalidDataFields(err error, fallback string) (fields []domain.FieldError, ok bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != domain.ErrTypeInvalidData {
		return nil, false
	}
	if appErr.HasDetails() {
		_ = appErr.Details(&fields)
	}
	if len(fields) == 0 {
		fields = []domain.FieldError{{Field: fallback, Message: appErr.Message()}}
	}
	return fields, true
}

// decodeUpdateBody decodes the body of an Update route into body (optional: an empty
// body is {}), answering 400 or 422 itself and reporting false when it is not good.
func decodeUpdateBody(c *gin.Context, body any, optional bool) bool {
	v, ok := decodeJSON(c, body, optional)
	if !ok {
		return false
	}
	if p := v.problem(); p != nil {
		writeProblem(c, p)
		return false
	}
	return true
}

// updateIDKey carries the id an Update is sent with (updateIDOf).
type updateIDKey struct{}

// withUpdateKey makes the Updates sent with ctx idempotent under the client's
// Idempotency-Key key: the Update's id is derived from the Update, the user and the
// key, and the workflow takes an Update id once, answering a repeat with the first
// one's result. key "" leaves ctx as it is (every Update is new). A 422 *Problem names
// an invalid key.
func withUpdateKey(ctx context.Context, name string, u store.User, key string) (context.Context, error) {
	if key == "" {
		return ctx, nil
	}
	if len(key) > 255 || !validRequestID(key) {
		return ctx, invalid(domain.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 visible ASCII characters"})
	}
	return context.WithValue(ctx, updateIDKey{}, name+"/"+u.Username+"/"+key), nil
}

// updateIDOf is the Update id withUpdateKey put in ctx, or "" (the SDK makes one up).
func updateIDOf(ctx context.Context) string {
	id, _ := ctx.Value(updateIDKey{}).(string)
	return id
}
