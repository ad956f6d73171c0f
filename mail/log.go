package mail

import (
	"context"
	"log/slog"
	"strings"

	"github.com/oklog/ulid/v2"
)

type logSender struct{ log *slog.Logger }

// NewLogSender returns the Sender used when no SendGrid key is configured: it writes the
// message to the log and returns a synthetic id "log-<ULID>". The outbox keeps the row as
// with any other sender. A nil logger means slog.Default().
func NewLogSender(log *slog.Logger) Sender {
	if log == nil {
		log = slog.Default()
	}
	return &logSender{log: log}
}

func (s *logSender) Mode() string { return "log" }

func (s *logSender) Send(ctx context.Context, m Message) (string, error) {
	id := "log-" + strings.ToLower(ulid.Make().String())
	s.log.InfoContext(ctx, "e-mail (log sender, not delivered)",
		"provider_message_id", id, "to", m.To.Email, "from", m.From.Email,
		"subject", m.Subject, "idempotency_key", m.IdempotencyKey, "text", m.Text)
	return id, nil
}
