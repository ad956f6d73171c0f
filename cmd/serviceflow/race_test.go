package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// raceClient calls the stack's API from any goroutine: it returns errors instead of
// failing the test.
type raceClient struct {
	base   string
	tokens map[string]string
	http   *http.Client
}

func newRaceClient(s *stack) *raceClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &raceClient{base: s.base, tokens: s.tokens, http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// raceAnswer is a decoded API response.
type raceAnswer struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

// request builds a JSON request as user; key, when not empty, is its Idempotency-Key.
func (c *raceClient) request(user, method, path string, body any, key string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.tokens[user])
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return req, nil
}

func (c *raceClient) send(req *http.Request) (raceAnswer, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return raceAnswer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return raceAnswer{}, err
	}
	a := raceAnswer{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		return a, fmt.Errorf("%s %s: %d %q: %w", req.Method, req.URL.Path, resp.StatusCode, raw, err)
	}
	return a, nil
}

func (c *raceClient) call(user, method, path string, body any, key string) (raceAnswer, error) {
	req, err := c.request(user, method, path, body, key)
	if err != nil {
		return raceAnswer{}, err
	}
	return c.send(req)
}

// all sends the requests at the same instant: every goroutine is ready before a barrier
// releases them together.
func (c *raceClient) all(reqs []*http.Request) ([]raceAnswer, []error) {
	out, errs := make([]raceAnswer, len(reqs)), make([]error, len(reqs))
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	for i, req := range reqs {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-release
			out[i], errs[i] = c.send(req)
		})
	}
	ready.Wait()
	close(release)
	done.Wait()
	return out, errs
}

// waitFor calls f until it reports done or the timeout passes.
func waitFor(timeout time.Duration, what string, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := f()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func openPool(t *testing.T, s *stack) *pgxpool.Pool {
	t.Helper()
	db, err := pgxpool.New(context.Background(), s.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// longSLAs keeps reminders and escalations out of tests that do not look at them.
func longSLAs(c *Config) {
	c.ResponseSLA, c.TierAResponseSLA, c.UrgentResponseSLA, c.EscalationStep = time.Hour, time.Hour, time.Hour, time.Hour
}

// TestCompleteRace: carol and cathy (both customer service; the evaluate task is
// unclaimed, so both may act) complete the same task at the same instant, 100 times over,
// ten complaints at a time. Each time exactly one gets 200 and the other 409, and the
// process advances once: one task_completed event, by the winner; one respond task, held
// by the winner; the complaint responding with the winner's evaluation.
func TestCompleteRace(t *testing.T) {
	s := startStack(t, longSLAs)
	c := newRaceClient(s)
	db := openPool(t, s)
	const workers, rounds = 10, 10
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				if err := raceOnce(s, c, db, fmt.Sprintf("race %d.%d", w, r)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d races (%d workers × %d) in %s", workers*rounds, workers, rounds, time.Since(start).Round(time.Millisecond))
}

func raceOnce(s *stack, c *raceClient, db *pgxpool.Pool, name string) error {
	ctx := context.Background()
	filed, err := c.call("carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": "cus_DEMO_CONTOSO", "channel": "web", "subject": name, "description": "Two handlers at once.",
	}, "")
	if err != nil || filed.code != http.StatusCreated {
		return fmt.Errorf("%s: file: %v %s", name, err, filed.raw)
	}
	id := filed.body["id"].(string)
	var task string
	err = waitFor(time.Minute, name+" evaluate task", func() (bool, error) {
		err := db.QueryRow(ctx, `SELECT id FROM tasks WHERE process_id = $1 AND step = 'evaluate'`, id).Scan(&task)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("%w; %s", err, pendingActivities(s.tc, id))
	}

	users := []string{"carol", "cathy"}
	category := map[string]string{"carol": "product", "cathy": "delivery"}
	var reqs []*http.Request
	for _, user := range users {
		req, err := c.request(user, "POST", "/api/v1/tasks/"+task+"/complete",
			map[string]any{"action": "accept", "data": map[string]any{"category": category[user], "severity": "normal"}}, "")
		if err != nil {
			return err
		}
		reqs = append(reqs, req)
	}
	got, errs := c.all(reqs)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if codes := []int{got[0].code, got[1].code}; !slices.Equal(slices.Sorted(slices.Values(codes)), []int{200, 409}) {
		return fmt.Errorf("%s: carol %d %s, cathy %d %s; want one 200 and one 409", name, got[0].code, got[0].raw, got[1].code, got[1].raw)
	}
	w := slices.IndexFunc(got, func(a raceAnswer) bool { return a.code == http.StatusOK })
	winner, won, loser := users[w], got[w], got[1-w]
	if won.body["process_status"] != "responding" {
		return fmt.Errorf("%s: winner's answer %s", name, won.raw)
	}
	if loser.header.Get("Content-Type") != "application/problem+json" || loser.body["type"] != "urn:serviceflow:problem:conflict" {
		return fmt.Errorf("%s: loser's answer %s", name, loser.raw)
	}

	// The process advanced once, by the winner.
	var respondTasks int
	var respondAssignee string
	err = waitFor(time.Minute, name+" respond task", func() (bool, error) {
		err := db.QueryRow(ctx, `SELECT count(*), COALESCE(min(assignee), '') FROM tasks WHERE process_id = $1 AND step = 'respond'`,
			id).Scan(&respondTasks, &respondAssignee)
		return respondTasks > 0, err
	})
	if err != nil {
		return err
	}
	var completions int
	var actor, status, completedBy string
	if err := db.QueryRow(ctx, `SELECT count(*), COALESCE(min(actor), '') FROM audit_events
		WHERE process_id = $1 AND event = 'task_completed' AND detail->>'task_id' = $2`, id, task).Scan(&completions, &actor); err != nil {
		return err
	}
	if err := db.QueryRow(ctx, `SELECT status, COALESCE(completed_by, '') FROM tasks WHERE id = $1`, task).Scan(&status, &completedBy); err != nil {
		return err
	}
	cm, err := c.call("dave", "GET", "/api/v1/complaints/"+id, nil, "")
	if err != nil {
		return err
	}
	if respondTasks != 1 || respondAssignee != winner || completions != 1 || actor != winner || status != "completed" ||
		completedBy != winner || cm.body["status"] != "responding" || cm.body["category"] != category[winner] {
		return fmt.Errorf("%s: won by %s, but %d respond task(s) for %q, %d task_completed by %q, evaluate %s by %q, complaint %s",
			name, winner, respondTasks, respondAssignee, completions, actor, status, completedBy, cm.raw)
	}
	return nil
}

// pendingActivities describes the pending activities of a complaint's workflow, to
// explain a process that does not move.
func pendingActivities(tc client.Client, complaintID string) string {
	d, err := tc.DescribeWorkflowExecution(context.Background(), "complaint/"+complaintID, "")
	if err != nil {
		return "describe: " + err.Error()
	}
	var out []string
	for _, a := range d.GetPendingActivities() {
		out = append(out, fmt.Sprintf("%s attempt %d (%s)", a.GetActivityType().GetName(), a.GetAttempt(), a.GetLastFailure().GetMessage()))
	}
	return fmt.Sprintf("workflow %s, pending activities: %v", d.GetWorkflowExecutionInfo().GetStatus(), out)
}

// TestIdempotencyKeyEndToEnd: against the real Temporal, the same Idempotency-Key and body
// return the same id and start one workflow; the same key with another body is a 409;
// twenty concurrent duplicates start one workflow. The same holds for customers.
func TestIdempotencyKeyEndToEnd(t *testing.T) {
	s := startStack(t, longSLAs)
	c := newRaceClient(s)
	db := openPool(t, s)
	complaint := map[string]any{"customer_id": "cus_DEMO_LITWARE", "channel": "email", "subject": "Wrong parts", "description": "Two boxes of wrong bearings."}
	customer := map[string]any{"name": "Initech", "email": "buyer@initech.example", "tier": "C", "owner": "alice"}

	otherComplaint := maps.Clone(complaint)
	otherComplaint["subject"] = "Other subject"
	otherCustomer := maps.Clone(customer)
	otherCustomer["name"] = "Other name"

	for _, tc := range []struct {
		user, path  string
		body, other map[string]any
	}{
		{"carol", "/api/v1/complaints", complaint, otherComplaint},
		{"admin", "/api/v1/customers", customer, otherCustomer},
	} {
		// Sequential: the same key and body twice, then another body.
		first, err := c.call(tc.user, "POST", tc.path, tc.body, "key-1")
		if err != nil || first.code != http.StatusCreated {
			t.Fatalf("POST %s: %v %s", tc.path, err, first.raw)
		}
		again, err := c.call(tc.user, "POST", tc.path, tc.body, "key-1")
		if err != nil || again.code != http.StatusCreated || again.body["id"] != first.body["id"] || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("POST %s again: %v %s, first %s", tc.path, err, again.raw, first.raw)
		}
		if a, err := c.call(tc.user, "POST", tc.path, tc.other, "key-1"); err != nil || a.code != http.StatusConflict ||
			a.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("POST %s with another body: %v %d %s", tc.path, err, a.code, a.raw)
		}

		// Concurrent: twenty duplicates at the same instant.
		var reqs []*http.Request
		for range 20 {
			req, err := c.request(tc.user, "POST", tc.path, tc.body, "key-2")
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, req)
		}
		got, errs := c.all(reqs)
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for i, a := range got {
			if a.code != http.StatusCreated || a.body["id"] != got[0].body["id"] || a.body["id"] == first.body["id"] {
				t.Fatalf("POST %s duplicate %d: %d %s (first %s)", tc.path, i, a.code, a.raw, got[0].raw)
			}
		}
	}

	// Two keys: two complaints, two workflows, and two customers.
	var complaints, customers int
	if err := db.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM complaints WHERE subject = 'Wrong parts'),
		(SELECT count(*) FROM customers WHERE name = 'Initech')`).Scan(&complaints, &customers); err != nil {
		t.Fatal(err)
	}
	if complaints != 2 || customers != 2 {
		t.Fatalf("%d complaints and %d customers for two keys each", complaints, customers)
	}
	eventually(t, 30*time.Second, "two complaint workflows in Temporal's visibility", func() bool {
		res, err := s.tc.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
			Query: "WorkflowType = 'ComplaintWorkflow'"})
		if err != nil {
			t.Fatal(err)
		}
		if res.GetCount() > 2 {
			t.Fatalf("%d complaint workflows for two keys", res.GetCount())
		}
		return res.GetCount() == 2
	})
}
