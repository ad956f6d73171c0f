//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/devstack"
)

// This file runs the serviceflow binary as child processes for the fault tests: it builds
// the binary once per test run, starts and kills processes, talks to their API and holds
// e-mails at the fake SendGrid. Linux only, for Pdeathsig.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	defer func() {
		if binDir != "" {
			_ = os.RemoveAll(binDir)
		}
	}()
	m.Run()
}

// serviceflowBinary builds the serviceflow binary (without -race) once per test run.
func serviceflowBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the serviceflow binary; skipped with -short")
	}
	binOnce.Do(func() {
		removeStaleBinaries()
		if binDir, binErr = os.MkdirTemp("", binPrefix); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "serviceflow")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

const binPrefix = "serviceflow-bin-"

// removeStaleBinaries deletes binaries (some 350 MB each) that earlier runs left behind
// when they were killed or timed out before TestMain could clean up.
func removeStaleBinaries() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binPrefix+"*"))
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > 2*time.Hour {
			_ = os.RemoveAll(d)
		}
	}
}

// proc is a running child process whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
}

// startProc starts bin with args and env (on top of a cleaned environment). The process
// is killed when the test ends, and its log tail printed if the test failed.
func startProc(t *testing.T, name, bin string, env map[string]string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv(env)
	cmd.Stdout, cmd.Stderr = f, f
	// Should the test binary die (a timeout panic skips cleanups), the child dies too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- last lines of %s (%s) ---\n%s", name, logPath, tail(logPath, 40))
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to exit.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill() // SIGKILL on Unix: no shutdown code runs
	<-p.done
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// childEnv is the test's environment without serviceflow's own settings, plus env.
func childEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || k == "MAIL_FROM" || strings.HasPrefix(k, "SERVICEFLOW_") ||
			strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "SENDGRID_") {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freeAddr is a free 127.0.0.1 address.
func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// waitReady polls base/readyz until it answers 200, failing early if p exits.
func waitReady(t *testing.T, p *proc, base string, timeout time.Duration) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	eventually(t, timeout, p.name+" ready", func() bool {
		if p.exited() {
			t.Fatalf("%s exited before it was ready", p.name)
		}
		resp, err := hc.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// apiClient calls a child's HTTP API. Its methods are safe for concurrent use and
// return errors instead of failing the test.
type apiClient struct {
	base   string
	tokens map[string]string
	hc     *http.Client
}

func newAPIClient(base string, tokens map[string]string) *apiClient {
	// Longer than the API's own Update timeout (30 s), so that its answer is seen.
	return &apiClient{base: base, tokens: tokens, hc: &http.Client{Timeout: 60 * time.Second}}
}

// reply is one HTTP answer.
type reply struct {
	code  int
	ctype string
	body  map[string]any // decoded when JSON
	raw   string
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.code, r.raw) }

// do sends a JSON request as user; the error is a transport error only.
func (c *apiClient) do(user, method, path string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+c.tokens[user])
	}
	return c.send(req)
}

func (c *apiClient) send(req *http.Request) (reply, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	r := reply{code: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), raw: string(raw)}
	if strings.Contains(r.ctype, "json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: decode %q: %w", req.Method, req.URL.Path, raw, err)
		}
	}
	return r, nil
}

// expect calls and returns the body unless the transport fails or the status is not want.
func (c *apiClient) expect(want int, user, method, path string, body any) (map[string]any, error) {
	r, err := c.do(user, method, path, body)
	if err != nil {
		return nil, err
	}
	if r.code != want {
		return nil, fmt.Errorf("%s %s as %s: got %s, want %d", method, path, user, r, want)
	}
	return r.body, nil
}

// must is expect for the test goroutine: it fails the test on error.
func (c *apiClient) must(t *testing.T, want int, user, method, path string, body any) map[string]any {
	t.Helper()
	out, err := c.expect(want, user, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mailGate sits in front of the fake SendGrid. While closed it holds every request,
// and drops a held request whose client goes away, so that "the worker died while the
// e-mail was going out" is a crash before the provider accepted it: the documented
// double-send window (accepted, then crash before the row is marked sent) stays shut,
// and the test can demand that every e-mail is sent exactly once.
type mailGate struct {
	sg  *fakeSendGrid
	srv *httptest.Server

	mu      sync.Mutex
	closed  bool
	opened  chan struct{} // closed when the gate opens
	held    int           // requests waiting now
	dropped int           // requests whose client went away while held
}

func newMailGate(t *testing.T, apiKey string) *mailGate {
	g := &mailGate{sg: newFakeSendGrid(t, apiKey)}
	g.srv = httptest.NewServer(http.HandlerFunc(g.handle))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *mailGate) handle(w http.ResponseWriter, r *http.Request) {
	// Read the body first: only then does the server notice a client that hangs up.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	g.mu.Lock()
	if g.closed {
		g.held++
		opened := g.opened
		g.mu.Unlock()
		select {
		case <-r.Context().Done():
			g.mu.Lock()
			g.held--
			g.dropped++
			g.mu.Unlock()
			return
		case <-opened:
			g.mu.Lock()
			g.held--
		}
	}
	g.mu.Unlock()
	g.sg.handle(w, r)
}

// close makes the gate hold every request from now on.
func (g *mailGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed, g.opened = true, make(chan struct{})
	}
}

// open lets held and new requests through.
func (g *mailGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.closed = false
		close(g.opened)
	}
}

// counts returns how many requests are held now and how many were dropped so far.
func (g *mailGate) counts() (held, dropped int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held, g.dropped
}
