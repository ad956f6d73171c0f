package web

import (
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/serviceflow/serviceflow/store"
)

// boardLimit is how many escalations one board tab shows (the store's page cap).
const boardLimit = 200

// maxAckComment is the longest acknowledgement comment, as the JSON API allows.
const maxAckComment = 10000

type boardRow struct {
	ID, Process, ProcessID, Subject string
	TaskID, TaskTitle               string // TaskTitle "" when the task is not visible
	Targets                         []string
	RaisedAt                        time.Time
	Age                             string
	AckBy, AckComment               string
	AckAt                           *time.Time
	Level                           int
}

type boardLevel struct {
	Level int
	Rows  []boardRow
}

type boardData struct {
	page
	Tab    string // open | acknowledged
	Levels []boardLevel
	Acked  []boardRow
	More   bool // more than boardLimit: only the oldest are shown
}

type escalationData struct {
	page
	E          boardRow
	Open       bool
	CanAck     bool
	Comment    string
	ErrorClass string
}

// board is the escalation board: open escalations grouped by level, highest first, or
// the acknowledged ones. Managers only, as the JSON API decides (api.ListEscalations).
func (a *App) board(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	tab := r.URL.Query().Get("tab")
	if tab != store.EscalationAcknowledged {
		tab = store.EscalationOpen
	}
	list, next, err := a.api.ListEscalations(r.Context(), *u, store.EscalationFilter{Status: tab, Limit: boardLimit})
	if a.refused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("board.title")
	p.Notice = a.takeFlash(w, r, p)
	d := boardData{page: p, Tab: tab, More: next != ""}
	var ids []string
	for _, e := range list {
		if e.TaskID != "" {
			ids = append(ids, e.TaskID)
		}
	}
	tasks, err := a.api.VisibleTasks(r.Context(), *u, ids) // one query for the page's tasks
	if err != nil {
		a.internal(w, r, err)
		return
	}
	for _, e := range list {
		row := a.boardRow(p, e, tasks)
		if tab == store.EscalationAcknowledged {
			d.Acked = append(d.Acked, row)
			continue
		}
		i := slices.IndexFunc(d.Levels, func(l boardLevel) bool { return l.Level == e.Level })
		if i < 0 {
			d.Levels = append(d.Levels, boardLevel{Level: e.Level})
			i = len(d.Levels) - 1
		}
		d.Levels[i].Rows = append(d.Levels[i].Rows, row)
	}
	slices.SortFunc(d.Levels, func(x, y boardLevel) int { return y.Level - x.Level })
	slices.Reverse(d.Acked) // the latest acknowledged first
	a.render(w, http.StatusOK, "board", d)
}

// boardRow is escalation e as the board shows it: the task's title when it has a task
// the user may see (among tasks), its age and acknowledgement.
func (a *App) boardRow(p page, e store.Escalation, tasks map[string]store.Task) boardRow {
	row := boardRow{ID: e.ID, Process: p.T("process." + e.Process), ProcessID: e.ProcessID, Subject: e.Subject,
		TaskID: e.TaskID, Targets: e.Targets, RaisedAt: e.RaisedAt, Age: span(p, a.now().Sub(e.RaisedAt)),
		AckBy: e.AcknowledgedBy, AckAt: e.AcknowledgedAt, AckComment: e.AckComment, Level: e.Level}
	if t, ok := tasks[e.TaskID]; ok && e.TaskID != "" {
		row.TaskTitle = t.Title
	}
	return row
}

// refused answers a page for an error of the API's functions: its 403 or 404 as a page
// with the status, anything else as a 500. It reports whether err was not nil.
func (a *App) refused(w http.ResponseWriter, r *http.Request, u *store.User, err error) bool {
	if err == nil {
		return false
	}
	p, ok := problemOf(err)
	if !ok || (p.Status != http.StatusForbidden && p.Status != http.StatusNotFound) {
		a.internal(w, r, err)
		return true
	}
	pg := a.newPage(r, u)
	key := "error.not_found"
	if p.Status == http.StatusForbidden {
		key = "error.forbidden"
	}
	pg.Title, pg.Error = pg.T(key), pg.T(key)
	a.render(w, p.Status, "refused", pg)
	return true
}

// escalation is one escalation, with the acknowledge form for those who may.
func (a *App) escalation(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !utf8.ValidString(id) {
		id = ""
	}
	e, err := a.api.EscalationFor(r.Context(), *u, id)
	if a.refused(w, r, u, err) {
		return
	}
	a.renderEscalation(w, r, u, http.StatusOK, e, "", "")
}

func (a *App) renderEscalation(w http.ResponseWriter, r *http.Request, u *store.User, status int, e store.Escalation, comment, errMsg string) {
	p := a.newPage(r, u)
	p.Title = p.T("escalation.title", "Level", e.Level)
	p.Error = errMsg
	var ids []string
	if e.TaskID != "" {
		ids = []string{e.TaskID}
	}
	tasks, err := a.api.VisibleTasks(r.Context(), *u, ids)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	d := escalationData{page: p, E: a.boardRow(p, e, tasks), Open: e.AcknowledgedAt == nil, Comment: comment}
	d.CanAck = d.Open && a.access.MayAcknowledge(*u, e)
	a.render(w, status, "escalation", d)
}

// acknowledge acknowledges an escalation through the API's function and goes back to
// the board; one acknowledged meanwhile shows who did it.
func (a *App) acknowledge(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !utf8.ValidString(id) {
		id = ""
	}
	comment := r.PostFormValue("comment")
	if !utf8.ValidString(comment) || utf8.RuneCountInString(comment) > maxAckComment {
		e, err := a.api.EscalationFor(r.Context(), *u, id)
		if a.refused(w, r, u, err) {
			return
		}
		p := a.newPage(r, u)
		a.renderEscalation(w, r, u, http.StatusUnprocessableEntity, e, "", p.T("escalation.comment_too_long", "Max", maxAckComment))
		return
	}
	e, err := a.api.AcknowledgeEscalation(r.Context(), *u, id, comment)
	if pr, isProblem := problemOf(err); isProblem && pr.Status == http.StatusConflict {
		p := a.newPage(r, u)
		msg := p.T("escalation.already", "User", e.AcknowledgedBy)
		a.renderEscalation(w, r, u, http.StatusConflict, e, comment, msg)
		return
	}
	if a.refused(w, r, u, err) {
		return
	}
	a.setFlash(w, "notice.acknowledged", e.ProcessID)
	http.Redirect(w, r, "/escalations", http.StatusSeeOther)
}

// The board's notices.
func init() { notices = append(notices, "notice.acknowledged") }
