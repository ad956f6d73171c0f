package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDueClass(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	due := start.Add(10 * time.Hour)
	for _, c := range []struct {
		at   time.Duration
		want string
	}{
		{0, dueOK}, {7*time.Hour + 59*time.Minute, dueOK}, {8 * time.Hour, dueSoon}, {9*time.Hour + 59*time.Minute, dueSoon},
		{10 * time.Hour, dueLate}, {30 * time.Hour, dueLate},
	} {
		if got := dueClass(start, due, start.Add(c.at)); got != c.want {
			t.Errorf("at %v of a 10 h window: %s, want %s", c.at, got, c.want)
		}
	}
}

// row returns the inbox table row of task id in body, or "".
func row(body, id string) string {
	m := regexp.MustCompile(`(?s)<tr id="task-` + regexp.QuoteMeta(id) + `">.*?</tr>`).FindString(body)
	return m
}

func TestInbox(t *testing.T) {
	e := newEnv(t, Config{})
	now := e.clock.now()
	e.insertTask(taskRow{id: "mine1", assignee: "carol", customer: "Northwind Machinery", created: now.Add(-time.Hour), due: now.Add(9 * time.Hour)})
	e.insertTask(taskRow{id: "mine2", assignee: "carol", step: "respond", customer: "Acme", created: now.Add(-9 * time.Hour), due: now.Add(time.Hour)})
	e.insertTask(taskRow{id: "late", assignee: "carol", customer: "Acme", created: now.Add(-5 * time.Hour), due: now.Add(-2 * time.Hour), level: 1})
	e.insertTask(taskRow{id: "open1", customer: "华东重工", created: now, due: now.Add(12 * time.Hour)})
	e.insertTask(taskRow{id: "open2", customer: "Contoso", created: now, due: now.Add(13 * time.Hour)})
	e.insertTask(taskRow{id: "cathys", assignee: "cathy", created: now, due: now.Add(14 * time.Hour)})
	e.insertTask(taskRow{id: "contract", process: "contract", step: "countersign_finance", groups: []string{"finance"}, created: now, due: now.Add(time.Hour)})
	carol := e.session("carol")

	body := e.req(http.MethodGet, "/", carol, nil).Body.String()
	// Mine, sorted by due time: the late one first.
	if i, j, k := strings.Index(body, `id="task-late"`), strings.Index(body, `id="task-mine2"`), strings.Index(body, `id="task-mine1"`); i < 0 || !(i < j && j < k) {
		t.Fatalf("mine tab order: late %d, mine2 %d, mine1 %d:\n%s", i, j, k, body)
	}
	for _, id := range []string{"open1", "cathys", "contract"} {
		if row(body, id) != "" {
			t.Errorf("mine tab shows %s", id)
		}
	}
	for id, want := range map[string][]string{
		"mine1": {"Title of mine1", "Northwind Machinery", "Complaint", "Evaluate", `class="badge due-ok"`, "9h left", "Unclaim", "–"},
		"mine2": {"Respond", `class="badge due-soon"`, "1h left"},
		"late":  {`class="badge due-late"`, "2h overdue", "Level 1"},
	} {
		r := row(body, id)
		for _, w := range want {
			if !strings.Contains(r, w) {
				t.Errorf("row %s lacks %q: %s", id, w, r)
			}
		}
	}
	if !strings.Contains(body, `id="tab-mine" class="active"`) || strings.Contains(body, `id="tab-all"`) {
		t.Errorf("tabs: carol should have Mine (active) and Group, no All")
	}

	// Group: the unassigned tasks of carol's groups, each with a Claim button.
	body = e.req(http.MethodGet, "/?tab=group", carol, nil).Body.String()
	for _, id := range []string{"open1", "open2"} {
		if r := row(body, id); !strings.Contains(r, `action="/tasks/`+id+`/claim"`) {
			t.Errorf("group tab: %s without its claim form: %q", id, r)
		}
	}
	if !strings.Contains(row(body, "open1"), "华东重工") {
		t.Error("group tab: the customer's name is missing")
	}
	for _, id := range []string{"mine1", "cathys", "contract"} {
		if row(body, id) != "" {
			t.Errorf("group tab shows %s", id)
		}
	}

	// Claim acts at once: the task moves to Mine, with a notice.
	w := e.req(http.MethodPost, "/tasks/open1/claim", carol, url.Values{"tab": {"group"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/?tab=mine" {
		t.Fatalf("claim: %d %v", w.Code, w.Header())
	}
	if a := e.assignee("open1"); a != "carol" {
		t.Fatalf("assignee after claim: %q", a)
	}
	body = e.get("/?tab=mine", carol, w)
	if !strings.Contains(body, "You claimed “Title of open1”.") || !strings.Contains(row(body, "open1"), "/tasks/open1/unclaim") {
		t.Fatalf("after the claim: %s", body)
	}

	// A lost race: cathy claims open2 while carol looks at it; carol is told who has it.
	cathy := e.session("cathy")
	if w := e.req(http.MethodPost, "/tasks/open2/claim", cathy, url.Values{"tab": {"group"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("cathy's claim: %d", w.Code)
	}
	w = e.req(http.MethodPost, "/tasks/open2/claim", carol, url.Values{"tab": {"group"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/?tab=group" {
		t.Fatalf("carol's late claim: %d %v", w.Code, w.Header())
	}
	body = e.get("/?tab=group", carol, w)
	if !strings.Contains(body, "Too late: cathy has this task.") || strings.Contains(body, "409") {
		t.Fatalf("carol's late claim shows: %s", body)
	}
	if a := e.assignee("open2"); a != "cathy" {
		t.Fatalf("open2 assignee %q", a)
	}

	// Unclaim returns it to the group.
	w = e.req(http.MethodPost, "/tasks/open1/unclaim", carol, url.Values{"tab": {"mine"}})
	if w.Code != http.StatusSeeOther || e.assignee("open1") != "" {
		t.Fatalf("unclaim: %d, assignee %q", w.Code, e.assignee("open1"))
	}
	// A task carol may not see is not hers to claim: the API's rule (404) becomes a notice.
	w = e.req(http.MethodPost, "/tasks/contract/claim", carol, url.Values{"tab": {"group"}})
	if body := e.get("/", carol, w); e.assignee("contract") != "" || !strings.Contains(body, "You may not do that with this task.") {
		t.Fatalf("claim of a finance task: assignee %q, %s", e.assignee("contract"), body)
	}

	// Signed out, a claim goes to the sign-in page and changes nothing.
	if w := e.req(http.MethodPost, "/tasks/open1/claim", "", url.Values{}); w.Code != http.StatusSeeOther ||
		w.Header().Get("Location") != "/signin" || e.assignee("open1") != "" {
		t.Fatalf("signed-out claim: %d %v", w.Code, w.Header())
	}

	// Dave, a service manager, has the All tab: every complaint task, with who holds it.
	dave := e.session("dave")
	body = e.req(http.MethodGet, "/?tab=all", dave, nil).Body.String()
	if !strings.Contains(body, `id="tab-all" class="active"`) || !strings.Contains(row(body, "open2"), "cathy has it") ||
		row(body, "contract") != "" {
		t.Fatalf("dave's All tab: %s", body)
	}
	// Carol asking for All gets Mine.
	if body := e.req(http.MethodGet, "/?tab=all", carol, nil).Body.String(); !strings.Contains(body, `id="tab-mine" class="active"`) {
		t.Fatal("carol got the All tab")
	}
}

func TestInboxInChinese(t *testing.T) {
	e := newEnv(t, Config{})
	now := e.clock.now()
	e.insertTask(taskRow{id: "t1", assignee: "cathy", created: now, due: now.Add(3 * time.Hour)})
	body := e.req(http.MethodGet, "/", e.session("cathy"), nil).Body.String()
	for _, w := range []string{`<html lang="zh-CN">`, "<h1>待办</h1>", "我的", "小组", "投诉", "评估", "退回", "剩余 3 小时"} {
		if !strings.Contains(body, w) {
			t.Errorf("cathy's (zh-CN) inbox lacks %q", w)
		}
	}
	if strings.Contains(body, "Inbox") {
		t.Error("cathy's inbox has English")
	}
	// Signed out, the browser's language decides.
	w := e.req(http.MethodGet, "/signin", "", nil, "Accept-Language", "zh-CN,zh;q=0.9")
	if !strings.Contains(w.Body.String(), "<h1>登录</h1>") {
		t.Errorf("sign-in page for a zh-CN browser: %s", w.Body.String())
	}
}

// get follows the redirect of w with the flash cookie it set.
func (e *env) get(path, session string, w interface{ Result() *http.Response }) string {
	e.t.Helper()
	r := e.reqWith(http.MethodGet, path, session, w.Result().Cookies())
	return r.Body.String()
}

// A flash carries a known notice and a bounded argument; a forged one shows nothing.
func TestFlash(t *testing.T) {
	e := newEnv(t, Config{})
	w := httptest.NewRecorder()
	e.app.setFlash(w, "notice.claimed", strings.Repeat("投诉", 200))
	c := w.Result().Cookies()[0]
	if len(c.Value) > 2000 {
		t.Fatalf("a %d-byte flash cookie", len(c.Value))
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(c)
	w = httptest.NewRecorder()
	got := e.app.takeFlash(w, r, e.app.newPage(r, nil))
	if !strings.HasPrefix(got, "You claimed “投诉投诉") || !strings.HasSuffix(got, "…”.") {
		t.Fatalf("notice %q", got)
	}
	if cl := w.Result().Cookies(); len(cl) != 1 || cl[0].MaxAge >= 0 {
		t.Fatalf("the flash was not cleared: %+v", cl)
	}
	for _, forged := range []string{"k=signin.title&a=x", "k=%zz", ""} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: flashCookie, Value: forged})
		if got := e.app.takeFlash(httptest.NewRecorder(), r, e.app.newPage(r, nil)); got != "" {
			t.Errorf("forged flash %q shows %q", forged, got)
		}
	}
}
