package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func TestCustomers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := map[string]any{"name": "Umbrella", "email": "ops@umbrella.test", "tier": "B",
		"credit_limit": map[string]string{"amount": "50000.5", "currency": "CNY"}}

	m := e.do("POST", "/api/v1/customers", "alice", body).want(http.StatusCreated).json()
	id, _ := m["id"].(string)
	if !strings.HasPrefix(id, "cus_") || m["owner"] != "alice" || m["locale"] != "en" {
		t.Fatalf("created: %v", m)
	}
	if cl := m["credit_limit"].(map[string]any); cl["amount"] != "50000.50" || cl["currency"] != "CNY" {
		t.Fatalf("credit limit: %v", cl)
	}
	body["owner"] = "aaron"
	e.do("POST", "/api/v1/customers", "alice", body).problem(http.StatusForbidden)
	e.do("POST", "/api/v1/customers", "erin", body).problem(http.StatusForbidden)
	body["owner"] = "carol" // not a sales rep
	if p := e.do("POST", "/api/v1/customers", "bob", body).problem(http.StatusUnprocessableEntity); !slices.Equal(fieldNames(p), []string{"owner"}) {
		t.Fatalf("owner check: %+v", p)
	}
	body["owner"] = "aaron"
	e.do("POST", "/api/v1/customers", "bob", body).want(http.StatusCreated)

	// Idempotency on customers too.
	k := []string{"Idempotency-Key", "cust-1"}
	a := e.do("POST", "/api/v1/customers", "bob", body, k...).want(http.StatusCreated).json()
	b := e.do("POST", "/api/v1/customers", "bob", body, k...).want(http.StatusCreated).json()
	if a["id"] != b["id"] {
		t.Fatalf("replay gave another id: %v vs %v", a["id"], b["id"])
	}

	ids, _ := e.do("GET", "/api/v1/customers", "alice", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{id, "cus_acme"}) { // id order; ULIDs sort before "acme"
		t.Fatalf("alice sees %v", ids)
	}
	ids, _ = e.do("GET", "/api/v1/customers?owner=aaron", "alice", nil).want(http.StatusOK).items()
	if len(ids) != 0 {
		t.Fatalf("alice sees aaron's: %v", ids)
	}
	all, _ := e.do("GET", "/api/v1/customers?limit=200", "carol", nil).want(http.StatusOK).items()
	if len(all) != 5 {
		t.Fatalf("carol sees %d customers: %v", len(all), all)
	}
	var walked []string
	cursor := ""
	for range 10 {
		page, next := e.do("GET", "/api/v1/customers?limit=2&cursor="+cursor, "dave", nil).want(http.StatusOK).items()
		walked = append(walked, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(walked, all) {
		t.Fatalf("pages %v != %v", walked, all)
	}
	e.do("GET", "/api/v1/customers", "erin", nil).problem(http.StatusForbidden)
	e.do("GET", "/api/v1/customers/cus_globex", "alice", nil).problem(http.StatusNotFound)
	e.do("GET", "/api/v1/customers/cus_globex", "aaron", nil).want(http.StatusOK)
	e.do("GET", "/api/v1/customers/cus_nope", "admin", nil).problem(http.StatusNotFound)
}

func complaintBody() map[string]any {
	return map[string]any{"customer_id": "cus_acme", "channel": "phone", "subject": "Pump leaks",
		"description": "The pump delivered last week leaks oil.", "category": "product"}
}

func TestCreateComplaint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := time.Now().UTC()
	r := e.do("POST", "/api/v1/complaints", "carol", complaintBody(), "Idempotency-Key", "k1").want(http.StatusCreated)
	m := r.json()
	id, _ := m["id"].(string)
	if !strings.HasPrefix(id, "cmp_") || m["status"] != "received" || m["severity"] != "normal" || m["category"] != "product" {
		t.Fatalf("created: %v", m)
	}
	if r.Header().Get("Location") != "/api/v1/complaints/"+id {
		t.Fatalf("location %q", r.Header().Get("Location"))
	}
	created, _ := time.Parse(time.RFC3339Nano, m["created_at"].(string))
	due, _ := time.Parse(time.RFC3339Nano, m["response_due_at"].(string))
	if created.Before(before.Add(-time.Second)) || due.Sub(created) != 12*time.Hour { // tier A
		t.Fatalf("created %v due %v", created, due)
	}

	if e.tc.startCount() != 1 {
		t.Fatalf("%d starts", e.tc.startCount())
	}
	sc := e.tc.starts[0]
	if sc.opts.ID != "complaint/"+id || sc.opts.TaskQueue != domain.TaskQueue || sc.workflow != "ComplaintWorkflow" ||
		sc.opts.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
		t.Fatalf("start options: %+v %v", sc.opts, sc.workflow)
	}
	in := sc.args[0].(domain.ComplaintInput)
	if in.ID != id || in.CustomerEmail != "buyer@acme.test" || in.CustomerTier != "A" || in.OwnerRep != "alice" ||
		in.Locale != "en" || in.FiledBy != "carol" || in.Policy.ResponseSLA != 24*time.Hour || in.ReceivedAt.Location() != time.UTC {
		t.Fatalf("input: %+v", in)
	}

	// Visible right away, with an (empty) timeline.
	g := e.do("GET", "/api/v1/complaints/"+id, "carol", nil).want(http.StatusOK).json()
	if g["status"] != "received" || g["customer_id"] != "cus_acme" || g["assignee"] != nil || g["escalation_level"] != 0.0 {
		t.Fatalf("get: %v", g)
	}
	if tl, ok := g["timeline"].([]any); !ok || len(tl) != 0 {
		t.Fatalf("timeline: %v", g["timeline"])
	}

	// Same key and body: the same response, nothing new started.
	r2 := e.do("POST", "/api/v1/complaints", "carol", complaintBody(), "Idempotency-Key", "k1").want(http.StatusCreated)
	if r2.Body.String() != r.Body.String() || r2.Header().Get("Idempotent-Replayed") != "true" || e.tc.startCount() != 1 {
		t.Fatalf("replay: %s (starts %d)", r2.Body.String(), e.tc.startCount())
	}
	// Same key, another body: 409. Another user's key space is separate.
	other := complaintBody()
	other["subject"] = "Another subject"
	if p := e.do("POST", "/api/v1/complaints", "carol", other, "Idempotency-Key", "k1").problem(http.StatusConflict); p.Type != typeIdempotencyKey {
		t.Fatalf("mismatch: %+v", p)
	}
	e.do("POST", "/api/v1/complaints", "cathy", complaintBody(), "Idempotency-Key", "k1").want(http.StatusCreated)
	if e.tc.startCount() != 2 {
		t.Fatalf("cathy's key should start a new complaint: %d", e.tc.startCount())
	}

	// Urgent: a 1 h window. Without a key every POST creates.
	urgent := complaintBody()
	urgent["severity"] = "urgent"
	m = e.do("POST", "/api/v1/complaints", "dave", urgent).want(http.StatusCreated).json()
	created, _ = time.Parse(time.RFC3339Nano, m["created_at"].(string))
	due, _ = time.Parse(time.RFC3339Nano, m["response_due_at"].(string))
	if due.Sub(created) != time.Hour {
		t.Fatalf("urgent window %v", due.Sub(created))
	}
}

func TestCreateComplaintConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tc.startDelay = 100 * time.Millisecond
	var wg sync.WaitGroup
	ids := make([]string, 6)
	codes := make([]int, 6)
	for i := range ids {
		wg.Go(func() {
			r := e.do("POST", "/api/v1/complaints", "carol", complaintBody(), "Idempotency-Key", "same")
			codes[i] = r.Code
			if r.Code == http.StatusCreated {
				ids[i], _ = r.json()["id"].(string)
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if codes[i] != http.StatusCreated || ids[i] != ids[0] {
			t.Fatalf("request %d: %d %q (first %q)", i, codes[i], ids[i], ids[0])
		}
	}
	if n := e.tc.startCount(); n != 1 {
		t.Fatalf("%d workflow starts for one key", n)
	}
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM complaints`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d complaints (%v)", n, err)
	}
}

func TestCreateComplaintStartFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tc.startErr = errors.New("temporal unavailable")
	e.do("POST", "/api/v1/complaints", "carol", complaintBody(), "Idempotency-Key", "k").problem(http.StatusServiceUnavailable)
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM complaints`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d complaints after a failed start (%v)", n, err)
	}
	firstID := e.tc.starts[0].opts.ID
	// The retry with the same key resumes with the same business id.
	e.tc.mu.Lock()
	e.tc.startErr = nil
	e.tc.mu.Unlock()
	m := e.do("POST", "/api/v1/complaints", "carol", complaintBody(), "Idempotency-Key", "k").want(http.StatusCreated).json()
	if "complaint/"+m["id"].(string) != firstID || e.tc.starts[1].opts.ID != firstID {
		t.Fatalf("retry used another id: %v vs %s", m["id"], firstID)
	}
}

func TestComplaintValidationAndVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := complaintBody()
	b["subject"] = strings.Repeat("s", 201)
	b["description"] = strings.Repeat("d", 10001)
	b["channel"] = "fax"
	b["severity"] = "high"
	if p := e.do("POST", "/api/v1/complaints", "carol", b).problem(http.StatusUnprocessableEntity); !slices.Equal(fieldNames(p),
		[]string{"channel", "subject", "description", "severity"}) {
		t.Fatalf("validation: %+v", p)
	}
	e.do("POST", "/api/v1/complaints", "carol", map[string]any{"customer_id": 7}).problem(http.StatusUnprocessableEntity)
	b = complaintBody()
	b["customer_id"] = "cus_nope"
	if p := e.do("POST", "/api/v1/complaints", "carol", b).problem(http.StatusUnprocessableEntity); !slices.Equal(fieldNames(p), []string{"customer_id"}) {
		t.Fatalf("unknown customer: %+v", p)
	}
	// A sales rep files for their own customers only; quality may not file at all.
	b["customer_id"] = "cus_globex"
	e.do("POST", "/api/v1/complaints", "alice", b).problem(http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/complaints", "frank", complaintBody()).problem(http.StatusForbidden)
	if e.tc.startCount() != 0 {
		t.Fatalf("invalid requests started %d workflows", e.tc.startCount())
	}
	acme := e.do("POST", "/api/v1/complaints", "alice", complaintBody()).want(http.StatusCreated).json()["id"].(string)
	globex := e.do("POST", "/api/v1/complaints", "aaron", b).want(http.StatusCreated).json()["id"].(string)

	e.do("GET", "/api/v1/complaints/"+acme, "alice", nil).want(http.StatusOK)
	e.do("GET", "/api/v1/complaints/"+acme, "aaron", nil).problem(http.StatusNotFound)
	e.do("GET", "/api/v1/complaints/"+acme, "frank", nil).problem(http.StatusNotFound)
	e.do("GET", "/api/v1/complaints/"+acme, "judy", nil).want(http.StatusOK)
	e.do("GET", "/api/v1/complaints/cmp_missing", "admin", nil).problem(http.StatusNotFound)

	ids, _ := e.do("GET", "/api/v1/complaints", "aaron", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{globex}) {
		t.Fatalf("aaron lists %v", ids)
	}
	ids, _ = e.do("GET", "/api/v1/complaints", "carol", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{globex, acme}) { // newest first
		t.Fatalf("carol lists %v", ids)
	}
	ids, next := e.do("GET", "/api/v1/complaints?limit=1", "carol", nil).want(http.StatusOK).items()
	ids2, next2 := e.do("GET", "/api/v1/complaints?limit=1&cursor="+next, "carol", nil).want(http.StatusOK).items()
	if !slices.Equal(append(ids, ids2...), []string{globex, acme}) || next2 != "" {
		t.Fatalf("pages %v %v next %q", ids, ids2, next2)
	}
	ids, _ = e.do("GET", "/api/v1/complaints?customer_id=cus_acme&status=received", "dave", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{acme}) {
		t.Fatalf("filtered %v", ids)
	}
	ids, _ = e.do("GET", "/api/v1/complaints?status=closed", "dave", nil).want(http.StatusOK).items()
	if len(ids) != 0 {
		t.Fatalf("closed %v", ids)
	}
	e.do("GET", "/api/v1/complaints?status=bogus", "dave", nil).problem(http.StatusUnprocessableEntity)
	e.do("GET", "/api/v1/complaints", "frank", nil).problem(http.StatusForbidden)

	// The timeline shows the process's audit events.
	if err := store.InsertAudit(context.Background(), e.st.Pool, domain.AuditInput{Key: "x/1", Process: "complaint",
		ProcessID: acme, Actor: "system", Event: "received", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tl := e.do("GET", "/api/v1/complaints/"+acme, "carol", nil).want(http.StatusOK).json()["timeline"].([]any)
	if len(tl) != 1 || tl[0].(map[string]any)["event"] != "received" || tl[0].(map[string]any)["actor"] != "system" {
		t.Fatalf("timeline %v", tl)
	}
}
