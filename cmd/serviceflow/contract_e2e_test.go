package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// post sends a JSON POST as user without touching t, for use from other goroutines.
func (s *stack) post(user, path string, body any) (int, string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequest("POST", s.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(resp.Body)
	return resp.StatusCode, raw.String(), nil
}

// tasksOf lists every task (open, completed, cancelled) of a process at step, as admin.
func (s *stack) tasksOf(processID, step string) []map[string]any {
	s.t.Helper()
	var out []map[string]any
	for _, status := range []string{"open", "completed", "cancelled"} {
		page := s.must(200, "admin", "GET", "/api/v1/tasks?scope=all&limit=200&status="+status, nil)
		for _, it := range items(page) {
			if it["process_id"] == processID && it["step"] == step {
				out = append(out, it)
			}
		}
	}
	return out
}

// mailsTo returns the e-mails to user whose subject contains s.
func (s *stack) mailsTo(user, subject string) []sentMail {
	return s.sg.find(func(m sentMail) bool {
		return m.To == user+"@serviceflow.example" && strings.Contains(m.Subject, subject)
	})
}

// TestContractEndToEnd runs a special contract from submission to its ledger entry over
// HTTP, with the four department countersigns made at the same moment by four users,
// then a standard contract through a rejection, a revision and approval.
func TestContractEndToEnd(t *testing.T) {
	s := startStack(t, nil)
	year := time.Now().UTC().Year()

	c := s.must(201, "alice", "POST", "/api/v1/contracts", map[string]any{
		"customer_id": "cus_DEMO_NORTHWIND", "title": "Custom spindle line",
		"amount":        map[string]any{"amount": "320000.00", "currency": "CNY"},
		"delivery_date": "2027-03-31", "payment_terms": "30% advance, 70% on acceptance",
		"requirements": map[string]any{"custom_spec": true},
	})
	id, _ := c["id"].(string)
	if !strings.HasPrefix(id, "ctr_") || c["class"] != "special" || c["status"] != "in_review" || c["revision"] != float64(1) {
		t.Fatalf("unexpected 201 body: %v", c["_raw"])
	}

	// The four countersigns, each by its department, at once.
	signers := map[string]string{"grace": "countersign_production", "frank": "countersign_quality",
		"heidi": "countersign_purchasing", "erin": "countersign_finance"}
	paths := map[string]string{}
	for user, step := range signers {
		paths[user] = "/api/v1/tasks/" + s.findTask(user, "group", id, step)["id"].(string) + "/complete"
	}
	if code, _ := s.call("alice", "POST", paths["grace"], map[string]any{"action": "approve"}); code != 404 {
		t.Fatalf("the submitter completing a countersign: %d, want 404", code)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]string{}
	for user, path := range paths {
		wg.Go(func() {
			<-start
			code, body, err := s.post(user, path, map[string]any{"action": "approve", "comment": "ok from " + user,
				"data": map[string]any{"opinion": user + " can do it"}})
			mu.Lock()
			defer mu.Unlock()
			results[user] = fmt.Sprintf("%d %v %s", code, err, body)
		})
	}
	close(start)
	wg.Wait()
	for user, r := range results {
		if !strings.HasPrefix(r, "200 <nil>") {
			t.Fatalf("%s countersigning: %s", user, r)
		}
	}

	ops := s.findTask("ivan", "group", id, "ops_review")
	s.must(200, "ivan", "POST", "/api/v1/tasks/"+ops["id"].(string)+"/complete", map[string]any{"action": "approve"})
	gm := s.findTask("judy", "group", id, "gm_approval")
	s.must(200, "judy", "POST", "/api/v1/tasks/"+gm["id"].(string)+"/complete", map[string]any{"action": "approve", "comment": "go"})

	var got map[string]any
	eventually(t, 30*time.Second, "the contract approved", func() bool {
		got = s.must(200, "alice", "GET", "/api/v1/contracts/"+id, nil)
		return got["status"] == "approved"
	})
	ledgerNo := fmt.Sprintf("HT-%d-0001", year)
	if got["ledger_no"] != ledgerNo || fmt.Sprint(got["current_steps"]) != "[]" {
		t.Fatalf("approved contract: %v", got["_raw"])
	}
	record, _ := got["review_record"].([]any)
	if len(record) != 6 {
		t.Fatalf("review record of %d entries: %v", len(record), got["_raw"])
	}
	for _, r := range record {
		if e := r.(map[string]any); e["decision"] != "approve" || e["revision"] != float64(1) {
			t.Fatalf("review entry %v", e)
		}
	}
	if n := len(s.tasksOf(id, "ops_review")); n != 1 {
		t.Fatalf("%d ops_review tasks, want exactly 1", n)
	}
	ledger := s.must(200, "judy", "GET", "/api/v1/contracts?status=approved", nil)
	if l := items(ledger); len(l) != 1 || l[0]["id"] != id || l[0]["ledger_no"] != ledgerNo {
		t.Fatalf("ledger: %v", ledger["_raw"])
	}

	// The submitter hears of the approval; every department of the route gets the terms.
	eventually(t, 30*time.Second, "approval and department e-mails", func() bool {
		if len(s.mailsTo("alice", "Contract approved")) != 1 {
			return false
		}
		for _, u := range []string{"grace", "frank", "heidi", "erin", "ivan", "judy"} {
			if len(s.mailsTo(u, "["+ledgerNo+"] Approved contract")) != 1 {
				return false
			}
		}
		return true
	})
	notice := s.mailsTo("grace", "["+ledgerNo+"]")[0]
	if !strings.Contains(notice.Text, "custom specification") || !strings.Contains(notice.Text, "2027-03-31") ||
		!strings.Contains(notice.HTML, "custom specification") {
		t.Fatalf("department notice lacks the requirements:\n%s", notice.Text)
	}
	if len(s.mailsTo("bob", ledgerNo)) != 0 {
		t.Fatal("the sales manager, not on this route, got a department notice")
	}
	if code, _ := s.call("alice", "POST", "/api/v1/contracts/"+id+"/withdraw", map[string]any{}); code != 409 {
		t.Fatalf("withdrawing an approved contract: %d, want 409", code)
	}
	if d := s.sg.duplicates(); len(d) > 0 {
		t.Fatalf("e-mails sent twice: %v", d)
	}
	s.recordHistory("contract/"+id, "contract_special_approved")

	// --- a standard contract: rejected, revised, approved ---
	c = s.must(201, "alice", "POST", "/api/v1/contracts", map[string]any{
		"customer_id": "cus_DEMO_CONTOSO", "title": "Spare parts 2027",
		"amount":        map[string]any{"amount": "48000.00", "currency": "CNY"},
		"delivery_date": "2027-01-15", "payment_terms": "net 30",
	})
	std, _ := c["id"].(string)
	if c["class"] != "standard" || fmt.Sprint(c["route"]) != "[review]" {
		t.Fatalf("standard contract: %v", c["_raw"])
	}
	if code, _ := s.call("alice", "POST", "/api/v1/contracts/"+std+"/revisions", map[string]any{"changes": map[string]any{}}); code != 409 {
		t.Fatalf("revising a contract under review: %d, want 409", code)
	}
	rv := s.findTask("bob", "group", std, "review")
	s.must(200, "bob", "POST", "/api/v1/tasks/"+rv["id"].(string)+"/complete",
		map[string]any{"action": "reject", "comment": "Payment terms must be net 45 for Contoso."})
	eventually(t, 30*time.Second, "changes requested, with the comment e-mailed", func() bool {
		got = s.must(200, "alice", "GET", "/api/v1/contracts/"+std, nil)
		m := s.mailsTo("alice", "Changes requested")
		return got["status"] == "changes_requested" && len(m) == 1 && strings.Contains(m[0].Text, "net 45 for Contoso")
	})
	if code, out := s.call("alice", "POST", "/api/v1/contracts/"+std+"/revisions",
		map[string]any{"changes": map[string]any{"amount": map[string]any{"amount": "1", "currency": "JPY"}}}); code != 422 ||
		!strings.Contains(fmt.Sprint(out["errors"]), "changes.amount.currency") {
		t.Fatalf("revision in an unknown currency: %d %v", code, out["_raw"])
	}
	rev := s.must(200, "alice", "POST", "/api/v1/contracts/"+std+"/revisions",
		map[string]any{"changes": map[string]any{"payment_terms": "net 45"}, "comment": "as asked"})
	if rev["revision"] != float64(2) || rev["status"] != "in_review" {
		t.Fatalf("revision: %v", rev["_raw"])
	}
	rv = s.findTask("bob", "group", std, "review")
	if rv["round"] != nil && rv["round"] != float64(2) {
		t.Fatalf("review task of revision 2: %v", rv)
	}
	s.must(200, "bob", "POST", "/api/v1/tasks/"+rv["id"].(string)+"/complete", map[string]any{"action": "approve"})
	eventually(t, 30*time.Second, "the revised contract approved", func() bool {
		got = s.must(200, "alice", "GET", "/api/v1/contracts/"+std, nil)
		return got["status"] == "approved"
	})
	record, _ = got["review_record"].([]any)
	if got["ledger_no"] != fmt.Sprintf("HT-%d-0002", year) || got["revision"] != float64(2) || len(record) != 2 {
		t.Fatalf("revised contract: %v", got["_raw"])
	}
	if terms, _ := got["terms"].(map[string]any); terms["payment_terms"] != "net 45" {
		t.Fatalf("terms in force: %v", got["terms"])
	}
	s.recordHistory("contract/"+std, "contract_standard_rejected_revised_approved")

	// --- an amendment of the approved contract: reviewed again, then in force ---
	amendPath := "/api/v1/contracts/" + std + "/amendments"
	if code, out := s.call("alice", "POST", amendPath, map[string]any{"changes": map[string]any{"payment_terms": "net 60"}}); code != 422 ||
		!strings.Contains(fmt.Sprint(out["errors"]), "reason") {
		t.Fatalf("an amendment without a reason: %d %v", code, out["_raw"])
	}
	am := s.must(200, "alice", "POST", amendPath,
		map[string]any{"changes": map[string]any{"payment_terms": "net 60"}, "reason": "Contoso asked for longer terms"})
	amendment, _ := am["amendment"].(map[string]any)
	if am["status"] != "amendment_review" || amendment == nil || amendment["revision"] != float64(3) ||
		amendment["requested_by"] != "alice" || am["ledger_no"] != got["ledger_no"] {
		t.Fatalf("amendment requested: %v", am["_raw"])
	}
	if terms, _ := am["terms"].(map[string]any); terms["payment_terms"] != "net 45" {
		t.Fatalf("the terms in force changed before the amendment was approved: %v", am["terms"])
	}
	if code, _ := s.call("alice", "POST", amendPath, map[string]any{"changes": map[string]any{"payment_terms": "net 90"}, "reason": "again"}); code != 409 {
		t.Fatalf("a second amendment while one is under review: %d, want 409", code)
	}
	rv = s.findTask("bob", "group", std, "review")
	s.must(200, "bob", "POST", "/api/v1/tasks/"+rv["id"].(string)+"/complete", map[string]any{"action": "approve"})
	eventually(t, 30*time.Second, "the amendment in force, and its e-mail", func() bool {
		got = s.must(200, "alice", "GET", "/api/v1/contracts/"+std, nil)
		return got["status"] == "approved" && len(s.mailsTo("alice", "Amendment approved")) == 1
	})
	record, _ = got["review_record"].([]any)
	if terms, _ := got["terms"].(map[string]any); terms["payment_terms"] != "net 60" || got["revision"] != float64(3) ||
		got["amendment"] != nil || got["ledger_no"] != fmt.Sprintf("HT-%d-0002", year) || len(record) != 3 {
		t.Fatalf("amended contract: %v", got["_raw"])
	}
	if d := s.sg.duplicates(); len(d) > 0 {
		t.Fatalf("e-mails sent twice: %v", d)
	}
}
