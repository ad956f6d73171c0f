package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/internal/sendgridtest"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

// sgRequest is what the fake SendGrid decoded from one v3 mail/send call.
type sgRequest struct {
	From, To, ToName, Subject, Text, HTML, CustomKey, HeaderKey string
}

// fakeSendGrid is a local SendGrid v3 API. It checks the shape of every mail/send payload
// and answers with respond(n) for the n-th request (1-based), by default 202.
type fakeSendGrid struct {
	t       *testing.T
	srv     *httptest.Server
	delay   time.Duration
	respond func(n int, w http.ResponseWriter)

	mu       sync.Mutex
	requests []sgRequest
}

func newFakeSendGrid(t *testing.T) *fakeSendGrid {
	f := &fakeSendGrid{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSendGrid) handle(w http.ResponseWriter, r *http.Request) {
	if sendgridtest.StrayHTTP2(r) {
		f.t.Logf("fake SendGrid: turned away an HTTP/2 preface from %s", r.RemoteAddr)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		f.t.Errorf("fake SendGrid: unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer test-key" {
		f.t.Errorf("fake SendGrid: Authorization = %q", got)
	}
	body, err := sendgridtest.DecodeMailSend(r.Body)
	if err != nil {
		f.t.Errorf("fake SendGrid: decode: %v", err)
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	var req sgRequest
	req.From, req.Subject = body.From.Email, body.Subject
	if len(body.Personalizations) != 1 || len(body.Personalizations[0].To) != 1 {
		f.t.Errorf("fake SendGrid: want one personalization with one recipient, got %+v", body.Personalizations)
	} else {
		req.To, req.ToName = body.Personalizations[0].To[0].Email, body.Personalizations[0].To[0].Name
	}
	if len(body.Content) != 2 || body.Content[0].Type != "text/plain" || body.Content[1].Type != "text/html" {
		f.t.Errorf("fake SendGrid: want text/plain then text/html content, got %+v", body.Content)
	} else {
		req.Text, req.HTML = body.Content[0].Value, body.Content[1].Value
	}
	req.CustomKey, req.HeaderKey = body.CustomArgs["idempotency_key"], body.Headers["X-Idempotency-Key"]
	if req.From == "" || req.To == "" || req.Subject == "" || req.Text == "" || req.HTML == "" {
		f.t.Errorf("fake SendGrid: incomplete payload %+v", req)
	}

	f.mu.Lock()
	f.requests = append(f.requests, req)
	n := len(f.requests)
	f.mu.Unlock()
	time.Sleep(f.delay)
	if f.respond != nil {
		f.respond(n, w)
		return
	}
	accept(n, w)
}

func accept(n int, w http.ResponseWriter) {
	w.Header().Set("X-Message-Id", fmt.Sprintf("msg-%d", n))
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeSendGrid) calls() []sgRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sgRequest(nil), f.requests...)
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func newOutbox(t *testing.T, f *fakeSendGrid) *Outbox {
	return &Outbox{
		Store:  storetest.New(t, "mail"),
		Sender: NewSendGrid("test-key", f.srv.URL, 5*time.Second),
		From:   domain.EmailRecipient{Email: "service@example.com", Name: "Customer Service"},
		Lease:  30 * time.Second,
		Log:    discard,
	}
}

func ackInput(key string) domain.SendEmailInput {
	return domain.SendEmailInput{
		IdempotencyKey: key,
		To:             domain.EmailRecipient{Email: "li.wei@example.com", Name: "Li Wei"},
		Locale:         "zh-CN",
		Template:       domain.TmplComplaintAck,
		Data:           sampleData()[domain.TmplComplaintAck],
		Process:        domain.ProcessComplaint,
		ProcessID:      "CMP-2024-0001",
		WorkflowID:     "complaint/CMP-2024-0001",
	}
}

// requireRetryable asserts err is a retryable Temporal application error of errType.
func requireRetryable(t *testing.T, err error, errType string) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	assert.False(t, ae.NonRetryable())
	assert.Equal(t, errType, ae.Type())
	return ae
}

func auditEvents(t *testing.T, s *store.Store, event string) []store.TimelineEntry {
	t.Helper()
	all, err := s.Timeline(context.Background(), "CMP-2024-0001")
	require.NoError(t, err)
	var out []store.TimelineEntry
	for _, e := range all {
		if e.Event == event {
			out = append(out, e)
		}
	}
	return out
}

func TestEmailOutboxSendsOnce(t *testing.T) {
	ctx := context.Background()
	f := newFakeSendGrid(t)
	o := newOutbox(t, f)

	in := ackInput("complaint/CMP-2024-0001/ack")
	first, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "sent", first.Status)
	assert.Equal(t, "msg-1", first.ProviderMessageID)
	assert.True(t, strings.HasPrefix(first.EmailID, "eml_"), first.EmailID)

	second, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, first, second)

	calls := f.calls()
	require.Len(t, calls, 1)
	c := calls[0]
	assert.Equal(t, "service@example.com", c.From)
	assert.Equal(t, "li.wei@example.com", c.To)
	assert.Equal(t, "Li Wei", c.ToName)
	assert.Contains(t, c.Subject, "CMP-2024-0001")
	assert.Contains(t, c.Subject, "我们已收到您的投诉")
	assert.Contains(t, c.Text, "2024-05-02 10:00 CST")
	assert.Contains(t, c.HTML, "<html lang=\"zh-CN\">")
	assert.Equal(t, in.IdempotencyKey, c.CustomKey)
	assert.Equal(t, in.IdempotencyKey, c.HeaderKey)

	e, err := o.Store.EmailByKey(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, "sent", e.Status)
	assert.Equal(t, "msg-1", e.ProviderMessageID)
	assert.Equal(t, 1, e.Attempts)
	assert.NotNil(t, e.SentAt)
	assert.Nil(t, e.ClaimedUntil)
	assert.Equal(t, c.Subject, e.Subject)

	sent := auditEvents(t, o.Store, "email_sent")
	require.Len(t, sent, 1)
	assert.Equal(t, first.EmailID, sent[0].Detail["email_id"])
	assert.Equal(t, domain.TmplComplaintAck, sent[0].Detail["template"])
	assert.Equal(t, "li.wei@example.com", sent[0].Detail["to"])
}

// Queue writes the row without calling the provider; Deliver sends it once, with the
// audit event, and later calls (or a Send with the same key) change nothing.
func TestEmailOutboxQueueThenDeliver(t *testing.T) {
	ctx := context.Background()
	f := newFakeSendGrid(t)
	o := newOutbox(t, f)
	in := ackInput("complaint/CMP-2024-0001/ack")

	queued, err := o.Queue(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "queued", queued.Status)
	assert.Empty(t, f.calls())
	again, err := o.Queue(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, queued, again, "queued once per key")

	sent, err := o.Deliver(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, "sent", sent.Status)
	assert.Equal(t, queued.EmailID, sent.EmailID)
	for range 2 {
		res, err := o.Deliver(ctx, in.IdempotencyKey)
		require.NoError(t, err)
		assert.Equal(t, sent, res)
	}
	res, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, sent, res)
	require.Len(t, f.calls(), 1)
	assert.Equal(t, in.IdempotencyKey, f.calls()[0].CustomKey)
	events := auditEvents(t, o.Store, "email_sent")
	require.Len(t, events, 1)
	assert.Equal(t, sent.EmailID, events[0].Detail["email_id"])

	// A key with nothing queued is a bug in the caller: not retried.
	_, err = o.Deliver(ctx, "complaint/CMP-2024-0001/nothing")
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.NonRetryable())

	// A message that does not render is failed when queued, and Deliver reports it.
	bad := ackInput("k/render")
	delete(bad.Data, "response_due_at")
	queued, err = o.Queue(ctx, bad)
	require.NoError(t, err)
	assert.Equal(t, "failed", queued.Status)
	res, err = o.Deliver(ctx, bad.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, "failed", res.Status)
	assert.Len(t, f.calls(), 1)
}

func TestEmailOutboxConcurrentSendsOnce(t *testing.T) {
	ctx := context.Background()
	f := newFakeSendGrid(t)
	f.delay = 300 * time.Millisecond // keep the first attempt in flight while the others arrive
	o := newOutbox(t, f)
	in := ackInput("complaint/CMP-2024-0001/ack")

	const n = 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]domain.SendEmailResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = o.Send(ctx, in)
		})
	}
	close(start)
	wg.Wait()

	require.Equal(t, 1, len(f.calls()), "one provider request for ten concurrent attempts")
	ok := 0
	for i := range n {
		if errs[i] != nil {
			ae := requireRetryable(t, errs[i], ErrTypeSendInFlight)
			assert.Greater(t, ae.NextRetryDelay(), time.Duration(0))
			continue
		}
		ok++
		assert.Equal(t, "sent", results[i].Status)
		assert.Equal(t, "msg-1", results[i].ProviderMessageID)
	}
	assert.GreaterOrEqual(t, ok, 1)

	// The retries that were turned away find the row sent.
	res, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "msg-1", res.ProviderMessageID)
	require.Equal(t, 1, len(f.calls()))
	assert.Len(t, auditEvents(t, o.Store, "email_sent"), 1)
}

func TestEmailOutboxRateLimitedThenSent(t *testing.T) {
	ctx := context.Background()
	f := newFakeSendGrid(t)
	f.respond = func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(5*time.Second).Unix(), 10))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"errors":[{"message":"too many requests"}]}`))
			return
		}
		accept(n, w)
	}
	o := newOutbox(t, f)
	in := ackInput("complaint/CMP-2024-0001/ack")

	_, err := o.Send(ctx, in)
	ae := requireRetryable(t, err, ErrTypeSendRetryable)
	assert.Greater(t, ae.NextRetryDelay(), 3*time.Second)
	assert.LessOrEqual(t, ae.NextRetryDelay(), 6*time.Second)
	var se *SendError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusTooManyRequests, se.StatusCode)

	e, err := o.Store.EmailByKey(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, "queued", e.Status)
	assert.Contains(t, e.Error, "429")
	assert.Nil(t, e.ClaimedUntil)

	res, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "sent", res.Status)
	assert.Equal(t, "msg-2", res.ProviderMessageID)
	_, err = o.Send(ctx, in)
	require.NoError(t, err)

	require.Equal(t, 2, len(f.calls()))
	e, err = o.Store.EmailByKey(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, 2, e.Attempts)
	assert.Empty(t, e.Error)
	assert.Len(t, auditEvents(t, o.Store, "email_sent"), 1)
}

func TestEmailOutboxServerErrorRequeues(t *testing.T) {
	ctx := context.Background()
	f := newFakeSendGrid(t)
	f.respond = func(n int, w http.ResponseWriter) { http.Error(w, "upstream broke", http.StatusInternalServerError) }
	o := newOutbox(t, f)
	in := ackInput("complaint/CMP-2024-0001/ack")

	_, err := o.Send(ctx, in)
	ae := requireRetryable(t, err, ErrTypeSendRetryable)
	assert.Zero(t, ae.NextRetryDelay(), "no hint: the retry policy decides")
	e, err := o.Store.EmailByKey(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, "queued", e.Status)
	assert.Contains(t, e.Error, "upstream broke")
	assert.Empty(t, e.ProviderMessageID)

	_, err = o.Send(ctx, in)
	requireRetryable(t, err, ErrTypeSendRetryable)
	assert.Equal(t, 2, len(f.calls()), "a queued row is tried again")
	assert.Empty(t, auditEvents(t, o.Store, "email_sent"))
}

func TestEmailOutboxNetworkErrorIsRetryable(t *testing.T) {
	f := newFakeSendGrid(t)
	o := newOutbox(t, f)
	f.srv.Close()
	_, err := o.Send(context.Background(), ackInput("k/net"))
	requireRetryable(t, err, ErrTypeSendRetryable)
	e, err := o.Store.EmailByKey(context.Background(), "k/net")
	require.NoError(t, err)
	assert.Equal(t, "queued", e.Status)
	assert.NotEmpty(t, e.Error)
}

func TestEmailOutboxClientErrorFailsForGood(t *testing.T) {
	ctx := context.Background()
	f := newFakeSendGrid(t)
	f.respond = func(n int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":[{"message":"The to email does not contain a valid address.","field":"personalizations.0.to.0.email"}]}`))
	}
	o := newOutbox(t, f)
	in := ackInput("complaint/CMP-2024-0001/ack")

	res, err := o.Send(ctx, in)
	require.NoError(t, err, "a permanent failure is a result, not an activity error")
	assert.Equal(t, "failed", res.Status)
	assert.Contains(t, res.Error, "valid address", "the workflow learns why")

	again, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, res, again)
	assert.Equal(t, 1, len(f.calls()), "a failed e-mail is not retried")

	e, err := o.Store.EmailByKey(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, "failed", e.Status)
	assert.Contains(t, e.Error, "status 400")
	assert.Contains(t, e.Error, "personalizations.0.to.0.email: The to email does not contain a valid address.")
	failed := auditEvents(t, o.Store, "email_failed")
	require.Len(t, failed, 1)
	assert.Contains(t, failed[0].Detail["reason"], "valid address")
}

func TestEmailOutboxRenderErrorFails(t *testing.T) {
	ctx := context.Background()
	f := newFakeSendGrid(t)
	o := newOutbox(t, f)
	in := ackInput("k/render")
	delete(in.Data, "response_due_at")

	res, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "failed", res.Status)
	assert.Empty(t, f.calls())
	e, err := o.Store.EmailByKey(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Contains(t, e.Error, "response_due_at")
	assert.Len(t, auditEvents(t, o.Store, "email_failed"), 1)
}

func TestEmailOutboxLeaseBlocksThenExpires(t *testing.T) {
	ctx := context.Background()
	f := newFakeSendGrid(t)
	o := newOutbox(t, f)
	in := ackInput("k/lease")

	// An attempt that crashed after claiming the row (maybe after SendGrid's 202).
	f.respond = func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
	_, err := o.Send(ctx, in)
	requireRetryable(t, err, ErrTypeSendRetryable)
	_, err = o.Store.Pool.Exec(ctx, `UPDATE emails SET status = 'sending', claimed_until = now() + interval '20 seconds'
		WHERE idempotency_key = $1`, in.IdempotencyKey)
	require.NoError(t, err)
	f.respond = nil

	_, err = o.Send(ctx, in)
	ae := requireRetryable(t, err, ErrTypeSendInFlight)
	assert.Greater(t, ae.NextRetryDelay(), 15*time.Second)
	assert.LessOrEqual(t, ae.NextRetryDelay(), 20*time.Second)
	assert.Equal(t, 1, len(f.calls()), "no request while the lease is held")

	// Once the lease has run out the row is claimed again (the documented window).
	_, err = o.Store.Pool.Exec(ctx, `UPDATE emails SET claimed_until = now() - interval '1 second' WHERE idempotency_key = $1`, in.IdempotencyKey)
	require.NoError(t, err)
	res, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "sent", res.Status)
	assert.Equal(t, 2, len(f.calls()))
	e, err := o.Store.EmailByKey(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, 2, e.Attempts)
}

func TestEmailOutboxInvalidInput(t *testing.T) {
	o := &Outbox{Sender: NewLogSender(discard), Log: discard}
	_, err := o.Send(context.Background(), domain.SendEmailInput{Template: domain.TmplComplaintAck})
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.NonRetryable())
}

func TestEmailOutboxLogSender(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	sender := NewLogSender(slog.New(slog.NewTextHandler(&buf, nil)))
	assert.Equal(t, "log", sender.Mode())
	o := &Outbox{Store: storetest.New(t, "maillog"), Sender: sender, From: domain.EmailRecipient{Email: "service@example.com"}, Log: discard}
	in := ackInput("k/log")
	in.Locale = "en"

	res, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "sent", res.Status)
	assert.True(t, strings.HasPrefix(res.ProviderMessageID, "log-"), res.ProviderMessageID)
	logged := buf.String()
	assert.Contains(t, logged, "li.wei@example.com")
	assert.Contains(t, logged, "We have received your complaint")
	assert.Contains(t, logged, res.ProviderMessageID)

	again, err := o.Send(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, res, again)
	assert.Equal(t, logged, buf.String(), "logged once")
	e, err := o.Store.EmailByKey(ctx, in.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, "sent", e.Status)
	assert.Equal(t, "en", e.Locale)
	assert.NotEmpty(t, e.Text)
	assert.NotEmpty(t, e.HTML)
}

func TestEmailSendGridClassifiesStatus(t *testing.T) {
	msg := Message{
		To: domain.EmailRecipient{Email: "a@example.com"}, From: domain.EmailRecipient{Email: "b@example.com"},
		Subject: "s", Text: "t", HTML: "<p>h</p>", IdempotencyKey: "k",
	}
	cases := []struct {
		status    int
		retryable bool
	}{
		{http.StatusUnauthorized, false}, {http.StatusForbidden, false}, {http.StatusRequestEntityTooLarge, false},
		{http.StatusRequestTimeout, true}, {http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true}, {http.StatusBadGateway, true}, {http.StatusServiceUnavailable, true},
	}
	for _, c := range cases {
		f := newFakeSendGrid(t)
		f.respond = func(n int, w http.ResponseWriter) { w.WriteHeader(c.status) }
		s := NewSendGrid("test-key", f.srv.URL+"/", time.Second)
		assert.Equal(t, "sendgrid", s.Mode())
		_, err := s.Send(context.Background(), msg)
		var se *SendError
		require.True(t, errors.As(err, &se), "status %d: %v", c.status, err)
		assert.Equal(t, c.status, se.StatusCode)
		assert.Equal(t, c.retryable, se.Retryable, "status %d", c.status)
		assert.NotEmpty(t, se.Reason)
	}
}

func TestEmailRetryAfterHeaders(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	assert.Equal(t, 7*time.Second, retryAfter(map[string][]string{"X-Ratelimit-Reset": {"1700000007"}}, now))
	assert.Equal(t, time.Second, retryAfter(map[string][]string{"X-Ratelimit-Reset": {"1699999990"}}, now), "a past reset waits a second")
	assert.Equal(t, 3*time.Second, retryAfter(map[string][]string{"Retry-After": {"3"}}, now))
	assert.Zero(t, retryAfter(map[string][]string{}, now))
}
