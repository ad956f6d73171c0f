package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func init() {
	processRoutes[domain.ProcessComplaint] = func(s *Server, v1 *gin.RouterGroup) {
		v1.POST("/complaints", s.createComplaint)
		v1.GET("/complaints", s.listComplaints)
		v1.GET("/complaints/:id", s.getComplaint)
	}
	caseAccess[domain.ProcessComplaint] = func(s *Server, ctx context.Context, u store.User, id string) error {
		_, err := s.complaintFor(ctx, u, id)
		return err
	}
}

// ComplaintRequest is a complaint to file: the body of POST /complaints, and what the
// web app's form sends to FileComplaint. Severity "" is normal; Category and OrderID are
// optional.
type ComplaintRequest struct {
	CustomerID  string `json:"customer_id"`
	Channel     string `json:"channel"`
	Subject     string `json:"subject"`
	Description string `json:"description"`
	Severity    string `json:"severity,omitempty"`
	Category    string `json:"category,omitempty"`
	OrderID     string `json:"order_id,omitempty"`
}

// ComplaintCreated is a filed complaint: the 201 body of POST /complaints.
type ComplaintCreated struct {
	ID            string    `json:"id"`
	Status        string    `json:"status"`
	Severity      string    `json:"severity"`
	Category      *string   `json:"category"`
	CustomerID    string    `json:"customer_id"`
	Channel       string    `json:"channel"`
	Subject       string    `json:"subject"`
	ResponseDueAt time.Time `json:"response_due_at"`
	CreatedAt     time.Time `json:"created_at"`
	// Replayed: the complaint was filed by an earlier request with the same idempotency
	// key, which this one replays.
	Replayed bool `json:"-"`
}

type complaintResponse struct {
	ID              string             `json:"id"`
	CustomerID      string             `json:"customer_id"`
	CustomerName    string             `json:"customer_name"`
	Status          string             `json:"status"`
	Category        *string            `json:"category"`
	Severity        string             `json:"severity"`
	Assignee        *string            `json:"assignee"`
	Channel         string             `json:"channel"`
	Subject         string             `json:"subject"`
	Description     string             `json:"description"`
	OrderID         *string            `json:"order_id"`
	FiledBy         string             `json:"filed_by"`
	CreatedAt       time.Time          `json:"created_at"`
	ResponseDueAt   time.Time          `json:"response_due_at"`
	RespondedAt     *time.Time         `json:"responded_at"`
	Resolution      *domain.Resolution `json:"resolution"`
	EscalationLevel int                `json:"escalation_level"`
	ClosedAt        *time.Time         `json:"closed_at"`
	UpdatedAt       time.Time          `json:"updated_at"`
}

// complaintDetail is a complaint with its audit timeline.
type complaintDetail struct {
	complaintResponse
	Timeline []store.TimelineEntry `json:"timeline"`
}

func complaintDTO(c store.Complaint) complaintResponse {
	return complaintResponse{
		ID: c.ID, CustomerID: c.CustomerID, CustomerName: c.CustomerName, Status: c.Status,
		Category: strOrNil(c.Category), Severity: c.Severity, Assignee: strOrNil(c.Assignee), Channel: c.Channel,
		Subject: c.Subject, Description: c.Description, OrderID: strOrNil(c.OrderID), FiledBy: c.FiledBy,
		CreatedAt: c.ReceivedAt, ResponseDueAt: c.ResponseDueAt, RespondedAt: c.RespondedAt, Resolution: c.Resolution,
		EscalationLevel: c.EscalationLevel, ClosedAt: c.ClosedAt, UpdatedAt: c.UpdatedAt,
	}
}

func (s *Server) createComplaint(c *gin.Context) {
	u := me(c)
	if !s.access.MayFileComplaint(u) {
		forbidden(c, "your roles may not file complaints")
		return
	}
	var req ComplaintRequest
	v, ok := decodeJSON(c, &req, false)
	if !ok {
		return
	}
	cu, err := s.checkComplaint(c.Request.Context(), u, &req, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.waitForWorkflow(c)
	_, res, err := s.startComplaint(c.Request.Context(), u, req, cu, c.GetHeader("Idempotency-Key"))
	if err != nil {
		s.failCreate(c, err)
		return
	}
	writeCreated(c, createPath(domain.ComplaintProcess)+"/"+res.ResourceID, res)
}

// FileComplaint files a complaint for u, as POST /api/v1/complaints does, under the
// idempotency key key ("" for none; the same key and request file one complaint, a
// different request with it is a 409): a 403 *Problem when u's roles may not file
// complaints, a 422 one naming the fields at fault (customer_id, channel, subject, …),
// a 503 one when the process could not be started (retry with the same key). The
// caller gives ctx the workflow deadline (the web app's route is HandleUpdating).
func (s *Server) FileComplaint(ctx context.Context, u store.User, req ComplaintRequest, key string) (ComplaintCreated, error) {
	if !s.access.MayFileComplaint(u) {
		return ComplaintCreated{}, problem(http.StatusForbidden, "your roles may not file complaints")
	}
	cu, err := s.checkComplaint(ctx, u, &req, nil)
	if err != nil {
		return ComplaintCreated{}, err
	}
	out, _, err := s.startComplaint(ctx, u, req, cu, key)
	return out, err
}

// checkComplaint validates req for u, adding its errors to v (the body's own): a 422
// *Problem naming every bad field, else the customer it is for. It sets the default
// severity.
func (s *Server) checkComplaint(ctx context.Context, u store.User, req *ComplaintRequest, v checks) (store.Customer, error) {
	if req.Severity == "" {
		req.Severity = "normal"
	}
	v.text("customer_id", req.CustomerID, true, 100)
	var cu store.Customer
	if !v.failed("customer_id") {
		var err error
		cu, err = s.st.CustomerByID(ctx, req.CustomerID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return cu, err
		}
		if err != nil || !s.access.MayFileFor(u, domain.ProcessComplaint, cu) {
			v.add("customer_id", "no such customer")
		}
	}
	v.oneOf("channel", req.Channel, true, domain.ComplaintChannels)
	v.text("subject", req.Subject, true, 200)
	v.text("description", req.Description, true, 10000)
	v.oneOf("severity", req.Severity, false, domain.ComplaintSeverities)
	v.oneOf("category", req.Category, false, domain.ComplaintCategories)
	v.text("order_id", req.OrderID, false, 100)
	if p := v.problem(); p != nil {
		return cu, p
	}
	return cu, nil
}

// startComplaint files the checked complaint req for customer cu under key: its row and
// its workflow (startCase).
func (s *Server) startComplaint(ctx context.Context, u store.User, req ComplaintRequest, cu store.Customer, key string) (ComplaintCreated, store.IdempotentResult, error) {
	res, err := s.startCase(ctx, u, domain.ComplaintProcess, key, req, func(ctx context.Context, tx pgx.Tx, id string) (any, any, error) {
		in := domain.ComplaintInput{
			ID: id, CustomerID: cu.ID, CustomerName: cu.Name, CustomerEmail: cu.Email, CustomerTier: cu.Tier,
			Locale: cu.Locale, OwnerRep: cu.Owner, Channel: req.Channel, Subject: req.Subject,
			Description: req.Description, Severity: req.Severity, Category: req.Category, OrderID: req.OrderID,
			FiledBy: u.Username, ReceivedAt: s.now().UTC().Truncate(time.Microsecond), Policy: s.cfg.ComplaintPolicy,
		}
		due := in.ReceivedAt.Add(in.Policy.ResponseWindow(in.Severity, in.CustomerTier))
		if err := store.InsertComplaint(ctx, tx, in, domain.ComplaintReceived, due); err != nil {
			return nil, nil, err
		}
		return in, ComplaintCreated{
			ID: id, Status: domain.ComplaintReceived, Severity: in.Severity, Category: strOrNil(in.Category),
			CustomerID: in.CustomerID, Channel: in.Channel, Subject: in.Subject, ResponseDueAt: due, CreatedAt: in.ReceivedAt,
		}, nil
	})
	out, err := createdBody[ComplaintCreated](res, err)
	out.Replayed = res.Replayed
	return out, res, err
}

// ComplaintFor returns complaint id with its audit timeline for u: a 404 *Problem when
// it is unknown or u may not see it (the two are not told apart). The JSON detail and
// the web app's complaint page both read through it.
func (s *Server) ComplaintFor(ctx context.Context, u store.User, id string) (store.Complaint, []store.TimelineEntry, error) {
	cm, err := s.complaintFor(ctx, u, id)
	if err != nil {
		return store.Complaint{}, nil, err
	}
	tl, err := s.st.Timeline(ctx, cm.ID)
	if err != nil {
		return store.Complaint{}, nil, err
	}
	return cm, tl, nil
}

// complaintFor is ComplaintFor without the timeline.
func (s *Server) complaintFor(ctx context.Context, u store.User, id string) (store.Complaint, error) {
	cm, err := s.st.ComplaintByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.access.SeesCase(u, domain.ProcessComplaint, ComplaintParties(cm))) {
		return store.Complaint{}, problem(http.StatusNotFound, "complaint not found")
	}
	return cm, err
}

// ListComplaints lists a page of the complaints u may list: f's status, customer and
// page, narrowed to the customers u owns when u lists only their own; a 403 *Problem
// when u may list none. The JSON list and the web app's list both read through it.
func (s *Server) ListComplaints(ctx context.Context, u store.User, f store.ComplaintFilter) ([]store.Complaint, string, error) {
	owner, err := s.listOwner(u, domain.ProcessComplaint)
	if err != nil {
		return nil, "", err
	}
	f.Owner = owner
	return s.st.ListComplaints(ctx, f)
}

func (s *Server) getComplaint(c *gin.Context) {
	id, ok := pathID(c, "id", "complaint")
	if !ok {
		return
	}
	cm, tl, err := s.ComplaintFor(c.Request.Context(), me(c), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, complaintDetail{complaintResponse: complaintDTO(cm), Timeline: tl})
}

func (s *Server) listComplaints(c *gin.Context) {
	f := store.ComplaintFilter{Status: c.Query("status"), CustomerID: c.Query("customer_id")}
	// 403 before the query is checked; ListComplaints narrows the list.
	if s.mayList(c, domain.ProcessComplaint) {
		servePage(s, c, &f, store.CursorComplaints, &f.Limit, &f.Cursor, statusIn(f.Status, domain.ComplaintStatuses),
			func(ctx context.Context, f store.ComplaintFilter) ([]store.Complaint, string, error) {
				return s.ListComplaints(ctx, me(c), f)
			}, complaintDTO)
	}
}
