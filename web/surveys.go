package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The survey's pages: the programmes (each with its audience, cadence, status and next
// run, and for an admin the pause, resume and run-now forms) above the list of cycles,
// and a cycle's page with its figures, drawn as charts (Chartist, vendored; our
// static/surveycharts.js) and given as tables too. Read and acted on through
// api.Server's SurveyProgrammes, SurveyProgrammeFor, SetProgrammeStatus, RunProgramme,
// ListSurveyCycles and SurveyCycleDetail. Nobody files a cycle (its programme starts
// it), so the process has no new-case form; only the survey's viewers see its list.
func init() {
	caseProcesses = append(caseProcesses, caseProcess{name: domain.ProcessSurvey,
		mayList: func(acc api.Access, u store.User) bool { return acc.SeesAll(u, domain.ProcessSurvey) },
		pages: []processPage{
			{http.MethodGet, "", false, (*App).surveys},
			{http.MethodGet, "/:id", false, (*App).surveyCycle},
			{http.MethodPost, "/programmes/:id/pause", false, (*App).pauseProgramme},
			{http.MethodPost, "/programmes/:id/resume", false, (*App).resumeProgramme},
			{http.MethodPost, "/programmes/:id/run", true, (*App).runProgramme},
		},
	})
	notices = append(notices, "notice.programme_paused", "notice.programme_resumed", "notice.cycle_started",
		"notice.programme_unavailable")
}

type programmeRow struct {
	ID, Name, Audience, Cadence, Status string
	Active                              bool
	NextRun                             *time.Time
	Key                                 string // the run-now form's idempotency key
}

type surveyCycleRow struct {
	ID, Programme, Audience, Status string
	Invited, Answered               int
	Started                         time.Time
}

type surveysData struct {
	page
	Programmes []programmeRow
	Manage     bool // the user may pause, resume and run programmes
	Statuses   []filterOption
	Rows       []surveyCycleRow
	Next       string
}

// surveys is the programmes and the cycles (newest first, filtered by status, paged
// with the API's cursor).
func (a *App) surveys(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	progs, err := a.api.SurveyProgrammes(r.Context(), *u)
	if a.refused(w, r, u, err) {
		return
	}
	status := queryValue(r, "status", domain.CycleStatuses)
	list, next, err := a.api.ListSurveyCycles(r.Context(), *u, store.SurveyCycleFilter{Status: status, Limit: casePageSize,
		Cursor: queryCursor(r, store.CursorSurveyCycles)})
	if a.refused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("surveys.title")
	p.Notice = a.takeFlash(w, r, p)
	d := surveysData{page: p, Manage: a.access.MayManageProgrammes(*u),
		Statuses: filterOptions(p, domain.CycleStatuses, status, cycleStatusName),
		Next:     nextLink("/surveys", url.Values{"status": {status}}, next)}
	names := map[string]string{}
	for _, pr := range progs {
		names[pr.ID] = pr.Name
		row := programmeRow{ID: pr.ID, Name: pr.Name, Audience: p.name("survey.audience", pr.Audience),
			Cadence: p.name("survey.cadence", pr.Cadence), Status: p.name("survey.programme_status", pr.Status),
			Active: pr.Status == domain.ProgrammeActive, NextRun: pr.NextRun}
		if d.Manage {
			row.Key = newKey()
		}
		d.Programmes = append(d.Programmes, row)
	}
	for _, c := range list {
		d.Rows = append(d.Rows, surveyCycleRow{ID: c.ID, Programme: names[c.ProgrammeID], Audience: p.name("survey.audience", c.Audience),
			Status: cycleStatusName(p, c.Status), Invited: c.Results.Invited, Answered: c.Results.Answered, Started: c.StartedAt})
	}
	a.render(w, http.StatusOK, "surveys", d)
}

// cycleStatusName is a survey cycle's status in the page's language.
func cycleStatusName(p page, status string) string { return p.name("survey.cycle_status", status) }

func (a *App) pauseProgramme(w http.ResponseWriter, r *http.Request) {
	a.setProgramme(w, r, domain.ProgrammePaused, "notice.programme_paused")
}

func (a *App) resumeProgramme(w http.ResponseWriter, r *http.Request) {
	a.setProgramme(w, r, domain.ProgrammeActive, "notice.programme_resumed")
}

// setProgramme pauses or resumes the programme of the path through
// api.Server.SetProgrammeStatus, then shows the programmes with a notice.
func (a *App) setProgramme(w http.ResponseWriter, r *http.Request, status, notice string) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	pr, err := a.api.SetProgrammeStatus(r.Context(), *u, caseID(r), status)
	if a.programmeFailed(w, r, u, err) {
		return
	}
	a.setFlash(w, notice, pr.Name)
	http.Redirect(w, r, "/surveys", http.StatusSeeOther)
}

// runProgramme starts a cycle of the programme of the path now through
// api.Server.RunProgramme, under the form's idempotency key (a double click starts one
// cycle), and opens the new cycle's page.
func (a *App) runProgramme(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	res, err := a.api.RunProgramme(r.Context(), *u, caseID(r), r.PostForm.Get("key"))
	if a.programmeFailed(w, r, u, err) {
		return
	}
	var started api.CycleStarted
	if err := json.Unmarshal(res.Body, &started); err != nil || started.ID == "" {
		a.internal(w, r, errors.Join(errors.New("web: run programme: no cycle in the answer"), err))
		return
	}
	a.setFlash(w, "notice.cycle_started", started.ID)
	http.Redirect(w, r, "/surveys/"+url.PathEscape(started.ID), http.StatusSeeOther)
}

// programmeFailed answers a programme action's error: the refused page for a 403 or
// 404, the programmes with a notice when Temporal could not be reached (503) or the
// key was refused (a 409 or 422: try again with the fresh form), else the 500 page. It
// reports whether err was not nil.
func (a *App) programmeFailed(w http.ResponseWriter, r *http.Request, u *store.User, err error) bool {
	if err == nil {
		return false
	}
	if p, ok := problemOf(err); ok {
		switch p.Status {
		case http.StatusServiceUnavailable, http.StatusConflict, http.StatusUnprocessableEntity:
			a.setFlash(w, "notice.programme_unavailable", "")
			http.Redirect(w, r, "/surveys", http.StatusSeeOther)
			return true
		}
	}
	return a.refused(w, r, u, err)
}

// ratingRow is one rating's figures on the cycle page.
type ratingRow struct {
	Key, Name, Average string
	Distribution       [5]int
}

// dayRow is the answers of one day on the cycle page.
type dayRow struct {
	Day   string
	Count int
}

// chartSpec is what static/surveycharts.js draws a chart from (the data-chart
// attribute, as JSON).
type chartSpec struct {
	Type    string         `json:"type"`
	Labels  []string       `json:"labels"`
	Series  [][]float64    `json:"series"`
	Options map[string]any `json:"options,omitempty"`
}

func (c chartSpec) JSON() string {
	b, _ := json.Marshal(c)
	return string(b)
}

type surveyCycleData struct {
	page
	ID, Status                     string
	Facts                          []fact
	Answered                       bool
	Ratings                        []ratingRow
	Promoters, Passives, Detractor int
	NPS                            string
	Days                           []dayRow
	RatingsChart, NPSChart         string
	DaysChart                      string
}

// surveyCycle is one cycle: its status and figures (invited, answered, response rate,
// CSAT, NPS), and its charts: each rating's average, the NPS split and the answers per
// day, each with its table. A cycle the user may not see is the 404 page.
func (a *App) surveyCycle(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	cy, days, err := a.api.SurveyCycleDetail(r.Context(), *u, caseID(r))
	if a.caseRefused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("survey.cycle.title", "ID", cy.ID)
	p.Notice = a.takeFlash(w, r, p)
	res := cy.Results
	d := surveyCycleData{page: p, ID: cy.ID, Status: cycleStatusName(p, cy.Status), Answered: res.Answered > 0,
		Promoters: res.Promoters, Passives: res.Passives, Detractor: res.Detractors, NPS: res.NPS}
	add := func(key, label, text string) {
		if text != "" {
			d.Facts = append(d.Facts, fact{Key: key, Label: label, Text: text})
		}
	}
	percent := func(s string) string {
		if s == "" {
			return ""
		}
		return s + " %"
	}
	add("status", fieldLabel(p, "status"), d.Status)
	if cy.ProgrammeID != "" {
		name := cy.ProgrammeID
		if pr, err := a.api.SurveyProgrammeFor(r.Context(), *u, cy.ProgrammeID); err == nil {
			name = pr.Name
		}
		add("programme", p.T("survey.col.programme"), name)
	}
	add("audience", p.T("survey.col.audience"), p.name("survey.audience", cy.Audience))
	add("started_at", p.T("survey.started_at"), p.When(cy.StartedAt))
	add("started_by", p.T("survey.started_by"), cy.StartedBy)
	if cy.ClosedAt != nil {
		add("closed_at", p.T("survey.closed_at"), p.When(*cy.ClosedAt))
	} else if cy.ClosesAt != nil {
		add("closes_at", p.T("survey.closes_at"), p.When(*cy.ClosesAt))
	}
	add("invited", p.T("survey.invited"), strconv.Itoa(res.Invited))
	add("answered", p.T("survey.answered"), strconv.Itoa(res.Answered))
	add("response_rate", p.T("survey.response_rate"), percent(res.ResponseRate))
	add("csat", p.T("survey.csat"), percent(res.CSAT))
	add("nps", p.T("survey.nps"), res.NPS)

	ratings := chartSpec{Type: "bar", Series: [][]float64{{}},
		Options: map[string]any{"horizontalBars": true, "reverseData": true, "low": 0, "high": 5,
			"axisX": map[string]any{"onlyInteger": true}, "axisY": map[string]any{"offset": 140}}}
	for _, key := range domain.SurveyRatings {
		rr := res.Rating(key)
		name := p.name("survey.rating", key)
		d.Ratings = append(d.Ratings, ratingRow{Key: key, Name: name, Average: rr.Average, Distribution: rr.Distribution})
		avg, _ := strconv.ParseFloat(rr.Average, 64)
		ratings.Labels = append(ratings.Labels, name)
		ratings.Series[0] = append(ratings.Series[0], avg)
	}
	d.RatingsChart = ratings.JSON()
	d.NPSChart = chartSpec{Type: "bar", Labels: []string{p.T("survey.nps")},
		Series: [][]float64{{float64(res.Promoters)}, {float64(res.Passives)}, {float64(res.Detractors)}},
		Options: map[string]any{"horizontalBars": true, "stackBars": true, "integers": true,
			"axisY": map[string]any{"offset": 0, "showLabel": false, "showGrid": false}}}.JSON()
	daily := chartSpec{Type: "bar", Series: [][]float64{{}}, Options: map[string]any{"low": 0, "integers": true, "thinLabels": true}}
	for _, dy := range fillDays(days) {
		d.Days = append(d.Days, dayRow{Day: dy.Day, Count: dy.Count})
		daily.Labels = append(daily.Labels, dy.Day[min(5, len(dy.Day)):]) // 05-19: the table has the year
		daily.Series[0] = append(daily.Series[0], float64(dy.Count))
	}
	d.DaysChart = daily.JSON()
	a.render(w, http.StatusOK, "survey_cycle", d)
}

// fillDays is the answers per day with the days between them that had none.
func fillDays(days []store.AnswersPerDay) []store.AnswersPerDay {
	if len(days) == 0 {
		return nil
	}
	first, err1 := time.Parse(time.DateOnly, days[0].Day)
	last, err2 := time.Parse(time.DateOnly, days[len(days)-1].Day)
	if err1 != nil || err2 != nil || last.Sub(first) > 366*24*time.Hour {
		return days
	}
	count := map[string]int{}
	for _, d := range days {
		count[d.Day] = d.Count
	}
	var out []store.AnswersPerDay
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		day := t.Format(time.DateOnly)
		out = append(out, store.AnswersPerDay{Day: day, Count: count[day]})
	}
	return out
}
