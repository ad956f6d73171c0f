package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// deadDB listens like a PostgreSQL server that is down: refuse closes every connection
// at once; otherwise connections are accepted and never answered (a network partition).
func deadDB(t *testing.T, refuse bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if refuse {
				c.Close()
				continue
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// envOnDeadDB is a server whose pool points at addr, with a short database deadline.
func envOnDeadDB(t *testing.T, addr string) *env {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf("postgres://postgres@%s/serviceflow?sslmode=disable", addr))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // connects lazily
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	tc := &fakeTemporal{}
	srv := New(Config{ComplaintPolicy: domain.DefaultComplaintPolicy(), DBTimeout: 300 * time.Millisecond},
		&store.Store{Pool: pool}, tc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &env{t: t, tc: tc, srv: srv, tokens: map[string]string{"carol": "sft_some-token"}}
}

// unavailable checks a 503 unavailable problem with its Retry-After.
func (r resp) unavailable() Problem {
	r.t.Helper()
	p := r.problem(http.StatusServiceUnavailable)
	if p.Type != typeUnavailable || r.Header().Get("Retry-After") == "" {
		r.t.Fatalf("want an unavailable problem with Retry-After, got %v %+v", r.Header(), p)
	}
	return p
}

func TestDatabaseDownAnswers503(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		refuse bool
		detail string
	}{
		{"refused", true, "the database is unavailable"},
		{"silent", false, "did not answer in time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := envOnDeadDB(t, deadDB(t, tc.refuse))
			// Authentication itself needs the database: 503, not 401.
			if p := e.do("GET", "/api/v1/tasks", "carol", nil).unavailable(); !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("detail %q, want %q", p.Detail, tc.detail)
			}
			e.do("POST", "/api/v1/complaints", "carol", map[string]any{"customer_id": "cus_x"}, "Idempotency-Key", "k1").unavailable()
			e.do("GET", "/c/some-token", "", nil).unavailable()
			e.do("GET", "/c/feedback/some-token", "", nil).unavailable()
			e.do("GET", "/healthz", "", nil).want(http.StatusOK)
			if e.tc.startCount() != 0 {
				t.Fatal("a workflow was started while the database was down")
			}
			if !tc.refuse {
				return // readyz waits its own 3 s timeout on a silent server
			}
			p := e.do("GET", "/readyz", "", nil).unavailable()
			if p.Detail != "not ready: postgres: PostgreSQL is unreachable" {
				t.Fatalf("readyz detail %q", p.Detail)
			}
		})
	}
}

func TestDBUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},  // admin shutdown
		{&pgconn.PgError{Code: "08006"}, true},  // connection failure
		{&pgconn.PgError{Code: "53300"}, true},  // too many connections
		{&pgconn.PgError{Code: "23505"}, false}, // unique violation: a bug, not an outage
		{fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("query: %w", io.ErrUnexpectedEOF), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{fmt.Errorf("query: %w", context.Canceled), false}, // the client went away
		{store.ErrConflict, false},
		{errors.New("boom"), false},
	} {
		if got := dbUnavailable(tc.err); got != tc.want {
			t.Errorf("dbUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Every route that starts or updates a workflow gets the workflow deadline, not the
// database one: a workflow that answers after DBTimeout has passed still succeeds. The
// contract routes once got only the database deadline.
func TestWorkflowRoutesOutlastTheDatabaseDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.cfg.DBTimeout = 300 * time.Millisecond
	slow := 700 * time.Millisecond
	e.insertContract("ctr_slow", "alice", domain.ClassStandard, domain.ContractChangesRequested)
	e.insertTask(taskRow{id: "tsk_slow", groups: []string{"customer_service"}, actions: []string{"accept"}})
	future := time.Now().Add(time.Hour)
	insertLink(t, e, "complaint/cmp_slow/feedback/1", "tok-slow", "en", future, "")
	insertLink(t, e, "complaint/cmp_old/feedback/1", "tok-old", "en", future, domain.UpdateSubmitFeedback)
	e.tc.mu.Lock()
	e.tc.startDelay, e.tc.updateDelay = slow, slow
	e.tc.onUpdate = func(o client.UpdateWorkflowOptions) (any, error) {
		switch o.UpdateName {
		case domain.UpdateCompleteTask:
			return domain.CompleteTaskResponse{ProcessStatus: "responding"}, nil
		case domain.UpdateLinkAnswer, domain.UpdateSubmitFeedback:
			return domain.LinkAnswerResult{}, nil
		}
		return domain.ContractState{ID: "ctr_slow", Status: domain.ContractInReview, SubmittedBy: "alice",
			ContractVersion: domain.ContractVersion{Revision: 2, Class: domain.ClassStandard}}, nil
	}
	e.tc.mu.Unlock()

	for _, r := range []struct {
		path, user string
		body       any
		want       int
	}{
		{"/api/v1/contracts/ctr_slow/revisions", "alice", `{"changes":{"title":"Slower"}}`, http.StatusOK},
		{"/api/v1/contracts/ctr_slow/withdraw", "alice", nil, http.StatusOK},
		{"/api/v1/contracts/ctr_slow/amendments", "alice", `{"changes":{"title":"Later"},"reason":"asked"}`, http.StatusOK},
		{"/api/v1/contracts", "alice", contractBody(), http.StatusCreated},
		{"/api/v1/complaints", "carol", map[string]any{"customer_id": "cus_acme", "channel": "phone",
			"subject": "Slow", "description": "The workflow takes its time"}, http.StatusCreated},
		{"/api/v1/tasks/tsk_slow/complete", "carol", `{"action":"accept","data":{"category":"product","severity":"normal"}}`, http.StatusOK},
		{"/c/tok-slow", "", map[string]any{"score": 4}, http.StatusOK},         // a customer's answer
		{"/c/feedback/tok-old", "", map[string]any{"score": 5}, http.StatusOK}, // a link e-mailed before links

	} {
		start := time.Now()
		e.do("POST", r.path, r.user, r.body).want(r.want)
		if took := time.Since(start); took < slow {
			t.Fatalf("%s answered in %v: the workflow was not waited for", r.path, took)
		}
	}

	// A workflow slower than the workflow deadline still gets the 504 it always did.
	e.srv.cfg.UpdateTimeout = 200 * time.Millisecond
	e.do("POST", "/api/v1/contracts/ctr_slow/withdraw", "alice", nil).want(http.StatusGatewayTimeout)
}
