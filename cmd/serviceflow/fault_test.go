//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/serviceflow/serviceflow/devstack"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store/storetest"
)

// The fault tests of issue 3 run the real binary as child processes, kill them with
// SIGKILL mid-flight and check that every complaint still escalates and closes, with no
// e-mail sent twice and no task or escalation written twice.

const faultSendGridKey = "SG.fault-key"

// faultRun is one fault test's complaints, API, fake SendGrid (behind a gate) and
// database.
type faultRun struct {
	t     *testing.T
	dbURL string
	db    *pgxpool.Pool
	gate  *mailGate
	api   *apiClient
	// temporal is the Temporal frontend the processes run on.
	temporal string
}

func newFaultRun(t *testing.T, prefix string) *faultRun {
	t.Helper()
	dbURL, drop, err := storetest.CreateDB(context.Background(), prefix)
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	t.Cleanup(drop)
	db, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &faultRun{t: t, dbURL: dbURL, db: db, gate: newMailGate(t, faultSendGridKey)}
}

// env is the child processes' configuration: a 20 s response window, so that every
// complaint escalates during the test, and every other deadline out of reach.
func (r *faultRun) env() map[string]string {
	const window, far = "20s", "10m"
	return map[string]string{
		"DATABASE_URL":     r.dbURL,
		"SENDGRID_API_KEY": faultSendGridKey,
		"SENDGRID_API_URL": r.gate.srv.URL,
		// The same on every worker, as in production: a new worker derives the same links.
		"SERVICEFLOW_LINK_SECRET": "the fault tests' customer-link secret",

		"SERVICEFLOW_COMPLAINT_RESPONSE_SLA":        window,
		"SERVICEFLOW_COMPLAINT_URGENT_RESPONSE_SLA": window,
		"SERVICEFLOW_COMPLAINT_TIER_A_RESPONSE_SLA": window,
		"SERVICEFLOW_COMPLAINT_RESOLVE_SLA":         far,
		"SERVICEFLOW_COMPLAINT_APPROVAL_SLA":        far,
		"SERVICEFLOW_COMPLAINT_REVIEW_SLA":          far,
		"SERVICEFLOW_COMPLAINT_ESCALATION_STEP":     far,
		"SERVICEFLOW_COMPLAINT_FEEDBACK_WAIT":       far,
	}
}

// TestFaultRestart kills `serviceflow dev` with SIGKILL while acknowledgements are going
// out and evaluations are in flight, starts it again on the same data directory, and
// works every complaint to closed.
func TestFaultRestart(t *testing.T) {
	bin := serviceflowBinary(t)
	began := time.Now()
	r := newFaultRun(t, "restart")
	dataDir := t.TempDir()
	httpAddr, temporalAddr := freeAddr(t), freeAddr(t)
	base := "http://" + httpAddr
	env := r.env()
	env["SERVICEFLOW_HTTP_ADDR"] = httpAddr
	startDev := func(name string) *proc {
		p := startProc(t, name, bin, env, "dev", "--data-dir", dataDir, "--temporal-addr", temporalAddr, "--ui-addr", "off")
		waitReady(t, p, base, 90*time.Second)
		return p
	}

	r.temporal = temporalAddr
	dev := startDev("dev-1")
	r.api = newAPIClient(base, readTokens(t, filepath.Join(dataDir, "dev-tokens.json")))
	up := time.Since(began)

	// Before the crash: ten complaints acknowledged, five of them evaluated.
	first := r.fileComplaints(10)
	r.waitAcks(first)
	evaluate := r.waitTasks("carol", "group", domain.StepEvaluate, first)
	r.completeAll(first[:5], evaluate, "accept", evaluation)

	// The crash: ten more complaints whose acknowledgements are at the provider, and
	// three evaluations on their way.
	r.gate.close()
	second := r.fileComplaints(10)
	var inflight sync.WaitGroup
	for _, id := range first[5:8] {
		inflight.Go(func() {
			_, _ = r.api.do("carol", "POST", "/api/v1/tasks/"+evaluate[id]+"/complete", map[string]any{"action": "accept", "data": evaluation})
		})
	}
	eventually(t, 30*time.Second, "acknowledgements held at the provider", func() bool {
		held, _ := r.gate.counts()
		return held >= 3
	})
	held, _ := r.gate.counts()
	dev.kill()
	inflight.Wait()
	r.reopenGate()
	crashed := time.Since(began)
	t.Logf("killed serviceflow dev with %d e-mails in flight at the provider", held)

	startDev("dev-2")
	restarted := time.Since(began)
	ids := slices.Concat(first, second)
	r.waitEscalated(ids)
	escalated := time.Since(began)
	r.workThrough(ids)
	r.checkExactlyOnce(ids)
	t.Logf("timings: up %s, crash %s, up again %s, all escalated %s, all closed %s",
		up.Round(time.Second/10), crashed.Round(time.Second/10), restarted.Round(time.Second/10),
		escalated.Round(time.Second/10), time.Since(began).Round(time.Second/10))
}

// TestFaultWorkerLoss runs `serviceflow api` and `serviceflow worker` as separate
// processes against one Temporal server, kills the worker with SIGKILL while e-mails are
// going out and tasks are being completed, and starts a new one.
func TestFaultWorkerLoss(t *testing.T) {
	bin := serviceflowBinary(t)
	began := time.Now()
	r := newFaultRun(t, "workerloss")
	ctx := context.Background()
	temporal, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		Ephemeral: true, FrontendAddr: freeAddr(t), UIAddr: "off", Namespace: "default",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("temporal: %v", err)
	}
	t.Cleanup(func() { _ = temporal.Stop() })
	tokenFile := filepath.Join(t.TempDir(), "tokens.json")
	st, err := openStore(ctx, r.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	err = seedDemo(ctx, st, tokenFile)
	st.Close()
	if err != nil {
		t.Fatalf("seed: %v", err)
	}

	httpAddr := freeAddr(t)
	base := "http://" + httpAddr
	env := r.env()
	env["TEMPORAL_ADDRESS"] = temporal.FrontendAddr()
	r.temporal = temporal.FrontendAddr()
	env["SERVICEFLOW_HTTP_ADDR"] = httpAddr
	env["SERVICEFLOW_PUBLIC_URL"] = base
	waitReady(t, startProc(t, "api", bin, env, "api"), base, 60*time.Second)
	worker := startProc(t, "worker-1", bin, env, "worker")
	r.api = newAPIClient(base, readTokens(t, tokenFile))
	up := time.Since(began)

	// With the first worker: six complaints acknowledged, three evaluated.
	first := r.fileComplaints(6)
	r.waitAcks(first)
	evaluate := r.waitTasks("carol", "group", domain.StepEvaluate, first)
	r.completeAll(first[:3], evaluate, "accept", evaluation)

	// The loss: four acknowledgements at the provider, two evaluations on their way.
	r.gate.close()
	second := r.fileComplaints(4)
	eventually(t, 30*time.Second, "acknowledgements held at the provider", func() bool {
		held, _ := r.gate.counts()
		return held >= len(second)
	})
	complete := func(id string) (reply, error) {
		return r.api.do("carol", "POST", "/api/v1/tasks/"+evaluate[id]+"/complete", map[string]any{"action": "accept", "data": evaluation})
	}
	var inflight errgroup.Group
	early := make([]reply, 2)
	for i, id := range first[3:5] {
		inflight.Go(func() (err error) { early[i], err = complete(id); return err })
	}
	held, _ := r.gate.counts()
	worker.kill()
	r.reopenGate()
	killed := time.Since(began)

	// No worker runs: a completion waits for the API's Update timeout, then 504.
	late, err := complete(first[5])
	if err != nil {
		t.Fatal(err)
	}
	if late.code != http.StatusGatewayTimeout || !strings.HasPrefix(late.ctype, "application/problem+json") {
		t.Fatalf("completing a task with no worker: got %s (%s), want 504 problem+json", late, late.ctype)
	}
	if err := inflight.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, res := range early {
		if res.code != http.StatusOK && res.code != http.StatusGatewayTimeout {
			t.Fatalf("evaluation %s in flight when the worker died: got %s, want 200 or 504", first[3+i], res)
		}
	}
	t.Logf("killed the worker with %d e-mails in flight at the provider; with no worker, completing a task answered after %s: %s",
		held, time.Since(began)-killed, late)

	startProc(t, "worker-2", bin, env, "worker")
	restarted := time.Since(began)
	// Completions answered 504 may still have reached the process: retrying gives 200,
	// or 409 when the first attempt went through after all.
	for i, id := range first[3:6] {
		if i < 2 && early[i].code == http.StatusOK {
			continue
		}
		code, err := r.completeOnce(context.Background(), evaluate[id], "accept", evaluation)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("retried the evaluation of %s after its 504: %d", id, code)
	}
	ids := slices.Concat(first, second)
	r.waitEscalated(ids)
	escalated := time.Since(began)
	r.workThrough(ids)
	r.checkExactlyOnce(ids)
	t.Logf("timings: up %s, worker killed %s, new worker %s, all escalated %s, all closed %s",
		up.Round(time.Second/10), killed.Round(time.Second/10), restarted.Round(time.Second/10),
		escalated.Round(time.Second/10), time.Since(began).Round(time.Second/10))
}

// evaluation is the data of every evaluate completion.
var evaluation = map[string]any{"category": "product", "severity": "normal"}

// fileComplaints files n complaints as carol, spread over the demo customers.
func (r *faultRun) fileComplaints(n int) []string {
	r.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		c := r.api.must(r.t, http.StatusCreated, "carol", "POST", "/api/v1/complaints", map[string]any{
			"customer_id": demoCustomers[i%len(demoCustomers)].ID, "channel": "email",
			"subject": fmt.Sprintf("Fault test complaint %d", i), "description": "The machine stopped.",
		})
		ids[i], _ = c["id"].(string)
	}
	return ids
}

// mails returns the e-mails the fake SendGrid accepted under key.
func (r *faultRun) mails(key string) []sentMail {
	return r.gate.sg.find(func(m sentMail) bool { return m.Key == key })
}

// waitAcks waits for the acknowledgement of every complaint.
func (r *faultRun) waitAcks(ids []string) {
	r.t.Helper()
	eventually(r.t, 30*time.Second, "acknowledgement e-mails", func() bool {
		for _, id := range ids {
			if len(r.mails(domain.ComplaintWorkflowID(id)+"/ack")) == 0 {
				return false
			}
		}
		return true
	})
}

// reopenGate waits until the provider has dropped every request the killed process
// left held, then lets e-mails through again.
func (r *faultRun) reopenGate() {
	r.t.Helper()
	eventually(r.t, 20*time.Second, "held e-mails dropped", func() bool {
		held, _ := r.gate.counts()
		return held == 0
	})
	r.gate.open()
}

// openTasks lists user's open tasks in scope by complaint and step.
func (r *faultRun) openTasks(user, scope string) (map[string]map[string]string, error) {
	out, err := r.api.expect(http.StatusOK, user, "GET", "/api/v1/tasks?status=open&limit=200&scope="+scope, nil)
	if err != nil {
		return nil, err
	}
	tasks := map[string]map[string]string{}
	for _, it := range items(out) {
		pid, _ := it["process_id"].(string)
		step, _ := it["step"].(string)
		id, _ := it["id"].(string)
		if tasks[pid] == nil {
			tasks[pid] = map[string]string{}
		}
		tasks[pid][step] = id
	}
	return tasks, nil
}

// waitTasks waits until every complaint has an open task at step in user's inbox and
// returns their ids by complaint.
func (r *faultRun) waitTasks(user, scope, step string, ids []string) map[string]string {
	r.t.Helper()
	found := map[string]string{}
	eventually(r.t, 30*time.Second, step+" tasks in "+user+"'s "+scope+" inbox", func() bool {
		tasks, err := r.openTasks(user, scope)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, id := range ids {
			if tid := tasks[id][step]; tid != "" {
				found[id] = tid
			}
		}
		return len(found) == len(ids)
	})
	return found
}

// completeAll completes the tasks of ids as carol, four at a time.
func (r *faultRun) completeAll(ids []string, tasks map[string]string, action string, data map[string]any) {
	r.t.Helper()
	var g errgroup.Group
	g.SetLimit(4)
	for _, id := range ids {
		g.Go(func() error {
			_, err := r.completeOnce(context.Background(), tasks[id], action, data)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		r.t.Fatal(err)
	}
}

// completeOnce completes a task as carol and returns the status that settled it: 200,
// or 409 when an earlier attempt (answered 504 or cut off by a crash) went through
// after all; a 504 is retried. Anything else is an error, as is a 409 for a task that
// carol did not complete.
func (r *faultRun) completeOnce(ctx context.Context, taskID, action string, data map[string]any) (int, error) {
	path := "/api/v1/tasks/" + taskID
	var code int
	err := poll(ctx, 90*time.Second, "completing "+taskID, func() (bool, error) {
		res, err := r.api.do("carol", "POST", path+"/complete", map[string]any{"action": action, "data": data})
		if err != nil {
			return false, err
		}
		code = res.code
		if res.code != http.StatusOK {
			r.t.Logf("complete %s: %s", taskID, res)
		}
		switch res.code {
		case http.StatusOK, http.StatusConflict:
			return true, nil
		case http.StatusGatewayTimeout:
			return false, nil
		}
		return false, fmt.Errorf("complete %s: %s", taskID, res)
	})
	if err != nil || code == http.StatusOK {
		return code, err
	}
	// 409: the task must be (or soon be) completed by carol with this action.
	return code, poll(ctx, 60*time.Second, "task "+taskID+" closed", func() (bool, error) {
		t, err := r.api.expect(http.StatusOK, "carol", "GET", path, nil)
		if err != nil || t["status"] == domain.TaskOpen {
			return false, err
		}
		if t["status"] != domain.TaskCompleted || t["completed_by"] != "carol" || t["action"] != action {
			return false, fmt.Errorf("task %s answered 409 but is %v by %v (%v)", taskID, t["status"], t["completed_by"], t["action"])
		}
		return true, nil
	})
}

// waitEscalated waits until every complaint has a level-1 escalation, as dave sees them.
func (r *faultRun) waitEscalated(ids []string) {
	r.t.Helper()
	eventually(r.t, 2*time.Minute, "a level-1 escalation of every complaint", func() bool {
		out := r.api.must(r.t, http.StatusOK, "dave", "GET", "/api/v1/escalations?level=1&limit=200", nil)
		seen := map[string]bool{}
		for _, e := range items(out) {
			if tg, _ := e["targets"].([]any); len(tg) == 1 && tg[0] == "dave" {
				seen[e["process_id"].(string)] = true
			}
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	})
}

// workThrough takes every complaint to closed through the tasks API: evaluate (unless
// done), respond, resolve with a repair, and a score of 5 through the feedback link of
// the customer's e-mail.
func (r *faultRun) workThrough(ids []string) {
	r.t.Helper()
	evaluate, err := r.openTasks("carol", "group")
	if err != nil {
		r.t.Fatal(err)
	}
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(4)
	for _, id := range ids {
		g.Go(func() error {
			if tid := evaluate[id][domain.StepEvaluate]; tid != "" {
				if _, err := r.completeOnce(ctx, tid, "accept", evaluation); err != nil {
					return err
				}
			}
			steps := []struct {
				step, action string
				data         map[string]any
			}{
				{domain.StepRespond, "respond", map[string]any{"message": "A technician is on the way."}},
				{domain.StepResolve, "resolve", map[string]any{"resolution_type": "repair", "summary": "Replaced the spindle bearing."}},
			}
			for _, s := range steps {
				tid, err := r.taskOf(ctx, id, s.step)
				if err != nil {
					return err
				}
				if _, err := r.completeOnce(ctx, tid, s.action, s.data); err != nil {
					return err
				}
			}
			return r.giveFeedback(ctx, id)
		})
	}
	if err := g.Wait(); err != nil {
		r.t.Fatal(err)
	}
}

// taskOf waits for the complaint's open task at step in carol's own inbox.
func (r *faultRun) taskOf(ctx context.Context, id, step string) (string, error) {
	var tid string
	err := poll(ctx, 60*time.Second, step+" task of "+id, func() (bool, error) {
		tasks, err := r.openTasks("carol", "mine")
		tid = tasks[id][step]
		return tid != "", err
	})
	return tid, err
}

// giveFeedback answers the feedback e-mail with a 5 and waits for the complaint to close.
func (r *faultRun) giveFeedback(ctx context.Context, id string) error {
	var token string
	err := poll(ctx, 60*time.Second, "feedback e-mail of "+id, func() (bool, error) {
		for _, m := range r.mails(domain.ComplaintWorkflowID(id) + "/feedback/1") {
			if mm := feedbackLinkRE.FindStringSubmatch(m.Text); mm != nil {
				token = mm[1]
			}
		}
		return token != "", nil
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequest("POST", r.api.base+"/c/"+token, strings.NewReader(url.Values{"score": {"5"}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := r.api.send(req)
	if err != nil {
		return err
	}
	if res.code != http.StatusOK {
		return fmt.Errorf("feedback of %s: %d", id, res.code)
	}
	return poll(ctx, 60*time.Second, id+" closed", func() (bool, error) {
		c, err := r.api.expect(http.StatusOK, "carol", "GET", "/api/v1/complaints/"+id, nil)
		return err == nil && c["status"] == domain.ComplaintClosed, err
	})
}

// waitEnded waits until every complaint's workflow has ended successfully. A workflow
// ends only once its e-mails and task notices are out, and those whose attempt died with
// the process are retried only after their activity timeout.
func (r *faultRun) waitEnded(ids []string) {
	r.t.Helper()
	c, err := client.Dial(client.Options{HostPort: r.temporal,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		r.t.Fatalf("temporal client: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, id := range ids {
		if err := c.GetWorkflow(ctx, domain.ComplaintWorkflowID(id), "").Get(ctx, nil); err != nil {
			r.t.Fatalf("complaint %s did not end: %v", id, err)
		}
	}
}

// checkExactlyOnce checks that nothing was lost or doubled: each e-mail key accepted
// once by the provider and marked sent in the outbox, each complaint's own e-mails
// once, three completed tasks per complaint, escalations unique per task and level.
func (r *faultRun) checkExactlyOnce(ids []string) {
	t := r.t
	t.Helper()
	r.waitEnded(ids)
	if dup := r.gate.sg.duplicates(); len(dup) > 0 {
		t.Errorf("e-mails sent twice: %v", dup)
	}
	for _, id := range ids {
		wf := domain.ComplaintWorkflowID(id)
		for _, key := range []string{"/ack", "/response", "/resolution/1", "/feedback/1"} {
			if n := len(r.mails(wf + key)); n != 1 {
				t.Errorf("%s: %d e-mails %s, want 1", id, n, key)
			}
		}
	}
	accepted := map[string]bool{}
	for _, m := range r.gate.sg.sent() {
		accepted[m.Key] = true
	}
	ctx := context.Background()
	rows, err := r.db.Query(ctx, `SELECT idempotency_key, status FROM emails`)
	if err != nil {
		t.Fatal(err)
	}
	outbox := 0
	for rows.Next() {
		var key, status string
		if err := rows.Scan(&key, &status); err != nil {
			t.Fatal(err)
		}
		outbox++
		if status != "sent" || !accepted[key] {
			t.Errorf("outbox row %s is %s; accepted by the provider: %v", key, status, accepted[key])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if outbox != len(accepted) {
		t.Errorf("%d outbox rows, %d keys accepted by the provider", outbox, len(accepted))
	}

	var counts struct{ tasks, taskKeys, open, escalations, escalationKeys, escalated, closed int }
	for _, q := range []struct {
		sql  string
		dest []any
	}{
		{`SELECT count(*), count(DISTINCT (workflow_id, step, round)), count(*) FILTER (WHERE status <> 'completed') FROM tasks`,
			[]any{&counts.tasks, &counts.taskKeys, &counts.open}},
		{`SELECT count(*), count(DISTINCT (workflow_id, task_id, level)), count(DISTINCT process_id) FILTER (WHERE level = 1) FROM escalations`,
			[]any{&counts.escalations, &counts.escalationKeys, &counts.escalated}},
		{`SELECT count(*) FROM complaints WHERE status = 'closed'`, []any{&counts.closed}},
	} {
		if err := r.db.QueryRow(ctx, q.sql).Scan(q.dest...); err != nil {
			t.Fatal(err)
		}
	}
	if counts.tasks != 3*len(ids) || counts.taskKeys != counts.tasks || counts.open != 0 {
		t.Errorf("tasks: %d rows, %d distinct (workflow, step, round), %d not completed; want %d, all distinct and completed",
			counts.tasks, counts.taskKeys, counts.open, 3*len(ids))
	}
	if counts.escalationKeys != counts.escalations || counts.escalated != len(ids) {
		t.Errorf("escalations: %d rows, %d distinct (workflow, task, level), %d complaints at level 1; want all distinct and %d",
			counts.escalations, counts.escalationKeys, counts.escalated, len(ids))
	}
	if counts.closed != len(ids) {
		t.Errorf("%d complaints closed, want %d", counts.closed, len(ids))
	}
	t.Logf("%d complaints: %d e-mails, %d tasks, %d escalations, each once", len(ids), outbox, counts.tasks, counts.escalations)
}

// poll calls f until it reports done, returns an error, ctx ends or timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := f()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
