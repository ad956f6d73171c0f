package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The survey process's routes: programmes (each a Temporal Schedule, created and paused
// by an admin) and their cycles' figures.

func init() {
	processRoutes[domain.ProcessSurvey] = func(s *Server, v1 *gin.RouterGroup) {
		v1.POST("/survey-programmes", s.createProgramme)
		v1.GET("/survey-programmes", s.listProgrammes)
		v1.POST("/survey-programmes/:id/pause", s.pauseProgramme)
		v1.POST("/survey-programmes/:id/resume", s.resumeProgramme)
		v1.POST("/survey-programmes/:id/run", s.runProgramme)
		v1.GET("/survey-cycles", s.listCycles)
		v1.GET("/survey-cycles/:id", s.getCycle)
	}
	linkAnswered[domain.PurposeSurvey] = (*Server).startDetractorVisit
	caseAccess[domain.ProcessSurvey] = func(s *Server, ctx context.Context, u store.User, id string) error {
		_, err := s.SurveyCycleFor(ctx, u, id)
		return err
	}
}

// startDetractorVisit starts the return visit of a detractor whose answer the request
// has just stored, so that the owner's task opens at once. What fails here the cycle's
// catch-up starts at its next reminder or its close.
func (s *Server) startDetractorVisit(ctx context.Context, l store.CustomerLink, answer map[string]any, at time.Time) {
	l.Answer, l.AnsweredAt = answer, &at
	d := activities.DetractorVisits{Store: s.st, Temporal: s.tc, TaskQueue: s.cfg.TaskQueue, Policy: s.cfg.SurveyPolicy,
		Complaint: s.cfg.ComplaintPolicy}
	if _, err := d.Start(ctx, l); err != nil {
		s.log.Warn("start detractor visit (the cycle catches it up)", "err", err, "link_id", l.ID)
	}
}

// programmesPath is where programmes are.
const programmesPath = "/api/v1/survey-programmes"

// CycleStarted is the 201 body of POST …/run.
type CycleStarted struct {
	ID          string `json:"id"`
	ProgrammeID string `json:"programme_id"`
	Status      string `json:"status"`
}

// schedule is the Temporal Schedule of a programme: at 09:00 in the company's zone on
// the first day of each quarter or month, or each day.
func (s *Server) schedule(p store.SurveyProgramme) client.ScheduleOptions {
	cal, _ := domain.Calendar(p.Cadence)
	spec := client.ScheduleCalendarSpec{Hour: []client.ScheduleRange{{Start: cal.Hour}},
		Minute: []client.ScheduleRange{{Start: 0}}, Second: []client.ScheduleRange{{Start: 0}},
		DayOfMonth: []client.ScheduleRange{{Start: 1, End: 31}}, Month: []client.ScheduleRange{{Start: 1, End: 12}},
		Comment: p.Cadence}
	if p.Cadence != domain.CadenceDaily {
		spec.DayOfMonth = []client.ScheduleRange{{Start: 1}}
	}
	if cal.Months != nil {
		spec.Month = nil
		for _, m := range cal.Months {
			spec.Month = append(spec.Month, client.ScheduleRange{Start: m})
		}
	}
	return client.ScheduleOptions{
		ID:   domain.SurveyScheduleID(p.ID),
		Spec: client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{spec}, TimeZoneName: s.cfg.SurveyPolicy.ScheduleZone()},
		Action: &client.ScheduleWorkflowAction{
			ID: domain.SurveyCycleWorkflowPrefix(p.ID), Workflow: domain.SurveyProcess.WorkflowType,
			Args: []any{domain.SurveyCycleInput{ProgrammeID: p.ID, Audience: p.Audience}}, TaskQueue: s.cfg.TaskQueue,
		},
		Note: p.Name,
		// A cycle lives 14 days and more (its improvement tasks): the next run must start
		// beside it, not be skipped. A run missed while Temporal was down is made up
		// within a day.
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
		CatchupWindow: 24 * time.Hour,
	}
}

// CreateProgramme creates a programme for admin u and its Temporal Schedule: a 403
// *Problem for anybody else, a 422 one naming the field at fault, a 503 one (nothing
// kept) when the Schedule could not be made.
func (s *Server) createProgramme(c *gin.Context) {
	if !s.access.MayManageProgrammes(me(c)) {
		forbidden(c, "only an admin manages survey programmes")
		return
	}
	var req domain.NewSurveyProgramme
	v, ok := decodeJSON(c, &req, false)
	if !ok {
		return
	}
	for _, e := range req.Validate() {
		v.add(e.Field, e.Message)
	}
	if p := v.problem(); p != nil {
		writeProblem(c, p)
		return
	}
	u := me(c)
	s.create(c, req, "svp", programmesPath, func(ctx context.Context, tx pgx.Tx, id string) (any, *Problem, error) {
		p := store.SurveyProgramme{ID: id, Name: req.Name, Audience: req.Audience, Cadence: req.Cadence,
			Status: domain.ProgrammeActive, CreatedBy: u.Username, CreatedAt: s.now().UTC()}
		p, err := s.CreateProgramme(ctx, tx, p)
		return p, nil, err
	})
}

// CreateProgramme writes programme p in tx and creates its Schedule (EnsureSchedule: one
// that exists already, for a retried request with the same Idempotency-Key, is taken as
// made). `dev` seeds its programmes through it.
func (s *Server) CreateProgramme(ctx context.Context, tx pgx.Tx, p store.SurveyProgramme) (store.SurveyProgramme, error) {
	if err := store.InsertSurveyProgramme(ctx, tx, p); err != nil {
		return p, err
	}
	if err := s.EnsureSchedule(ctx, p); err != nil {
		s.log.Error("create schedule", "err", err, "programme_id", p.ID)
		pr := problem(http.StatusServiceUnavailable, "the programme's schedule could not be created; nothing was kept, try again")
		pr.Type = typeUnavailable
		return p, pr
	}
	// A commit that fails after this leaves a Schedule without its row: its cycles then
	// fail at their first step (OpenSurveyCycle finds no programme), and an admin deletes
	// it with `temporal schedule delete`. The row is a single insert: it rarely happens.
	h := s.tc.ScheduleClient().GetHandle(ctx, domain.SurveyScheduleID(p.ID))
	_ = withSchedule(ctx, h, &p) // a Describe that fails leaves the next run unknown
	return p, nil
}

// EnsureSchedule makes programme p's Schedule (paused if p is) unless the Temporal
// server has it: a retried create, and `dev` at start, whose database may have outlived
// the embedded server's data (a new data directory beside an old database).
func (s *Server) EnsureSchedule(ctx context.Context, p store.SurveyProgramme) error {
	o := s.schedule(p)
	o.Paused = p.Status == domain.ProgrammePaused
	_, err := s.tc.ScheduleClient().Create(ctx, o)
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return nil
	}
	return err
}

// withSchedule fills p's status and next run from its Schedule, which says whether the
// programme runs: the row follows it, and a pause and a resume at the same moment may
// leave the row behind. A paused programme has no next run. An error leaves p as is.
func withSchedule(ctx context.Context, h client.ScheduleHandle, p *store.SurveyProgramme) error {
	d, err := h.Describe(ctx)
	if err != nil {
		return err
	}
	p.Status, p.NextRun = domain.ProgrammeActive, nil
	if d.Schedule.State != nil && d.Schedule.State.Paused {
		p.Status = domain.ProgrammePaused
	}
	if len(d.Info.NextActionTimes) > 0 && p.Status == domain.ProgrammeActive {
		next := d.Info.NextActionTimes[0].UTC()
		p.NextRun = &next
	}
	return nil
}

// listProgrammes answers every programme with its next run (from its Schedule).
func (s *Server) listProgrammes(c *gin.Context) {
	ps, err := s.SurveyProgrammes(c.Request.Context(), me(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": ps})
}

// SurveyProgrammes lists the programmes for u with their Schedules' next runs and
// statuses: a 403 *Problem for those who see no survey.
func (s *Server) SurveyProgrammes(ctx context.Context, u store.User) ([]store.SurveyProgramme, error) {
	if !s.access.SeesAll(u, domain.ProcessSurvey) {
		return nil, problem(http.StatusForbidden, "your roles do not give access to the surveys")
	}
	ps, err := s.st.SurveyProgrammes(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if err := withSchedule(ctx, s.tc.ScheduleClient().GetHandle(ctx, domain.SurveyScheduleID(ps[i].ID)), &ps[i]); err != nil {
			s.log.Warn("describe schedule", "err", err, "programme_id", ps[i].ID)
		}
	}
	if ps == nil {
		ps = []store.SurveyProgramme{}
	}
	return ps, nil
}

func (s *Server) pauseProgramme(c *gin.Context)  { s.setProgramme(c, domain.ProgrammePaused) }
func (s *Server) resumeProgramme(c *gin.Context) { s.setProgramme(c, domain.ProgrammeActive) }

// setProgramme pauses or resumes the programme of the path: its Schedule first, then
// its row, so the row never says active while the Schedule is paused.
func (s *Server) setProgramme(c *gin.Context, status string) {
	id, ok := pathID(c, "id", "survey programme")
	if !ok {
		return
	}
	p, err := s.SetProgrammeStatus(c.Request.Context(), me(c), id, status)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, p)
}

// SetProgrammeStatus pauses (status paused) or resumes (active) programme id for admin
// u: a 403 or 404 *Problem, or a 503 one when the Schedule could not be reached.
func (s *Server) SetProgrammeStatus(ctx context.Context, u store.User, id, status string) (store.SurveyProgramme, error) {
	p, err := s.programmeFor(ctx, u, id)
	if err != nil {
		return p, err
	}
	if !s.access.MayManageProgrammes(u) {
		return p, problem(http.StatusForbidden, "only an admin manages survey programmes")
	}
	h := s.tc.ScheduleClient().GetHandle(ctx, domain.SurveyScheduleID(id))
	note := fmt.Sprintf("%s by %s", status, u.Username)
	if status == domain.ProgrammePaused {
		err = h.Pause(ctx, client.SchedulePauseOptions{Note: note})
	} else {
		err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
	}
	if err != nil {
		s.log.Error("set schedule", "err", err, "programme_id", id, "status", status)
		pr := problem(http.StatusServiceUnavailable, "the programme's schedule could not be changed; try again")
		pr.Type = typeUnavailable
		return p, pr
	}
	if err := store.SetSurveyProgrammeStatus(ctx, s.st.Pool, id, status); err != nil {
		return p, err
	}
	p.Status, p.NextRun = status, nil
	_ = withSchedule(ctx, h, &p)
	return p, nil
}

// programmeFor loads programme id for u: a 404 *Problem when unknown or u sees no survey.
func (s *Server) programmeFor(ctx context.Context, u store.User, id string) (store.SurveyProgramme, error) {
	p, err := s.st.SurveyProgrammeByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.access.SeesAll(u, domain.ProcessSurvey)) {
		return p, problem(http.StatusNotFound, "survey programme not found")
	}
	return p, err
}

// runProgramme starts a cycle of the programme now (201, the cycle), whether or not the
// programme is paused: a paused programme's calendar is stopped, not its use.
func (s *Server) runProgramme(c *gin.Context) {
	id, ok := pathID(c, "id", "survey programme")
	if !ok {
		return
	}
	s.waitForWorkflow(c)
	res, err := s.RunProgramme(c.Request.Context(), me(c), id, c.GetHeader("Idempotency-Key"))
	if err != nil {
		s.failCreate(c, err)
		return
	}
	writeCreated(c, createPath(domain.SurveyProcess)+"/"+res.ResourceID, res)
}

// RunProgramme starts a cycle of programme id for admin u under the idempotency key
// key: its row is written before its workflow starts, as every case's is.
func (s *Server) RunProgramme(ctx context.Context, u store.User, id, key string) (store.IdempotentResult, error) {
	p, err := s.programmeFor(ctx, u, id)
	if err != nil {
		return store.IdempotentResult{}, err
	}
	if !s.access.MayManageProgrammes(u) {
		return store.IdempotentResult{}, problem(http.StatusForbidden, "only an admin runs survey programmes")
	}
	return s.startCase(ctx, u, domain.SurveyProcess, key, gin.H{"programme_id": id}, func(ctx context.Context, tx pgx.Tx, cid string) (any, any, error) {
		in := domain.SurveyCycleInput{ID: cid, ProgrammeID: p.ID, Audience: p.Audience, StartedBy: u.Username}
		err := store.OpenSurveyCycle(ctx, tx, domain.OpenSurveyCycleInput{CycleID: cid, WorkflowID: domain.SurveyProcess.WorkflowID(cid),
			ProgrammeID: p.ID, Audience: p.Audience, StartedBy: u.Username, At: s.now().UTC()})
		return in, CycleStarted{ID: cid, ProgrammeID: p.ID, Status: domain.CycleInviting}, err
	})
}

// cycleDetail is a cycle with its answers per day (GET /survey-cycles/{id}).
type cycleDetail struct {
	store.SurveyCycle
	AnswersPerDay []store.AnswersPerDay `json:"answers_per_day"`
}

// SurveyCycleFor returns cycle id for u with its figures: a 404 *Problem when it is
// unknown or u sees no survey.
func (s *Server) SurveyCycleFor(ctx context.Context, u store.User, id string) (store.SurveyCycle, error) {
	if !s.access.SeesAll(u, domain.ProcessSurvey) {
		return store.SurveyCycle{}, problem(http.StatusNotFound, "survey cycle not found")
	}
	cy, err := s.st.SurveyCycleByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return cy, problem(http.StatusNotFound, "survey cycle not found")
	}
	return cy, err
}

// SurveyCycleDetail is a cycle with its answers per day, for its page.
func (s *Server) SurveyCycleDetail(ctx context.Context, u store.User, id string) (store.SurveyCycle, []store.AnswersPerDay, error) {
	cy, err := s.SurveyCycleFor(ctx, u, id)
	if err != nil {
		return cy, nil, err
	}
	days, err := s.st.SurveyAnswersPerDay(ctx, id)
	if days == nil {
		days = []store.AnswersPerDay{}
	}
	return cy, days, err
}

func (s *Server) getCycle(c *gin.Context) {
	id, ok := pathID(c, "id", "survey cycle")
	if !ok {
		return
	}
	cy, days, err := s.SurveyCycleDetail(c.Request.Context(), me(c), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, cycleDetail{SurveyCycle: cy, AnswersPerDay: days})
}

// ListSurveyCycles lists a page of cycles for u: a 403 *Problem for those who see no
// survey.
func (s *Server) ListSurveyCycles(ctx context.Context, u store.User, f store.SurveyCycleFilter) ([]store.SurveyCycle, string, error) {
	if !s.access.SeesAll(u, domain.ProcessSurvey) {
		return nil, "", problem(http.StatusForbidden, "your roles do not give access to the surveys")
	}
	return s.st.ListSurveyCycles(ctx, f)
}

func (s *Server) listCycles(c *gin.Context) {
	if !s.access.SeesAll(me(c), domain.ProcessSurvey) {
		forbidden(c, "your roles do not give access to the surveys")
		return
	}
	f := store.SurveyCycleFilter{ProgrammeID: c.Query("programme_id"), Status: c.Query("status")}
	servePage(s, c, &f, store.CursorSurveyCycles, &f.Limit, &f.Cursor, statusIn(f.Status, domain.CycleStatuses),
		func(ctx context.Context, f store.SurveyCycleFilter) ([]store.SurveyCycle, string, error) {
			return s.ListSurveyCycles(ctx, me(c), f)
		}, func(cy store.SurveyCycle) store.SurveyCycle { return cy })
}
