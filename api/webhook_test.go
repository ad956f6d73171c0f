package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/internal/sendgridtest"
	"github.com/serviceflow/serviceflow/store"
)

// postEvents posts a webhook body, signed with k unless k is nil.
func (e *env) postEvents(k *sendgridtest.SigningKey, body []byte) resp {
	e.t.Helper()
	req := httptest.NewRequest("POST", SendGridWebhookPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if k != nil {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set(eventwebhook.TimestampHTTPHeader, ts)
		req.Header.Set(eventwebhook.VerificationHTTPHeader, k.Sign(e.t, ts, body))
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return resp{w, e.t}
}

func (e *env) mountWebhook(publicKey string, log *slog.Logger) {
	e.t.Helper()
	e.mountWebhookUnsigned(publicKey, false, log)
}

// mountWebhookUnsigned mounts the webhook, accepting unsigned events without a key when
// allowUnsigned is set.
func (e *env) mountWebhookUnsigned(publicKey string, allowUnsigned bool, log *slog.Logger) {
	e.t.Helper()
	wh, err := NewSendGridWebhook(e.st, publicKey, allowUnsigned, log)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv.Handle(http.MethodPost, SendGridWebhookPath, wh)
}

// sentEmail inserts an outbox row of the process as sent with the provider id msgID.
func (e *env) sentEmail(key, processID, msgID string) {
	e.t.Helper()
	ctx := context.Background()
	row := store.Email{ID: domain.NewID("eml"), IdempotencyKey: key, To: "buyer@acme.test", Locale: "en",
		Template: domain.TmplComplaintAck, Subject: "We received your complaint",
		Process: domain.ProcessComplaint, ProcessID: processID, WorkflowID: "complaint/" + processID}
	if _, err := store.InsertEmail(ctx, e.st.Pool, row); err != nil {
		e.t.Fatal(err)
	}
	if _, err := store.MarkEmailSent(ctx, e.st.Pool, row.ID, msgID); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) emailStatus(key string) string {
	e.t.Helper()
	m, err := e.st.EmailByKey(context.Background(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Status
}

func sgEvents(t *testing.T, events ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sgEvent(event, id, msgID, key string) map[string]any {
	ev := map[string]any{"email": "buyer@acme.test", "timestamp": time.Now().Unix(), "event": event,
		"sg_event_id": id, "sg_message_id": msgID + ".filterdrecv-p3mdgp-1-5E5E3-1.0"}
	if key != "" {
		ev["idempotency_key"] = key
	}
	return ev
}

func TestSendGridWebhookSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key, other := sendgridtest.NewSigningKey(t), sendgridtest.NewSigningKey(t)
	e.mountWebhook(key.Public, nil)
	e.sentEmail("complaint/cmp_1/ack", "cmp_1", "msg-1")
	body := sgEvents(t, sgEvent("delivered", "ev-1", "msg-1", "complaint/cmp_1/ack"))

	// Rejected, and nothing changed: a tampered body, another key, no or garbled headers.
	tampered := bytes.Replace(body, []byte("delivered"), []byte("bounce"), 1)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	for name, r := range map[string]*http.Request{
		"tampered body": signedRequest(tampered, ts, key.Sign(t, ts, body)),
		"wrong key":     signedRequest(body, ts, other.Sign(t, ts, body)),
		"other time":    signedRequest(body, ts+"1", key.Sign(t, ts, body)),
		"no signature":  signedRequest(body, "", ""),
		"not base64":    signedRequest(body, ts, "%%%"),
		"not asn.1":     signedRequest(body, ts, base64.StdEncoding.EncodeToString([]byte("junk"))),
	} {
		w := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(w, r)
		p := resp{w, t}.problem(http.StatusUnauthorized)
		if p.RequestID == "" || w.Header().Get("X-Request-Id") != p.RequestID {
			t.Errorf("%s: problem without the request id: %+v", name, p)
		}
	}
	if st := e.emailStatus("complaint/cmp_1/ack"); st != store.EmailSent {
		t.Fatalf("after rejected events: status %s, want sent", st)
	}
	if n := e.countEvents(); n != 0 {
		t.Fatalf("%d events remembered after rejected posts", n)
	}

	// Signed: applied.
	out := e.postEvents(&key, body).want(http.StatusOK).json()
	if out["applied"] != 1.0 || out["duplicates"] != 0.0 {
		t.Fatalf("response %v", out)
	}
	if st := e.emailStatus("complaint/cmp_1/ack"); st != store.EmailDelivered {
		t.Fatalf("status %s, want delivered", st)
	}

	// Not a JSON array: 400, once the signature holds.
	e.postEvents(&key, []byte(`{"event":"delivered"}`)).problem(http.StatusBadRequest)
}

func signedRequest(body []byte, ts, sig string) *http.Request {
	r := httptest.NewRequest("POST", SendGridWebhookPath, bytes.NewReader(body))
	if ts != "" {
		r.Header.Set(eventwebhook.TimestampHTTPHeader, ts)
	}
	if sig != "" {
		r.Header.Set(eventwebhook.VerificationHTTPHeader, sig)
	}
	return r
}

func (e *env) countEvents() int {
	e.t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM email_events`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestSendGridWebhookBounceAndDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := sendgridtest.NewSigningKey(t)
	e.mountWebhook(key.Public, nil)
	cmp := e.do("POST", "/api/v1/complaints", "carol", complaintBody()).want(http.StatusCreated).json()["id"].(string)
	ackKey := "complaint/" + cmp + "/ack"
	e.sentEmail(ackKey, cmp, "msg-ack")
	e.sentEmail("complaint/"+cmp+"/response", cmp, "msg-resp")
	e.sentEmail("task/tsk_1/assigned/carol", "", "msg-task")

	// A batch: the ack delivered then bounced, the response dropped (found by its
	// sg_message_id alone), an open that changes nothing, the staff notice delivered.
	bounce := sgEvent("bounce", "ev-2", "msg-ack", ackKey)
	bounce["reason"], bounce["type"], bounce["status"] = "550 5.1.1 mailbox does not exist", "bounce", "5.1.1"
	dropped := sgEvent("dropped", "ev-3", "msg-resp", "")
	dropped["reason"] = "Bounced Address"
	batch := sgEvents(t,
		sgEvent("delivered", "ev-1", "msg-ack", ackKey), bounce, dropped,
		sgEvent("open", "ev-4", "msg-ack", ackKey), sgEvent("delivered", "ev-5", "msg-task", "task/tsk_1/assigned/carol"))
	out := e.postEvents(&key, batch).want(http.StatusOK).json()
	if out["received"] != 5.0 || out["applied"] != 4.0 || out["duplicates"] != 0.0 || out["skipped"] != 1.0 {
		t.Fatalf("first post: %v", out)
	}
	// SendGrid delivers at least once: the same events again are recognised.
	out = e.postEvents(&key, batch).want(http.StatusOK).json()
	if out["applied"] != 0.0 || out["duplicates"] != 4.0 {
		t.Fatalf("second post: %v", out)
	}
	if n := e.countEvents(); n != 4 {
		t.Fatalf("%d events remembered, want 4", n)
	}

	for k, want := range map[string]string{
		ackKey: store.EmailBounced, "complaint/" + cmp + "/response": store.EmailBounced,
		"task/tsk_1/assigned/carol": store.EmailDelivered,
	} {
		if got := e.emailStatus(k); got != want {
			t.Errorf("%s: status %s, want %s", k, got, want)
		}
	}
	emails := e.do("GET", "/api/v1/emails?process_id="+cmp, "dave", nil).want(http.StatusOK).json()
	for _, it := range emails["items"].([]any) {
		if m := it.(map[string]any); m["status"] != store.EmailBounced || m["error"] == nil {
			t.Errorf("outbox item %v", m)
		}
	}

	// Each bounce is on the complaint's timeline once, with its reason.
	got := e.do("GET", "/api/v1/complaints/"+cmp, "carol", nil).want(http.StatusOK).json()
	var bounces []map[string]any
	for _, x := range got["timeline"].([]any) {
		if ev := x.(map[string]any); ev["event"] == "email_bounced" {
			bounces = append(bounces, ev["detail"].(map[string]any))
		}
	}
	if len(bounces) != 2 {
		t.Fatalf("want 2 email_bounced events, got %v", got["timeline"])
	}
	reasons := []string{fmt.Sprint(bounces[0]["reason"]), fmt.Sprint(bounces[1]["reason"])}
	slices.Sort(reasons)
	if !slices.Equal(reasons, []string{"550 5.1.1 mailbox does not exist", "Bounced Address"}) {
		t.Fatalf("bounce reasons %v", reasons)
	}
}

// logCounter counts the log records at or above a level.
type logCounter struct {
	mu sync.Mutex
	n  int
}

func (c *logCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (c *logCounter) Handle(context.Context, slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return nil
}
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCounter) WithGroup(string) slog.Handler      { return c }

// Without a public key, unsigned events are refused unless they are allowed: anyone who
// can reach the webhook could otherwise mark e-mails delivered or bounced.
func TestSendGridWebhookUnsignedRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	warnings := &logCounter{}
	e.mountWebhook("", slog.New(warnings))
	e.sentEmail("k/1", "", "msg-1")
	signed := sendgridtest.NewSigningKey(t) // signed, but there is nothing to check it with
	for _, k := range []*sendgridtest.SigningKey{nil, &signed} {
		p := e.postEvents(k, sgEvents(t, sgEvent("bounce", "ev-1", "msg-1", "k/1"))).problem(http.StatusUnauthorized)
		if len(p.Errors) != 1 || p.Errors[0].Field != eventwebhook.VerificationHTTPHeader {
			t.Errorf("problem does not name the signature header: %+v", p)
		}
	}
	if st := e.emailStatus("k/1"); st != store.EmailSent {
		t.Fatalf("a refused event changed the e-mail: status %s", st)
	}
	if warnings.n != 1 {
		t.Fatalf("%d warnings, want one about refused events", warnings.n)
	}
}

func TestSendGridWebhookUnsignedAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	warnings := &logCounter{}
	e.mountWebhookUnsigned("", true, slog.New(warnings))
	e.sentEmail("k/1", "", "msg-1")
	e.postEvents(nil, sgEvents(t, sgEvent("delivered", "ev-1", "msg-1", "k/1"))).want(http.StatusOK)
	e.postEvents(nil, sgEvents(t, sgEvent("delivered", "ev-2", "msg-1", "k/1"))).want(http.StatusOK)
	if st := e.emailStatus("k/1"); st != store.EmailDelivered {
		t.Fatalf("status %s", st)
	}
	if warnings.n != 1 {
		t.Fatalf("%d warnings, want one about unsigned events", warnings.n)
	}
}

func TestParseSendGridWebhookKey(t *testing.T) {
	k := sendgridtest.NewSigningKey(t)
	der, _ := base64.StdEncoding.DecodeString(k.Public)
	pem := "-----BEGIN PUBLIC KEY-----\n" + k.Public[:40] + "\n" + k.Public[40:] + "\n-----END PUBLIC KEY-----\n"
	for _, s := range []string{k.Public, pem} {
		if _, err := ParseSendGridWebhookKey(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKIXPublicKey(edPub)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"not base64!", base64.StdEncoding.EncodeToString(der[:20]), base64.StdEncoding.EncodeToString(edDER)} {
		if _, err := ParseSendGridWebhookKey(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
	if _, err := NewSendGridWebhook(nil, "garbage", true, nil); err == nil {
		t.Error("NewSendGridWebhook accepted a bad key")
	}
}
