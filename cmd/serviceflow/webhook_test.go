//go:build !nodevstack

package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/devstack"
	"github.com/serviceflow/serviceflow/internal/sendgridtest"
)

// postUnsigned posts one unsigned "open" event (which changes nothing in the outbox) to
// the binary's webhook and returns the status.
func postUnsigned(t *testing.T, cfg Config) int {
	t.Helper()
	h := newAPI(t.Context(), cfg, nil, nil, slog.New(slog.DiscardHandler))
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, api.SendGridWebhookPath,
		strings.NewReader(`[{"event":"open","sg_event_id":"ev-1","email":"x@example.test"}]`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, r)
	return w.Code
}

// Without SENDGRID_WEBHOOK_PUBLIC_KEY, `serviceflow api` refuses unsigned webhook events
// unless SERVICEFLOW_WEBHOOK_ALLOW_UNSIGNED=true; dev accepts them and says so.
func TestWebhookUnsignedByMode(t *testing.T) {
	cfg := defaultConfig(t)
	if cfg.SendGridWebhookPK != "" || cfg.WebhookUnsigned {
		t.Fatalf("defaults: key %q, allow unsigned %v", cfg.SendGridWebhookPK, cfg.WebhookUnsigned)
	}
	if code := postUnsigned(t, cfg); code != http.StatusUnauthorized {
		t.Errorf("api without a key: unsigned event answered %d, want 401", code)
	}

	t.Setenv("SERVICEFLOW_WEBHOOK_ALLOW_UNSIGNED", "true")
	allowed, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if code := postUnsigned(t, allowed); code != http.StatusOK {
		t.Errorf("api with SERVICEFLOW_WEBHOOK_ALLOW_UNSIGNED=true: unsigned event answered %d, want 200", code)
	}

	// With a key the flag does not let unsigned events in.
	signed := allowed
	signed.SendGridWebhookPK = sendgridtest.NewSigningKey(t).Public
	if code := postUnsigned(t, signed); code != http.StatusUnauthorized {
		t.Errorf("api with a key and the flag: unsigned event answered %d, want 401", code)
	}

	dev := devConfig(defaultConfig(t))
	if code := postUnsigned(t, dev); code != http.StatusOK {
		t.Errorf("dev without a key: unsigned event answered %d, want 200", code)
	}
	var out bytes.Buffer
	banner(&out, dev, "", &devstack.Postgres{URL: "postgres://u@h/db"}, "tokens.json")
	if !strings.Contains(out.String(), api.SendGridWebhookPath+" accepts UNSIGNED events") {
		t.Errorf("dev's banner does not say its webhook accepts unsigned events:\n%s", out.String())
	}
	out.Reset()
	dev.SendGridWebhookPK = signed.SendGridWebhookPK
	banner(&out, dev, "", &devstack.Postgres{URL: "postgres://u@h/db"}, "tokens.json")
	if strings.Contains(out.String(), "UNSIGNED") || !strings.Contains(out.String(), "signed events only") {
		t.Errorf("dev's banner with a key:\n%s", out.String())
	}
}
