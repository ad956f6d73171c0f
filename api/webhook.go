package api

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// SendGridWebhookPath is where SendGrid posts its event webhook.
const SendGridWebhookPath = "/webhooks/sendgrid"

// SendGridWebhook receives SendGrid's event webhook: it checks the ECDSA signature,
// applies each delivery event once per sg_event_id to the outbox (delivered, or bounced
// for a bounce or a drop) and records a bounce on the e-mail's process. Mount it with
// Server.Handle; it needs no bearer token.
type SendGridWebhook struct {
	st            *store.Store
	key           *ecdsa.PublicKey // nil: no signature can be checked
	allowUnsigned bool             // without a key: accept unsigned events instead of answering 401
	log           *slog.Logger
	unsigned      sync.Once
}

// ParseSendGridWebhookKey decodes the webhook's public key as SendGrid shows it: a
// base64 DER (PKIX) ECDSA key, with or without the PEM armour lines.
func ParseSendGridWebhookKey(s string) (*ecdsa.PublicKey, error) {
	var b64 strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); !strings.HasPrefix(line, "-----") {
			b64.WriteString(line)
		}
	}
	der, err := base64.StdEncoding.DecodeString(b64.String())
	if err != nil {
		return nil, fmt.Errorf("SendGrid webhook public key: not base64: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("SendGrid webhook public key: %w", err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("SendGrid webhook public key: want an ECDSA key, got %T", pub)
	}
	return key, nil
}

// NewSendGridWebhook returns the webhook handler. With a publicKey every event must carry
// a valid signature. With an empty one, unsigned events are refused with 401 (anyone
// could otherwise mark e-mails delivered or bounced) unless allowUnsigned is set (dev,
// or a local mail mock that cannot sign); then they are accepted, with a warning the
// first time. allowUnsigned does nothing when a key is given.
func NewSendGridWebhook(st *store.Store, publicKey string, allowUnsigned bool, log *slog.Logger) (*SendGridWebhook, error) {
	if log == nil {
		log = slog.Default()
	}
	h := &SendGridWebhook{st: st, log: log, allowUnsigned: allowUnsigned}
	if strings.TrimSpace(publicKey) != "" {
		key, err := ParseSendGridWebhookKey(publicKey)
		if err != nil {
			return nil, err
		}
		h.key = key
	}
	return h, nil
}

// sendGridEvent is the part of one webhook event the outbox uses. Custom args, such as
// our idempotency_key, arrive as top-level fields.
type sendGridEvent struct {
	Event          string  `json:"event"`
	EventID        string  `json:"sg_event_id"`
	MessageID      string  `json:"sg_message_id"`
	IdempotencyKey string  `json:"idempotency_key"`
	Reason         string  `json:"reason"`
	Type           string  `json:"type"` // of a bounce: bounce or blocked
	Timestamp      float64 `json:"timestamp"`
}

// outboxStatus is what the event makes of the outbox row ("" for opens, clicks, …).
func (e sendGridEvent) outboxStatus() string {
	switch e.Event {
	case "delivered":
		return store.EmailDelivered
	case "bounce", "dropped":
		return store.EmailBounced
	}
	return ""
}

func (h *SendGridWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeHTTPProblem(w, problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit)))
		return
	case err != nil:
		writeHTTPProblem(w, problem(http.StatusBadRequest, "could not read the request body"))
		return
	}
	if !h.verified(w, r, body) {
		return
	}

	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		writeHTTPProblem(w, &Problem{Type: typeMalformed, Title: "Malformed request", Status: http.StatusBadRequest,
			Detail: "the body must be a JSON array of SendGrid events"})
		return
	}
	var applied, duplicates, skipped int
	for i, m := range raw {
		var ev sendGridEvent
		if err := json.Unmarshal(m, &ev); err != nil {
			h.log.Warn("SendGrid webhook: event not understood, skipped", "index", i, "err", err)
			skipped++
			continue
		}
		status := ev.outboxStatus()
		if status == "" {
			skipped++
			continue
		}
		reason := ev.Reason
		if reason == "" {
			reason = ev.Type
		}
		rec := store.EmailEvent{
			EventID: ev.EventID, Type: ev.Event, Status: status, IdempotencyKey: ev.IdempotencyKey,
			ProviderMessageID: ev.MessageID, Reason: reason,
		}
		if at := time.Unix(int64(ev.Timestamp), 0); ev.Timestamp > 0 && at.Before(time.Now().Add(24*time.Hour)) {
			rec.At = at.UTC() // else the time it is recorded
		}
		fresh, err := h.st.RecordEmailEvent(r.Context(), rec)
		if err != nil {
			// SendGrid posts the batch again; the events already applied are skipped then.
			h.log.Error("SendGrid webhook: apply event", "sg_event_id", ev.EventID, "event", ev.Event, "err", err)
			writeHTTPProblem(w, problem(http.StatusInternalServerError, "the events could not be recorded; retry later"))
			return
		}
		if fresh {
			applied++
		} else {
			duplicates++
		}
	}
	h.log.Debug("SendGrid webhook", "events", len(raw), "applied", applied, "duplicates", duplicates, "skipped", skipped)
	b, _ := json.Marshal(map[string]int{"received": len(raw), "applied": applied, "duplicates": duplicates, "skipped": skipped})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// verified checks the signature (timestamp + body, ECDSA P-256 over SHA-256) and answers
// 401 when it does not hold. Without a key a request passes only when unsigned events
// are allowed (with a warning once); else it is refused with 401.
func (h *SendGridWebhook) verified(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if h.key == nil {
		if !h.allowUnsigned {
			h.unsigned.Do(func() {
				h.log.Warn("SendGrid webhook: refusing events: SENDGRID_WEBHOOK_PUBLIC_KEY is not set and SERVICEFLOW_WEBHOOK_ALLOW_UNSIGNED is not true")
			})
			p := problem(http.StatusUnauthorized,
				"unsigned event webhook requests are refused: this server has no SendGrid webhook public key to verify them with")
			p.Errors = []domain.FieldError{{Field: eventwebhook.VerificationHTTPHeader,
				Message: "cannot be verified: SENDGRID_WEBHOOK_PUBLIC_KEY is not configured"}}
			writeHTTPProblem(w, p)
			return false
		}
		h.unsigned.Do(func() {
			h.log.Warn("SendGrid webhook: SENDGRID_WEBHOOK_PUBLIC_KEY is not set; accepting unsigned events (SERVICEFLOW_WEBHOOK_ALLOW_UNSIGNED)")
		})
		return true
	}
	sig := r.Header.Get(eventwebhook.VerificationHTTPHeader)
	ts := r.Header.Get(eventwebhook.TimestampHTTPHeader)
	if sig == "" || ts == "" {
		writeHTTPProblem(w, problem(http.StatusUnauthorized, "the event webhook signature and timestamp headers are required"))
		return false
	}
	ok, err := eventwebhook.VerifySignature(h.key, body, sig, ts)
	if err != nil || !ok {
		h.log.Warn("SendGrid webhook: bad signature", "remote", r.RemoteAddr, "err", err)
		writeHTTPProblem(w, problem(http.StatusUnauthorized, "the event webhook signature does not verify"))
		return false
	}
	return true
}

// writeHTTPProblem is writeProblem for a plain http.Handler behind the common
// middleware, which has set the X-Request-Id response header.
func writeHTTPProblem(w http.ResponseWriter, p *Problem) {
	out := *p
	if out.Errors == nil {
		out.Errors = []domain.FieldError{}
	}
	out.RequestID = w.Header().Get("X-Request-Id")
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(out.Status)
	_, _ = w.Write(b)
}
