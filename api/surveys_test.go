package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// fakeSchedules is the Temporal schedule client of the API tests: Schedules in memory,
// each with a next run an hour after its creation.
type fakeSchedules struct {
	client.ScheduleClient
	mu        sync.Mutex
	schedules map[string]*fakeSchedule
	createErr error
}

type fakeSchedule struct {
	client.ScheduleHandle
	owner   *fakeSchedules
	id      string
	options client.ScheduleOptions
	paused  bool
	next    time.Time
}

func (f *fakeTemporal) ScheduleClient() client.ScheduleClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.schedules == nil {
		f.schedules = &fakeSchedules{schedules: map[string]*fakeSchedule{}}
	}
	return f.schedules
}

func (f *fakeSchedules) Create(_ context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return nil, f.createErr
	}
	if _, ok := f.schedules[o.ID]; ok {
		return nil, temporal.ErrScheduleAlreadyRunning
	}
	h := &fakeSchedule{owner: f, id: o.ID, options: o, paused: o.Paused, next: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
	f.schedules[o.ID] = h
	return h, nil
}

func (f *fakeSchedules) GetHandle(_ context.Context, id string) client.ScheduleHandle {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.schedules[id]; ok {
		return h
	}
	return &fakeSchedule{owner: f, id: id}
}

func (f *fakeSchedules) get(id string) *fakeSchedule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.schedules[id]
}

func (h *fakeSchedule) GetID() string { return h.id }

func (h *fakeSchedule) Describe(context.Context) (*client.ScheduleDescription, error) {
	h.owner.mu.Lock()
	defer h.owner.mu.Unlock()
	return &client.ScheduleDescription{Schedule: client.Schedule{State: &client.ScheduleState{Paused: h.paused}},
		Info: client.ScheduleInfo{NextActionTimes: []time.Time{h.next}}}, nil
}

func (h *fakeSchedule) Pause(context.Context, client.SchedulePauseOptions) error {
	h.owner.mu.Lock()
	defer h.owner.mu.Unlock()
	h.paused = true
	return nil
}

func (h *fakeSchedule) Unpause(context.Context, client.ScheduleUnpauseOptions) error {
	h.owner.mu.Lock()
	defer h.owner.mu.Unlock()
	h.paused = false
	return nil
}

// decode decodes the body into v.
func (r resp) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		r.t.Fatalf("decode %q: %v", r.Body.String(), err)
	}
}

// insertProgramme writes a programme row (its Schedule is the fake's, made on demand).
func (e *env) insertProgramme(id, audience string) {
	e.t.Helper()
	if _, err := e.st.Pool.Exec(context.Background(), `INSERT INTO survey_programmes (id, name, audience, cadence, created_by)
		VALUES ($1, $1, $2, 'monthly', 'admin')`, id, audience); err != nil {
		e.t.Fatal(err)
	}
}

// An admin creates a programme: its row, and a Schedule that starts the cycle workflow
// at 09:00 on the first of each month in the company's zone; the list shows its next
// run. Pause and resume change both; run starts a cycle now.
func TestSurveyProgrammeSchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("POST", "/api/v1/survey-programmes", "admin", map[string]any{"name": "Tier A monthly", "audience": "tier_a", "cadence": "monthly"})
	res.want(http.StatusCreated)
	var p struct {
		ID      string     `json:"id"`
		Status  string     `json:"status"`
		NextRun *time.Time `json:"next_run"`
	}
	res.decode(&p)
	if p.Status != domain.ProgrammeActive || p.NextRun == nil {
		t.Fatalf("created %+v", p)
	}
	h := e.tc.schedules.get(domain.SurveyScheduleID(p.ID))
	if h == nil {
		t.Fatal("no schedule")
	}
	cal := h.options.Spec.Calendars[0]
	act := h.options.Action.(*client.ScheduleWorkflowAction)
	if cal.Hour[0].Start != 9 || cal.DayOfMonth[0] != (client.ScheduleRange{Start: 1}) || len(cal.Month) != 1 ||
		act.Workflow != domain.SurveyProcess.WorkflowType || act.Args[0].(domain.SurveyCycleInput).Audience != domain.AudienceTierA {
		t.Errorf("schedule %+v, action %+v", cal, act)
	}

	e.do("POST", "/api/v1/survey-programmes/"+p.ID+"/pause", "admin", nil).want(http.StatusOK)
	if !h.paused {
		t.Error("the schedule is not paused")
	}
	list := e.do("GET", "/api/v1/survey-programmes", "dave", nil)
	list.want(http.StatusOK)
	var ps struct {
		Items []struct {
			ID, Status string
			NextRun    *time.Time `json:"next_run"`
		} `json:"items"`
	}
	list.decode(&ps)
	if len(ps.Items) != 1 || ps.Items[0].Status != domain.ProgrammePaused || ps.Items[0].NextRun != nil {
		t.Errorf("listed %+v", ps.Items)
	}
	e.do("POST", "/api/v1/survey-programmes/"+p.ID+"/resume", "admin", nil).want(http.StatusOK)
	if h.paused {
		t.Error("the schedule is still paused")
	}

	run := e.do("POST", "/api/v1/survey-programmes/"+p.ID+"/run", "admin", nil)
	run.want(http.StatusCreated)
	var cy CycleStarted
	run.decode(&cy)
	start := e.tc.starts[len(e.tc.starts)-1]
	if start.opts.ID != domain.SurveyProcess.WorkflowID(cy.ID) || start.args[0].(domain.SurveyCycleInput).ID != cy.ID {
		t.Errorf("started %s for cycle %s", start.opts.ID, cy.ID)
	}
	got := e.do("GET", "/api/v1/survey-cycles/"+cy.ID, "dave", nil)
	got.want(http.StatusOK)

	// A Schedule the server lost (dev's new data directory beside an old database) is
	// made again, paused as its programme is.
	e.do("POST", "/api/v1/survey-programmes/"+p.ID+"/pause", "admin", nil).want(http.StatusOK)
	delete(e.tc.schedules.schedules, domain.SurveyScheduleID(p.ID))
	row, err := e.st.SurveyProgrammeByID(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.EnsureSchedule(context.Background(), row); err != nil {
		t.Fatal(err)
	}
	if h := e.tc.schedules.get(domain.SurveyScheduleID(p.ID)); h == nil || !h.paused {
		t.Errorf("schedule made again: %+v", h)
	}
	if err := e.srv.EnsureSchedule(context.Background(), row); err != nil {
		t.Errorf("a second ensure: %v", err)
	}
	if h := e.tc.schedules.get(domain.SurveyScheduleID(p.ID)); !h.paused {
		t.Error("a second ensure replaced the schedule")
	}

	// A Schedule that cannot be made keeps nothing.
	e.tc.schedules.createErr = context.DeadlineExceeded
	checkProblem(t, e.do("POST", "/api/v1/survey-programmes", "admin", map[string]any{"name": "x", "audience": "all_active", "cadence": "daily"}),
		http.StatusServiceUnavailable)
	if n := e.count("survey_programmes"); n != 1 {
		t.Errorf("%d programmes", n)
	}
}

// insertSurveyLink writes a survey link of cycle for customer (its answer stored by the
// request: domain.AnswerStored).
func insertSurveyLink(t testing.TB, e *env, cycle, customer, token string, expires time.Time) store.CustomerLink {
	t.Helper()
	wf := domain.SurveyProcess.WorkflowID(cycle)
	l, _, err := store.CreateCustomerLink(context.Background(), e.st.Pool, domain.CreateLinkInput{
		Key: wf + "/invite/" + customer, Purpose: domain.PurposeSurvey, Process: domain.ProcessSurvey, ProcessID: cycle,
		WorkflowID: wf, Round: 1, Customer: domain.LinkCustomer{ID: customer, Email: customer + "@example.test", Name: customer, Locale: "en"},
		Template: domain.TmplSurveyInvitation, ExpiresAt: expires, At: time.Now().Add(-time.Hour), AnswerUpdate: domain.AnswerStored,
	}, domain.HashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// surveyAnswer is an answer with every rating r and the NPS nps.
func surveyAnswer(r, nps int) map[string]any {
	a := map[string]any{"nps": nps}
	for _, name := range domain.SurveyRatings {
		a[name] = r
	}
	return a
}

// A survey link's answer is stored by the request itself, once and before its expiry,
// with no Update to a workflow; a detractor's starts their return visit at once, for the
// customer's owner, under an id derived from the cycle and the customer; a satisfied
// customer's starts nothing.
func TestSurveyLinkStoresTheAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	insertSurveyLink(t, e, "svc_1", "cus_acme", "tok_happy", time.Now().Add(time.Hour))
	insertSurveyLink(t, e, "svc_1", "cus_globex", "tok_unhappy", time.Now().Add(time.Hour))
	insertSurveyLink(t, e, "svc_1", "cus_initech", "tok_late", time.Now().Add(-time.Minute))

	e.do("POST", "/c/tok_happy", "", surveyAnswer(4, 9)).want(http.StatusOK)
	if n := e.tc.startCount(); n != 0 {
		t.Errorf("%d workflows started for a satisfied answer", n)
	}
	e.do("POST", "/c/tok_happy", "", surveyAnswer(1, 0)).want(http.StatusConflict)
	l := e.linkRow(domain.LinkID("survey/svc_1/invite/cus_acme"))
	if l.Status != domain.LinkAnswered || l.Answer["nps"] != 9.0 {
		t.Errorf("stored %s %v", l.Status, l.Answer)
	}
	if len(e.tc.updates) != 0 {
		t.Errorf("%d Updates sent", len(e.tc.updates))
	}

	form := "nps=8&comment=Slow+repairs&service_attitude=4&service_quality=2&service_efficiency=3&product_quality=4&after_sales_service=4"
	e.doForm("/c/tok_unhappy", form).want(http.StatusOK)
	if n := e.tc.startCount(); n != 1 {
		t.Fatalf("%d workflows started for a detractor", n)
	}
	start := e.tc.starts[0]
	in := start.args[0].(domain.VisitInput)
	if start.workflow != domain.VisitWorkflowType || start.opts.ID != domain.VisitWorkflowID(domain.VisitID(domain.ProcessSurvey, "svc_1", "cus_globex")) ||
		in.Rep != "aaron" || in.ProcessID != "svc_1" || in.DueAt.Sub(time.Now()) < 71*time.Hour {
		t.Errorf("started %s %v for %+v", start.opts.ID, start.workflow, in)
	}
	var visits int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM survey_visits WHERE cycle_id = 'svc_1'`).Scan(&visits); err != nil || visits != 1 {
		t.Errorf("%d visits noted (%v)", visits, err)
	}

	e.do("POST", "/c/tok_late", "", surveyAnswer(5, 10)).want(http.StatusGone)
}
