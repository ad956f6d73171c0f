//go:build !nodevstack

package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/devstack"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/worker"
)

func runDev(ctx context.Context, args []string) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	fs := newFlags("dev", "Runs everything in one process: the embedded Temporal server and its Web UI,\n"+
		"PostgreSQL (DATABASE_URL, the local server, or an embedded one), the worker, the API\n"+
		"and the demo organisation, whose tokens go to <data dir>/dev-tokens.json.")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory (SERVICEFLOW_DATA_DIR)")
	ephemeral := fs.Bool("ephemeral", false, "keep Temporal's state in memory only")
	uiAddr := fs.String("ui-addr", "127.0.0.1:8233", "Temporal Web UI address (\"off\" disables it)")
	temporalAddr := fs.String("temporal-addr", "127.0.0.1:7233", "embedded Temporal frontend address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg = devConfig(cfg)
	log := newLogger(cfg, os.Stderr)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	dataDir, _ := filepath.Abs(cfg.DataDir)

	ln, err := listen(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer ln.Close()

	// Temporal: the configured one, else the embedded server.
	temporalUI, namespace := "", cfg.TemporalNamespace
	if cfg.TemporalAddress == "" {
		t, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
			DataDir: dataDir, Ephemeral: *ephemeral, FrontendAddr: *temporalAddr,
			UIAddr: *uiAddr, Namespace: namespace, Logger: log.With("component", "temporal"),
		})
		if err != nil {
			return fmt.Errorf("embedded Temporal: %w", err)
		}
		defer t.Stop()
		cfg.TemporalAddress, temporalUI = t.FrontendAddr(), t.UIURL()
	}

	pg, err := devstack.EnsurePostgres(ctx, devstack.PostgresOptions{URL: cfg.DatabaseURL, DataDir: dataDir, Logger: log.With("component", "postgres")})
	if err != nil {
		return err
	}
	defer pg.Stop()

	st, err := openStore(ctx, pg.URL)
	if err != nil {
		return err
	}
	defer st.Close()
	tokenFile := filepath.Join(dataDir, "dev-tokens.json")
	if err := seedDemo(ctx, st, tokenFile); err != nil {
		return fmt.Errorf("demo organisation: %w", err)
	}

	// The worker gets a pool of its own, as in the production topology, where it is a
	// process of its own: a burst of background e-mail then never keeps a person's
	// request waiting for a connection.
	wst, err := store.Open(ctx, pg.URL)
	if err != nil {
		return err
	}
	defer wst.Close()

	reg := newRegistry() // one registry for the worker and the API, served on SERVICEFLOW_METRICS_ADDR
	registerPool(reg, st, "api")
	registerPool(reg, wst, "worker")
	tc, err := dialTemporal(ctx, cfg.TemporalAddress, namespace, log, reg)
	if err != nil {
		return err
	}
	defer tc.Close()

	seeder := api.New(api.Config{SurveyPolicy: cfg.SurveyPolicy(), TaskQueue: domain.TaskQueue}, st, tc, log.With("component", "seed"))
	if err := seedProgrammes(ctx, st, seeder); err != nil {
		return fmt.Errorf("demo organisation: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	if err := serveDebug(gctx, g, cfg.DebugAddr, log); err != nil {
		return err
	}
	if cfg.LinkSecret == "" {
		if cfg.LinkSecret, err = devLinkSecret(dataDir); err != nil {
			return err
		}
	}
	if err := serveMetrics(gctx, g, cfg.MetricsAddr, reg, log); err != nil {
		return err
	}
	wopts := workerOptions(cfg, tc, wst, log)
	g.Go(func() error { return worker.Run(gctx, wopts) })
	g.Go(func() error { return serveHTTP(gctx, ln, newAPI(gctx, cfg, tc, st, log, reg), log) })
	g.Go(func() error { return pruneEmailEvents(gctx, st, cfg.EventsRetention, emailEventsPruneEvery, log) })
	g.Go(func() error { return pruneWebSessions(gctx, st, cfg.WebIdleTimeout, webPruneEvery, log) })

	banner(os.Stdout, cfg, temporalUI, pg, tokenFile)
	err = g.Wait()
	log.Info("serviceflow stopped")
	return err
}

// devConfig is what dev changes in the configuration: its webhook accepts unsigned
// SendGrid events when no SENDGRID_WEBHOOK_PUBLIC_KEY is set (the banner says so), where
// `serviceflow api` refuses them unless SERVICEFLOW_WEBHOOK_ALLOW_UNSIGNED is true.
func devConfig(cfg Config) Config {
	cfg.WebhookUnsigned = true
	return cfg
}

func banner(w io.Writer, cfg Config, ui string, pg *devstack.Postgres, tokenFile string) {
	webhook := "signed events only (SENDGRID_WEBHOOK_PUBLIC_KEY)"
	if cfg.SendGridWebhookPK == "" && cfg.WebhookUnsigned {
		webhook = "accepts UNSIGNED events (dev; no SENDGRID_WEBHOOK_PUBLIC_KEY). `serviceflow api` refuses them"
	}
	mode := "log (no SENDGRID_API_KEY: e-mails are kept in the outbox and logged)"
	if cfg.SendGridAPIKey != "" {
		mode = "sendgrid via " + cfg.SendGridAPIURL
	}
	pgKind := "external"
	if pg.Embedded {
		pgKind = "embedded"
	}
	if ui == "" {
		ui = "(off)"
	}
	metrics := "(off: set SERVICEFLOW_METRICS_ADDR, e.g. 127.0.0.1:9090)"
	if cfg.MetricsAddr != "" {
		metrics = "http://" + cfg.MetricsAddr + "/metrics"
	}
	fmt.Fprintf(w, `
serviceflow dev is up
  Web app      %s/   sign in as carol (or any demo user) with password %s
  API          %s/api/v1   (OpenAPI: %s/openapi.yaml)
  Temporal     %s  namespace %s
  Temporal UI  %s
  PostgreSQL   %s (%s)
  Tokens       %s
  Mail         %s
  Webhook      %s%s %s
  Metrics      %s
Press Ctrl+C to stop.
`, cfg.BaseURL(), DevPassword, cfg.BaseURL(), cfg.BaseURL(), cfg.TemporalAddress, cfg.TemporalNamespace, ui, redact(pg.URL), pgKind, tokenFile, mode,
		cfg.BaseURL(), api.SendGridWebhookPath, webhook, metrics)
}

// redact hides a password in a database URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// devLinkSecret reads the link secret kept in the data directory, making one the first
// time, so that customer links made before a restart get their reminders after it.
func devLinkSecret(dataDir string) (string, error) {
	file := filepath.Join(dataDir, "link-secret")
	if b, err := os.ReadFile(file); err == nil && len(strings.TrimSpace(string(b))) >= minLinkSecret {
		return strings.TrimSpace(string(b)), nil
	}
	secret := domain.NewToken()
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("link secret: %w", err)
	}
	return secret, nil
}
