package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// handlers file and work complaints: both are customer_service, client i acts as
// handlers[i%2].
var handlers = []string{"carol", "cathy"}

var customers = []string{"cus_DEMO_NORTHWIND", "cus_DEMO_CONTOSO", "cus_DEMO_FABRIKAM", "cus_DEMO_LITWARE", "cus_DEMO_TAILSPIN", "cus_DEMO_HUADONG"}

// apiClient calls the serviceflow API as the demo users.
type apiClient struct {
	base   string
	tokens map[string]string
	hc     *http.Client
}

func newAPIClient(s *stack, clients int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * clients
	return &apiClient{base: s.api, tokens: s.tokens, hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// call sends body as JSON and decodes the answer into out (when not nil); any status
// other than want is an error.
func (a *apiClient) call(ctx context.Context, user, method, path string, body any, header map[string]string, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.tokens[user])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s as %s: %d, want %d: %.300s", method, path, user, resp.StatusCode, want, raw)}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// statusError is an answer with an unexpected status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func hasStatus(err error, code int) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == code
}

// runIntake files n complaints from `clients` concurrent clients: POST /complaints with
// an Idempotency-Key, each client filing its next complaint as soon as the previous one
// answered 201 (which includes starting the complaint workflow).
func runIntake(ctx context.Context, a *apiClient, runID string, clients, n int) ([]string, Throughput, Latency, error) {
	ids := make([]string, n)
	var lat samples
	wall, errs := closedLoop(ctx, clients, n, func(ctx context.Context, w, i int) error {
		body := map[string]any{
			"customer_id": customers[i%len(customers)], "channel": "phone",
			"subject":     fmt.Sprintf("Load test complaint %d", i),
			"description": "Filed by cmd/loadgen: the spindle vibrates above 3000 rpm since the last service.",
		}
		var created struct {
			ID string `json:"id"`
		}
		hdr := map[string]string{"Idempotency-Key": fmt.Sprintf("loadgen-%s-%d", runID, i)}
		err := lat.time(func() error {
			return a.call(ctx, handlers[w%len(handlers)], http.MethodPost, "/api/v1/complaints", body, hdr, http.StatusCreated, &created)
		})
		ids[i] = created.ID
		return err
	})
	return ids, throughput(n, len(errs), wall), lat.summary(), firstErr(errs)
}

// waitEvaluateTasks polls the database until every filed complaint has its evaluate task
// (the workflow has recorded and acknowledged it and opened its first human task).
func waitEvaluateTasks(ctx context.Context, db *pgxpool.Pool, ids []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var filed []string
	for _, id := range ids {
		if id != "" {
			filed = append(filed, id)
		}
	}
	for {
		var n int
		err := db.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE step = $1 AND process_id = ANY($2)`,
			domain.StepEvaluate, filed).Scan(&n)
		if err == nil && n == len(filed) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d evaluate tasks after %s: %w", n, len(filed), timeout, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitOutboxDrained polls the database until no e-mail of the filed complaints is
// queued or being sent, and returns how many they have.
func waitOutboxDrained(ctx context.Context, db *pgxpool.Pool, ids []string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var total, pending int
		err := db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status IN ($2, $3))
			FROM emails WHERE process_id = ANY($1)`, ids, store.EmailQueued, store.EmailSending).Scan(&total, &pending)
		if err == nil && pending == 0 {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, fmt.Errorf("%d of %d e-mails still queued after %s: %w", pending, total, timeout, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// completion records POST /tasks/{id}/complete latencies, overall and by step, and the
// completions answered 409 although the task row was open (see runWork).
type completion struct {
	all       samples
	byStep    map[string]*samples
	conflicts atomic.Int64
}

// runWork works each filed complaint from `clients` concurrent clients, as its handler
// would: claim the evaluate task and accept it, then respond, then resolve with a repair
// (no approval needed). Each step's task id is derived as the workflow derives it; the
// client waits (bounded) for it to be open before completing it.
//
// A task row is visible (open) a moment before its workflow has taken up the task, and a
// completion in that moment is answered 409. A person would retry; so does runWork, a
// few times, counting those answers and timing only the attempt that succeeded.
func runWork(ctx context.Context, a *apiClient, ids []string, clients int) (Throughput, *completion, error) {
	c := &completion{byStep: map[string]*samples{}}
	steps := []struct {
		step string
		body map[string]any
	}{
		{domain.StepEvaluate, map[string]any{"action": "accept", "data": map[string]any{"category": "product", "severity": "normal"}}},
		{domain.StepRespond, map[string]any{"action": "respond", "data": map[string]any{"message": "A technician visits tomorrow at 9."}}},
		{domain.StepResolve, map[string]any{"action": "resolve", "data": map[string]any{"resolution_type": "repair", "summary": "Spindle bearing replaced."}}},
	}
	for _, s := range steps {
		c.byStep[s.step] = &samples{}
	}
	wall, errs := closedLoop(ctx, clients, len(ids), func(ctx context.Context, w, i int) error {
		if ids[i] == "" {
			return fmt.Errorf("complaint %d was not filed", i)
		}
		user := handlers[w%len(handlers)]
		for _, s := range steps {
			task := domain.TaskID(domain.ComplaintWorkflowID(ids[i]), s.step, 1, "")
			path := "/api/v1/tasks/" + task
			if err := a.waitOpen(ctx, user, path, 30*time.Second); err != nil {
				return err
			}
			if s.step == domain.StepEvaluate {
				if err := a.call(ctx, user, http.MethodPost, path+"/claim", nil, nil, http.StatusOK, nil); err != nil {
					return err
				}
			}
			var err error
			for range 10 {
				start := time.Now()
				err = a.call(ctx, user, http.MethodPost, path+"/complete", s.body, nil, http.StatusOK, nil)
				d := time.Since(start)
				if err == nil {
					c.all.add(start, d)
					c.byStep[s.step].add(start, d)
					break
				}
				if !hasStatus(err, http.StatusConflict) {
					return err
				}
				c.conflicts.Add(1)
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return throughput(len(ids), len(errs), wall), c, firstErr(errs)
}

// waitOpen polls GET path until the task exists and is open, at most timeout.
func (a *apiClient) waitOpen(ctx context.Context, user, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var t struct {
			Status string `json:"status"`
		}
		err := a.call(ctx, user, http.MethodGet, path, nil, nil, http.StatusOK, &t)
		if err == nil && t.Status == domain.TaskOpen {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("task %s not open after %s: %v (status %q)", path, timeout, err, t.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
