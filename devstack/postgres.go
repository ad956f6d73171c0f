package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"

	"github.com/serviceflow/serviceflow/store"
)

// LocalPostgresURL is the database `serviceflow dev` uses when DATABASE_URL is not set
// and a PostgreSQL listens on the default local port.
const LocalPostgresURL = "postgres://postgres@127.0.0.1:5432/serviceflow?sslmode=disable"

// DefaultEmbeddedPort is the embedded PostgreSQL's port when it is free.
const DefaultEmbeddedPort = 5433

const (
	dbName     = "serviceflow"
	embUser    = "postgres"
	embPass    = "postgres"
	pgStartMax = time.Minute
)

// ErrNoPostgres is matched (errors.Is) by the error EnsurePostgres returns when no
// PostgreSQL is configured or reachable and none can be embedded.
var ErrNoPostgres = errors.New("no PostgreSQL available")

// PostgresOptions configures EnsurePostgres.
type PostgresOptions struct {
	URL     string // explicit DATABASE_URL; "" when not set
	DataDir string // the embedded server keeps its files in DataDir/postgres
	Logger  *slog.Logger
}

// Postgres is the database `serviceflow dev` uses.
type Postgres struct {
	URL      string // connection URL for store.Open
	Embedded bool   // true when EnsurePostgres started an embedded server
	emb      *embeddedpostgres.EmbeddedPostgres
	log      *os.File // the library copies PostgreSQL's output here on start and stop
}

// EnsurePostgres finds or starts the dev database: o.URL when set; else
// LocalPostgresURL when something listens there; else an embedded PostgreSQL under
// o.DataDir, built from installed PostgreSQL binaries when it finds them. The database
// is created when missing.
func EnsurePostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	return ensurePostgres(ctx, o, LocalPostgresURL, DefaultEmbeddedPort)
}

func ensurePostgres(ctx context.Context, o PostgresOptions, localURL string, embPort int) (*Postgres, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.URL != "" {
		if err := store.EnsureDatabase(ctx, o.URL); err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return &Postgres{URL: o.URL}, nil
	}
	u, err := url.Parse(localURL)
	if err != nil {
		return nil, err
	}
	if listening(u.Host) {
		if err := store.EnsureDatabase(ctx, localURL); err != nil {
			return nil, fmt.Errorf("local PostgreSQL on %s: %w (set DATABASE_URL to use another server)", u.Host, err)
		}
		return &Postgres{URL: localURL}, nil
	}
	o.Logger.Info("no PostgreSQL on " + u.Host + "; starting an embedded one")
	return startEmbedded(ctx, o, u.Host, embPort)
}

// Stop stops the embedded server, if EnsurePostgres started one.
func (p *Postgres) Stop() error {
	if p == nil || p.emb == nil {
		return nil
	}
	err := p.emb.Stop()
	p.emb = nil
	return errors.Join(err, p.log.Close())
}

func startEmbedded(ctx context.Context, o PostgresOptions, localAddr string, port int) (*Postgres, error) {
	bins := findPostgresBinaries()
	if os.Geteuid() == 0 {
		return nil, noPostgres(localAddr, "running as root, and initdb refuses to run as root", bins)
	}
	if o.DataDir == "" {
		return nil, noPostgres(localAddr, "no data directory was given for it", bins)
	}
	if err := checkFree(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	root, err := filepath.Abs(filepath.Join(o.DataDir, "postgres"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(root, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cfg := embeddedpostgres.DefaultConfig().
		Port(uint32(port)).
		Database(dbName).
		Username(embUser).
		Password(embPass).
		DataPath(filepath.Join(root, "data")).
		RuntimePath(filepath.Join(root, "run")). // wiped on every start
		CachePath(filepath.Join(root, "cache")).
		Locale("C").
		Encoding("UTF8").
		StartTimeout(pgStartMax).
		StartParameters(map[string]string{
			"listen_addresses": "127.0.0.1",
			// Debian's default socket dir (/var/run/postgresql) is not writable by users.
			"unix_socket_directories": os.TempDir(),
		}).
		Logger(logFile)
	if bins != nil {
		// The data directory is reused only when its PG_VERSION matches this version.
		cfg = cfg.BinariesPath(bins.dir).Version(embeddedpostgres.PostgresVersion(bins.major))
	}
	emb := embeddedpostgres.NewDatabase(cfg)
	if err := emb.Start(); err != nil {
		_ = logFile.Close()
		reason := "starting it failed: " + firstLine(err.Error())
		if bins == nil {
			reason = "no installed PostgreSQL binaries were found and downloading them failed: " + firstLine(err.Error())
		}
		return nil, noPostgres(localAddr, reason, bins)
	}
	p := &Postgres{
		URL:      fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", embUser, embPass, port, dbName),
		Embedded: true,
		emb:      emb,
		log:      logFile,
	}
	if err := store.EnsureDatabase(ctx, p.URL); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	return p, nil
}

// pgBinaries is an installed PostgreSQL: dir holds bin/pg_ctl.
type pgBinaries struct {
	dir   string
	major string
}

// findPostgresBinaries returns the newest installed PostgreSQL server, or nil.
func findPostgresBinaries() *pgBinaries {
	var cands []string
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin/pg_ctl",         // Debian, Ubuntu
		"/usr/pgsql-*/bin/pg_ctl",                  // RHEL, Fedora (PGDG)
		"/opt/homebrew/opt/postgresql*/bin/pg_ctl", // macOS (Homebrew)
		"/usr/local/opt/postgresql*/bin/pg_ctl",
		"/usr/local/pgsql/bin/pg_ctl",
	} {
		m, _ := filepath.Glob(pattern)
		cands = append(cands, m...)
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		cands = append(cands, p)
	}
	var best *pgBinaries
	bestMajor := 0
	for _, pgCtl := range cands {
		out, err := exec.Command(pgCtl, "--version").Output()
		if err != nil {
			continue
		}
		major := parseMajor(string(out))
		if n, _ := strconv.Atoi(major); n > bestMajor {
			if _, err := os.Stat(filepath.Join(filepath.Dir(pgCtl), "initdb")); err != nil {
				continue
			}
			best, bestMajor = &pgBinaries{dir: filepath.Dir(filepath.Dir(pgCtl)), major: major}, n
		}
	}
	return best
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// parseMajor reads the major version from "pg_ctl (PostgreSQL) 15.13 (Debian 15.13-0+deb12u1)".
func parseMajor(versionOutput string) string {
	m := versionRE.FindStringSubmatch(versionOutput)
	if m == nil {
		return ""
	}
	return m[1]
}

// noPostgresError is the one-sentence explanation of why no database is available.
type noPostgresError struct{ msg string }

func (e *noPostgresError) Error() string        { return e.msg }
func (e *noPostgresError) Is(target error) bool { return target == ErrNoPostgres }

// noPostgres builds the error naming the fixes; bins (may be nil) sharpens the hint.
func noPostgres(localAddr, reason string, bins *pgBinaries) error {
	start := "`apt-get install postgresql`"
	if bins != nil {
		if _, err := os.Stat(filepath.Join("/etc/postgresql", bins.major, "main")); err == nil {
			start = fmt.Sprintf("`pg_ctlcluster %s main start`", bins.major)
		}
	}
	return &noPostgresError{fmt.Sprintf(
		"No PostgreSQL listens on %s and an embedded one cannot start (%s): "+
			"set DATABASE_URL, start a local PostgreSQL on %s (e.g. %s), "+
			"or run serviceflow dev as a non-root user.", localAddr, reason, localAddr, start)}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
