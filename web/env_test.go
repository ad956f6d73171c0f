package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

// testPassword is every test user's password.
const testPassword = "correct horse battery"

// clock is a settable time source for the app.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is the API server with the web app mounted, as the binary builds it, on a fresh
// database with a few users who all have testPassword. Temporal is not needed by the
// pages tested here (nil client).
type env struct {
	t     *testing.T
	tc    *fakeTemporal
	st    *store.Store
	app   *App
	h     http.Handler
	clock *clock
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	return newEnvFull(t, cfg, nil, nil)
}

// newEnvWith is newEnv with a fake Temporal whose Updates the tests answer (nil: none).
func newEnvWith(t *testing.T, cfg Config, tc *fakeTemporal) *env {
	t.Helper()
	return newEnvFull(t, cfg, tc, nil)
}

// newEnvAPI is newEnv with the API's config changed by apiCfg.
func newEnvAPI(t *testing.T, cfg Config, apiCfg func(*api.Config)) *env {
	t.Helper()
	return newEnvFull(t, cfg, nil, apiCfg)
}

// newEnvFull is newEnv with a fake Temporal (nil: none) and the API's config changed by
// apiCfg (nil: unchanged).
func newEnvFull(t *testing.T, cfg Config, tc *fakeTemporal, apiCfg func(*api.Config)) *env {
	t.Helper()
	st := storetest.New(t, "web")
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	var temporal client.Client
	if tc != nil {
		temporal = tc
	}
	acfg := api.Config{PublicURL: "http://example.test", ComplaintPolicy: domain.DefaultComplaintPolicy()}
	if apiCfg != nil {
		apiCfg(&acfg)
	}
	srv := api.New(acfg, st, temporal, quiet)
	app, err := New(cfg, srv, st, quiet)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	app.now = clk.now
	app.Mount(srv)
	hash, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.UserInput{
		{Username: "dave", DisplayName: "Dave", Roles: []string{string(domain.RoleServiceManager)}},
		{Username: "carol", DisplayName: "Carol", Roles: []string{string(domain.RoleCustomerService)}, Manager: "dave"},
		{Username: "cathy", DisplayName: "Cathy", Locale: "zh-CN", Roles: []string{string(domain.RoleCustomerService)}, Manager: "dave"},
		{Username: "alice", DisplayName: "Alice", Roles: []string{string(domain.RoleSalesRep)}},
	} {
		u.Email = u.Username + "@example.test"
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPasswordHash(ctx, u.Username, hash); err != nil {
			t.Fatal(err)
		}
	}
	return &env{t: t, tc: tc, st: st, app: app, h: srv.Handler(), clock: clk}
}

// req is a request to the app; cookie is a session token ("" for none). hdr lists
// header name/value pairs; without any, a POST is a same-origin one, as a browser sends.
func (e *env) req(method, path, cookie string, form url.Values, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(method, path, cookie, nil, form, hdr...)
}

// reqWith is a GET with extra cookies (a flash a redirect set).
func (e *env) reqWith(method, path, cookie string, extra []*http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(method, path, cookie, extra, nil)
}

func (e *env) do(method, path, cookie string, extra []*http.Cookie, form url.Values, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, "http://example.test"+path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: e.app.cookie, Value: cookie})
	}
	for _, c := range extra {
		if c.Name != e.app.cookie && c.MaxAge >= 0 {
			r.AddCookie(c)
		}
	}
	if len(hdr) == 0 && method == http.MethodPost {
		hdr = []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://example.test"}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// signIn posts the sign-in form and returns the response.
func (e *env) signIn(username, password string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.req(http.MethodPost, "/signin", "", url.Values{"username": {username}, "password": {password}})
}

// session signs username in and returns the session cookie's value.
func (e *env) session(username string) string {
	e.t.Helper()
	w := e.signIn(username, testPassword)
	if w.Code != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: status %d: %s", username, w.Code, w.Body.String())
	}
	c := sessionCookie(w, e.app.cookie)
	if c == nil || c.Value == "" {
		e.t.Fatalf("sign in %s: no session cookie", username)
	}
	return c.Value
}

func sessionCookie(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// taskRow is a task to insert.
type taskRow struct {
	id, process, step, assignee, customer string
	groups                                []string
	created, due                          time.Time
	level                                 int
}

func (e *env) insertTask(r taskRow) {
	e.t.Helper()
	if r.process == "" {
		r.process = domain.ProcessComplaint
	}
	if r.step == "" {
		r.step = domain.StepEvaluate
	}
	if r.groups == nil {
		r.groups = []string{string(domain.RoleCustomerService)}
	}
	_, err := e.st.Pool.Exec(context.Background(), `INSERT INTO tasks (id, workflow_id, process, process_id, step, title,
		assignee, candidate_groups, exclude_users, status, priority, actions, form, context, due_at, created_at, escalation_level)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8, '{}', 'open', 0, '{accept}', '[]', $9, $10, $11, $12)`,
		r.id, r.process+"/cmp_"+r.id, r.process, "cmp_"+r.id, r.step, "Title of "+r.id, r.assignee, r.groups,
		map[string]any{"customer_name": r.customer}, r.due, r.created, r.level)
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) assignee(id string) string {
	e.t.Helper()
	var a *string
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT assignee FROM tasks WHERE id = $1`, id).Scan(&a); err != nil {
		e.t.Fatal(err)
	}
	if a == nil {
		return ""
	}
	return *a
}

func lockout(limit int, window, lock time.Duration) store.LockoutPolicy {
	return store.LockoutPolicy{Limit: limit, Window: window, Lock: lock}
}
