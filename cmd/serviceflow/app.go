package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/IBM/pgxpoolprometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/mail"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/web"
	"github.com/serviceflow/serviceflow/worker"
)

// openStore connects to PostgreSQL and applies the migrations.
func openStore(ctx context.Context, url string) (*store.Store, error) {
	if url == "" {
		return nil, errors.New("DATABASE_URL is not set")
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}

// newRegistry is the process's Prometheus registry, with the Go runtime and process
// collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// registerPool adds a PostgreSQL pool's figures (connections in use, acquires that had
// to wait, the time spent waiting) to reg as pgxpool_* metrics labelled pool=name: a
// pool too small for its load shows as a growing pgxpool_empty_acquire_wait_time_ns.
func registerPool(reg prometheus.Registerer, st *store.Store, name string) {
	reg.MustRegister(pgxpoolprometheus.NewCollector(st.Pool, map[string]string{
		"db_name": st.Pool.Config().ConnConfig.Database, "pool": name}))
}

// dialTemporal connects to the Temporal frontend. The SDK's client and worker metrics go
// to reg when one is given.
func dialTemporal(ctx context.Context, addr, namespace string, log *slog.Logger, reg ...prometheus.Registerer) (client.Client, error) {
	if addr == "" {
		return nil, errors.New("TEMPORAL_ADDRESS is not set")
	}
	opts := client.Options{
		HostPort:  addr,
		Namespace: namespace,
		Logger:    tlog.NewStructuredLogger(log.With("component", "temporal-client")),
	}
	if len(reg) > 0 && reg[0] != nil {
		opts.MetricsHandler = worker.NewMetricsHandler(reg[0])
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", addr, err)
	}
	return c, nil
}

// newOutbox picks the SendGrid sender when a key is configured, else the log sender.
func newOutbox(cfg Config, st *store.Store, log *slog.Logger) *mail.Outbox {
	var sender mail.Sender
	if cfg.SendGridAPIKey != "" {
		sender = mail.NewSendGrid(cfg.SendGridAPIKey, cfg.SendGridAPIURL, 15*time.Second)
	} else {
		sender = mail.NewLogSender(log.With("component", "mail"))
	}
	return &mail.Outbox{Store: st, Sender: sender, From: cfg.MailFromRecipient(), Log: log.With("component", "outbox")}
}

// workerOptions wires the activities with their dependencies.
func workerOptions(cfg Config, c client.Client, st *store.Store, log *slog.Logger) worker.Options {
	survey, complaint := cfg.SurveyPolicy(), cfg.ComplaintPolicy()
	acts := &activities.Activities{
		Store: st,
		Mail:  newOutbox(cfg, st, log),
		Config: activities.Config{PublicURL: cfg.BaseURL(), LinkSecret: []byte(cfg.LinkSecret),
			SurveyPolicy: &survey, ComplaintPolicy: &complaint, SurveyMailRate: cfg.SurveyMailRate, TaskQueue: domain.TaskQueue},
		Log:      log.With("component", "activities"),
		Temporal: c,
	}
	return worker.Options{Client: c, TaskQueue: domain.TaskQueue, Activities: acts, Log: log.With("component", "worker"),
		WorkflowTaskPollers: cfg.WorkflowPollers}
}

// newAPI builds the HTTP handler: the API and, on the same server, the web app. Its HTTP
// metrics go to reg when one is given, else to a registry of its own; it does not serve
// them (serveMetrics does, on another listener). The web app's live updates run until
// ctx ends.
func newAPI(ctx context.Context, cfg Config, c client.Client, st *store.Store, log *slog.Logger, reg ...*prometheus.Registry) http.Handler {
	acfg := api.Config{
		PublicURL:       cfg.BaseURL(),
		ComplaintPolicy: cfg.ComplaintPolicy(),
		ContractPolicy:  cfg.ContractPolicy(),
		OrderPolicy:     cfg.OrderPolicy(),
		SurveyPolicy:    cfg.SurveyPolicy(),
		TaskQueue:       domain.TaskQueue,
		UpdateTimeout:   cfg.UpdateTimeout,
	}
	if len(reg) > 0 {
		acfg.Registry = reg[0]
	}
	srv := api.New(acfg, st, c, log.With("component", "api"))
	wh, err := api.NewSendGridWebhook(st, cfg.SendGridWebhookPK, cfg.WebhookUnsigned, log.With("component", "sendgrid-webhook"))
	if err != nil {
		panic(err) // unreachable: Config.validate has parsed the key
	}
	srv.Handle(http.MethodPost, api.SendGridWebhookPath, wh)
	app, err := web.New(web.Config{PublicURL: cfg.BaseURL(), IdleTimeout: cfg.WebIdleTimeout}, srv, st, log.With("component", "web"))
	if err != nil {
		panic(err) // unreachable: the templates and catalogues are embedded and tested
	}
	app.Mount(srv)
	go app.Run(ctx)
	return srv.Handler()
}

// listen binds the API address early so a port clash is reported before anything runs.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (SERVICEFLOW_HTTP_ADDR): %w", addr, err)
	}
	return ln, nil
}

// metricsHandler serves reg at /metrics: everything the process measures (API, worker,
// SDK, pools, runtime).
func metricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError, // one bad collector does not hide the others
	}))
	return mux
}

// serveMetrics serves metricsHandler(reg) on addr (SERVICEFLOW_METRICS_ADDR) in g until
// ctx ends; with addr "" it does nothing. `api`, `worker` and `dev` (one listener for
// the one registry its API and worker share) all serve their metrics this way, on a
// listener of their own and never on the public API port: they tell whoever can reach
// them how much work there is and who is waiting.
func serveMetrics(ctx context.Context, g *errgroup.Group, addr string, reg *prometheus.Registry, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (SERVICEFLOW_METRICS_ADDR): %w", addr, err)
	}
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	g.Go(func() error { return serveHTTP(ctx, ln, metricsHandler(reg, log), log) })
	return nil
}

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down HTTP server")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
