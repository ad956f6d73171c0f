package main

import (
	"fmt"
	"io"
	"net/mail"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
)

// Config is every setting, read from the environment. The `help` tag feeds --help.
type Config struct {
	DatabaseURL       string        `env:"DATABASE_URL" help:"PostgreSQL URL; dev: local server, else embedded PostgreSQL"`
	TemporalAddress   string        `env:"TEMPORAL_ADDRESS" help:"Temporal frontend host:port; dev: embedded server when unset"`
	TemporalNamespace string        `env:"TEMPORAL_NAMESPACE" envDefault:"default" help:"Temporal namespace"`
	HTTPAddr          string        `env:"SERVICEFLOW_HTTP_ADDR" envDefault:"127.0.0.1:8080" help:"API listen address"`
	PublicURL         string        `env:"SERVICEFLOW_PUBLIC_URL" help:"base of links in e-mails: staff get <base>/tasks/{id} and /escalations/{id}, customers /c/... (default http://<http addr>)"`
	DataDir           string        `env:"SERVICEFLOW_DATA_DIR" envDefault:".serviceflow" help:"dev: Temporal SQLite, embedded PostgreSQL, dev-tokens.json"`
	UpdateTimeout     time.Duration `env:"SERVICEFLOW_UPDATE_TIMEOUT" envDefault:"30s" help:"how long completing a task waits for the process before answering 504"`
	LogLevel          string        `env:"SERVICEFLOW_LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
	LogFormat         string        `env:"SERVICEFLOW_LOG_FORMAT" envDefault:"text" help:"text or json"`
	WorkflowPollers   int           `env:"SERVICEFLOW_WORKFLOW_TASK_POLLERS" envDefault:"8" help:"worker: most workflow-task polls kept open on the normal queue, and on the sticky queue (2-100); raise it when temporal_workflow_task_schedule_to_start_latency grows"`
	MetricsAddr       string        `env:"SERVICEFLOW_METRICS_ADDR" help:"serve Prometheus /metrics here, e.g. 127.0.0.1:9090 (never on the API port; off when unset)"`
	EventsRetention   time.Duration `env:"SERVICEFLOW_EMAIL_EVENTS_RETENTION" envDefault:"168h" help:"api: how long SendGrid webhook events are remembered to skip repeats (at least 24h: SendGrid retries for 24 h)"`
	LinkSecret        string        `env:"SERVICEFLOW_LINK_SECRET" help:"worker (required): the key customer-link tokens are derived from (HMAC-SHA256), at least 32 characters, the same on every worker; dev: kept in <data dir>/link-secret when unset"`
	WebIdleTimeout    time.Duration `env:"SERVICEFLOW_WEB_IDLE_TIMEOUT" envDefault:"30m" help:"web app: a session unused this long is signed out"`
	DebugAddr         string        `env:"SERVICEFLOW_DEBUG_ADDR" help:"serve Go's /debug/pprof/ profiles here, e.g. 127.0.0.1:6060 (off when unset)"`

	SendGridAPIKey    string `env:"SENDGRID_API_KEY" help:"SendGrid key; unset: e-mails are only logged and kept in the outbox"`
	SendGridAPIURL    string `env:"SENDGRID_API_URL" envDefault:"https://api.sendgrid.com" help:"SendGrid base URL"`
	SendGridWebhookPK string `env:"SENDGRID_WEBHOOK_PUBLIC_KEY" help:"ECDSA public key of the SendGrid event webhook; unset: unsigned events are refused (401), except in dev"`
	WebhookUnsigned   bool   `env:"SERVICEFLOW_WEBHOOK_ALLOW_UNSIGNED" envDefault:"false" help:"api: accept unsigned SendGrid webhook events when SENDGRID_WEBHOOK_PUBLIC_KEY is unset (a local mail mock); dev always does"`
	MailFrom          string `env:"MAIL_FROM" envDefault:"serviceflow <no-reply@serviceflow.example>" help:"sender of every e-mail"`

	ResponseSLA            time.Duration     `env:"SERVICEFLOW_COMPLAINT_RESPONSE_SLA" envDefault:"24h" help:"first response to a complaint"`
	UrgentResponseSLA      time.Duration     `env:"SERVICEFLOW_COMPLAINT_URGENT_RESPONSE_SLA" envDefault:"1h" help:"first response to an urgent complaint"`
	TierAResponseSLA       time.Duration     `env:"SERVICEFLOW_COMPLAINT_TIER_A_RESPONSE_SLA" envDefault:"12h" help:"first response for a tier-A customer"`
	ResolveSLA             time.Duration     `env:"SERVICEFLOW_COMPLAINT_RESOLVE_SLA" envDefault:"72h" help:"the resolve step"`
	ApprovalSLA            time.Duration     `env:"SERVICEFLOW_COMPLAINT_APPROVAL_SLA" envDefault:"24h" help:"approve_resolution"`
	ReviewSLA              time.Duration     `env:"SERVICEFLOW_COMPLAINT_REVIEW_SLA" envDefault:"24h" help:"review_dissatisfaction"`
	EscalationStep         time.Duration     `env:"SERVICEFLOW_COMPLAINT_ESCALATION_STEP" envDefault:"12h" help:"level 1 (service manager) to level 2 (general manager)"`
	FeedbackWait           time.Duration     `env:"SERVICEFLOW_COMPLAINT_FEEDBACK_WAIT" envDefault:"168h" help:"no feedback after this closes the complaint"`
	FeedbackReminders      []time.Duration   `env:"SERVICEFLOW_COMPLAINT_FEEDBACK_REMINDERS" envDefault:"72h" envSeparator:"," help:"when, after the feedback request, an unanswered feedback link is e-mailed again (comma-separated)"`
	FinanceThreshold       string            `env:"SERVICEFLOW_COMPLAINT_FINANCE_THRESHOLD" envDefault:"10000.00 CNY" help:"refund/compensation above it also needs finance"`
	ContractStepSLA        time.Duration     `env:"SERVICEFLOW_CONTRACT_STEP_SLA" envDefault:"48h" help:"each contract review step (reminder at half of it)"`
	ContractEscalationStep time.Duration     `env:"SERVICEFLOW_CONTRACT_ESCALATION_STEP" envDefault:"48h" help:"level 1 (reviewer's manager) to level 2 (general manager)"`
	ContractAllowedDisc    string            `env:"SERVICEFLOW_CONTRACT_ALLOWED_DISCOUNT_PCT" envDefault:"5" help:"a larger discount makes a contract special"`
	ContractSpecialAt      string            `env:"SERVICEFLOW_CONTRACT_SPECIAL_THRESHOLD" envDefault:"500000.00 CNY" help:"an amount from here makes a contract special"`
	ContractMajorAt        string            `env:"SERVICEFLOW_CONTRACT_MAJOR_THRESHOLD" envDefault:"5000000.00 CNY" help:"an amount from here makes a contract major"`
	ContractRates          map[string]string `env:"SERVICEFLOW_CONTRACT_CNY_RATES" envDefault:"USD:7.2,EUR:7.8" help:"CNY value of one unit of each other currency"`
	SurveyReminders        []time.Duration   `env:"SERVICEFLOW_SURVEY_REMINDERS" envDefault:"72h,168h" envSeparator:"," help:"when, after a survey cycle's invitations, those who have not answered are reminded (comma-separated)"`
	SurveyCloseAfter       time.Duration     `env:"SERVICEFLOW_SURVEY_CLOSE_AFTER" envDefault:"336h" help:"a survey cycle closes this long after its invitations"`
	SurveyQuietPeriod      time.Duration     `env:"SERVICEFLOW_SURVEY_QUIET_PERIOD" envDefault:"720h" help:"nobody is invited to a survey twice within it"`
	SurveyDetractorDue     time.Duration     `env:"SERVICEFLOW_SURVEY_DETRACTOR_DUE" envDefault:"72h" help:"a detractor's return visit is due this long after the answer"`
	SurveyThreshold        string            `env:"SERVICEFLOW_SURVEY_IMPROVEMENT_THRESHOLD" envDefault:"3.5" help:"a rating whose cycle average is below it opens an improvement task"`
	SurveyPlanLeadDays     int               `env:"SERVICEFLOW_SURVEY_PLAN_LEAD_DAYS" envDefault:"7" help:"a visit plan is submitted at least this many days before its first visit"`
	SurveyDepartments      map[string]string `env:"SERVICEFLOW_SURVEY_DEPARTMENTS" envDefault:"service_attitude:customer_service,service_quality:customer_service,service_efficiency:customer_service,product_quality:quality,after_sales_service:customer_service" help:"the department (role) that improves each rating"`
	SurveyMailRate         float64           `env:"SERVICEFLOW_SURVEY_MAIL_RATE" envDefault:"50" help:"survey e-mails handed to the provider per second"`
}

// LoadConfig reads the environment.
func LoadConfig() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c Config) validate() error {
	var errs []string
	for name, d := range map[string]time.Duration{
		"SERVICEFLOW_COMPLAINT_RESPONSE_SLA": c.ResponseSLA, "SERVICEFLOW_COMPLAINT_URGENT_RESPONSE_SLA": c.UrgentResponseSLA,
		"SERVICEFLOW_COMPLAINT_TIER_A_RESPONSE_SLA": c.TierAResponseSLA, "SERVICEFLOW_COMPLAINT_RESOLVE_SLA": c.ResolveSLA,
		"SERVICEFLOW_COMPLAINT_APPROVAL_SLA": c.ApprovalSLA, "SERVICEFLOW_COMPLAINT_REVIEW_SLA": c.ReviewSLA,
		"SERVICEFLOW_COMPLAINT_ESCALATION_STEP": c.EscalationStep, "SERVICEFLOW_COMPLAINT_FEEDBACK_WAIT": c.FeedbackWait,
		"SERVICEFLOW_UPDATE_TIMEOUT": c.UpdateTimeout, "SERVICEFLOW_CONTRACT_STEP_SLA": c.ContractStepSLA,
		"SERVICEFLOW_CONTRACT_ESCALATION_STEP": c.ContractEscalationStep,
	} {
		if d <= 0 {
			errs = append(errs, name+" must be a positive duration")
		}
	}
	if _, err := c.contractRules(); err != nil {
		errs = append(errs, "contract rules (SERVICEFLOW_CONTRACT_*): "+err.Error())
	}
	if _, err := c.financeThreshold(); err != nil {
		errs = append(errs, "SERVICEFLOW_COMPLAINT_FINANCE_THRESHOLD: "+err.Error())
	}
	for _, d := range c.FeedbackReminders {
		if d <= 0 {
			errs = append(errs, "SERVICEFLOW_COMPLAINT_FEEDBACK_REMINDERS must be positive durations")
			break
		}
	}
	if c.LinkSecret != "" && len(c.LinkSecret) < minLinkSecret {
		errs = append(errs, fmt.Sprintf("SERVICEFLOW_LINK_SECRET must be at least %d characters", minLinkSecret))
	}
	if c.EventsRetention < 24*time.Hour {
		errs = append(errs, "SERVICEFLOW_EMAIL_EVENTS_RETENTION must be at least 24h: SendGrid retries an event for 24 hours")
	}
	if c.WorkflowPollers < 2 || c.WorkflowPollers > 100 {
		errs = append(errs, "SERVICEFLOW_WORKFLOW_TASK_POLLERS must be between 2 and 100")
	}
	if err := c.SurveyPolicy().Validate(); err != nil {
		errs = append(errs, "the survey policy (SERVICEFLOW_SURVEY_*): "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if c.SurveyMailRate < 0.1 {
		errs = append(errs, "SERVICEFLOW_SURVEY_MAIL_RATE must be at least 0.1 (an e-mail each 10 s): a slower pass would outlast its heartbeat")
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		errs = append(errs, "MAIL_FROM: "+err.Error())
	}
	if c.SendGridWebhookPK != "" {
		if _, err := api.ParseSendGridWebhookKey(c.SendGridWebhookPK); err != nil {
			errs = append(errs, "SENDGRID_WEBHOOK_PUBLIC_KEY: "+err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (c Config) financeThreshold() (domain.Money, error) { return parseMoney(c.FinanceThreshold) }

// parseMoney reads "<amount> <currency>", e.g. "10000.00 CNY".
func parseMoney(v string) (domain.Money, error) {
	parts := strings.Fields(v)
	if len(parts) != 2 {
		return domain.Money{}, fmt.Errorf("want \"<amount> <currency>\", e.g. \"10000.00 CNY\", got %q", v)
	}
	m := domain.Money{Amount: parts[0], Currency: parts[1]}
	return m, m.Validate()
}

// contractRules builds the contract classification rules from the configuration.
func (c Config) contractRules() (domain.ContractRules, error) {
	r := domain.DefaultContractRules()
	r.AllowedDiscountPct = c.ContractAllowedDisc
	var err error
	if r.SpecialThreshold, err = parseMoney(c.ContractSpecialAt); err != nil {
		return r, err
	}
	if r.MajorThreshold, err = parseMoney(c.ContractMajorAt); err != nil {
		return r, err
	}
	r.Rates = map[string]string{"CNY": "1"}
	for cur, rate := range c.ContractRates {
		r.Rates[cur] = rate
	}
	return r, r.Validate()
}

// ContractPolicy builds the contract review policy from the configuration.
func (c Config) ContractPolicy() domain.ContractPolicy {
	p := domain.DefaultContractPolicy()
	if c.ContractStepSLA > 0 {
		p.StepSLA = c.ContractStepSLA
	}
	if c.ContractEscalationStep > 0 {
		p.EscalationStep = c.ContractEscalationStep
	}
	if r, err := c.contractRules(); err == nil {
		p.Rules = r
	}
	return p
}

// OrderPolicy builds the order fulfilment policy: DOMAIN.md's durations, and the
// contract rules' exchange rates for the credit check.
func (c Config) OrderPolicy() domain.OrderPolicy {
	p := domain.DefaultOrderPolicy()
	if r, err := c.contractRules(); err == nil {
		p.Rates = r.Rates
	}
	return p
}

// SurveyPolicy builds the survey policy: DOMAIN.md's calendar and this house's defaults,
// with the durations the environment sets.
func (c Config) SurveyPolicy() domain.SurveyPolicy {
	p := domain.DefaultSurveyPolicy()
	p.Reminders, p.CloseAfter, p.QuietPeriod = c.SurveyReminders, c.SurveyCloseAfter, c.SurveyQuietPeriod
	p.DetractorDue, p.ImprovementThreshold, p.PlanLeadDays = c.SurveyDetractorDue, c.SurveyThreshold, c.SurveyPlanLeadDays
	p.Departments = map[string]domain.Role{}
	for rating, role := range c.SurveyDepartments {
		p.Departments[rating] = domain.Role(role)
	}
	return p
}

// ComplaintPolicy builds the complaint SLA policy from the configuration.
func (c Config) ComplaintPolicy() domain.ComplaintPolicy {
	p := domain.DefaultComplaintPolicy()
	p.ResponseSLA, p.UrgentResponseSLA, p.TierAResponseSLA = c.ResponseSLA, c.UrgentResponseSLA, c.TierAResponseSLA
	p.ResolveSLA, p.ApprovalSLA, p.ReviewSLA = c.ResolveSLA, c.ApprovalSLA, c.ReviewSLA
	p.EscalationStep, p.FeedbackWait = c.EscalationStep, c.FeedbackWait
	if c.FeedbackReminders != nil {
		p.FeedbackReminders = c.FeedbackReminders
	}
	if m, err := c.financeThreshold(); err == nil {
		p.FinanceThreshold = m
	}
	return p
}

// minLinkSecret is the shortest SERVICEFLOW_LINK_SECRET taken.
const minLinkSecret = 32

// BaseURL is the public base of links in e-mails.
func (c Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + c.HTTPAddr
}

// MailFromRecipient parses MAIL_FROM.
func (c Config) MailFromRecipient() domain.EmailRecipient {
	a, err := mail.ParseAddress(c.MailFrom)
	if err != nil {
		return domain.EmailRecipient{Email: c.MailFrom}
	}
	return domain.EmailRecipient{Email: a.Address, Name: a.Name}
}

// printEnvHelp lists every environment variable with its default and meaning.
func printEnvHelp(w io.Writer) {
	fmt.Fprintln(w, "\nEnvironment:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		def := f.Tag.Get("envDefault")
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Tag.Get("env"), def, f.Tag.Get("help"))
	}
	tw.Flush()
}
