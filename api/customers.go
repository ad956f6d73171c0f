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

type meResponse struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name"`
	Email       string   `json:"email"`
	Roles       []string `json:"roles"`
	Manager     *string  `json:"manager"`
	Delegate    *string  `json:"delegate"`
	OutOfOffice bool     `json:"out_of_office"`
	Locale      string   `json:"locale"`
	TimeZone    string   `json:"time_zone"`
}

func meDTO(u store.User) meResponse {
	return meResponse{
		Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Roles: u.RoleNames(),
		Manager: strOrNil(u.Manager), Delegate: strOrNil(u.Delegate), OutOfOffice: u.OutOfOffice, Locale: u.Locale,
		TimeZone: u.TimeZone,
	}
}

func (s *Server) getMe(c *gin.Context) { writeJSON(c, http.StatusOK, meDTO(me(c))) }

// Preferences are what a user changes of their own profile (PATCH /me, and the web
// app's language switch): each field that is set replaces the current value.
type Preferences struct {
	Locale   *string `json:"locale,omitempty"`
	TimeZone *string `json:"time_zone,omitempty"`
}

// SetPreferences applies p to u's profile and returns the user as it is now. Bad values
// are a 422 naming the field; nothing changes then.
func (s *Server) SetPreferences(ctx context.Context, u store.User, p Preferences) (store.User, error) {
	var v checks
	return s.setPreferences(ctx, u, p, v)
}

// setPreferences is SetPreferences after the body's own errors v (from decoding), which
// are answered together with the values' errors.
func (s *Server) setPreferences(ctx context.Context, u store.User, p Preferences, v checks) (store.User, error) {
	locale, tz := u.Locale, u.TimeZone
	if p.Locale != nil {
		locale = *p.Locale
		v.oneOf("locale", locale, true, domain.Locales)
	}
	if p.TimeZone != nil {
		tz = *p.TimeZone
		v.text("time_zone", tz, true, 64)
		if !v.failed("time_zone") {
			if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
				v.add("time_zone", "must be an IANA time zone such as Asia/Shanghai")
			}
		}
	}
	if pr := v.problem(); pr != nil {
		return store.User{}, pr
	}
	if err := s.st.SetPreferences(ctx, u.Username, locale, tz); err != nil {
		return store.User{}, err
	}
	u.Locale, u.TimeZone = locale, tz
	return u, nil
}

func (s *Server) patchMe(c *gin.Context) {
	var p Preferences
	v, ok := decodeJSON(c, &p, false)
	if !ok {
		return
	}
	u, err := s.setPreferences(c.Request.Context(), me(c), p, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, meDTO(u))
}

// customerRequest is the body of POST /customers.
type customerRequest struct {
	Name        string        `json:"name"`
	Email       string        `json:"email"`
	Locale      string        `json:"locale"`
	Tier        string        `json:"tier"`
	Owner       string        `json:"owner"`
	CreditLimit *domain.Money `json:"credit_limit"`
}

type customerResponse struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Email       string       `json:"email"`
	Locale      string       `json:"locale"`
	Tier        string       `json:"tier"`
	Owner       string       `json:"owner"`
	CreditLimit domain.Money `json:"credit_limit"`
	CreatedAt   time.Time    `json:"created_at"`
}

func customerDTO(c store.Customer) customerResponse {
	return customerResponse{ID: c.ID, Name: c.Name, Email: c.Email, Locale: c.Locale, Tier: c.Tier, Owner: c.Owner,
		CreditLimit: c.CreditLimit, CreatedAt: c.CreatedAt}
}

func (s *Server) createCustomer(c *gin.Context) {
	u := me(c)
	if !s.access.MayCreateCustomer(u) {
		forbidden(c, "only admin, sales managers and sales reps create customers")
		return
	}
	var req customerRequest
	v, ok := decodeJSON(c, &req, false)
	if !ok {
		return
	}
	ownOnly := !s.access.CreatesCustomersForAnyone(u)
	if req.Owner == "" && ownOnly {
		req.Owner = u.Username
	}
	if req.Locale == "" {
		req.Locale = "en"
	}
	v.text("name", req.Name, true, 200)
	v.email("email", req.Email)
	v.oneOf("locale", req.Locale, true, domain.Locales)
	v.oneOf("tier", req.Tier, true, domain.Tiers)
	v.text("owner", req.Owner, true, 100)
	if !v.failed("owner") && (!ownOnly || req.Owner == u.Username) {
		owner, err := s.st.UserByUsername(c.Request.Context(), req.Owner)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.internal(c, err)
			return
		}
		if err != nil || !owner.HasRole(domain.RoleSalesRep) {
			v.add("owner", "must be the username of a sales rep")
		}
	}
	if req.CreditLimit != nil {
		if err := req.CreditLimit.Validate(); err != nil {
			v.add("credit_limit", err.Error())
		}
	}
	if p := v.problem(); p != nil {
		writeProblem(c, p)
		return
	}
	if ownOnly && req.Owner != u.Username {
		forbidden(c, "a sales rep may only create customers they own")
		return
	}
	in := store.CustomerInput{Name: req.Name, Email: req.Email, Locale: req.Locale, Tier: req.Tier, Owner: req.Owner}
	if req.CreditLimit != nil {
		in.CreditLimit = *req.CreditLimit
	}
	s.create(c, req, "cus", "/api/v1/customers", func(ctx context.Context, tx pgx.Tx, id string) (any, *Problem, error) {
		in.ID = id
		cu, err := store.InsertCustomer(ctx, tx, in)
		if err != nil {
			return nil, nil, err
		}
		return customerDTO(cu), nil, nil
	})
}

func (s *Server) listCustomers(c *gin.Context) {
	u := me(c)
	f := store.CustomerFilter{Owner: c.Query("owner"), Tier: c.Query("tier")}
	all, own := s.access.ListsCustomers(u)
	if !all && !own {
		forbidden(c, "your roles do not give access to customers")
		return
	}
	list := s.st.ListCustomers
	if !all { // a sales rep: their own customers only
		if f.Owner != "" && f.Owner != u.Username {
			list = func(context.Context, store.CustomerFilter) ([]store.Customer, string, error) { return nil, "", nil }
		}
		f.Owner = u.Username
	}
	servePage(s, c, &f, store.CursorCustomers, &f.Limit, &f.Cursor, func(v *checks) {
		v.oneOf("tier", f.Tier, false, domain.Tiers)
	}, list, customerDTO)
}

func (s *Server) getCustomer(c *gin.Context) {
	id, ok := pathID(c, "id", "customer")
	if !ok {
		return
	}
	cu, err := s.st.CustomerByID(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.access.SeesCustomer(me(c), cu)) {
		notFound(c, "customer")
		return
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	writeJSON(c, http.StatusOK, customerDTO(cu))
}

// maxFilingCustomers caps the customers FilingCustomers returns (a form's list).
const maxFilingCustomers = 1000

// FilingCustomers lists the customers u may file a case of process proc for
// (Access.MayFileFor), in creation order, at most maxFilingCustomers: every customer
// for those who see every case of proc, else a sales rep's own; none for anyone else.
func (s *Server) FilingCustomers(ctx context.Context, u store.User, proc string) ([]store.Customer, error) {
	f := store.CustomerFilter{Limit: 200}
	switch {
	case s.access.SeesAll(u, proc):
	case u.HasRole(domain.RoleSalesRep):
		f.Owner = u.Username
	default:
		return nil, nil
	}
	var out []store.Customer
	for len(out) < maxFilingCustomers {
		page, next, err := s.st.ListCustomers(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, cu := range page {
			if s.access.MayFileFor(u, proc, cu) {
				out = append(out, cu)
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return out, nil
}
