package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/internal/sendgridtest"
	"github.com/serviceflow/serviceflow/store"
)

// sgAnswer is how the scripted SendGrid answers one request.
type sgAnswer struct {
	status int
	header map[string]string
	body   string
}

// sgCall is one mail/send request the scripted SendGrid received.
type sgCall struct {
	key, to   string
	status    int
	messageID string // X-Message-Id of an accepted request
	at        time.Time
}

// scriptedSendGrid is a SendGrid v3 mail/send endpoint whose answers are scripted per
// recipient, idempotency key and attempt (n counts the requests for that key, from 1).
// Unscripted requests are accepted.
type scriptedSendGrid struct {
	srv    *httptest.Server
	script func(to, key string, n int) (sgAnswer, bool)
	mu     sync.Mutex
	calls  []sgCall
}

func newScriptedSendGrid(t *testing.T, script func(to, key string, n int) (sgAnswer, bool)) *scriptedSendGrid {
	f := &scriptedSendGrid{script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *scriptedSendGrid) handle(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var p struct {
		Personalizations []struct {
			To []struct {
				Email string `json:"email"`
			} `json:"to"`
		} `json:"personalizations"`
		CustomArgs map[string]string `json:"custom_args"`
	}
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || len(p.Personalizations) != 1 || len(p.Personalizations[0].To) != 1 {
		http.Error(w, `{"errors":[{"message":"bad payload"}]}`, http.StatusBadRequest)
		return
	}
	c := sgCall{to: p.Personalizations[0].To[0].Email, key: p.CustomArgs["idempotency_key"], at: at}
	f.mu.Lock()
	n := 1
	for _, x := range f.calls {
		if x.key == c.key {
			n++
		}
	}
	a, scripted := f.script(c.to, c.key, n)
	if !scripted {
		c.messageID = fmt.Sprintf("sg-%d", len(f.calls)+1)
		a = sgAnswer{status: http.StatusAccepted, header: map[string]string{"X-Message-Id": c.messageID}}
	}
	c.status = a.status
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// callsFor returns the requests for one idempotency key, in order.
func (f *scriptedSendGrid) callsFor(key string) []sgCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sgCall
	for _, c := range f.calls {
		if c.key == key {
			out = append(out, c)
		}
	}
	return out
}

func accepted(calls []sgCall) int {
	n := 0
	for _, c := range calls {
		if c.status == http.StatusAccepted {
			n++
		}
	}
	return n
}

// TestEmailProviderFaults runs the whole stack against a SendGrid that rate-limits one
// customer's acknowledgement, fails another's three times and rejects a third's, then
// feeds a signed bounce back through the event webhook.
func TestEmailProviderFaults(t *testing.T) {
	const (
		limited  = "ops@contoso.example"       // 429 with X-RateLimit-Reset, then 202
		flaky    = "buyer@fabrikam.example"    // 500 three times, then 202
		rejected = "accounts@tailspin.example" // 400 for the acknowledgement
		reject   = "The to email does not contain a valid address."
	)
	sg := newScriptedSendGrid(t, func(to, key string, n int) (sgAnswer, bool) {
		if !strings.HasSuffix(key, "/ack") {
			return sgAnswer{}, false
		}
		switch {
		case to == limited && n == 1:
			reset := strconv.FormatInt(time.Now().Add(3*time.Second).Unix(), 10)
			return sgAnswer{http.StatusTooManyRequests, map[string]string{"X-RateLimit-Reset": reset}, `{"errors":[{"message":"too many requests"}]}`}, true
		case to == flaky && n <= 3:
			return sgAnswer{status: http.StatusInternalServerError, body: `{"errors":[{"message":"internal error"}]}`}, true
		case to == rejected:
			return sgAnswer{status: http.StatusBadRequest, body: `{"errors":[{"message":"` + reject + `","field":"personalizations.0.to.0.email"}]}`}, true
		}
		return sgAnswer{}, false
	})
	whKey := sendgridtest.NewSigningKey(t)
	s := startStack(t, func(c *Config) {
		c.SendGridAPIURL = sg.srv.URL
		c.SendGridWebhookPK = whKey.Public
	})
	ctx := context.Background()
	st, err := store.Open(ctx, s.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)

	file := func(customer, subject string) string {
		c := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
			"customer_id": customer, "channel": "email", "subject": subject, "description": "Details follow.",
		})
		return c["id"].(string)
	}
	limitedID := file("cus_DEMO_CONTOSO", "Rate-limited acknowledgement")
	flakyID := file("cus_DEMO_FABRIKAM", "Flaky provider")
	rejectedID := file("cus_DEMO_TAILSPIN", "Rejected address")
	ackKey := func(id string) string { return "complaint/" + id + "/ack" }
	settled := func(id string) store.Email {
		var e store.Email
		eventually(t, 30*time.Second, "the acknowledgement of "+id+" settled", func() bool {
			var err error
			e, err = st.EmailByKey(ctx, ackKey(id))
			return err == nil && e.Settled()
		})
		return e
	}

	// --- 400: failed for good, with SendGrid's reason; a person is asked to call ---
	failed := settled(rejectedID)
	failedAt := time.Now()
	if failed.Status != store.EmailFailed || !strings.Contains(failed.Error, reject) || failed.Attempts != 1 {
		t.Fatalf("rejected acknowledgement: status %s, attempts %d, error %q", failed.Status, failed.Attempts, failed.Error)
	}
	contact := s.readyTask("carol", "group", rejectedID, "contact_customer")
	cpath := "/api/v1/tasks/" + contact["id"].(string)
	detail := s.must(200, "carol", "GET", cpath, nil)
	tctx, _ := detail["context"].(map[string]any)
	if tctx["failed_template"] != "complaint_ack" || !strings.Contains(fmt.Sprint(tctx["failure_reason"]), reject) ||
		tctx["customer_email"] != rejected {
		t.Fatalf("contact_customer context: %v", detail["_raw"])
	}
	var timeline []any
	eventually(t, 20*time.Second, "email_failed on the timeline", func() bool {
		timeline, _ = s.must(200, "carol", "GET", "/api/v1/complaints/"+rejectedID, nil)["timeline"].([]any)
		return hasEvent(timeline, "email_failed", reject)
	})

	// The process goes on: evaluate, respond (that e-mail goes out), and the contact
	// task is done beside it.
	ev := s.readyTask("carol", "group", rejectedID, "evaluate")
	s.must(200, "carol", "POST", "/api/v1/tasks/"+ev["id"].(string)+"/claim", nil)
	s.must(200, "carol", "POST", "/api/v1/tasks/"+ev["id"].(string)+"/complete", map[string]any{
		"action": "accept", "data": map[string]any{"category": "service", "severity": "normal"}})
	rp := s.readyTask("carol", "mine", rejectedID, "respond")
	s.must(200, "carol", "POST", "/api/v1/tasks/"+rp["id"].(string)+"/complete", map[string]any{
		"action": "respond", "data": map[string]any{"message": "We will call you today."}})
	s.must(200, "carol", "POST", cpath+"/claim", nil)
	if code, out := s.call("carol", "POST", cpath+"/complete", map[string]any{"action": "done"}); code != 422 {
		t.Fatalf("contact_customer without a note: %d, want 422: %v", code, out["_raw"])
	}
	done := s.must(200, "carol", "POST", cpath+"/complete", map[string]any{"action": "done", "data": map[string]any{"note": "Phoned the office."}})
	if done["process_status"] != "resolving" {
		t.Fatalf("after contact_customer: %v", done["_raw"])
	}
	s.findTask("carol", "mine", rejectedID, "resolve")
	eventually(t, 20*time.Second, "the first response accepted", func() bool {
		return accepted(sg.callsFor("complaint/"+rejectedID+"/response")) == 1
	})

	// --- 429 with X-RateLimit-Reset, then 202: one e-mail, sent after the reset ---
	if e := settled(limitedID); e.Status != store.EmailSent || e.Attempts != 2 {
		t.Fatalf("rate-limited acknowledgement: status %s, attempts %d", e.Status, e.Attempts)
	}
	calls := sg.callsFor(ackKey(limitedID))
	if len(calls) != 2 || calls[0].status != 429 || accepted(calls) != 1 {
		t.Fatalf("rate-limited acknowledgement: requests %+v", calls)
	}
	if gap := calls[1].at.Sub(calls[0].at); gap < 2*time.Second {
		t.Errorf("retried %s after a 429 whose reset was 2-3 s away", gap)
	}

	// --- 500 three times, then 202: retried with growing delays, one e-mail ---
	if e := settled(flakyID); e.Status != store.EmailSent || e.Attempts < 4 {
		t.Fatalf("flaky acknowledgement: status %s, attempts %d", e.Status, e.Attempts)
	}
	calls = sg.callsFor(ackKey(flakyID))
	if len(calls) != 4 || accepted(calls) != 1 || calls[3].status != 202 {
		t.Fatalf("flaky acknowledgement: requests %+v", calls)
	}
	var gaps []time.Duration
	for i := 1; i < len(calls); i++ {
		gaps = append(gaps, calls[i].at.Sub(calls[i-1].at))
	}
	// The retry policy waits 1 s, 2 s, 4 s: never less than a second, and growing.
	t.Logf("SendGrid answered 500, 500, 500, 202; requests %v apart", gaps)
	if gaps[0] < 900*time.Millisecond || gaps[1] < gaps[0] || gaps[2] < gaps[1] {
		t.Errorf("no backoff between retries: %v", gaps)
	}

	// --- a signed bounce of the delivered acknowledgement lands on the complaint ---
	msgID := calls[3].messageID
	bounce := []map[string]any{{
		"email": flaky, "event": "bounce", "type": "bounce", "reason": "550 5.1.1 mailbox unknown",
		"sg_event_id": "ev-" + flakyID, "sg_message_id": msgID + ".filterdrecv-1.0",
		"idempotency_key": ackKey(flakyID), "timestamp": time.Now().Unix(),
	}}
	body, _ := json.Marshal(bounce)
	if code := postWebhook(t, s.base, whKey, body, false); code != 200 {
		t.Fatalf("signed webhook: %d", code)
	}
	if code := postWebhook(t, s.base, whKey, body, true); code != 401 {
		t.Fatalf("tampered webhook: %d, want 401", code)
	}
	if code := postWebhook(t, s.base, whKey, body, false); code != 200 { // SendGrid retries: no second audit event
		t.Fatalf("repeated webhook: %d", code)
	}
	timeline, _ = s.must(200, "dave", "GET", "/api/v1/complaints/"+flakyID, nil)["timeline"].([]any)
	if n := countEvent(timeline, "email_bounced"); n != 1 || !hasEvent(timeline, "email_bounced", "mailbox unknown") {
		t.Fatalf("want one email_bounced on the timeline, got %d: %v", n, timeline)
	}
	if e, _ := st.EmailByKey(ctx, ackKey(flakyID)); e.Status != store.EmailBounced {
		t.Fatalf("bounced acknowledgement: status %s", e.Status)
	}

	// The rejected acknowledgement was never tried again.
	if wait := 3*time.Second - time.Since(failedAt); wait > 0 {
		time.Sleep(wait) // a retry would have come within the policy's first 1-2 s
	}
	if n := len(sg.callsFor(ackKey(rejectedID))); n != 1 {
		t.Fatalf("the rejected acknowledgement was requested %d times", n)
	}
	s.recordHistory("complaint/"+rejectedID, "complaint_mail_rejected_contact_customer")
}

// readyTask finds the open task like findTask, then waits until the workflow takes
// completions of it: a task row is listed as soon as CreateTask has written it, while
// the activity still sends its notices, and until the workflow has the activity's
// result a completion is refused as "not open" (409).
func (s *stack) readyTask(user, scope, processID, step string) map[string]any {
	s.t.Helper()
	task := s.findTask(user, scope, processID, step)
	id := task["id"].(string)
	eventually(s.t, 20*time.Second, "the workflow taking "+id, func() bool {
		v, err := s.tc.QueryWorkflow(context.Background(), domain.ComplaintWorkflowID(processID), "", domain.QueryStatus)
		var st domain.ComplaintState
		return err == nil && v.Get(&st) == nil && slices.Contains(st.OpenTasks, id)
	})
	return task
}

func hasEvent(timeline []any, event, detailContains string) bool {
	for _, x := range timeline {
		e, _ := x.(map[string]any)
		if e["event"] == event && strings.Contains(fmt.Sprint(e["detail"]), detailContains) {
			return true
		}
	}
	return false
}

func countEvent(timeline []any, event string) int {
	n := 0
	for _, x := range timeline {
		if e, _ := x.(map[string]any); e["event"] == event {
			n++
		}
	}
	return n
}

// postWebhook posts body to /webhooks/sendgrid signed as SendGrid signs; tamper changes
// the body after signing.
func postWebhook(t *testing.T, base string, k sendgridtest.SigningKey, body []byte, tamper bool) int {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := k.Sign(t, ts, body)
	if tamper {
		body = bytes.Replace(body, []byte("bounce"), []byte("delivered"), 1)
	}
	req, err := http.NewRequest("POST", base+"/webhooks/sendgrid", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(eventwebhook.TimestampHTTPHeader, ts)
	req.Header.Set(eventwebhook.VerificationHTTPHeader, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
