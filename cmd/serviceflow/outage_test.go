package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/serviceflow/serviceflow/domain"
)

// TestDatabaseOutage takes PostgreSQL away for 20 s while complaints flow (issue 3):
// a TCP proxy between serviceflow and the server closes every live connection and
// refuses new ones, as a stopped server would. Complaints are filed and worked before,
// SLA timers and escalations fall due during the outage, and filing and completing are
// attempted during it. The API must answer 503 problem+json at once; afterwards the
// activities' retries must have lost and doubled nothing: tasks, escalations and e-mails
// are checked in the database and at the fake SendGrid.
func TestDatabaseOutage(t *testing.T) {
	const outage = 20 * time.Second
	var (
		proxy     *tcpProxy
		provider  *providerSwitch
		directURL string
	)
	s := startStack(t, func(c *Config) {
		directURL = c.DatabaseURL
		u, err := url.Parse(c.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy = startTCPProxy(t, u.Host)
		u.Host = proxy.Addr()
		c.DatabaseURL = u.String() // the API's and the worker's pool go through the proxy
		provider = newProviderSwitch(t, c.SendGridAPIURL)
		c.SendGridAPIURL = provider.srv.URL
		// Urgent complaints: reminders at 3 s and 4.8 s, level 1 at 6 s, level 2 at 9 s.
		c.UrgentResponseSLA, c.EscalationStep = 6*time.Second, 3*time.Second
		// Nothing else falls due during the test.
		c.ResponseSLA, c.TierAResponseSLA, c.ResolveSLA = 10*time.Minute, 10*time.Minute, 10*time.Minute
	})
	ctx := context.Background()
	db, err := pgxpool.New(ctx, directURL) // the test's own view, around the proxy
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	o := &outageRun{t: t, s: s, db: db}
	begin := time.Now()

	// --- before: complaints filed, some evaluated, one answered ---
	normal := []string{
		o.file("before-n1", "cus_DEMO_CONTOSO", "normal"), o.file("before-n2", "cus_DEMO_FABRIKAM", "normal"),
		o.file("before-n3", "cus_DEMO_LITWARE", "normal"), o.file("before-n4", "cus_DEMO_TAILSPIN", "normal"),
	}
	respond := map[string]string{}
	for i, id := range normal {
		ev := s.findTask("carol", "group", id, "evaluate")["id"].(string)
		if i >= 2 {
			continue
		}
		s.must(200, "carol", "POST", "/api/v1/tasks/"+ev+"/claim", nil)
		o.complete(ev, map[string]any{"action": "accept", "data": map[string]any{"category": "product", "severity": "normal"}})
		respond[id] = s.findTask("carol", "mine", id, "respond")["id"].(string)
	}
	urgent := []string{
		o.file("before-u1", "cus_DEMO_FABRIKAM", "urgent"), o.file("before-u2", "cus_DEMO_TAILSPIN", "urgent"),
		o.file("before-u3", "cus_DEMO_CONTOSO", "urgent"),
	}
	// The first reminder is due 3 s after filing, during or just before the outage. Its
	// timer is set when the task is created, unless that time has passed already; once
	// it fires, the reminder is retried until it is sent. (A later reminder is skipped
	// when its time passes while the one before is still being retried, by design.)
	reminderDue := map[string]bool{}
	evaluate := map[string]string{}
	for _, id := range urgent {
		evaluate[id] = s.findTask("carol", "group", id, "evaluate")["id"].(string)
		first := o.filedAt[id].Add(time.Duration(s.cfg.ComplaintPolicy().Reminders[0] * float64(s.cfg.UrgentResponseSLA)))
		reminderDue[id] = time.Now().Add(time.Second).Before(first)
	}
	// Answered just before the cut: its e-mail, projection and next task race the outage.
	o.complete(respond[normal[0]], map[string]any{"action": "respond", "data": map[string]any{"message": "A technician is on the way."}})

	// --- the outage ---
	o.cut(proxy, provider)
	cutAt := time.Now()
	t.Logf("outage starts %s into the test", cutAt.Sub(begin).Round(time.Millisecond))
	var during []string // Idempotency-Keys of complaints filed during the outage
	for round := 1; time.Since(cutAt) < outage-4*time.Second; round++ {
		p := o.unavailable("", "GET", "/readyz", nil, "")
		if !strings.Contains(p.raw, "PostgreSQL") {
			t.Fatalf("/readyz does not name PostgreSQL: %s", p.raw)
		}
		o.unavailable("carol", "GET", "/api/v1/tasks?scope=group", nil, "")
		key := fmt.Sprintf("during-%d", round)
		o.unavailable("carol", "POST", "/api/v1/complaints", complaintBody(key, "cus_DEMO_CONTOSO", "normal"), key)
		during = append(during, key)
		o.unavailable("carol", "POST", "/api/v1/tasks/"+respond[normal[1]]+"/complete", map[string]any{
			"action": "respond", "data": map[string]any{"message": "We will call you tomorrow."}}, "")
		if a := o.send("", "GET", "/healthz", nil, ""); a.code != 200 {
			t.Fatalf("/healthz during the outage: %d %s", a.code, a.raw)
		}
		time.Sleep(2 * time.Second) // pace the probes
	}
	time.Sleep(time.Until(cutAt.Add(outage)))

	// --- recovery, on its own ---
	provider.on()
	proxy.Resume()
	upAt := time.Now()
	eventually(t, 30*time.Second, "/readyz back to 200", func() bool {
		return o.send("", "GET", "/readyz", nil, "").code == 200
	})
	t.Logf("ready again %s after the outage", time.Since(upAt).Round(time.Millisecond))
	o.complete(respond[normal[1]], map[string]any{"action": "respond", "data": map[string]any{"message": "We will call you tomorrow."}})
	t.Logf("a task completed %s after the outage", time.Since(upAt).Round(time.Millisecond))
	// The clients retry what got 503 with the same Idempotency-Key: one complaint each.
	var retried []string
	for _, key := range during {
		body := complaintBody(key, "cus_DEMO_CONTOSO", "normal")
		first := o.must(201, "carol", "POST", "/api/v1/complaints", body, key)
		again := o.must(201, "carol", "POST", "/api/v1/complaints", body, key)
		if first.body["id"] != again.body["id"] || again.hdr.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry of %s: %s, then %s", key, first.raw, again.raw)
		}
		retried = append(retried, first.body["id"].(string))
	}
	all := slices.Concat(normal, urgent, retried)

	// The e-mails that must have gone out: acknowledgements, first responses, both
	// escalation levels and the first reminders that were due.
	escalateTo := map[int]string{1: "dave", 2: "judy"}
	var wantKeys, wantPrefixes []string
	for _, id := range all {
		wantKeys = append(wantKeys, domain.ComplaintWorkflowID(id)+"/ack")
	}
	for _, id := range normal[:2] {
		wantKeys = append(wantKeys, domain.ComplaintWorkflowID(id)+"/response")
	}
	for _, id := range urgent {
		for level, target := range escalateTo {
			wantKeys = append(wantKeys, fmt.Sprintf("esc/%s/%s/%d/%s", domain.ComplaintWorkflowID(id), evaluate[id], level, target))
		}
		if reminderDue[id] {
			wantPrefixes = append(wantPrefixes, fmt.Sprintf("task/%s/reminder/1/", evaluate[id]))
		}
	}

	// Every process catches up on its own, and the outbox settles with every e-mail sent.
	eventually(t, 60*time.Second, "every process to catch up after the outage", func() bool {
		for _, key := range wantKeys {
			if len(o.mails(key)) == 0 {
				return false
			}
		}
		for _, prefix := range wantPrefixes {
			if len(s.sg.find(func(m sentMail) bool { return strings.HasPrefix(m.Key, prefix) })) == 0 {
				return false
			}
		}
		for _, id := range all {
			if o.count(`SELECT count(*) FROM tasks WHERE process_id = $1 AND step = 'evaluate'`, id) == 0 {
				return false
			}
		}
		for _, id := range normal[:2] {
			if o.count(`SELECT count(*) FROM tasks WHERE process_id = $1 AND step = 'resolve'`, id) == 0 {
				return false
			}
		}
		for _, id := range urgent {
			if o.count(`SELECT escalation_level FROM complaints WHERE id = $1`, id) < 2 {
				return false
			}
		}
		// Every task has had its assignment e-mailed.
		if o.count(`SELECT count(*) FROM tasks t WHERE NOT EXISTS (SELECT 1 FROM emails e
			WHERE e.idempotency_key LIKE 'task/' || t.id || '/assigned/%')`) > 0 {
			return false
		}
		return o.count(`SELECT count(*) FROM emails WHERE status <> 'sent'`) == 0 &&
			o.count(`SELECT count(*) FROM emails`) == len(s.sg.sent())
	})
	t.Logf("every process caught up %s after the outage", time.Since(upAt).Round(time.Millisecond))

	// --- nothing lost, nothing doubled ---
	filed := o.strings(`SELECT id FROM complaints ORDER BY id`)
	if want := slices.Sorted(slices.Values(all)); !slices.Equal(filed, want) {
		t.Fatalf("complaints in the database %v, want exactly %v (a 503 must start nothing)", filed, want)
	}
	for i, key := range during {
		var id string
		if err := db.QueryRow(ctx, `SELECT resource_id FROM idempotency_keys WHERE key = $1`, key).Scan(&id); err != nil || id != retried[i] {
			t.Errorf("Idempotency-Key %s maps to %q (%v), want %s", key, id, err, retried[i])
		}
	}
	for _, id := range all {
		if n := o.count(`SELECT count(*) FROM tasks WHERE process_id = $1 AND step = 'evaluate'`, id); n != 1 {
			t.Errorf("%s: %d evaluate tasks, want 1", id, n)
		}
	}
	for _, id := range normal[:2] {
		for _, step := range []string{"respond", "resolve"} {
			if n := o.count(`SELECT count(*) FROM tasks WHERE process_id = $1 AND step = $2`, id, step); n != 1 {
				t.Errorf("%s: %d %s tasks, want 1", id, n, step)
			}
		}
		if n := o.count(`SELECT count(*) FROM tasks WHERE process_id = $1 AND step = 'respond' AND status = 'completed'`, id); n != 1 {
			t.Errorf("%s: the respond task is not completed", id)
		}
	}
	for _, id := range all {
		want := 0
		if slices.Contains(urgent, id) {
			want = 2
		}
		if n := o.count(`SELECT count(*) FROM escalations WHERE process_id = $1`, id); n != want {
			t.Errorf("%s: %d escalations, want %d", id, n, want)
		}
	}
	for _, id := range urgent {
		for level, target := range escalateTo {
			var targets []string
			if err := db.QueryRow(ctx, `SELECT targets FROM escalations WHERE process_id = $1 AND level = $2`, id, level).Scan(&targets); err != nil {
				t.Fatalf("%s level %d: %v", id, level, err)
			}
			if !slices.Equal(targets, []string{target}) {
				t.Errorf("%s level %d targets %v, want [%s]", id, level, targets, target)
			}
		}
		if lvl := s.must(200, "dave", "GET", "/api/v1/complaints/"+id, nil)["escalation_level"]; lvl != float64(2) {
			t.Errorf("%s: escalation level %v, want 2", id, lvl)
		}
	}
	for _, key := range wantKeys {
		o.wantMail(key)
	}
	// The outbox and the provider agree key by key, each key accepted exactly once.
	outbox := map[string]bool{}
	for _, k := range o.strings(`SELECT idempotency_key FROM emails`) {
		outbox[k] = true
	}
	for _, m := range s.sg.sent() {
		if !outbox[m.Key] {
			t.Errorf("SendGrid got %s, which is not in the outbox", m.Key)
		}
	}
	if dup := s.sg.duplicates(); len(dup) > 0 {
		t.Errorf("e-mails sent twice: %v", dup)
	}
	t.Logf("%d complaints, %d e-mails, %d probes answered 503 during the outage", len(all), len(outbox), o.probes)
}

// outageRun is the state of TestDatabaseOutage.
type outageRun struct {
	t       *testing.T
	s       *stack
	db      *pgxpool.Pool
	filedAt map[string]time.Time
	probes  int
}

// quick gives up after 5 s: an API that hangs instead of answering fails the test.
// patient is for completing a task, which waits for the process to move on.
var (
	quick   = &http.Client{Timeout: 5 * time.Second}
	patient = &http.Client{Timeout: time.Minute}
)

type answer struct {
	code int
	hdr  http.Header
	body map[string]any
	raw  string
}

// send sends a request as user ("" for none) with an optional Idempotency-Key. A
// request that gets no answer within 5 s fails the test.
func (o *outageRun) send(user, method, path string, body any, key string) answer {
	o.t.Helper()
	return o.sendWith(quick, user, method, path, body, key)
}

func (o *outageRun) sendWith(client *http.Client, user, method, path string, body any, key string) answer {
	o.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, o.s.base+path, rd)
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+o.s.tokens[user])
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: no answer after %s: %v", method, path, time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, hdr: resp.Header, body: map[string]any{}, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// must sends and fails the test unless the status is want.
func (o *outageRun) must(want int, user, method, path string, body any, key string) answer {
	o.t.Helper()
	a := o.send(user, method, path, body, key)
	if a.code != want {
		o.t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, user, a.code, want, a.raw)
	}
	return a
}

// unavailable sends and checks the answer is a 503 unavailable problem with Retry-After.
func (o *outageRun) unavailable(user, method, path string, body any, key string) answer {
	o.t.Helper()
	a := o.must(http.StatusServiceUnavailable, user, method, path, body, key)
	if ct := a.hdr.Get("Content-Type"); ct != "application/problem+json" || a.body["type"] != "urn:serviceflow:problem:unavailable" ||
		a.body["status"] != float64(503) || a.hdr.Get("Retry-After") == "" {
		o.t.Fatalf("%s %s: want a 503 unavailable problem with Retry-After, got %s %v: %s", method, path, ct, a.hdr, a.raw)
	}
	o.probes++
	return a
}

func complaintBody(subject, customer, severity string) map[string]any {
	return map[string]any{"customer_id": customer, "channel": "phone", "subject": "Outage test " + subject,
		"description": "Filed while the database comes and goes.", "severity": severity}
}

// file files a complaint under key and returns its id.
func (o *outageRun) file(key, customer, severity string) string {
	o.t.Helper()
	a := o.must(201, "carol", "POST", "/api/v1/complaints", complaintBody(key, customer, severity), key)
	id := a.body["id"].(string)
	created, err := time.Parse(time.RFC3339Nano, a.body["created_at"].(string))
	if err != nil {
		o.t.Fatal(err)
	}
	if o.filedAt == nil {
		o.filedAt = map[string]time.Time{}
	}
	o.filedAt[id] = created
	return id
}

// cut starts the outage at a moment when no e-mail sits between the provider's 202 and
// its 'sent' record: that window (README, "E-mail: exactly once") cannot be closed
// without an idempotency key at SendGrid, and this test is about the database. The
// provider is switched off first (a retryable 503) so that no send starts meanwhile; it
// stays off for the outage, when no e-mail could be recorded anyway.
func (o *outageRun) cut(proxy *tcpProxy, provider *providerSwitch) {
	o.t.Helper()
	provider.off()
	eventually(o.t, 15*time.Second, "no e-mail in flight to the provider", func() bool {
		return provider.inFlight() == 0 && o.count(`SELECT count(*) FROM emails WHERE status = 'sending'`) == 0
	})
	proxy.Cut()
}

// complete completes a task as carol. A 409 while the task's row is still open is
// retried: the CreateTask activity writes the row a moment before the workflow, which
// validates the completion, has taken the task in.
func (o *outageRun) complete(taskID string, body map[string]any) {
	o.t.Helper()
	eventually(o.t, 10*time.Second, "completing "+taskID, func() bool {
		a := o.sendWith(patient, "carol", "POST", "/api/v1/tasks/"+taskID+"/complete", body, "")
		switch {
		case a.code == http.StatusOK:
			return true
		case a.code == http.StatusConflict && o.count(`SELECT count(*) FROM tasks WHERE id = $1 AND status = 'open'`, taskID) == 1:
			return false
		}
		o.t.Fatalf("completing %s: %d %s", taskID, a.code, a.raw)
		return false
	})
}

// strings runs a one-column query on the database directly.
func (o *outageRun) strings(query string) []string {
	o.t.Helper()
	rows, err := o.db.Query(context.Background(), query)
	if err != nil {
		o.t.Fatalf("%s: %v", query, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		o.t.Fatalf("%s: %v", query, err)
	}
	return out
}

// count runs a count query on the database directly.
func (o *outageRun) count(query string, args ...any) int {
	o.t.Helper()
	var n int
	if err := o.db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		o.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (o *outageRun) mails(key string) []sentMail {
	return o.s.sg.find(func(m sentMail) bool { return m.Key == key })
}

// wantMail checks that the e-mail with key was accepted exactly once and is sent in the
// outbox.
func (o *outageRun) wantMail(key string) {
	o.t.Helper()
	if n := len(o.mails(key)); n != 1 {
		o.t.Errorf("e-mail %s accepted %d times, want 1", key, n)
	}
	if n := o.count(`SELECT count(*) FROM emails WHERE idempotency_key = $1 AND status = 'sent'`, key); n != 1 {
		o.t.Errorf("e-mail %s is not sent in the outbox", key)
	}
}

// providerSwitch sits in front of the fake SendGrid. While off it answers 503, which the
// outbox retries, and forwards nothing.
type providerSwitch struct {
	srv *httptest.Server

	mu       sync.Mutex
	isOff    bool
	inflight int
}

func newProviderSwitch(t *testing.T, target string) *providerSwitch {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &providerSwitch{}
	fwd := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if p.isOff {
			p.mu.Unlock()
			http.Error(w, "switched off by the test", http.StatusServiceUnavailable)
			return
		}
		p.inflight++
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.inflight--
			p.mu.Unlock()
		}()
		fwd.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *providerSwitch) off() { p.mu.Lock(); p.isOff = true; p.mu.Unlock() }
func (p *providerSwitch) on()  { p.mu.Lock(); p.isOff = false; p.mu.Unlock() }

func (p *providerSwitch) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight
}
