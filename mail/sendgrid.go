package mail

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
)

// DefaultSendGridURL is the SendGrid API base URL used when none is configured.
const DefaultSendGridURL = "https://api.sendgrid.com"

type sendGrid struct {
	apiKey  string
	baseURL string
	client  *rest.Client
}

// NewSendGrid returns a Sender that posts to baseURL + /v3/mail/send through sendgrid-go.
// An empty baseURL means DefaultSendGridURL; timeout ≤ 0 means 10 s. The timeout must stay
// below the outbox lease.
func NewSendGrid(apiKey, baseURL string, timeout time.Duration) Sender {
	if baseURL == "" {
		baseURL = DefaultSendGridURL
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &sendGrid{
		apiKey:  apiKey,
		baseURL: strings.TrimRight(baseURL, "/"),
		client:  &rest.Client{HTTPClient: &http.Client{Timeout: timeout}},
	}
}

func (s *sendGrid) Mode() string { return "sendgrid" }

// Send posts the message. It returns the X-Message-Id of a 2xx answer, or a *SendError:
// retryable for a network error, 408, 429 (with the rate-limit reset as RetryAfter) and
// 5xx; permanent for any other status.
func (s *sendGrid) Send(ctx context.Context, m Message) (string, error) {
	req := sendgrid.GetRequest(s.apiKey, "/v3/mail/send", s.baseURL)
	req.Method = rest.Post
	req.Body = sgmail.GetRequestBody(v3Mail(m))
	resp, err := s.client.SendWithContext(ctx, req)
	if err != nil {
		return "", &SendError{Retryable: true, Reason: err.Error()}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return header(resp.Headers, "X-Message-Id"), nil
	}
	e := &SendError{StatusCode: resp.StatusCode, Reason: errorReason(resp)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Retryable = true
		e.RetryAfter = retryAfter(resp.Headers, time.Now())
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		e.Retryable = true
	}
	return "", e
}

func v3Mail(m Message) *sgmail.SGMailV3 {
	v := sgmail.NewV3Mail()
	v.SetFrom(sgmail.NewEmail(m.From.Name, m.From.Email))
	v.Subject = m.Subject
	p := sgmail.NewPersonalization()
	p.AddTos(sgmail.NewEmail(m.To.Name, m.To.Email))
	v.AddPersonalizations(p)
	// SendGrid requires text/plain before text/html.
	if m.Text != "" {
		v.AddContent(sgmail.NewContent("text/plain", m.Text))
	}
	if m.HTML != "" {
		v.AddContent(sgmail.NewContent("text/html", m.HTML))
	}
	if m.IdempotencyKey != "" {
		v.SetCustomArg("idempotency_key", m.IdempotencyKey)
		v.SetHeader("X-Idempotency-Key", m.IdempotencyKey)
	}
	return v
}

func header(h map[string][]string, name string) string {
	return http.Header(h).Get(name)
}

// retryAfter reads X-RateLimit-Reset (Unix seconds), else Retry-After (seconds). A reset
// already past still waits one second.
func retryAfter(h map[string][]string, now time.Time) time.Duration {
	if v := header(h, "X-RateLimit-Reset"); v != "" {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Unix(sec, 0).Sub(now), time.Second)
		}
	}
	if v := header(h, "Retry-After"); v != "" {
		if sec, err := strconv.Atoi(v); err == nil && sec > 0 {
			return time.Duration(sec) * time.Second
		}
	}
	return 0
}

// errorReason extracts SendGrid's {"errors":[{"message":…,"field":…}]}, else the raw body.
func errorReason(resp *rest.Response) string {
	var body struct {
		Errors []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(resp.Body), &body) == nil && len(body.Errors) > 0 {
		parts := make([]string, 0, len(body.Errors))
		for _, e := range body.Errors {
			if e.Field != "" {
				parts = append(parts, e.Field+": "+e.Message)
			} else {
				parts = append(parts, e.Message)
			}
		}
		return strings.Join(parts, "; ")
	}
	reason := strings.TrimSpace(resp.Body)
	if reason == "" {
		reason = http.StatusText(resp.StatusCode)
	}
	if len(reason) > 500 {
		reason = reason[:500]
	}
	return reason
}
