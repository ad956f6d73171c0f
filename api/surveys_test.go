package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/domain"
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

	// A Schedule that cannot be made keeps nothing.
	e.tc.schedules.createErr = context.DeadlineExceeded
	checkProblem(t, e.do("POST", "/api/v1/survey-programmes", "admin", map[string]any{"name": "x", "audience": "all_active", "cadence": "daily"}),
		http.StatusServiceUnavailable)
	if n := e.count("survey_programmes"); n != 1 {
		t.Errorf("%d programmes", n)
	}
}
