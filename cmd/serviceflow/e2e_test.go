package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/serviceflow/serviceflow/devstack"
	"github.com/serviceflow/serviceflow/store/storetest"
	"github.com/serviceflow/serviceflow/worker"
)

// stack is the whole of serviceflow wired as `serviceflow dev` wires it: the embedded
// Temporal server, a real PostgreSQL database, the worker, the API, and a fake SendGrid.
type stack struct {
	t      *testing.T
	base   string
	tokens map[string]string
	sg     *fakeSendGrid
	cfg    Config
	tc     client.Client
}

func startStack(t *testing.T, tweak func(*Config)) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	dbURL, drop, err := storetest.CreateDB(ctx, "e2e")
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	t.Cleanup(drop)
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	temporal, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		Ephemeral: true, FrontendAddr: fmt.Sprintf("127.0.0.1:%d", port), UIAddr: "off", Namespace: "default", Logger: log,
	})
	if err != nil {
		t.Fatalf("temporal: %v", err)
	}
	t.Cleanup(func() { _ = temporal.Stop() })

	sg := newFakeSendGrid(t, "SG.e2e-key")
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig(t)
	cfg.DatabaseURL, cfg.TemporalAddress, cfg.TemporalNamespace = dbURL, temporal.FrontendAddr(), "default"
	cfg.HTTPAddr, cfg.SendGridAPIKey, cfg.SendGridAPIURL = ln.Addr().String(), "SG.e2e-key", sg.srv.URL
	cfg.ResponseSLA, cfg.UrgentResponseSLA, cfg.TierAResponseSLA = time.Minute, 3*time.Second, time.Minute
	cfg.ResolveSLA, cfg.ApprovalSLA, cfg.ReviewSLA = time.Minute, time.Minute, time.Minute
	cfg.EscalationStep, cfg.FeedbackWait = 3*time.Second, time.Minute
	cfg.LinkSecret = "the e2e tests' customer-link secret"
	// Under -race on a loaded 2-core machine one Update can take long: a 504 then says
	// "slow", which is not what these tests look at.
	cfg.UpdateTimeout = 2 * time.Minute
	if tweak != nil {
		tweak(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, cfg.DatabaseURL) // a tweak may route it through a proxy
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	tokenFile := filepath.Join(t.TempDir(), "dev-tokens.json")
	if err := seedDemo(ctx, st, tokenFile); err != nil {
		t.Fatalf("seed: %v", err)
	}
	tc, err := dialTemporal(ctx, cfg.TemporalAddress, cfg.TemporalNamespace, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	done := make(chan struct{}, 2)
	go func() { _ = worker.Run(ctx, workerOptions(cfg, tc, st, log)); done <- struct{}{} }()
	go func() { _ = serveHTTP(ctx, ln, newAPI(ctx, cfg, tc, st, log), log); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	s := &stack{t: t, base: "http://" + ln.Addr().String(), sg: sg, cfg: cfg, tc: tc}
	s.tokens = readTokens(t, tokenFile)
	return s
}

// defaultConfig is the configuration with every documented default and no environment.
func defaultConfig(t *testing.T) Config {
	t.Helper()
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	return c
}

func readTokens(t *testing.T, file string) map[string]string {
	t.Helper()
	var m map[string]string
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// call sends a JSON request as user (no token when user is "") and decodes the answer.
func (s *stack) call(user, method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+s.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	out["_raw"] = string(raw)
	return resp.StatusCode, out
}

// must calls and fails the test unless the status is want.
func (s *stack) must(want int, user, method, path string, body any) map[string]any {
	s.t.Helper()
	code, out := s.call(user, method, path, body)
	if code != want {
		s.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, user, code, want, out["_raw"])
	}
	return out
}

// eventually polls f until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// findTask polls user's inbox for an open task of the process at step.
func (s *stack) findTask(user, scope, processID, step string) map[string]any {
	s.t.Helper()
	var found map[string]any
	eventually(s.t, 20*time.Second, fmt.Sprintf("%s task %s in %s's %s inbox", step, processID, user, scope), func() bool {
		out := s.must(200, user, "GET", "/api/v1/tasks?status=open&scope="+scope, nil)
		for _, it := range items(out) {
			if it["process_id"] == processID && it["step"] == step {
				found = it
				return true
			}
		}
		return false
	})
	return found
}

func items(out map[string]any) []map[string]any {
	raw, _ := out["items"].([]any)
	res := make([]map[string]any, 0, len(raw))
	for _, r := range raw {
		if m, ok := r.(map[string]any); ok {
			res = append(res, m)
		}
	}
	return res
}

// feedbackLinkRE finds a customer link (/c/{token}) in an e-mail.
var feedbackLinkRE = regexp.MustCompile(`https?://[^\s"<]+/c/([A-Za-z0-9_-]+)`)

// staffLinkRE finds the link of a staff e-mail to a task's or an escalation's page.
var staffLinkRE = regexp.MustCompile(`https?://[^\s"<]+/(?:tasks|escalations)/[A-Za-z0-9_]+`)

// staffLink waits for an e-mail to `to` whose text links the page of the task or
// escalation id, and returns that link, checking that the HTML button has it too.
func (s *stack) staffLink(to, id string) string {
	s.t.Helper()
	var link string
	eventually(s.t, 20*time.Second, "an e-mail to "+to+" linking "+id, func() bool {
		for _, m := range s.sg.find(func(m sentMail) bool { return m.To == to }) {
			for _, l := range staffLinkRE.FindAllString(m.Text, -1) {
				if strings.HasSuffix(l, "/"+id) && strings.Contains(m.HTML, `href="`+l+`"`) {
					link = l
					return true
				}
			}
		}
		return false
	})
	return link
}

// apiPathOf maps the page link of a staff e-mail (SERVICEFLOW_PUBLIC_URL + /tasks/{id} or
// /escalations/{id}, a page a person opens) to the API resource that page shows.
func (s *stack) apiPathOf(link string) string {
	s.t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme+"://"+u.Host != s.cfg.BaseURL() {
		s.t.Fatalf("link %q is not under SERVICEFLOW_PUBLIC_URL %s", link, s.cfg.BaseURL())
	}
	if strings.HasPrefix(u.Path, "/api/") || !(strings.HasPrefix(u.Path, "/tasks/") || strings.HasPrefix(u.Path, "/escalations/")) {
		s.t.Fatalf("link %q is not a task or escalation page", link)
	}
	return "/api/v1" + u.Path
}

func TestComplaintEndToEnd(t *testing.T) {
	s := startStack(t, nil)
	const customer = "cus_DEMO_NORTHWIND"
	const customerEmail = "service@northwind.example"

	// --- one complaint from filing to closed, through the tasks API ---
	c := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": customer, "channel": "email", "subject": "Spindle vibrates at 3000 rpm",
		"description": "Since the last service the spindle vibrates.",
	})
	id, _ := c["id"].(string)
	if !strings.HasPrefix(id, "cmp_") || c["status"] != "received" || c["response_due_at"] == nil {
		t.Fatalf("unexpected 201 body: %v", c["_raw"])
	}
	eventually(t, 20*time.Second, "acknowledgement e-mail", func() bool {
		return len(s.sg.find(func(m sentMail) bool { return m.To == customerEmail && strings.Contains(m.Subject, id) })) == 1
	})

	ev := s.findTask("carol", "group", id, "evaluate")
	taskPath := "/api/v1/tasks/" + ev["id"].(string)
	detail := s.must(200, "carol", "GET", taskPath, nil)
	if detail["form"] == nil || detail["context"] == nil {
		t.Fatalf("task detail lacks form or context: %v", detail["_raw"])
	}
	s.must(200, "carol", "POST", taskPath+"/claim", nil)
	if code, _ := s.call("cathy", "POST", taskPath+"/complete", map[string]any{"action": "accept", "data": map[string]any{"category": "product", "severity": "normal"}}); code != 403 {
		t.Fatalf("cathy completing carol's claimed task: %d, want 403", code)
	}
	if code, out := s.call("carol", "POST", taskPath+"/complete", map[string]any{"action": "accept", "data": map[string]any{"category": "weather"}}); code != 422 {
		t.Fatalf("bad category: %d, want 422: %v", code, out["_raw"])
	}
	res := s.must(200, "carol", "POST", taskPath+"/complete", map[string]any{"action": "accept", "data": map[string]any{"category": "product", "severity": "normal"}})
	if res["process_status"] != "responding" {
		t.Fatalf("after evaluate: %v", res["_raw"])
	}
	if code, _ := s.call("carol", "POST", taskPath+"/complete", map[string]any{"action": "accept", "data": map[string]any{"category": "product", "severity": "normal"}}); code != 409 {
		t.Fatalf("completing a closed task: %d, want 409", code)
	}

	// carol is e-mailed the respond task's page, and acts on the task it shows.
	rp := s.findTask("carol", "mine", id, "respond")
	respondPath := s.apiPathOf(s.staffLink("carol@serviceflow.example", rp["id"].(string)))
	if got := s.must(200, "carol", "GET", respondPath, nil); got["id"] != rp["id"] || got["step"] != "respond" {
		t.Fatalf("the e-mailed task page shows %v", got["_raw"])
	}
	s.must(200, "carol", "POST", respondPath+"/complete", map[string]any{
		"action": "respond", "data": map[string]any{"message": "We are sending a technician on Tuesday."}})
	eventually(t, 20*time.Second, "first-response e-mail", func() bool {
		return len(s.sg.find(func(m sentMail) bool {
			return m.To == customerEmail && strings.Contains(m.Text, "technician on Tuesday") && strings.Contains(m.HTML, "technician on Tuesday")
		})) == 1
	})

	rs := s.findTask("carol", "mine", id, "resolve")
	res = s.must(200, "carol", "POST", "/api/v1/tasks/"+rs["id"].(string)+"/complete", map[string]any{
		"action": "resolve", "data": map[string]any{"resolution_type": "compensation", "summary": "Compensation for downtime",
			"amount": map[string]any{"amount": "20000.00", "currency": "CNY"}}})
	if res["process_status"] != "awaiting_approval" {
		t.Fatalf("after resolve: %v", res["_raw"])
	}
	// Above the threshold: the service manager and finance both approve.
	ap := s.findTask("dave", "group", id, "approve_resolution")
	fin := s.findTask("erin", "group", id, "approve_resolution")
	s.must(200, "dave", "POST", "/api/v1/tasks/"+ap["id"].(string)+"/complete", map[string]any{"action": "approve", "comment": "ok"})
	res = s.must(200, "erin", "POST", "/api/v1/tasks/"+fin["id"].(string)+"/complete", map[string]any{"action": "approve"})
	if res["process_status"] != "following_up" {
		t.Fatalf("after approvals: %v", res["_raw"])
	}

	var link, token string
	eventually(t, 20*time.Second, "feedback e-mail", func() bool {
		for _, m := range s.sg.find(func(m sentMail) bool { return m.To == customerEmail }) {
			if mm := feedbackLinkRE.FindStringSubmatch(m.Text); mm != nil {
				link, token = mm[0], mm[1]
				return true
			}
		}
		return false
	})
	u, _ := url.Parse(link)
	resp, err := http.Get(s.base + u.Path)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feedback page: %v %v", err, resp)
	}
	resp.Body.Close()
	if u.Path != "/c/"+token {
		t.Fatalf("feedback link %s is not a customer link /c/{token}", link)
	}
	resp, err = http.PostForm(s.base+"/c/"+token, url.Values{"score": {"5"}, "comment": {"Quick and fair"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feedback post: %v %v", err, resp)
	}
	resp.Body.Close()
	// A second answer changes nothing: the link says it was answered.
	resp, err = http.PostForm(s.base+"/c/"+token, url.Values{"score": {"1"}})
	if err != nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("second feedback post: %v %v", err, resp)
	}
	resp.Body.Close()

	var got map[string]any
	eventually(t, 20*time.Second, "complaint closed", func() bool {
		got = s.must(200, "carol", "GET", "/api/v1/complaints/"+id, nil)
		return got["status"] == "closed"
	})
	if got["responded_at"] == nil || got["resolution"] == nil || got["assignee"] != "carol" {
		t.Fatalf("closed complaint lacks data: %v", got["_raw"])
	}
	events := map[string]bool{}
	for _, e := range got["timeline"].([]any) {
		events[e.(map[string]any)["event"].(string)] = true
	}
	for _, want := range []string{"received", "email_sent", "task_created", "task_completed", "closed"} {
		if !events[want] {
			t.Errorf("timeline lacks %q: %v", want, events)
		}
	}
	s.recordHistory("complaint/"+id, "complaint_compensation_closed")
	// alice owns Northwind and may see it; a finance user may not.
	s.must(200, "alice", "GET", "/api/v1/complaints/"+id, nil)
	s.must(404, "erin", "GET", "/api/v1/complaints/"+id, nil)

	// The outbox shows what went out, to managers.
	emails := s.must(200, "dave", "GET", "/api/v1/emails?process_id="+id, nil)
	if len(items(emails)) < 4 {
		t.Fatalf("want the complaint's e-mails in the outbox, got %v", emails["_raw"])
	}
	for _, e := range items(emails) {
		if e["status"] != "sent" || e["provider_message_id"] == nil {
			t.Errorf("outbox row not sent: %v", e)
		}
	}

	// --- an urgent complaint nobody answers: escalation to dave, then judy ---
	u2 := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": "cus_DEMO_FABRIKAM", "channel": "phone", "subject": "Line stopped", "description": "Production line is down.", "severity": "urgent",
	})
	late := u2["id"].(string)
	var esc map[string]any
	eventually(t, 30*time.Second, "level-1 escalation", func() bool {
		for _, e := range items(s.must(200, "dave", "GET", "/api/v1/escalations?status=open", nil)) {
			if e["process_id"] == late && e["level"] == float64(1) {
				esc = e
				return true
			}
		}
		return false
	})
	if tg, _ := esc["targets"].([]any); len(tg) != 1 || tg[0] != "dave" {
		t.Fatalf("level-1 targets: %v", esc)
	}
	eventually(t, 20*time.Second, "dave's escalation e-mail", func() bool {
		return len(s.sg.find(func(m sentMail) bool { return m.To == "dave@serviceflow.example" && strings.Contains(m.Text, late) })) >= 1
	})
	escPath := s.apiPathOf(s.staffLink("dave@serviceflow.example", esc["id"].(string)))
	eventually(t, 30*time.Second, "level-2 escalation to judy", func() bool {
		for _, e := range items(s.must(200, "judy", "GET", "/api/v1/escalations?level=2", nil)) {
			if e["process_id"] == late {
				return true
			}
		}
		return false
	})
	s.recordHistory("complaint/"+late, "complaint_unanswered_escalated")
	s.must(403, "alice", "GET", "/api/v1/escalations", nil)
	s.must(403, "alice", "POST", "/api/v1/escalations/"+esc["id"].(string)+"/acknowledge", map[string]any{})
	ack := s.must(200, "dave", "POST", escPath+"/acknowledge", map[string]any{"comment": "calling them now"}) // from the e-mail's link
	if ack["acknowledged_by"] != "dave" || ack["acknowledged_at"] == nil {
		t.Fatalf("acknowledge: %v", ack["_raw"])
	}
	s.must(409, "dave", "POST", "/api/v1/escalations/"+esc["id"].(string)+"/acknowledge", map[string]any{})
	eventually(t, 20*time.Second, "the late complaint at escalation level 2", func() bool {
		return s.must(200, "dave", "GET", "/api/v1/complaints/"+late, nil)["escalation_level"] == float64(2)
	})

	if dup := s.sg.duplicates(); len(dup) > 0 {
		t.Fatalf("e-mails sent twice: %v", dup)
	}
	for _, m := range s.sg.sent() {
		if m.From != "no-reply@serviceflow.example" {
			t.Fatalf("from = %q", m.From)
		}
	}
}

// recordHistory writes a workflow's history to workflows/testdata/histories when
// SERVICEFLOW_RECORD_HISTORIES is set (`make record-histories`); the replay test in
// workflows/ replays every file there.
func (s *stack) recordHistory(workflowID, name string) {
	s.t.Helper()
	if os.Getenv("SERVICEFLOW_RECORD_HISTORIES") == "" {
		return
	}
	it := s.tc.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		s.t.Fatal(err)
	}
	out := filepath.Join("..", "..", "workflows", "testdata", "histories", name+".json")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("recorded %d events to %s", len(h.Events), out)
}
