// Package mail renders the e-mail templates (en, zh-CN), delivers messages through
// SendGrid or the log, and runs the outbox that makes each send happen once per
// idempotency key.
package mail

import (
	"context"
	"fmt"
	"time"

	"github.com/serviceflow/serviceflow/domain"
)

// Message is one rendered e-mail.
type Message struct {
	To, From            domain.EmailRecipient
	Subject, Text, HTML string
	IdempotencyKey      string // sent to SendGrid as custom_args["idempotency_key"] and a header
}

// Sender delivers a Message and returns the provider's message id.
type Sender interface {
	Send(ctx context.Context, m Message) (providerMessageID string, err error)
	Mode() string // "sendgrid" or "log"
}

// SendError classifies a provider failure. StatusCode is 0 when no response came back.
type SendError struct {
	StatusCode int
	Retryable  bool
	RetryAfter time.Duration // the provider's hint (rate limit reset), 0 when none
	Reason     string
}

func (e *SendError) Error() string {
	if e.StatusCode == 0 {
		return "send e-mail: " + e.Reason
	}
	return fmt.Sprintf("send e-mail: status %d: %s", e.StatusCode, e.Reason)
}
