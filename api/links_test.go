package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

// insertLink stores an open complaint feedback link of key with token, for Globex
// (zh-CN) or Acme (en) by locale. answerUpdate "" is customer-link-answer.
func insertLink(t testing.TB, e *env, key, token, locale string, expires time.Time, answerUpdate string) store.CustomerLink {
	t.Helper()
	cust := domain.LinkCustomer{ID: "cus_acme", Email: "buyer@acme.test", Name: "Acme", Locale: "en"}
	if locale == "zh-CN" {
		cust = domain.LinkCustomer{ID: "cus_globex", Email: "li@globex.test", Name: "Globex 环球", Locale: "zh-CN"}
	}
	wf, _, _ := strings.Cut(strings.TrimPrefix(key, "complaint/"), "/")
	l, _, err := store.CreateCustomerLink(context.Background(), e.st.Pool, domain.CreateLinkInput{
		Key: key, Purpose: domain.PurposeComplaintFeedback, Process: domain.ProcessComplaint, ProcessID: wf,
		WorkflowID: "complaint/" + wf, Round: 1, Customer: cust, Context: map[string]any{"subject": "Late delivery"},
		Template: domain.TmplFeedbackRequest, ExpiresAt: expires, At: time.Now().Add(-time.Hour), AnswerUpdate: answerUpdate,
	}, domain.HashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (e *env) linkRow(id string) store.CustomerLink {
	e.t.Helper()
	l, err := store.CustomerLinkByID(context.Background(), e.st.Pool, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *env) updateCount() int {
	e.tc.mu.Lock()
	defer e.tc.mu.Unlock()
	return len(e.tc.updates)
}

func (e *env) onUpdate(fn func(client.UpdateWorkflowOptions) (any, error)) {
	e.tc.mu.Lock()
	e.tc.onUpdate = fn
	e.tc.mu.Unlock()
}

// checkPage checks what every link page has: HTML, the strict headers, the stylesheet
// and no script or inline style.
func checkPage(t *testing.T, r resp, code int, lang string, want ...string) string {
	t.Helper()
	page := r.Body.String()
	if r.Code != code {
		t.Fatalf("status %d, want %d:\n%s", r.Code, code, page)
	}
	h := r.Header()
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Referrer-Policy") != "no-referrer" ||
		h.Get("Content-Security-Policy") != linkPageCSP || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", h)
	}
	for _, s := range append([]string{`<html lang="` + lang + `">`, `<meta name="viewport"`, `href="` + linkCSSPath + `"`}, want...) {
		if !strings.Contains(page, s) {
			t.Fatalf("page lacks %q:\n%s", s, page)
		}
	}
	for _, s := range []string{"<script", "style=", "<style", "onclick"} {
		if strings.Contains(page, s) {
			t.Fatalf("page has %q:\n%s", s, page)
		}
	}
	return page
}

// The form of a link, in the customer's language, on both paths.
func TestLinkPageInTheCustomersLocale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := time.Now().Add(time.Hour)
	insertLink(t, e, "complaint/cmp_en/feedback/1", "tok-en", "en", in, "")
	insertLink(t, e, "complaint/cmp_zh/feedback/1", "tok-zh", "zh-CN", in, "")

	page := checkPage(t, e.do("GET", "/c/tok-en", "", nil), http.StatusOK, "en",
		"How did we do?", "Dear Acme", "“Late delivery”", "Very satisfied", `<form method="post">`, `name="comment"`)
	if n := strings.Count(page, `type="radio" name="score"`); n != 5 {
		t.Fatalf("%d score choices", n)
	}
	checkPage(t, e.do("GET", "/c/tok-zh", "", nil), http.StatusOK, "zh-CN",
		"您对我们的处理满意吗？", "尊敬的Globex 环球", "非常满意", "提交反馈")
	// The path of the links e-mailed before customer links serves the same page.
	checkPage(t, e.do("GET", "/c/feedback/tok-zh", "", nil), http.StatusOK, "zh-CN", "非常满意")

	css := e.do("GET", linkCSSPath, "", nil).want(http.StatusOK)
	if !strings.HasPrefix(css.Header().Get("Content-Type"), "text/css") || !strings.Contains(css.Body.String(), "label.choice") {
		t.Fatalf("stylesheet: %v %s", css.Header(), css.Body.String())
	}
}

// An answer goes to the workflow through customer-link-answer and is recorded; a second
// answer gets the "answered" page and reaches nothing.
func TestLinkAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := insertLink(t, e, "complaint/cmp_1/feedback/1", "tok-1", "zh-CN", time.Now().Add(time.Hour), "")
	e.onUpdate(func(client.UpdateWorkflowOptions) (any, error) {
		return domain.LinkAnswerResult{LinkID: l.ID, ProcessStatus: domain.ComplaintClosed}, nil
	})

	// Invalid: the form again, what was typed kept, the message on the field; nothing sent.
	page := checkPage(t, e.doForm("/c/tok-1", "score=9&comment=Hm+%3Cb%3E"), http.StatusUnprocessableEntity, "zh-CN",
		"请选择 1 到 5 的评分。", `aria-describedby="score-error"`, "Hm &lt;b&gt;</textarea>")
	if strings.Contains(page, "comment-error") {
		t.Fatal("the comment is flagged too")
	}
	if e.updateCount() != 0 {
		t.Fatal("an invalid answer reached the workflow")
	}

	checkPage(t, e.doForm("/c/tok-1", "score=4&comment=+Fast+fix+&extra=ignored"), http.StatusOK, "zh-CN", "感谢您的反馈")
	u := e.tc.lastUpdate()
	a, ok := u.Args[0].(domain.LinkAnswer)
	if !ok || u.WorkflowID != "complaint/cmp_1" || u.UpdateName != domain.UpdateLinkAnswer || a.LinkID != l.ID ||
		a.Purpose != domain.PurposeComplaintFeedback || a.Answer["score"] != 4 || a.Answer["comment"] != "Fast fix" || len(a.Answer) != 2 {
		t.Fatalf("update %+v %+v", u, u.Args[0])
	}
	row := e.linkRow(l.ID)
	if row.Status != domain.LinkAnswered || row.AnsweredAt == nil || row.Answer["score"] != float64(4) {
		t.Fatalf("row %+v", row)
	}

	// Answered: the same page on GET and POST, 409, and nothing reaches the workflow.
	checkPage(t, e.do("GET", "/c/tok-1", "", nil), http.StatusConflict, "zh-CN", "您已回复过")
	checkPage(t, e.doForm("/c/tok-1", "score=1"), http.StatusConflict, "zh-CN", "您已回复过")
	if p := e.do("POST", "/c/tok-1", "", map[string]any{"score": 2}).problem(http.StatusConflict); !strings.Contains(p.Detail, "answered") {
		t.Fatalf("json: %+v", p)
	}
	if e.updateCount() != 1 {
		t.Fatalf("%d updates, want 1", e.updateCount())
	}
	if again := e.linkRow(l.ID); again.Answer["score"] != float64(4) || !again.AnsweredAt.Equal(*row.AnsweredAt) {
		t.Fatalf("the second answer changed the row: %+v", again)
	}

	// JSON works too.
	l2 := insertLink(t, e, "complaint/cmp_2/feedback/1", "tok-2", "en", time.Now().Add(time.Hour), "")
	e.do("POST", "/c/tok-2", "", map[string]any{"score": 0}).problem(http.StatusUnprocessableEntity)
	if m := e.do("POST", "/c/tok-2", "", map[string]any{"score": 5}).want(http.StatusOK).json(); m["status"] != "recorded" || m["link_id"] != l2.ID {
		t.Fatalf("json: %v", m)
	}
}

// Two answers at once in two API processes: the workflow takes one; the other gets the
// "answered" page even though the row did not say so yet.
func TestLinkAnswerTakenByAnother(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := insertLink(t, e, "complaint/cmp_1/feedback/1", "tok-1", "en", time.Now().Add(time.Hour), "")
	e.onUpdate(func(client.UpdateWorkflowOptions) (any, error) {
		return nil, temporal.NewApplicationError("answered", domain.ErrTypeLinkAnswered)
	})
	checkPage(t, e.doForm("/c/tok-1", "score=3"), http.StatusConflict, "en", "Already answered")
	if row := e.linkRow(l.ID); row.Status != domain.LinkOpen || row.Answer != nil {
		t.Fatalf("row %+v", row)
	}

	// The workflow refuses the data: the form again with its fields.
	e.onUpdate(func(client.UpdateWorkflowOptions) (any, error) {
		return nil, temporal.NewApplicationError("invalid", domain.ErrTypeInvalidData, []domain.FieldError{{Field: "comment", Message: "too long"}})
	})
	checkPage(t, e.doForm("/c/tok-1", "score=3&comment=x"), http.StatusUnprocessableEntity, "en", "Please shorten your comment")

	// The workflow cannot be reached: try again later; the link stays open.
	e.onUpdate(func(client.UpdateWorkflowOptions) (any, error) { return nil, errors.New("connection refused") })
	checkPage(t, e.doForm("/c/tok-1", "score=3"), http.StatusServiceUnavailable, "en", "Please try again")
	if row := e.linkRow(l.ID); row.Status != domain.LinkOpen {
		t.Fatalf("row %+v", row)
	}
}

// An expired link, by its time or as the workflow says, gets the "expired" page (410)
// and changes nothing; an unknown token gets 404.
func TestLinkExpiredAndUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	past := insertLink(t, e, "complaint/cmp_1/feedback/1", "tok-past", "en", time.Now().Add(-time.Minute), "")
	checkPage(t, e.do("GET", "/c/tok-past", "", nil), http.StatusGone, "en", "This link has expired")
	checkPage(t, e.doForm("/c/tok-past", "score=5"), http.StatusGone, "en", "This link has expired")
	e.do("POST", "/c/tok-past", "", map[string]any{"score": 5}).problem(http.StatusGone)
	if e.updateCount() != 0 {
		t.Fatal("an answer to an expired link reached the workflow")
	}
	if row := e.linkRow(past.ID); row.Answer != nil || row.AnsweredAt != nil {
		t.Fatalf("row %+v", row)
	}

	// The workflow's clock says expired before the row does.
	l := insertLink(t, e, "complaint/cmp_2/feedback/1", "tok-zh", "zh-CN", time.Now().Add(time.Hour), "")
	e.onUpdate(func(client.UpdateWorkflowOptions) (any, error) {
		return nil, temporal.NewApplicationError("expired", domain.ErrTypeLinkExpired)
	})
	checkPage(t, e.doForm("/c/tok-zh", "score=5"), http.StatusGone, "zh-CN", "此链接已过期")
	if row := e.linkRow(l.ID); row.Status != domain.LinkExpired || row.Answer != nil {
		t.Fatalf("row %+v", row)
	}
	checkPage(t, e.do("GET", "/c/tok-zh", "", nil), http.StatusGone, "zh-CN", "此链接已过期")

	checkPage(t, e.do("GET", "/c/nope", "", nil), http.StatusNotFound, "en", "Link not found")
	checkPage(t, e.do("GET", "/c/nope", "", nil, "Accept-Language", "zh-CN,zh;q=0.9"), http.StatusNotFound, "zh-CN", "找不到此链接")
	checkPage(t, e.doForm("/c/feedback/nope", "score=5"), http.StatusNotFound, "en", "Link not found")
	e.do("POST", "/c/nope", "", map[string]any{"score": 5}).problem(http.StatusNotFound)
}

// A feedback link e-mailed before the migration to customer links keeps working on its
// old path, and its answer goes to submit-feedback, the Update its run waits on. (The
// database is migrated to 00004, the release before customer links on this branch.)
func TestLinkMadeBeforeTheMigration(t *testing.T) {
	t.Parallel()
	st := storetest.NewAt(t, "apimig", 4)
	ctx := context.Background()
	_, err := st.Pool.Exec(ctx, `
INSERT INTO users (id, username, display_name, email, locale) VALUES ('usr_aaron', 'aaron', 'Aaron', 'aaron@example.test', 'en');
INSERT INTO customers (id, name, email, locale, tier, owner) VALUES ('cus_globex', 'Globex 环球', 'li@globex.test', 'zh-CN', 'C', 'aaron');
INSERT INTO complaints (id, workflow_id, customer_id, channel, subject, description, status, severity, filed_by, received_at, response_due_at)
VALUES ('cmp_old', 'complaint/cmp_old', 'cus_globex', 'email', 'Late delivery', 'd', 'following_up', 'normal', 'aaron', now(), now());
INSERT INTO feedback_requests (token, complaint_id, workflow_id, round, created_at)
VALUES ('0123abcd', 'cmp_old', 'complaint/cmp_old', 1, now() - interval '1 day');`)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tc := &fakeTemporal{}
	srv := New(Config{PublicURL: "http://example.test", ComplaintPolicy: domain.DefaultComplaintPolicy(), UpdateTimeout: 5 * time.Second},
		st, tc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := &env{t: t, st: st, tc: tc, srv: srv}

	for _, p := range []string{"/c/feedback/0123abcd", "/c/0123abcd"} {
		checkPage(t, e.do("GET", p, "", nil), http.StatusOK, "zh-CN", "“Late delivery”", "非常满意")
	}
	checkPage(t, e.doForm("/c/feedback/0123abcd", "score=2&comment=Still+late"), http.StatusOK, "zh-CN", "感谢您的反馈")
	u := tc.lastUpdate()
	fb, ok := u.Args[0].(domain.Feedback)
	if !ok || u.WorkflowID != "complaint/cmp_old" || u.UpdateName != domain.UpdateSubmitFeedback ||
		fb.Score != 2 || fb.Comment != "Still late" || fb.At.IsZero() {
		t.Fatalf("update %+v %+v", u, u.Args[0])
	}
	l, err := st.CustomerLinkByToken(ctx, "0123abcd")
	if err != nil || l.Status != domain.LinkAnswered || l.Answer["score"] != float64(2) {
		t.Fatalf("row %+v %v", l, err)
	}
	checkPage(t, e.do("GET", "/c/0123abcd", "", nil), http.StatusConflict, "zh-CN", "您已回复过")

	// The run stopped waiting (it closed without feedback): expired, and so it stays.
	_, err = st.Pool.Exec(ctx, `UPDATE customer_links SET status = 'open', answer = NULL, answered_at = NULL`)
	if err != nil {
		t.Fatal(err)
	}
	e.onUpdate(func(client.UpdateWorkflowOptions) (any, error) {
		return nil, temporal.NewApplicationError("no feedback is awaited", domain.ErrTypeNotAccepting)
	})
	checkPage(t, e.doForm("/c/feedback/0123abcd", "score=5"), http.StatusGone, "zh-CN", "此链接已过期")
	checkPage(t, e.do("GET", "/c/feedback/0123abcd", "", nil), http.StatusGone, "zh-CN", "此链接已过期")
}

// Every purpose's page is a file found in the embedded templates; a page that does not
// render is refused when the pages are parsed, not in front of a customer.
func TestLinkPagesFromFiles(t *testing.T) {
	t.Parallel()
	if linkTemplates.pages[domain.PurposeComplaintFeedback+"/en"] == nil || linkTemplates.pages[domain.PurposeComplaintFeedback+"/zh-CN"] == nil ||
		linkTemplates.pages["/en"] == nil || linkTemplates.pages["/zh-CN"] == nil {
		t.Fatalf("pages %v", linkTemplates.pages)
	}
	base := fstest.MapFS{}
	for _, f := range []string{"layout.html", "common.en.html", "links.css"} {
		b, err := linkFS.ReadFile("templates/links/" + f)
		if err != nil {
			t.Fatal(err)
		}
		base["templates/links/"+f] = &fstest.MapFile{Data: b}
	}
	base["templates/links/survey.en.html"] = &fstest.MapFile{Data: []byte(`{{define "form"}}<p>{{template "nope"}}</p>{{end}}`)}
	if _, err := parseLinkPages(base); err == nil {
		t.Fatal("a page that does not render was accepted")
	}
	base["templates/links/survey.en.html"] = &fstest.MapFile{Data: []byte(`{{define "form"}}<p>Rate us</p>{{end}}`)}
	lp, err := parseLinkPages(base)
	if err != nil {
		t.Fatal(err)
	}
	if lp.pages["survey/en"] == nil {
		t.Fatalf("a new purpose's file was not found: %v", lp.pages)
	}
	base["templates/links/survey.fr.html"] = base["templates/links/survey.en.html"]
	if _, err := parseLinkPages(base); err == nil {
		t.Fatal("a page in a locale without its common file was accepted")
	}
}
