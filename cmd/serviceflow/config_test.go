package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsAndContractRules(t *testing.T) {
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	p := c.ContractPolicy()
	if p.StepSLA != 48*time.Hour || p.EscalationStep != 48*time.Hour || p.Rules.AllowedDiscountPct != "5" ||
		p.Rules.SpecialThreshold.Amount != "500000.00" || p.Rules.Rates["USD"] != "7.2" || p.Rules.Rates["CNY"] != "1" {
		t.Fatalf("contract defaults: %+v", p)
	}
	if cp := c.ComplaintPolicy(); cp.ResponseSLA != 24*time.Hour || cp.UrgentResponseSLA != time.Hour || cp.FinanceThreshold.Amount != "10000.00" {
		t.Fatalf("complaint defaults: %+v", cp)
	}

	t.Setenv("SERVICEFLOW_CONTRACT_STEP_SLA", "2h")
	t.Setenv("SERVICEFLOW_CONTRACT_MAJOR_THRESHOLD", "1000000 CNY")
	t.Setenv("SERVICEFLOW_CONTRACT_CNY_RATES", "USD:7.1,JPY:0.05")
	c, err = LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	p = c.ContractPolicy()
	if p.StepSLA != 2*time.Hour || p.Rules.MajorThreshold.Amount != "1000000" || p.Rules.Rates["JPY"] != "0.05" || p.Rules.Rates["EUR"] != "" {
		t.Fatalf("contract from the environment: %+v", p)
	}

	t.Setenv("SERVICEFLOW_CONTRACT_SPECIAL_THRESHOLD", "lots")
	t.Setenv("SERVICEFLOW_COMPLAINT_RESPONSE_SLA", "0s")
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "SERVICEFLOW_CONTRACT_") ||
		!strings.Contains(err.Error(), "SERVICEFLOW_COMPLAINT_RESPONSE_SLA") {
		t.Fatalf("want one error naming both bad settings, got %v", err)
	}
}

// The worker keeps eight workflow-task polls open by default; the SDK refuses one.
func TestConfigWorkflowTaskPollers(t *testing.T) {
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkflowPollers != 8 {
		t.Fatalf("default workflow-task pollers: %d, want 8", c.WorkflowPollers)
	}
	if w := workerOptions(c, nil, nil, slog.New(slog.DiscardHandler)); w.WorkflowTaskPollers != 8 {
		t.Fatalf("worker options carry %d pollers, want 8", w.WorkflowTaskPollers)
	}
	t.Setenv("SERVICEFLOW_WORKFLOW_TASK_POLLERS", "1")
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "SERVICEFLOW_WORKFLOW_TASK_POLLERS") {
		t.Fatalf("one poller: want an error naming the setting, got %v", err)
	}
}

// A survey cycle hands 50 e-mails a second to the provider by default; the rate reaches
// the worker's activities, and a rate that is not positive is refused.
func TestConfigSurveyMailRate(t *testing.T) {
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.SurveyMailRate != 50 {
		t.Fatalf("default survey mail rate %v, want 50", c.SurveyMailRate)
	}
	t.Setenv("SERVICEFLOW_SURVEY_MAIL_RATE", "400")
	if c, err = LoadConfig(); err != nil {
		t.Fatal(err)
	}
	w := workerOptions(c, nil, nil, slog.New(slog.DiscardHandler))
	if got := w.Activities.Config.SurveyMailRate; got != 400 {
		t.Fatalf("the activities get %v e-mails a second, want 400", got)
	}
	t.Setenv("SERVICEFLOW_SURVEY_MAIL_RATE", "0")
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "SERVICEFLOW_SURVEY_MAIL_RATE") {
		t.Fatalf("0: want an error naming the setting, got %v", err)
	}
}

// SendGrid webhook events are remembered a week by default, and never less than the
// 24 hours SendGrid retries an event for.
func TestConfigEmailEventsRetention(t *testing.T) {
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.EventsRetention != 7*24*time.Hour {
		t.Fatalf("default retention %s, want 168h", c.EventsRetention)
	}
	t.Setenv("SERVICEFLOW_EMAIL_EVENTS_RETENTION", "12h")
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "SERVICEFLOW_EMAIL_EVENTS_RETENTION") {
		t.Fatalf("12h: want an error naming the setting, got %v", err)
	}
}

// The complaint feedback reminders and the link secret come from the environment; a
// short secret is refused.
func TestConfigCustomerLinks(t *testing.T) {
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if r := c.ComplaintPolicy().FeedbackReminders; len(r) != 1 || r[0] != 72*time.Hour {
		t.Fatalf("default feedback reminders %v", r)
	}
	t.Setenv("SERVICEFLOW_COMPLAINT_FEEDBACK_REMINDERS", "24h,96h")
	t.Setenv("SERVICEFLOW_LINK_SECRET", strings.Repeat("s", minLinkSecret))
	if c, err = LoadConfig(); err != nil {
		t.Fatal(err)
	}
	if r := c.ComplaintPolicy().FeedbackReminders; len(r) != 2 || r[0] != 24*time.Hour || r[1] != 96*time.Hour {
		t.Fatalf("feedback reminders %v", r)
	}
	if w := workerOptions(c, nil, nil, slog.New(slog.DiscardHandler)); w.Activities.Config.LinkSecret == nil {
		t.Fatal("the worker's activities lack the link secret")
	}
	t.Setenv("SERVICEFLOW_LINK_SECRET", "short")
	t.Setenv("SERVICEFLOW_COMPLAINT_FEEDBACK_REMINDERS", "-1h")
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "SERVICEFLOW_LINK_SECRET") ||
		!strings.Contains(err.Error(), "SERVICEFLOW_COMPLAINT_FEEDBACK_REMINDERS") {
		t.Fatalf("want an error naming both settings, got %v", err)
	}
}

// serviceflow worker refuses to start without the customer-link secret, and says so
// before it connects to anything: the addresses here refuse every connection, so a
// worker that connected first would fail with that instead.
func TestWorkerNeedsTheLinkSecret(t *testing.T) {
	t.Setenv("SERVICEFLOW_LINK_SECRET", "")
	t.Setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=30")
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	err := runWorker(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "SERVICEFLOW_LINK_SECRET is not set") {
		t.Fatalf("want the missing secret named, got %v", err)
	}
}
