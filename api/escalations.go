package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/serviceflow/serviceflow/store"
)

type escalationResponse struct {
	ID             string     `json:"id"`
	Process        string     `json:"process"`
	ProcessID      string     `json:"process_id"`
	Subject        string     `json:"subject"`
	TaskID         *string    `json:"task_id"` // null when it is not about a task
	Step           string     `json:"step"`
	Reason         string     `json:"reason"`
	Level          int        `json:"level"`
	RaisedAt       time.Time  `json:"raised_at"`
	Targets        []string   `json:"targets"`
	AcknowledgedBy *string    `json:"acknowledged_by"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AckComment     *string    `json:"ack_comment"`
}

func escalationDTO(e store.Escalation) escalationResponse {
	targets := e.Targets
	if targets == nil {
		targets = []string{}
	}
	return escalationResponse{
		ID: e.ID, Process: e.Process, ProcessID: e.ProcessID, Subject: e.Subject, TaskID: strOrNil(e.TaskID), Step: e.Step, Reason: e.Reason,
		Level: e.Level, RaisedAt: e.RaisedAt, Targets: targets, AcknowledgedBy: strOrNil(e.AcknowledgedBy),
		AcknowledgedAt: e.AcknowledgedAt, AckComment: strOrNil(e.AckComment),
	}
}

// managersOnly answers 403 unless the caller may see escalations and e-mails.
func (s *Server) managersOnly(c *gin.Context, may func(store.User) bool, what string) bool {
	if !may(me(c)) {
		forbidden(c, "only managers and admin may see "+what)
		return false
	}
	return true
}

// ListEscalations lists escalations for u: 403 (a *Problem) unless u may see them.
// The JSON list and the web app's board both read through it.
func (s *Server) ListEscalations(ctx context.Context, u store.User, f store.EscalationFilter) ([]store.Escalation, string, error) {
	if !s.access.MaySeeEscalations(u) {
		return nil, "", problem(http.StatusForbidden, "only managers and admin may see escalations")
	}
	return s.st.ListEscalations(ctx, f)
}

// EscalationFor returns escalation id for u: 403 unless u may see escalations, 404 when
// it is unknown (both *Problem).
func (s *Server) EscalationFor(ctx context.Context, u store.User, id string) (store.Escalation, error) {
	if !s.access.MaySeeEscalations(u) {
		return store.Escalation{}, problem(http.StatusForbidden, "only managers and admin may see escalations")
	}
	e, err := s.st.EscalationByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return e, problem(http.StatusNotFound, "escalation not found")
	}
	return e, err
}

// AcknowledgeEscalation has u acknowledge escalation id with comment: 403 unless u is a
// target, the general manager or admin, 404 when it is unknown, 409 when it was already
// acknowledged (all *Problem; the 409 comes with the stored escalation).
func (s *Server) AcknowledgeEscalation(ctx context.Context, u store.User, id, comment string) (store.Escalation, error) {
	e, err := s.EscalationFor(ctx, u, id)
	if err != nil {
		return e, err
	}
	if !s.access.MayAcknowledge(u, e) {
		return e, problem(http.StatusForbidden, "only a target of the escalation, the general manager or admin may acknowledge it")
	}
	acked, err := s.st.AcknowledgeEscalation(ctx, e.ID, u.Username, comment, s.now())
	if errors.Is(err, store.ErrConflict) {
		if again, err := s.st.EscalationByID(ctx, e.ID); err == nil {
			e = again
		}
		return e, conflict("the escalation was already acknowledged")
	}
	return acked, err
}

func (s *Server) listEscalations(c *gin.Context) {
	if !s.managersOnly(c, s.access.MaySeeEscalations, "escalations") {
		return
	}
	f := store.EscalationFilter{Status: c.Query("status"), ProcessID: c.Query("process_id")}
	servePage(s, c, &f, store.CursorEscalations, &f.Limit, &f.Cursor, func(v *checks) {
		v.oneOf("status", f.Status, false, []string{store.EscalationOpen, store.EscalationAcknowledged})
		if l := c.Query("level"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 {
				v.add("level", "must be a positive integer")
			}
			f.Level = n
		}
		switch c.Query("target") {
		case "":
		case "me":
			f.Target = me(c).Username
		default:
			v.add("target", "must be me")
		}
	}, func(ctx context.Context, f store.EscalationFilter) ([]store.Escalation, string, error) {
		return s.ListEscalations(ctx, me(c), f)
	}, escalationDTO)
}

func (s *Server) getEscalation(c *gin.Context) {
	if !s.managersOnly(c, s.access.MaySeeEscalations, "escalations") {
		return
	}
	id, ok := pathID(c, "id", "escalation")
	if !ok {
		return
	}
	e, err := s.EscalationFor(c.Request.Context(), me(c), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, escalationDTO(e))
}

type acknowledgeRequest struct {
	Comment string `json:"comment,omitempty"`
}

// acknowledgeEscalation: a target of the escalation, or the general manager or admin,
// acknowledges it once.
func (s *Server) acknowledgeEscalation(c *gin.Context) {
	if !s.managersOnly(c, s.access.MaySeeEscalations, "escalations") {
		return
	}
	var req acknowledgeRequest
	v, ok := decodeJSON(c, &req, true)
	if !ok {
		return
	}
	v.text("comment", req.Comment, false, 10000)
	if p := v.problem(); p != nil {
		writeProblem(c, p)
		return
	}
	id, ok := pathID(c, "id", "escalation")
	if !ok {
		return
	}
	e, err := s.AcknowledgeEscalation(c.Request.Context(), me(c), id, req.Comment)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, escalationDTO(e))
}
