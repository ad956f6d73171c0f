package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/serviceflow/serviceflow/store/storetest"
)

// stack is the serviceflow under load: its API, its Temporal frontend, the demo users'
// tokens and, when loadgen may write to it, its database.
type stack struct {
	api      string // http://127.0.0.1:port
	temporal string // 127.0.0.1:port
	tokens   map[string]string
	dbURL    string // "" when loadgen must not touch the database
	mode     string
	stop     func()
}

// startDev runs `serviceflow dev` as a subprocess on free loopback ports, with a fresh
// database on the PostgreSQL server of DATABASE_URL and a temporary data directory
// (Temporal's SQLite file, the tokens); stop drops and removes both.
//
// env adds settings for the subprocess (the survey scenario's fake SendGrid and mail rate).
func startDev(ctx context.Context, o options, env ...string) (_ *stack, err error) {
	dir, err := os.MkdirTemp("", "loadgen-")
	if err != nil {
		return nil, err
	}
	var cleanups []func()
	s := &stack{stop: func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	defer func() {
		if err != nil {
			s.stop()
		}
	}()

	bin := o.serviceflowBin
	if bin == "" {
		bin = filepath.Join(dir, "serviceflow")
		logf("building ./cmd/serviceflow")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/serviceflow")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/serviceflow (run loadgen from the module root, or pass -serviceflow): %v\n%s", err, out)
		}
	}
	dbURL, drop, err := storetest.CreateDB(ctx, "loadgen")
	if err != nil {
		return nil, fmt.Errorf("fresh database: %w", err)
	}
	cleanups = append(cleanups, drop)
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	temporalAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}

	dataDir := filepath.Join(dir, "data")
	args := []string{"dev", "--data-dir", dataDir, "--ui-addr", "off", "--temporal-addr", temporalAddr}
	s.mode = "serviceflow dev subprocess, embedded Temporal on SQLite (file, WAL)"
	if o.ephemeral {
		args = append(args, "--ephemeral")
		s.mode = "serviceflow dev subprocess, embedded Temporal on SQLite (in memory)"
	}
	logFile, err := os.Create(filepath.Join(dir, "serviceflow.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(os.Environ()),
		"DATABASE_URL="+dbURL, "SERVICEFLOW_HTTP_ADDR="+httpAddr, "SERVICEFLOW_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	logf("starting serviceflow dev (API %s, Temporal %s)", httpAddr, temporalAddr)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	cleanups = append(cleanups, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	s.api, s.temporal, s.dbURL = "http://"+httpAddr, temporalAddr, dbURL
	if err := waitReady(ctx, s.api, exited, 3*time.Minute); err != nil {
		tail, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("%w\nserviceflow log:\n%s", err, lastLines(string(tail), 30))
	}
	s.tokens, err = readTokens(filepath.Join(dataDir, "dev-tokens.json"))
	return s, err
}

// external is a serviceflow that is already running (`serviceflow dev`). loadgen writes
// inbox rows to its database only when dbURL is given, and deletes them afterwards.
func external(o options) (*stack, error) {
	for _, a := range []string{o.api, o.temporalAddr} {
		if err := loopbackOnly(a); err != nil {
			return nil, err
		}
	}
	if o.tokens == "" {
		return nil, errors.New("-tokens is required with -api (the dev-tokens.json of the running stack)")
	}
	tokens, err := readTokens(o.tokens)
	if err != nil {
		return nil, err
	}
	return &stack{api: strings.TrimRight(o.api, "/"), temporal: o.temporalAddr, tokens: tokens, dbURL: o.databaseURL,
		mode: "external serviceflow at " + o.api, stop: func() {}}, nil
}

// loopbackOnly refuses targets other than this machine.
func loopbackOnly(target string) error {
	host := target
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("loadgen only targets this machine (127.0.0.1), not %q", target)
	}
	return nil
}

// cleanEnv drops every setting of the user's serviceflow, so the subprocess gets its
// own database and Temporal and never a real SendGrid key.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "SERVICEFLOW_"), strings.HasPrefix(name, "SENDGRID_"), strings.HasPrefix(name, "TEMPORAL_"),
			name == "DATABASE_URL", name == "MAIL_FROM":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls /readyz until it answers 200, the process exits or timeout passes.
func waitReady(ctx context.Context, base string, exited <-chan error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("serviceflow dev exited during start-up: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("serviceflow dev not ready at %s: %w", base, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func readTokens(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, u := range []string{"carol", "cathy"} {
		if m[u] == "" {
			return nil, fmt.Errorf("%s has no token for %s", file, u)
		}
	}
	return m, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
