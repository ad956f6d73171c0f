package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/serviceflow/serviceflow/store"
)

func init() { notices = append(notices, "notice.reassigned", "notice.reassign_refused") }

// reassignees is who a manager on u's side may give open task t to (the task page's
// reassign form): nil unless u oversees t's process. The holder is left out.
func (a *App) reassignees(r *http.Request, u store.User, t store.Task) ([]string, error) {
	if !a.access.Oversees(u, t.Process) {
		return nil, nil
	}
	names, err := a.api.Assignees(r.Context(), t)
	return slices.DeleteFunc(names, func(n string) bool { return n == t.Assignee }), err
}

// reassign is the task page's reassign form: the API's ReassignTask, then back to the
// task with what happened.
func (a *App) reassign(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	to := r.PostFormValue("assignee")
	t, err := a.api.ReassignTask(r.Context(), *u, r.PathValue("id"), to)
	switch p, isProblem := problemOf(err); {
	case err == nil:
		a.setFlash(w, "notice.reassigned", t.Assignee)
	case isProblem && p.Status == http.StatusNotFound:
		a.notFound(w, r, u)
		return
	case isProblem && p.Status == http.StatusConflict:
		a.setFlash(w, "notice.closed", "")
	case isProblem && p.Status == http.StatusUnprocessableEntity:
		a.setFlash(w, "notice.reassign_refused", to)
	case isProblem:
		a.setFlash(w, "notice.not_allowed", "")
	default:
		a.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/tasks/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
}
