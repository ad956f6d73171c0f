package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/web"
	"github.com/serviceflow/serviceflow/worker"
)

// service is what `api` and `worker` share: configuration, logger, the migrated store,
// the Temporal client and the metrics registry its SDK metrics go to.
type service struct {
	cfg Config
	log *slog.Logger
	st  *store.Store
	tc  client.Client
	reg *prometheus.Registry
}

// startService parses the flags of command name and connects to PostgreSQL and Temporal.
func startService(ctx context.Context, name, synopsis string, args []string) (*service, error) {
	cfg, err := LoadConfig()
	if err != nil {
		return nil, err
	}
	if err := newFlags(name, synopsis).Parse(args); err != nil {
		return nil, err
	}
	if name == "worker" && cfg.LinkSecret == "" {
		// Every worker must derive the same customer-link tokens (activities/links.go);
		// say so before connecting to anything.
		return nil, errors.New("SERVICEFLOW_LINK_SECRET is not set: the worker needs the key customer links are made with, the same on every worker")
	}
	s := &service{cfg: cfg, log: newLogger(cfg, os.Stderr), reg: newRegistry()}
	if s.st, err = openStore(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	registerPool(s.reg, s.st, name)
	if s.tc, err = dialTemporal(ctx, cfg.TemporalAddress, cfg.TemporalNamespace, s.log, s.reg); err != nil {
		s.st.Close()
		return nil, err
	}
	return s, nil
}

func (s *service) close() {
	s.tc.Close()
	s.st.Close()
}

func runAPI(ctx context.Context, args []string) error {
	s, err := startService(ctx, "api", "Serves the HTTP API. Needs TEMPORAL_ADDRESS and DATABASE_URL.", args)
	if err != nil {
		return err
	}
	defer s.close()
	ln, err := listen(s.cfg.HTTPAddr)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if err := serveDebug(gctx, g, s.cfg.DebugAddr, s.log); err != nil {
		ln.Close()
		return err
	}
	if err := serveMetrics(gctx, g, s.cfg.MetricsAddr, s.reg, s.log); err != nil {
		ln.Close()
		return err
	}
	s.log.Info("serviceflow api listening", "addr", ln.Addr().String())
	g.Go(func() error { return serveHTTP(gctx, ln, newAPI(gctx, s.cfg, s.tc, s.st, s.log, s.reg), s.log) })
	g.Go(func() error {
		return pruneEmailEvents(gctx, s.st, s.cfg.EventsRetention, emailEventsPruneEvery, s.log)
	})
	g.Go(func() error { return pruneWebSessions(gctx, s.st, s.cfg.WebIdleTimeout, webPruneEvery, s.log) })
	return g.Wait()
}

func runWorker(ctx context.Context, args []string) error {
	s, err := startService(ctx, "worker", "Runs the Temporal worker (workflows and activities). Needs TEMPORAL_ADDRESS, DATABASE_URL and SERVICEFLOW_LINK_SECRET.", args)
	if err != nil {
		return err
	}
	defer s.close()
	cfg, log, reg := s.cfg, s.log, s.reg
	ctx, cancel := context.WithCancel(ctx) // stops what started if a later step fails
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	if err := serveDebug(gctx, g, cfg.DebugAddr, log); err != nil {
		return err
	}
	if err := serveMetrics(gctx, g, cfg.MetricsAddr, reg, log); err != nil {
		return err
	}
	g.Go(func() error { return worker.Run(gctx, workerOptions(cfg, s.tc, s.st, log)) })
	log.Info("serviceflow worker running", "task_queue", domain.TaskQueue)
	return g.Wait()
}

func runMigrate(ctx context.Context, args []string) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	fs := newFlags("migrate", "Creates the database if missing and applies the embedded migrations to DATABASE_URL.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	st.Close()
	fmt.Println("migrations applied")
	return nil
}

func runUsers(ctx context.Context, args []string) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	fs := newFlags("users", "Creates (or updates) a user and prints a new bearer token for it.\n"+
		"  serviceflow users --username zoe --name 'Zoe Z' --email zoe@example.com --roles customer_service\n"+
		"  serviceflow users --username zoe --token-only     (a new token for an existing user)\n"+
		"  serviceflow users --username zoe --password-stdin < pw.txt   (set the web sign-in password; no token)\n"+
		"  serviceflow users --revoke <token>")
	var in store.UserInput
	var roles string
	fs.StringVar(&in.Username, "username", "", "login name (required)")
	fs.StringVar(&in.DisplayName, "name", "", "display name (default: the username)")
	fs.StringVar(&in.Email, "email", "", "e-mail address (required for a new user)")
	fs.StringVar(&in.Locale, "locale", "", "en or zh-CN (a new user: en; an existing one keeps theirs)")
	fs.StringVar(&in.TimeZone, "time-zone", "", "IANA time zone the web app shows times in, e.g. Asia/Shanghai (a new user: UTC; an existing one keeps theirs)")
	fs.StringVar(&roles, "roles", "", "comma-separated roles: "+joinRoles())
	fs.StringVar(&in.Manager, "manager", "", "username of the user's manager (escalation target)")
	fs.StringVar(&in.Delegate, "delegate", "", "username of the out-of-office delegate")
	tokenOnly := fs.Bool("token-only", false, "only issue a new token for an existing user")
	revoke := fs.String("revoke", "", "revoke this token and exit")
	pwStdin := fs.Bool("password-stdin", false, "read a password (first line of standard input) and set it as the user's web sign-in password; no token is printed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if *revoke != "" {
		return st.RevokeToken(ctx, *revoke)
	}
	if in.Username == "" {
		fs.Usage()
		return errors.New("--username is required")
	}
	passwordOnly := *pwStdin && in.Email == "" && roles == ""
	if !*tokenOnly && !passwordOnly {
		if in.Email == "" || roles == "" {
			return errors.New("--email and --roles are required to create a user")
		}
		for _, r := range strings.Split(roles, ",") {
			r = strings.TrimSpace(r)
			if !domain.ValidRole(r) {
				return fmt.Errorf("unknown role %q (known: %s)", r, joinRoles())
			}
			in.Roles = append(in.Roles, r)
		}
		if in.DisplayName == "" {
			in.DisplayName = in.Username
		}
		if err := st.CreateUser(ctx, in); err != nil {
			return err
		}
	}
	if *pwStdin {
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		if err := web.SetPassword(ctx, st, in.Username, pw); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q", in.Username)
		} else if err != nil {
			return err
		}
		fmt.Println("password set for " + in.Username)
		return nil
	}
	tok, err := st.CreateToken(ctx, in.Username, "cli")
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

// stdin is where --password-stdin reads (a test replaces it).
var stdin io.Reader = os.Stdin

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("--password-stdin: standard input has no password")
	}
	return pw, nil
}

func joinRoles() string {
	s := make([]string, len(domain.AllRoles))
	for i, r := range domain.AllRoles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}
