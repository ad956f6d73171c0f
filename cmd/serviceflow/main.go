// Command serviceflow runs the serviceflow process engine: `dev` brings up everything in
// one process; `api` and `worker` run the two halves separately; `migrate` applies the
// schema; `users` manages users and tokens.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	// The embedded Temporal server reads the survey Schedules' zone (Etc/GMT-8) from the
	// zone database; a host without one still has this copy.
	_ "time/tzdata"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

var commands = []command{
	{"dev", "run everything in one process: embedded Temporal + Web UI, PostgreSQL, worker, API, demo organisation", runDev},
	{"api", "run the HTTP API against TEMPORAL_ADDRESS and DATABASE_URL", runAPI},
	{"worker", "run the Temporal worker against TEMPORAL_ADDRESS and DATABASE_URL", runWorker},
	{"migrate", "apply the database migrations to DATABASE_URL", runMigrate},
	{"users", "create a user and print a new token; revoke tokens", runUsers},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "serviceflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(out)
		if len(args) == 0 {
			return errors.New("a command is required")
		}
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:])
		}
	}
	usage(out)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: serviceflow <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'serviceflow <command> --help' for its flags and environment variables.")
}

// newFlags returns a FlagSet whose --help lists the flags and then the environment.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: serviceflow %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
		printEnvHelp(w)
	}
	return fs
}

// newLogger builds the process logger from the configuration.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
