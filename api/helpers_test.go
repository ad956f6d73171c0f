package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/internal/temporaltest"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

// fakeTemporal implements the parts of client.Client the API calls. Any other method
// panics through the nil embedded interface.
type fakeTemporal struct {
	client.Client

	mu         sync.Mutex
	starts     []startCall
	startErr   error
	startDelay time.Duration
	updates    []client.UpdateWorkflowOptions
	onUpdate   func(client.UpdateWorkflowOptions) (any, error)
	// updateDelay is how long the workflow takes to answer an Update; the caller's
	// context ending first fails it, as with the real client.
	updateDelay time.Duration
	healthErr   error
	schedules   *fakeSchedules // ScheduleClient (surveys_test.go)
}

type startCall struct {
	opts     client.StartWorkflowOptions
	workflow any
	args     []any
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	time.Sleep(f.startDelay)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		f.starts = append(f.starts, startCall{opts, workflow, args}) // attempted
		return nil, f.startErr
	}
	f.starts = append(f.starts, startCall{opts, workflow, args})
	return fakeRun{id: opts.ID}, nil
}

func (f *fakeTemporal) UpdateWorkflow(ctx context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	f.updates = append(f.updates, opts)
	on, delay := f.onUpdate, f.updateDelay
	f.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if on == nil {
		return temporaltest.UpdateHandle{Val: domain.CompleteTaskResponse{ProcessStatus: "evaluating"}}, nil
	}
	v, err := on(opts)
	return temporaltest.UpdateHandle{Val: v, Err: err}, nil
}

func (f *fakeTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &client.CheckHealthResponse{}, f.healthErr
}

func (f *fakeTemporal) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts)
}

func (f *fakeTemporal) lastUpdate() client.UpdateWorkflowOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updates[len(f.updates)-1]
}

type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string    { return r.id }
func (r fakeRun) GetRunID() string { return "run-1" }

// env is a server on a fresh database with the demo organisation and one token each.
type env struct {
	t      *testing.T
	st     *store.Store
	tc     *fakeTemporal
	srv    *Server
	tokens map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := newServerEnv(t)
	e.t = t
	return e
}

// newServerEnv is newEnv for a fuzz target: e.t is nil, so use e.srv directly.
func newServerEnv(t testing.TB) *env {
	t.Helper()
	st := storetest.New(t, "api")
	ctx := context.Background()
	tc := &fakeTemporal{}
	policy := domain.DefaultComplaintPolicy()
	srv := New(Config{PublicURL: "http://example.test", ComplaintPolicy: policy, UpdateTimeout: 5 * time.Second}, st, tc,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.settle = 0
	e := &env{st: st, tc: tc, srv: srv, tokens: map[string]string{}}
	users := []store.UserInput{
		{Username: "judy", Roles: []string{string(domain.RoleGeneralManager)}},
		{Username: "admin", Roles: []string{string(domain.RoleAdmin)}},
		{Username: "dave", Roles: []string{string(domain.RoleServiceManager)}, Manager: "judy"},
		{Username: "bob", Roles: []string{string(domain.RoleSalesManager)}, Manager: "judy"},
		{Username: "carol", Roles: []string{string(domain.RoleCustomerService)}, Manager: "dave"},
		{Username: "cathy", Roles: []string{string(domain.RoleCustomerService)}, Manager: "dave"},
		{Username: "olivia", Roles: []string{string(domain.RoleCustomerService)}, Manager: "dave", Delegate: "carol", OutOfOffice: true},
		{Username: "alice", Roles: []string{string(domain.RoleSalesRep)}, Manager: "bob"},
		{Username: "aaron", Roles: []string{string(domain.RoleSalesRep)}, Manager: "bob"},
		{Username: "erin", Roles: []string{string(domain.RoleFinance)}},
		{Username: "frank", Roles: []string{string(domain.RoleQuality)}},
	}
	for _, u := range users {
		u.Email = u.Username + "@example.test"
		u.DisplayName = strings.ToUpper(u.Username[:1]) + u.Username[1:]
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, err := st.CreateToken(ctx, u.Username, "test")
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.Username] = tok
	}
	for _, c := range []store.CustomerInput{
		{ID: "cus_acme", Name: "Acme", Email: "buyer@acme.test", Locale: "en", Tier: "A", Owner: "alice"},
		{ID: "cus_globex", Name: "Globex 环球", Email: "li@globex.test", Locale: "zh-CN", Tier: "C", Owner: "aaron"},
	} {
		if _, err := st.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// resp is a recorded response.
type resp struct {
	*httptest.ResponseRecorder
	t *testing.T
}

// do sends a request as user ("" for none). body is a string (sent as is) or a value
// encoded as JSON. hdr lists extra header name/value pairs.
func (e *env) do(method, path, user string, body any, hdr ...string) resp {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return resp{w, e.t}
}

// doForm posts a form-encoded body without auth.
func (e *env) doForm(path, body string) resp {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return resp{w, e.t}
}

// want fails the test unless the status is code.
func (r resp) want(code int) resp {
	r.t.Helper()
	if r.Code != code {
		r.t.Fatalf("status %d, want %d: %s", r.Code, code, r.Body.String())
	}
	return r
}

// json decodes the body into a generic map.
func (r resp) json() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body.Bytes(), &m); err != nil {
		r.t.Fatalf("decode %q: %v", r.Body.String(), err)
	}
	return m
}

// problem checks an application/problem+json body and returns it.
func (r resp) problem(code int) Problem {
	r.t.Helper()
	r.want(code)
	if ct := r.Header().Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("content type %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.Unmarshal(r.Body.Bytes(), &p); err != nil {
		r.t.Fatal(err)
	}
	var raw map[string]any
	_ = json.Unmarshal(r.Body.Bytes(), &raw)
	for _, k := range []string{"type", "title", "status", "detail", "errors"} {
		if _, ok := raw[k]; !ok {
			r.t.Fatalf("problem without %q: %s", k, r.Body.String())
		}
	}
	if p.Status != code || p.Type == "" || p.Title == "" {
		r.t.Fatalf("bad problem: %+v", p)
	}
	return p
}

// fieldNames lists the fields of a problem's errors.
func fieldNames(p Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// items returns the ids of a list page and its next cursor.
func (r resp) items() ([]string, string) {
	r.t.Helper()
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.Body.Bytes(), &page); err != nil {
		r.t.Fatal(err)
	}
	if page.Items == nil {
		r.t.Fatalf("items missing or null: %s", r.Body.String())
	}
	ids := make([]string, len(page.Items))
	for i, it := range page.Items {
		ids[i], _ = it["id"].(string)
	}
	next := ""
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return ids, next
}

// taskRow describes a task row to insert in tests.
type taskRow struct {
	id, process, processID, step, assignee, delegatedFrom, status string
	groups, exclude, actions                                      []string
	priority                                                      int
	due                                                           time.Time
}

func (e *env) insertTask(r taskRow) {
	e.t.Helper()
	if r.process == "" {
		r.process = domain.ProcessComplaint
	}
	if r.processID == "" {
		r.processID = "cmp_test"
	}
	if r.step == "" {
		r.step = domain.StepEvaluate
	}
	if r.status == "" {
		r.status = domain.TaskOpen
	}
	if r.actions == nil {
		r.actions = []string{"accept"}
	}
	if r.groups == nil {
		r.groups = []string{}
	}
	if r.exclude == nil {
		r.exclude = []string{}
	}
	if r.due.IsZero() {
		r.due = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	}
	form := `[{"name":"category","type":"enum","required":true,"options":["product","delivery"]}]`
	_, err := e.st.Pool.Exec(context.Background(), `INSERT INTO tasks (id, workflow_id, process, process_id, step, title,
		assignee, delegated_from, candidate_groups, exclude_users, status, priority, actions, form, context, due_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), NULLIF($8, ''), $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		r.id, r.process+"/"+r.processID, r.process, r.processID, r.step, "Task "+r.id, r.assignee, r.delegatedFrom,
		r.groups, r.exclude, r.status, r.priority, r.actions, form, `{"subject":"Broken pump"}`, r.due,
		time.Date(2029, 12, 31, 0, 0, 0, 0, time.UTC))
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) taskStatus(id string) (status, assignee string) {
	e.t.Helper()
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT status, COALESCE(assignee, '') FROM tasks WHERE id = $1`, id).
		Scan(&status, &assignee); err != nil {
		e.t.Fatal(err)
	}
	return status, assignee
}

// auditEvents lists the events recorded on a process.
func (e *env) auditEvents(processID string) []string {
	e.t.Helper()
	tl, err := e.st.Timeline(context.Background(), processID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, x := range tl {
		out = append(out, x.Event)
	}
	return out
}
