package web

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/domain"
)

// surveyTemporal is the Temporal client of the survey pages' tests: the fake's
// workflows, and Schedules in memory (each with a next run at a fixed time).
type surveyTemporal struct {
	client.Client
	mu     sync.Mutex
	paused map[string]bool
	next   time.Time
}

func (s *surveyTemporal) ScheduleClient() client.ScheduleClient { return surveySchedules{owner: s} }

type surveySchedules struct {
	client.ScheduleClient
	owner *surveyTemporal
}

func (s surveySchedules) GetHandle(_ context.Context, id string) client.ScheduleHandle {
	return surveySchedule{owner: s.owner, id: id}
}

type surveySchedule struct {
	client.ScheduleHandle
	owner *surveyTemporal
	id    string
}

func (h surveySchedule) GetID() string { return h.id }

func (h surveySchedule) Describe(context.Context) (*client.ScheduleDescription, error) {
	h.owner.mu.Lock()
	defer h.owner.mu.Unlock()
	return &client.ScheduleDescription{Schedule: client.Schedule{State: &client.ScheduleState{Paused: h.owner.paused[h.id]}},
		Info: client.ScheduleInfo{NextActionTimes: []time.Time{h.owner.next}}}, nil
}

func (h surveySchedule) Pause(context.Context, client.SchedulePauseOptions) error {
	h.owner.mu.Lock()
	defer h.owner.mu.Unlock()
	h.owner.paused[h.id] = true
	return nil
}

func (h surveySchedule) Unpause(context.Context, client.ScheduleUnpauseOptions) error {
	h.owner.mu.Lock()
	defer h.owner.mu.Unlock()
	h.owner.paused[h.id] = false
	return nil
}

func (s *surveyTemporal) isPaused(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused[domain.SurveyScheduleID(id)]
}

// newSurveyEnv is the env with Schedules, an admin and a programme (svp_TIERA, tier A,
// monthly) whose cycle svc_T1 has four answers of ten invited (surveyAnswers).
func newSurveyEnv(t *testing.T) (*env, *fakeTemporal, *surveyTemporal) {
	t.Helper()
	sched := &surveyTemporal{paused: map[string]bool{}, next: time.Date(2027, 7, 1, 1, 0, 0, 0, time.UTC)}
	tc := &fakeTemporal{Client: sched}
	e := newEnvWith(t, Config{}, tc)
	e.addUser("root", "Asia/Shanghai", domain.RoleAdmin)
	ctx := context.Background()
	if _, err := e.st.Pool.Exec(ctx, `INSERT INTO survey_programmes (id, name, audience, cadence, created_by)
		VALUES ('svp_TIERA', 'Tier A monthly', 'tier_a', 'monthly', 'root')`); err != nil {
		t.Fatal(err)
	}
	now := e.clock.now()
	e.insertCycle("svc_T1", "svp_TIERA", domain.CycleOpen, 10, now.Add(-72*time.Hour), surveyAnswers, []time.Time{
		now.Add(-48 * time.Hour), now.Add(-48 * time.Hour), now.Add(-47 * time.Hour), now})
	e.insertCycle("svc_T0", "svp_TIERA", domain.CycleClosed, 3, now.Add(-60*24*time.Hour), nil, nil)
	return e, tc, sched
}

// surveyAnswers: averages 4.25, 4.00, 3.25, 3.75 and 3.00; 12 of 20 ratings 4 or 5
// (CSAT 60.0); NPS 10, 8, 6, 9: two promoters, a passive, a detractor (NPS 25.0).
var surveyAnswers = []map[string]any{
	{"service_attitude": 5, "service_quality": 4, "service_efficiency": 4, "product_quality": 5, "after_sales_service": 3, "nps": 10, "comment": "Good"},
	{"service_attitude": 4, "service_quality": 3, "service_efficiency": 4, "product_quality": 1, "after_sales_service": 3, "nps": 8},
	{"service_attitude": 3, "service_quality": 4, "service_efficiency": 2, "product_quality": 4, "after_sales_service": 4, "nps": 6},
	{"service_attitude": 5, "service_quality": 5, "service_efficiency": 3, "product_quality": 5, "after_sales_service": 2, "nps": 9},
}

// insertCycle writes a cycle row and one answered survey link per answer.
func (e *env) insertCycle(id, programme, status string, invited int, started time.Time, answers []map[string]any, at []time.Time) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.st.Pool.Exec(ctx, `INSERT INTO survey_cycles (id, workflow_id, programme_id, audience, status, invited, started_by, started_at, closes_at)
		VALUES ($1, 'survey/'||$1, $2, 'tier_a', $3, $4, 'root', $5, $6)`, id, programme, status, invited, started, started.Add(14*24*time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	for i, a := range answers {
		key := fmt.Sprintf("survey/%s/answer/%d", id, i)
		hash := sha256.Sum256([]byte(key))
		b, _ := json.Marshal(a)
		if _, err := e.st.Pool.Exec(ctx, `INSERT INTO customer_links (id, key, token_hash, purpose, process, process_id, workflow_id,
			customer_id, customer_email, locale, status, expires_at, answer, answered_at, created_at)
			VALUES ($1, $2, $3, 'survey', 'survey', $4, 'survey/'||$4, $5, $5||'@example.test', 'en', 'answered', $6, $7, $8, $9)`,
			fmt.Sprintf("lnk_%s_%d", id, i), key, hash[:], id, fmt.Sprintf("cus_%d", i), started.Add(14*24*time.Hour), b, at[i], started); err != nil {
			e.t.Fatal(err)
		}
	}
}

// The survey pages' access: a sales rep has no link to them and gets 403 for the list
// and 404 for a cycle or a programme's action; a service manager sees the programmes,
// the cycles and a cycle's figures and charts without the admin's forms, and may not
// use them (403); nobody has a new-survey form.
func TestSurveyPagesAccess(t *testing.T) {
	e, _, sched := newSurveyEnv(t)
	alice, dave := e.session("alice"), e.session("dave")

	inbox := e.req(http.MethodGet, "/", alice, nil).Body.String()
	if strings.Contains(inbox, `id="nav-surveys"`) || strings.Contains(inbox, "nav-new-survey") {
		t.Error("a sales rep's header links the surveys")
	}
	for path, want := range map[string]int{"/surveys": http.StatusForbidden, "/surveys/svc_T1": http.StatusNotFound, "/surveys/svc_NONE": http.StatusNotFound} {
		if w := e.req(http.MethodGet, path, alice, nil); w.Code != want || strings.Contains(w.Body.String(), "Tier A monthly") {
			t.Errorf("alice GET %s: %d, want %d", path, w.Code, want)
		}
	}
	for _, action := range []string{"pause", "resume", "run"} {
		if w := e.req(http.MethodPost, "/surveys/programmes/svp_TIERA/"+action, alice, url.Values{"key": {"k1"}}); w.Code != http.StatusNotFound {
			t.Errorf("alice POST %s: %d, want 404", action, w.Code)
		}
	}

	w := e.req(http.MethodGet, "/surveys", dave, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("dave GET /surveys: %d: %s", w.Code, body)
	}
	for _, want := range []string{`id="nav-surveys"`, `id="programme-svp_TIERA"`, "<td>Tier A monthly</td>", "<td>Tier A customers</td>",
		"<td>Monthly</td>", `<td class="status">Active</td>`, ">2027-07-01 01:00 UTC</time>", `href="/surveys/svc_T1"`, `href="/surveys/svc_T0"`} {
		if !strings.Contains(body, want) {
			t.Errorf("dave's survey page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="pause-svp_TIERA"`) || strings.Contains(body, `id="run-svp_TIERA"`) ||
		strings.Contains(body, `action="/surveys/programmes/`) || strings.Contains(body, "nav-new-survey") {
		t.Error("a service manager is shown the admin's programme forms or a new-survey link")
	}
	// Newest first; the status filter.
	if strings.Index(body, `id="cycle-svc_T1"`) > strings.Index(body, `id="cycle-svc_T0"`) {
		t.Error("the cycles are not newest first")
	}
	if b := e.req(http.MethodGet, "/surveys?status=closed", dave, nil).Body.String(); strings.Contains(b, `id="cycle-svc_T1"`) ||
		!strings.Contains(b, `id="cycle-svc_T0"`) || !strings.Contains(b, `<option value="closed" selected>Closed</option>`) {
		t.Errorf("the closed filter: %s", b)
	}
	for _, action := range []string{"pause", "run"} {
		if w := e.req(http.MethodPost, "/surveys/programmes/svp_TIERA/"+action, dave, url.Values{"key": {"k2"}}); w.Code != http.StatusForbidden {
			t.Errorf("dave POST %s: %d, want 403", action, w.Code)
		}
	}
	if sched.isPaused("svp_TIERA") {
		t.Error("a refused pause paused the Schedule")
	}

	w = e.req(http.MethodGet, "/surveys/svc_T1", dave, nil)
	body = w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("dave GET the cycle: %d: %s", w.Code, body)
	}
	for _, want := range []string{`id="fact-status"><dt>Status</dt><dd>Open</dd>`, `<dd>Tier A monthly</dd>`,
		`id="fact-invited"><dt>Invited</dt><dd>10</dd>`, `id="fact-answered"><dt>Answered</dt><dd>4</dd>`,
		`id="fact-response_rate"><dt>Response rate</dt><dd>40.0 %</dd>`, `<dd>60.0 %</dd>`, `id="fact-nps"><dt>NPS</dt><dd>25.0</dd>`,
		`id="ratings-chart"`, `id="nps-chart"`, `id="days-chart"`,
		`<th scope="row">Service attitude</th>`, `<td class="num average">4.25</td>`, `<td class="num average">3.75</td>`,
		`<td class="num" id="nps-promoters">2</td>`, `<td class="num" id="nps-passives">1</td>`, `<td class="num" id="nps-detractors">1</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the cycle page lacks %s", want)
		}
	}
	// The charts' data: the averages in the survey's order, the split, every day from
	// the first answer to the last (a day without answers too).
	charts := chartSpecs(t, body)
	if got := fmt.Sprint(charts["ratings-chart"].Series); got != "[[4.25 4 3.25 3.75 3]]" {
		t.Errorf("ratings chart series %s", got)
	}
	if got := fmt.Sprint(charts["nps-chart"].Series); got != "[[2] [1] [1]]" {
		t.Errorf("NPS chart series %s", got)
	}
	if got := fmt.Sprint(charts["days-chart"].Series); got != "[[3 0 1]]" && got != "[[2 1 1]]" {
		t.Errorf("days chart series %s", got)
	}
	if n := len(charts["days-chart"].Labels); n != len(charts["days-chart"].Series[0]) {
		t.Errorf("days chart: %d labels for %v", n, charts["days-chart"].Series)
	}
	// A cycle without answers says so, without charts.
	if b := e.req(http.MethodGet, "/surveys/svc_T0", dave, nil).Body.String(); !strings.Contains(b, `id="no-answers"`) || strings.Contains(b, "data-chart") {
		t.Errorf("the cycle without answers: %s", b)
	}
	// No new-case form: /surveys/new is no cycle.
	if w := e.req(http.MethodGet, "/surveys/new", dave, nil); w.Code != http.StatusNotFound {
		t.Errorf("GET /surveys/new: %d", w.Code)
	}
}

// chartSpecs are the data-chart attributes of a page by element id.
func chartSpecs(t *testing.T, body string) map[string]chartSpec {
	t.Helper()
	out := map[string]chartSpec{}
	for _, m := range regexp.MustCompile(`id="([a-z-]+)" aria-hidden="true" data-chart="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		var c chartSpec
		raw := strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#39;", "'").Replace(m[2])
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			t.Fatalf("chart %s: %v: %s", m[1], err, raw)
		}
		out[m[1]] = c
	}
	return out
}

// An admin sees the forms: pauses the programme (its Schedule and its row, the page
// then offers resume), resumes it, and runs it now, which opens the new cycle's page;
// the same form sent twice starts one cycle.
func TestSurveyProgrammeForms(t *testing.T) {
	e, tc, sched := newSurveyEnv(t)
	root := e.session("root")

	body := e.req(http.MethodGet, "/surveys", root, nil).Body.String()
	for _, want := range []string{`id="pause-svp_TIERA"`, `id="run-svp_TIERA"`, `action="/surveys/programmes/svp_TIERA/pause"`,
		">2027-07-01 09:00 UTC&#43;8</time>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the admin's survey page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="resume-svp_TIERA"`) {
		t.Errorf("an active programme offers resume")
	}

	w := e.req(http.MethodPost, "/surveys/programmes/svp_TIERA/pause", root, url.Values{})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/surveys" || !sched.isPaused("svp_TIERA") {
		t.Fatalf("pause: %d %s, paused %v", w.Code, w.Header().Get("Location"), sched.isPaused("svp_TIERA"))
	}
	body = e.reqWith(http.MethodGet, "/surveys", root, w.Result().Cookies()).Body.String()
	if !strings.Contains(body, "Tier A monthly is paused") || !strings.Contains(body, `id="resume-svp_TIERA"`) ||
		!strings.Contains(body, `<td class="status">Paused</td>`) || strings.Contains(body, ">2027-07-01 09:00 UTC&#43;8</time>") {
		t.Errorf("after the pause: %s", body)
	}
	w = e.req(http.MethodPost, "/surveys/programmes/svp_TIERA/resume", root, url.Values{})
	if w.Code != http.StatusSeeOther || sched.isPaused("svp_TIERA") {
		t.Fatalf("resume: %d, paused %v", w.Code, sched.isPaused("svp_TIERA"))
	}

	// A cross-site form is refused.
	if w := e.req(http.MethodPost, "/surveys/programmes/svp_TIERA/pause", root, url.Values{}, "Sec-Fetch-Site", "cross-site",
		"Origin", "https://evil.example"); w.Code != http.StatusForbidden || sched.isPaused("svp_TIERA") {
		t.Fatalf("cross-site pause: %d", w.Code)
	}

	key := hiddenKey(t, e.req(http.MethodGet, "/surveys", root, nil).Body.String())
	w = e.req(http.MethodPost, "/surveys/programmes/svp_TIERA/run", root, url.Values{"key": {key}})
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/surveys/svc_") || tc.startCount() != 1 {
		t.Fatalf("run: %d %q, %d starts: %s", w.Code, loc, tc.startCount(), w.Body.String())
	}
	page := e.reqWith(http.MethodGet, loc, root, w.Result().Cookies())
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "started: its invitations are being sent") ||
		!strings.Contains(page.Body.String(), `<dd>Inviting</dd>`) {
		t.Fatalf("the new cycle's page: %d %s", page.Code, page.Body.String())
	}
	again := e.req(http.MethodPost, "/surveys/programmes/svp_TIERA/run", root, url.Values{"key": {key}})
	if again.Header().Get("Location") != loc || tc.startCount() != 1 {
		t.Errorf("the form sent again: %q, %d starts", again.Header().Get("Location"), tc.startCount())
	}
}
