package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// completion is the answer to a task completion made in the background.
type completion struct {
	code int
	body string
	err  error
}

// completeWhileHeld completes a task over HTTP while the fake SendGrid holds every
// e-mail that match selects, and checks that the 200 arrives while the e-mail the
// completion caused is still held: completing a task never waits for the mail
// provider. It returns the completion's body and the held e-mail's idempotency key,
// and releases the provider before it returns.
func (s *stack) completeWhileHeld(user, taskID string, body map[string]any, match func(sentMail) bool) (string, string) {
	s.t.Helper()
	arrived, release := s.sg.hold(match)
	defer release()
	done := make(chan completion, 1)
	go func() {
		code, out, err := s.post(user, "/api/v1/tasks/"+taskID+"/complete", body)
		done <- completion{code, out, err}
	}()
	var (
		res  *completion
		held *sentMail
	)
	// Generous: the machine is shared and the race detector is on. A completion that
	// waited for the provider would not answer before release, whatever the timeout.
	timeout := time.After(90 * time.Second)
	for res == nil || held == nil {
		select {
		case c := <-done:
			res = &c
		case m := <-arrived:
			held = &m
		case <-timeout:
			s.t.Fatalf("after 90 s: completion answered = %v, e-mail at the provider = %v (a completion must not wait for the provider)",
				res != nil, held != nil)
		}
	}
	if res.err != nil || res.code != 200 {
		s.t.Fatalf("completing %s: %d %v %s", taskID, res.code, res.err, res.body)
	}
	select {
	case m := <-arrived:
		s.t.Fatalf("a second request for a held e-mail while the first is held: %s", m.Key)
	default:
	}
	if n := len(s.sg.find(func(m sentMail) bool { return m.Key == held.Key })); n != 0 {
		s.t.Fatalf("%s accepted %d times while held", held.Key, n)
	}
	return res.body, held.Key
}

// sentOnce waits until the provider has accepted key, then checks it stays accepted
// exactly once.
func (s *stack) sentOnce(key string) sentMail {
	s.t.Helper()
	byKey := func() []sentMail { return s.sg.find(func(m sentMail) bool { return m.Key == key }) }
	eventually(s.t, 60*time.Second, key+" sent once released", func() bool { return len(byKey()) > 0 })
	time.Sleep(2 * time.Second) // a retry, if there were one, would have come by now
	got := byKey()
	if len(got) != 1 {
		s.t.Fatalf("%s sent %d times, want exactly once", key, len(got))
	}
	return got[0]
}

// TestTaskCompletionDoesNotWaitForTheMailProvider completes a contract review task and a
// complaint task over HTTP while SendGrid holds the e-mail each completion causes: both
// answer 200 while the provider still holds the request, and once it is released the
// e-mail is sent exactly once.
func TestTaskCompletionDoesNotWaitForTheMailProvider(t *testing.T) {
	s := startStack(t, nil)

	// A contract: the rejection's notice to the submitter.
	c := s.must(201, "alice", "POST", "/api/v1/contracts", map[string]any{
		"customer_id": "cus_DEMO_CONTOSO", "title": "Held notice",
		"amount":        map[string]any{"amount": "48000.00", "currency": "CNY"},
		"delivery_date": "2027-01-15", "payment_terms": "net 30",
	})
	ctr, _ := c["id"].(string)
	rv := s.findTask("bob", "group", ctr, "review")
	body, key := s.completeWhileHeld("bob", rv["id"].(string),
		map[string]any{"action": "reject", "comment": "Net 45, please."},
		func(m sentMail) bool {
			return m.To == "alice@serviceflow.example" && strings.Contains(m.Subject, "Changes requested")
		})
	if !strings.Contains(body, `"process_status":"changes_requested"`) {
		t.Fatalf("rejection answered %s", body)
	}
	if want := fmt.Sprintf("contract/%s/changes_requested/1/alice", ctr); key != want {
		t.Fatalf("held %q, want %q", key, want)
	}
	if m := s.sentOnce(key); !strings.Contains(m.Text, "Net 45, please.") {
		t.Fatalf("the notice lacks the comment:\n%s", m.Text)
	}

	// A complaint: the first response to the customer.
	const customerEmail = "service@northwind.example"
	cmp := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": "cus_DEMO_NORTHWIND", "channel": "email", "subject": "Held response",
		"description": "The coolant pump is loud.",
	})
	id, _ := cmp["id"].(string)
	ev := s.findTask("carol", "group", id, "evaluate")
	s.must(200, "carol", "POST", "/api/v1/tasks/"+ev["id"].(string)+"/complete",
		map[string]any{"action": "accept", "data": map[string]any{"category": "product", "severity": "normal"}})
	rp := s.findTask("carol", "mine", id, "respond")
	const message = "A technician brings a new pump on Monday."
	body, key = s.completeWhileHeld("carol", rp["id"].(string),
		map[string]any{"action": "respond", "data": map[string]any{"message": message}},
		func(m sentMail) bool { return m.To == customerEmail && strings.Contains(m.Text, message) })
	if !strings.Contains(body, `"process_status":"resolving"`) {
		t.Fatalf("response answered %s", body)
	}
	if want := "complaint/" + id + "/response"; key != want {
		t.Fatalf("held %q, want %q", key, want)
	}
	s.sentOnce(key)
	if d := s.sg.duplicates(); len(d) > 0 {
		t.Fatalf("e-mails sent twice: %v", d)
	}
}
