package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/internal/temporaltest"
	"github.com/serviceflow/serviceflow/workflows"
)

// fakeTemporal answers the workflow Updates of the API: onUpdate plays the workflow.
// It records workflow starts (failing them with startErr). Any other method panics
// through the nil embedded interface.
type fakeTemporal struct {
	client.Client
	mu       sync.Mutex
	updates  []client.UpdateWorkflowOptions
	onUpdate func(client.UpdateWorkflowOptions) (any, error)
	starts   []client.StartWorkflowOptions
	startErr error
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, opts)
	if f.startErr != nil {
		return nil, f.startErr
	}
	return fakeRun{id: opts.ID}, nil
}

// fakeRun is a started workflow run.
type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string    { return r.id }
func (r fakeRun) GetRunID() string { return "run-" + r.id }

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	f.updates = append(f.updates, opts)
	on := f.onUpdate
	f.mu.Unlock()
	v, err := on(opts)
	return temporaltest.UpdateHandle{Val: v, Err: err}, nil
}

func (f *fakeTemporal) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.updates) }

var evaluateForm = []domain.FormField{
	{Name: "category", Type: "enum", Required: true, Options: domain.ComplaintCategories},
	{Name: "severity", Type: "enum", Required: true, Options: domain.ComplaintSeverities},
}

// insertFull inserts a complaint task of case cmp_1 with its form, context and actions.
func (e *env) insertFull(id, step, assignee string, actions []string, form []domain.FormField) {
	e.t.Helper()
	now := e.clock.now()
	_, err := e.st.Pool.Exec(context.Background(), `INSERT INTO tasks (id, workflow_id, process, process_id, step, title,
		assignee, candidate_groups, exclude_users, status, priority, actions, form, context, due_at, created_at, escalation_level)
		VALUES ($1, 'complaint/cmp_1', 'complaint', 'cmp_1', $2, $3, NULLIF($4, ''), '{customer_service}', '{}', 'open', 0,
		$5, $6, $7, $8, $9, 1)`,
		id, step, "Evaluate complaint: Spindle vibrates", assignee, actions, form,
		map[string]any{"complaint_id": "cmp_1", "subject": "Spindle vibrates at 3000 rpm", "customer_name": "Northwind Machinery",
			"description":   "Since the last service the spindle vibrates.\nThe operator stopped the machine.",
			"customer_tier": "A", "channel": "phone", "severity": "normal", "order_id": ""},
		now.Add(5*time.Hour), now.Add(-time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) status(id string) string {
	e.t.Helper()
	var s string
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT status FROM tasks WHERE id = $1`, id).Scan(&s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// workflow plays the complaint workflow's complete-task Update: it validates the data
// against the task's form with the workflow's own ValidateForm, closes the row and,
// after evaluate, opens respond for the same person.
func (e *env) workflow(forms map[string][]domain.FormField) func(client.UpdateWorkflowOptions) (any, error) {
	return func(o client.UpdateWorkflowOptions) (any, error) {
		req := o.Args[0].(domain.CompleteTaskRequest)
		// Through JSON, as Temporal carries it.
		b, _ := json.Marshal(req.Data)
		var data map[string]any
		_ = json.Unmarshal(b, &data)
		if errs := workflows.ValidateForm(forms[req.TaskID], req.Action, data); len(errs) > 0 {
			return nil, temporal.NewApplicationError("invalid data", domain.ErrTypeInvalidData, errs)
		}
		if e.status(req.TaskID) != domain.TaskOpen {
			return nil, temporal.NewApplicationError("task closed", domain.ErrTypeTaskClosed)
		}
		if _, err := e.st.Pool.Exec(context.Background(), `UPDATE tasks SET status = 'completed', completed_by = $2,
			action = $3, completed_at = now() WHERE id = $1`, req.TaskID, req.Actor, req.Action); err != nil {
			return nil, err
		}
		if req.TaskID == "ev1" {
			e.insertFull("rs1", "respond", req.Actor, []string{"respond"}, []domain.FormField{{Name: "message", Type: "text", Required: true}})
		}
		return domain.CompleteTaskResponse{TaskID: req.TaskID, ProcessStatus: "responding"}, nil
	}
}

// field returns the form field block of name in body.
func field(body, name string) string {
	return regexp.MustCompile(`(?s)<div class="field[^"]*" id="field-` + regexp.QuoteMeta(name) + `">.*?</div>`).FindString(body)
}

func TestTaskPage(t *testing.T) {
	tc := &fakeTemporal{}
	e := newEnvWith(t, Config{}, tc)
	e.insertFull("ev1", "evaluate", "carol", []string{"accept"}, evaluateForm)
	tc.onUpdate = e.workflow(map[string][]domain.FormField{"ev1": evaluateForm,
		"rs1": {{Name: "message", Type: "text", Required: true}}})
	carol := e.session("carol")

	// The inbox links the row to its page.
	if r := row(e.req(http.MethodGet, "/", carol, nil).Body.String(), "ev1"); !strings.Contains(r, `<a href="/tasks/ev1"`) ||
		!strings.Contains(r, `<a href="/complaints/cmp_1" class="pid case-link">cmp_1</a>`) {
		t.Fatalf("inbox row without a link to its page and its case's: %s", r)
	}

	w := e.req(http.MethodGet, "/tasks/ev1", carol, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("task page: %d %s", w.Code, body)
	}
	for _, want := range []string{
		"<h1>Evaluate complaint: Spindle vibrates</h1>", `href="/" id="back-to-inbox"`, "Complaint", "Step: Evaluate",
		`class="badge due-ok"`, "5h left", "Level 1", `<a href="/complaints/cmp_1" id="task-case">Open the case</a>`,
		// the context, readable: labels from the catalogue, the description as a paragraph
		"<dt>Subject</dt>", "Spindle vibrates at 3000 rpm", `<div class="ctx-item long" id="ctx-description"><dt>Description</dt>`,
		"The operator stopped the machine.", "<dt>Customer</dt>", "Northwind Machinery", "<dt>Customer tier</dt>",
		`<div class="ctx-item" id="ctx-channel"><dt>Channel</dt>` + "\n  <dd>Phone</dd>",
		// the form from the schema: enum → select with its options
		`<select id="f-category" name="f.category" aria-required="true">`, `<option value="delivery">Delivery</option>`,
		`<label for="f-severity">Severity`, `<option value="urgent">Urgent</option>`,
		// an enum the case already has a value for starts from it (the severity as filed)
		`<option value="normal" selected>Normal</option>`,
		`<textarea id="f-comment" name="comment"`,
		// one button per action
		`<button type="submit" name="action" value="accept" id="action-accept">Accept</button>`,
		// the comment thread
		`id="thread-empty"`, `action="/tasks/ev1/comments"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("task page lacks %q", want)
		}
	}
	// No identifier is shown (the case link's address is the only place the case id is).
	shown := strings.Replace(body, `href="/complaints/cmp_1"`, "", 1)
	for _, bad := range []string{"complaint_id", "cmp_1", "order_id", "Order", "style=", "<script>"} {
		if strings.Contains(shown, bad) {
			t.Errorf("task page has %q", bad)
		}
	}

	// A bad value: the workflow's 422 shows on the field at fault, what was typed is kept.
	w = e.req(http.MethodPost, "/tasks/ev1/complete", carol, url.Values{"action": {"accept"},
		"f.category": {"weather"}, "f.severity": {"urgent"}, "comment": {"first look"}})
	body = w.Body.String()
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad category: %d %s", w.Code, body)
	}
	if f := field(body, "category"); !strings.Contains(f, `class="field-error" id="f-category-error" role="alert">must be one of product, delivery, service, communication<`) ||
		!strings.Contains(f, `aria-invalid="true" aria-describedby="f-category-error"`) {
		t.Errorf("category field after the 422: %s", f)
	}
	if f := field(body, "severity"); strings.Contains(f, "field-error") || !strings.Contains(f, `<option value="urgent" selected>`) {
		t.Errorf("severity field after the 422 (no error, value kept): %s", f)
	}
	if !strings.Contains(body, ">first look</textarea>") || e.status("ev1") != domain.TaskOpen {
		t.Errorf("the comment was not kept or the task closed")
	}
	// A missing required value, in the user's language.
	w = e.req(http.MethodPost, "/tasks/ev1/complete", carol, url.Values{"action": {"accept"}, "f.severity": {"normal"}})
	if f := field(w.Body.String(), "category"); w.Code != http.StatusUnprocessableEntity || !strings.Contains(f, "This is required.") {
		t.Errorf("missing category: %d %s", w.Code, f)
	}

	// A valid completion goes through the workflow's Update, then opens the case's next
	// task, which the same person has.
	w = e.req(http.MethodPost, "/tasks/ev1/complete", carol, url.Values{"action": {"accept"},
		"f.category": {"product"}, "f.severity": {"urgent"}, "comment": {"checked with the plant"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/tasks/rs1" {
		t.Fatalf("complete: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	u := tc.updates[len(tc.updates)-1]
	req := u.Args[0].(domain.CompleteTaskRequest)
	if u.WorkflowID != "complaint/cmp_1" || u.UpdateName != domain.UpdateCompleteTask || req.TaskID != "ev1" ||
		req.Action != "accept" || req.Actor != "carol" || req.Comment != "checked with the plant" ||
		req.Data["category"] != "product" || req.Data["severity"] != "urgent" || len(req.Data) != 2 {
		t.Fatalf("the Update: %s %s %+v", u.WorkflowID, u.UpdateName, req)
	}
	if e.status("ev1") != domain.TaskCompleted {
		t.Fatal("ev1 is still open")
	}
	body = e.get("/tasks/rs1", carol, w)
	if !strings.Contains(body, "Done: “Evaluate complaint: Spindle vibrates”. Here is the case&#39;s next task.") ||
		!strings.Contains(body, `<textarea id="f-message" name="f.message"`) {
		t.Fatalf("next task page: %s", body)
	}
	// The completed task's page says so and has no form.
	body = e.req(http.MethodGet, "/tasks/ev1", carol, nil).Body.String()
	if !strings.Contains(body, "This task is done: carol completed it.") || strings.Contains(body, `id="complete-form"`) {
		t.Errorf("completed task page: %s", body)
	}
	// Completing it again: the 409 is a notice, never a raw 409.
	w = e.req(http.MethodPost, "/tasks/ev1/complete", carol, url.Values{"action": {"accept"}, "f.category": {"product"}, "f.severity": {"urgent"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/tasks/ev1" {
		t.Fatalf("second completion: %d %v", w.Code, w.Header())
	}
	if body := e.get("/tasks/ev1", carol, w); !strings.Contains(body, "This task is no longer open.") || strings.Contains(body, "409") {
		t.Errorf("second completion shows: %s", body)
	}

	// The last task of the case for carol: back to the inbox with a notice.
	n := tc.count()
	w = e.req(http.MethodPost, "/tasks/rs1/complete", carol, url.Values{"action": {"respond"}, "f.message": {"We replace the bearing.\nRegards"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" || tc.count() != n+1 {
		t.Fatalf("respond: %d %v", w.Code, w.Header())
	}
	if got := tc.updates[n].Args[0].(domain.CompleteTaskRequest).Data["message"]; got != "We replace the bearing.\nRegards" {
		t.Errorf("message sent as %q", got)
	}
	if body := e.get("/", carol, w); !strings.Contains(body, "Done: “Evaluate complaint: Spindle vibrates”.") {
		t.Errorf("inbox after the last task: %s", body)
	}
}

func TestTaskPageClaimAndAccess(t *testing.T) {
	tc := &fakeTemporal{}
	e := newEnvWith(t, Config{}, tc)
	e.insertFull("ev2", "evaluate", "", []string{"accept"}, evaluateForm)
	tc.onUpdate = e.workflow(map[string][]domain.FormField{"ev2": evaluateForm})
	carol, cathy, alice := e.session("carol"), e.session("cathy"), e.session("alice")

	// Unassigned: carol may claim it from the page.
	body := e.req(http.MethodGet, "/tasks/ev2", carol, nil).Body.String()
	if !strings.Contains(body, `action="/tasks/ev2/claim"`) || !strings.Contains(body, `id="task-claim"`) {
		t.Fatalf("unassigned task without a claim button: %s", body)
	}
	// Cathy claims it first; carol's claim loses the race and says who has it.
	if w := e.req(http.MethodPost, "/tasks/ev2/claim", cathy, url.Values{"back": {"task"}}); w.Code != http.StatusSeeOther ||
		w.Header().Get("Location") != "/tasks/ev2" || e.assignee("ev2") != "cathy" {
		t.Fatalf("cathy's claim: %d %v", w.Code, w.Header())
	}
	w := e.req(http.MethodPost, "/tasks/ev2/claim", carol, url.Values{"back": {"task"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/tasks/ev2" {
		t.Fatalf("carol's late claim: %d %v", w.Code, w.Header())
	}
	body = e.get("/tasks/ev2", carol, w)
	if !strings.Contains(body, "Too late: cathy has this task.") || !strings.Contains(body, `id="task-held">cathy has it`) ||
		strings.Contains(body, "409") || strings.Contains(body, `id="complete-form"`) || strings.Contains(body, `id="task-claim"`) {
		t.Fatalf("carol's page after the lost race: %s", body)
	}
	// Nor may carol complete cathy's task (403 → a notice), and nothing reaches the workflow.
	w = e.req(http.MethodPost, "/tasks/ev2/complete", carol, url.Values{"action": {"accept"}, "f.category": {"product"}, "f.severity": {"normal"}})
	if body := e.get("/tasks/ev2", carol, w); w.Code != http.StatusSeeOther || !strings.Contains(body, "You may not do that with this task.") || tc.count() != 0 {
		t.Fatalf("carol completing cathy's task: %d, %d updates", w.Code, tc.count())
	}

	// Alice (a sales rep) may not see the task: 404, for the page and for every form.
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/tasks/ev2"}, {http.MethodPost, "/tasks/ev2/complete"}, {http.MethodPost, "/tasks/ev2/comments"},
		{http.MethodGet, "/tasks/nope"},
	} {
		w := e.req(c.method, c.path, alice, url.Values{"action": {"accept"}, "text": {"hi"}})
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "Task not found") ||
			strings.Contains(w.Body.String(), "Spindle") {
			t.Errorf("alice %s %s: %d %s", c.method, c.path, w.Code, w.Body.String())
		}
	}
	if tc.count() != 0 {
		t.Fatal("alice reached the workflow")
	}

	// A completion from another site is refused before it reaches anything.
	w = e.req(http.MethodPost, "/tasks/ev2/complete", cathy, url.Values{"action": {"accept"}, "f.category": {"product"}, "f.severity": {"normal"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if w.Code != http.StatusForbidden || tc.count() != 0 || e.status("ev2") != domain.TaskOpen {
		t.Fatalf("cross-site completion: %d, %d updates", w.Code, tc.count())
	}
	// The same form from the app's own page completes it.
	w = e.req(http.MethodPost, "/tasks/ev2/complete", cathy, url.Values{"action": {"accept"}, "f.category": {"service"}, "f.severity": {"normal"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" || tc.count() != 1 || e.status("ev2") != domain.TaskCompleted {
		t.Fatalf("cathy's completion: %d %v, %d updates", w.Code, w.Header(), tc.count())
	}
}

func TestTaskComments(t *testing.T) {
	e := newEnv(t, Config{})
	e.insertFull("ev3", "evaluate", "cathy", []string{"accept"}, evaluateForm)
	carol, cathy := e.session("carol"), e.session("cathy")
	// Carol, of cathy's group, sees the task and may comment on it, but not act on it.
	body := e.req(http.MethodGet, "/tasks/ev3", carol, nil).Body.String()
	if !strings.Contains(body, `id="task-no-act"`) || strings.Contains(body, `id="complete-form"`) {
		t.Fatalf("carol on cathy's task: %s", body)
	}
	w := e.req(http.MethodPost, "/tasks/ev3/comments", carol, url.Values{"text": {"The customer called again <b>twice</b>."}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/tasks/ev3#comments" {
		t.Fatalf("comment: %d %v", w.Code, w.Header())
	}
	body = e.get("/tasks/ev3", cathy, w)
	if !strings.Contains(body, "<strong>carol</strong>") || !strings.Contains(body, "The customer called again &lt;b&gt;twice&lt;/b&gt;.") {
		t.Fatalf("thread: %s", body)
	}
	// An empty comment: its error on the comment field, nothing stored.
	w = e.req(http.MethodPost, "/tasks/ev3/comments", cathy, url.Values{"text": {"  "}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `id="new-comment-error" role="alert">此项为必填项。`) {
		t.Fatalf("empty comment: %d %s", w.Code, w.Body.String())
	}
	if n := strings.Count(w.Body.String(), "<li><p class=\"by\">"); n != 1 {
		t.Fatalf("%d comments after the empty one", n)
	}
	// Cathy's page is in Chinese.
	for _, want := range []string{"待决定的内容", "描述", "受理", "评论", "类别"} {
		if !strings.Contains(body, want) {
			t.Errorf("cathy's task page lacks %q", want)
		}
	}
}

// A staff e-mail's task link opens the sign-in page, which goes on to the task; a next
// page that is not a task page goes to the inbox.
func TestSignInGoesOnToTheTask(t *testing.T) {
	e := newEnv(t, Config{})
	e.insertFull("ev4", "evaluate", "carol", []string{"accept"}, evaluateForm)
	w := e.req(http.MethodGet, "/tasks/ev4", "", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/signin?next=%2Ftasks%2Fev4" {
		t.Fatalf("signed-out task page: %d %v", w.Code, w.Header())
	}
	if body := e.req(http.MethodGet, "/signin?next=%2Ftasks%2Fev4", "", nil).Body.String(); !strings.Contains(body, `<input type="hidden" name="next" value="/tasks/ev4">`) {
		t.Fatalf("sign-in page without the next page: %s", body)
	}
	for next, want := range map[string]string{"/tasks/ev4": "/tasks/ev4", "//evil.example/tasks/x": "/", "https://evil.example/": "/",
		"/tasks/ev4/../../x": "/", "": "/"} {
		w := e.req(http.MethodPost, "/signin", "", url.Values{"username": {"carol"}, "password": {testPassword}, "next": {next}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
			t.Errorf("sign-in with next %q: %d %q, want %q", next, w.Code, w.Header().Get("Location"), want)
		}
	}
	if body := e.req(http.MethodGet, "/signin?next=https%3A%2F%2Fevil.example%2F", "", nil).Body.String(); strings.Contains(body, `name="next"`) {
		t.Error("the sign-in page carries a foreign next page")
	}
}

// formData types each value as the form schema says, only for the fields of the clicked
// action; a value that does not parse is sent as typed, for the process to name.
func TestFormData(t *testing.T) {
	form := []domain.FormField{
		{Name: "score", Type: "integer"}, {Name: "count", Type: "integer"}, {Name: "price", Type: "money"},
		{Name: "attendees", Type: "list"}, {Name: "report", Type: "text"}, {Name: "kind", Type: "enum", Options: []string{"a"}},
		{Name: "why", Type: "text", Actions: []string{"reject"}}, {Name: "empty", Type: "string"},
	}
	v := url.Values{"f.score": {" 4 "}, "f.count": {"four"}, "f.price": {"1200.50"}, "f.price.currency": {"cny"},
		"f.attendees": {"dave\r\n\n  erin \nfrank"}, "f.report": {"  line 1\nline 2"}, "f.kind": {"a"}, "f.why": {"no"},
		"f.empty": {"  "}, "f.unknown": {"x"}}
	got, _ := json.Marshal(formData(form, "approve", v, time.UTC))
	want := `{"attendees":["dave","erin","frank"],"count":"four","kind":"a","price":{"amount":"1200.50","currency":"CNY"},"report":"  line 1\nline 2","score":4}`
	if string(got) != want {
		t.Fatalf("formData:\n got %s\nwant %s", got, want)
	}
	if d := formData(form, "reject", v, time.UTC); d["why"] != "no" {
		t.Errorf("the reject-only field is not sent with reject: %v", d)
	}
}

// Money, integer and list fields render as their own inputs; a NUL in a value is
// refused by CompleteTask before the workflow, shown above the form.
func TestTaskFormInputs(t *testing.T) {
	tc := &fakeTemporal{}
	e := newEnvWith(t, Config{}, tc)
	form := []domain.FormField{{Name: "amount", Type: "money", Required: true}, {Name: "score", Type: "integer"},
		{Name: "attendees", Type: "list"}}
	e.insertFull("rv1", "resolve", "carol", []string{"resolve"}, form)
	tc.onUpdate = e.workflow(map[string][]domain.FormField{"rv1": form})
	carol := e.session("carol")
	body := e.req(http.MethodGet, "/tasks/rv1", carol, nil).Body.String()
	for _, want := range []string{`<legend>Amount <span class="req">(required)</span></legend>`,
		`<input id="f-amount" name="f.amount" inputmode="decimal"`, `<input id="f-amount-currency" name="f.amount.currency" value="CNY"`,
		`<input id="f-score" name="f.score" inputmode="numeric"`, `<textarea id="f-attendees" name="f.attendees"`, "One per line.",
		`<button type="submit" name="action" value="resolve" id="action-resolve">Propose resolution</button>`} {
		if !strings.Contains(body, want) {
			t.Errorf("task page lacks %q", want)
		}
	}
	// A bad amount: the workflow names data.amount, shown on the amount field.
	w := e.req(http.MethodPost, "/tasks/rv1/complete", carol, url.Values{"action": {"resolve"}, "f.amount": {"lots"}, "f.amount.currency": {"CNY"}, "f.score": {"2.5"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(field(w.Body.String(), "amount"), `id="f-amount-error"`) ||
		!strings.Contains(field(w.Body.String(), "score"), "must be a whole number") {
		t.Fatalf("bad amount and score: %d %s", w.Code, w.Body.String())
	}
	n := tc.count()
	w = e.req(http.MethodPost, "/tasks/rv1/complete", carol, url.Values{"action": {"resolve"}, "f.amount": {"1\x00"}, "f.amount.currency": {"CNY"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `id="form-error"`) || tc.count() != n {
		t.Fatalf("NUL in a value: %d, %d updates: %s", w.Code, tc.count()-n, w.Body.String())
	}
}

// A contract's context reads as its terms: money as amount and currency, lists and
// reviews as nested items, booleans and times in words, identifiers left out.
func TestContractContext(t *testing.T) {
	e := newEnv(t, Config{})
	r := httptestRequest()
	p := e.app.newPage(r, nil)
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"contract_id":"ctr_1","title":"Spindles 2027","amount":{"amount":"620000.00","currency":"CNY"},
		"strategic":true,"delivery_date":"2027-03-01T00:00:00Z","requirements":["custom_spec","tight_tolerance"],
		"reviews":[{"group":"finance","actor":"frank","decision":"approve"}],"discount_pct":"12.5","empty":""}`), &m); err != nil {
		t.Fatal(err)
	}
	got := contextLines(contextItems(p, m))
	want := []string{"Title=Spindles 2027", "Amount=620000.00 CNY", "Discount (%)=12.5", "Delivery date=2027-03-01 00:00 UTC",
		"Requirements=", "  =custom_spec", "  =tight_tolerance", "Reviews=", "  1=", "    Actor=frank", "    Decision=approve",
		"    Group=finance", "Strategic=yes"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("contract context:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestContractContextShowsChangesSinceRejected: the reviewers of a resubmitted contract
// read what changed since the revision that was sent back, each term as it was and is.
func TestContractContextShowsChangesSinceRejected(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.app.newPage(httptestRequest(), nil)
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"title":"Spindles 2027","changed_since_rejected":{"rejected_revision":1,
		"amount":{"from":{"amount":"620000.00","currency":"CNY"},"to":{"amount":"580000.00","currency":"CNY"}},
		"requirements":{"from":[],"to":["custom_spec"]}}}`), &m); err != nil {
		t.Fatal(err)
	}
	got := contextLines(contextItems(p, m))
	want := []string{"Title=Spindles 2027", "Changed since the revision sent back=",
		"  Amount=", "    Was=620000.00 CNY", "    Now=580000.00 CNY",
		"  Revision sent back=1", "  Requirements=", "    Now=", "      =custom_spec"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("context:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// contextLines are "label=text" of each context item, nested items indented.
func contextLines(items []ctxItem) []string {
	var got []string
	var walk func(prefix string, its []ctxItem)
	walk = func(prefix string, its []ctxItem) {
		for _, it := range its {
			got = append(got, prefix+it.Label+"="+it.Text)
			walk(prefix+"  ", it.Items)
		}
	}
	walk("", items)
	return got
}

func httptestRequest() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }
