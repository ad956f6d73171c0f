package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// fuzzTargets are the endpoints that decode a JSON body, each with a caller allowed to
// send it and an object that exists, so that the body alone decides the answer.
var fuzzTargets = []struct{ path, user string }{
	{"/api/v1/customers", "admin"},
	{"/api/v1/complaints", "carol"},
	{"/api/v1/tasks/tsk_fuzz/complete", "carol"},
	{"/api/v1/tasks/tsk_fuzz/comments", "carol"},
	{"/api/v1/escalations/esc_fuzz/acknowledge", "judy"},
	{"/c/tok_fuzz", ""},
}

// FuzzRequestBody sends arbitrary bodies through the real router, handlers and database
// (with the fake Temporal client) to every endpoint that decodes JSON. Whatever the body,
// the answer is never a 5xx: it is a success only for a JSON object, 400 exactly when the
// body is not a JSON object, and every 4xx is a well-formed problem. Seeds, and inputs
// worth keeping, are in testdata/fuzz/FuzzRequestBody:
//
//	go test -run='^$' -fuzz=FuzzRequestBody -fuzztime=5m ./api/
func FuzzRequestBody(f *testing.F) {
	e := newServerEnv(f)
	ctx := context.Background()
	in := domain.ComplaintInput{ID: "cmp_fuzz", CustomerID: "cus_acme", Channel: "email", Subject: "Fuzz",
		Description: "x", Severity: "normal", FiledBy: "carol", ReceivedAt: time.Now()}
	if err := store.InsertComplaint(ctx, e.st.Pool, in, domain.ComplaintFollowingUp, time.Now().Add(time.Hour)); err != nil {
		f.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO tasks (id, workflow_id, process, process_id, step, title, candidate_groups, status, actions, due_at, created_at)
		 VALUES ('tsk_fuzz', 'complaint/cmp_fuzz', 'complaint', 'cmp_fuzz', 'evaluate', 'Fuzz', '{customer_service}', 'open', '{accept}', now(), now())`,
		`INSERT INTO escalations (id, workflow_id, process, process_id, subject, task_id, step, level, reason, targets, raised_at)
		 VALUES ('esc_fuzz', 'complaint/cmp_fuzz', 'complaint', 'cmp_fuzz', 'task/tsk_fuzz', 'tsk_fuzz', 'evaluate', 1, 'overdue', '{dave}', now())`,
	} {
		if _, err := e.st.Pool.Exec(ctx, q); err != nil {
			f.Fatal(err)
		}
	}
	insertLink(f, e, "complaint/cmp_fuzz/feedback/1", "tok_fuzz", "en", time.Now().Add(time.Hour), "")
	// A database slowed down by a loaded machine answers 503; that is not what this tests.
	e.srv.cfg.DBTimeout = time.Minute
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, target uint8, body []byte) {
		tg := fuzzTargets[int(target)%len(fuzzTargets)]
		req := httptest.NewRequest("POST", tg.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tg.user != "" {
			req.Header.Set("Authorization", "Bearer "+e.tokens[tg.user])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		e.tc.mu.Lock() // the fake client keeps every call: forget them
		e.tc.starts, e.tc.updates = nil, nil
		e.tc.mu.Unlock()

		trimmed := bytes.Trim(body, jsonSpace)
		isObject := json.Valid(trimmed) && len(trimmed) > 0 && trimmed[0] == '{'
		emptyOK := len(trimmed) == 0 && strings.HasSuffix(tg.path, "/acknowledge")
		switch {
		case w.Code >= 500:
			t.Fatalf("%s %q: %d %s", tg.path, body, w.Code, w.Body.String())
		case w.Code < 300 && !isObject && !emptyOK:
			t.Fatalf("%s %q is not a JSON object but got %d", tg.path, body, w.Code)
		case w.Code == http.StatusBadRequest && (isObject || emptyOK):
			t.Fatalf("%s %q is a JSON object but got 400: %s", tg.path, body, w.Body.String())
		case w.Code >= 400:
			checkProblemBody(t, w)
		default:
			if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %q: %d with %q %s", tg.path, body, w.Code, w.Header().Get("Content-Type"), w.Body.String())
			}
		}
	})
}

// checkProblemBody fails unless w holds a problem+json document of its status with type,
// title and detail and, for a 422, errors naming their fields.
func checkProblemBody(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var p struct {
		Type, Title, Detail string
		Status              int
		Errors              []domain.FieldError
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%d with content type %q: %s", w.Code, ct, w.Body.String())
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Type == "" || p.Title == "" || p.Detail == "" || p.Status != w.Code {
		t.Fatalf("bad problem (%v): %s", err, w.Body.String())
	}
	if w.Code == http.StatusUnprocessableEntity && len(p.Errors) == 0 {
		t.Fatalf("422 without errors: %s", w.Body.String())
	}
	for _, fe := range p.Errors {
		if fe.Field == "" || fe.Message == "" {
			t.Fatalf("an error without field or message: %s", w.Body.String())
		}
	}
}
