package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/serviceflow/serviceflow/internal/sendgridtest"
)

// sentMail is one accepted v3 mail/send request.
type sentMail struct {
	From, To, Subject, Text, HTML, Key string
}

// fakeSendGrid is a local SendGrid v3 endpoint that checks every mail/send payload and
// records what it accepted. Any malformed payload fails the test.
type fakeSendGrid struct {
	t      *testing.T
	srv    *httptest.Server
	apiKey string
	mu     sync.Mutex
	mails  []sentMail
	held   *holdRule // nil: every valid request is answered at once
}

// holdRule keeps the requests it matches waiting, unanswered, until release is closed.
type holdRule struct {
	match   func(sentMail) bool
	arrived chan sentMail
	release chan struct{}
}

// hold makes the fake keep every valid request matching match waiting, unanswered and
// not yet accepted, until release is called (at the latest when the test ends); arrived
// receives each such request as it comes in. Released requests are accepted as usual.
func (f *fakeSendGrid) hold(match func(sentMail) bool) (arrived <-chan sentMail, release func()) {
	h := &holdRule{match: match, arrived: make(chan sentMail, 16), release: make(chan struct{})}
	f.mu.Lock()
	f.held = h
	f.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(h.release) }) }
	f.t.Cleanup(release)
	return h.arrived, release
}

func newFakeSendGrid(t *testing.T, apiKey string) *fakeSendGrid {
	f := &fakeSendGrid{t: t, apiKey: apiKey}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSendGrid) handle(w http.ResponseWriter, r *http.Request) {
	if sendgridtest.StrayHTTP2(r) {
		f.t.Logf("fake sendgrid: turned away an HTTP/2 preface from %s", r.RemoteAddr)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		f.t.Errorf("fake sendgrid: unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+f.apiKey {
		f.t.Errorf("fake sendgrid: Authorization = %q", got)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	p, err := sendgridtest.DecodeMailSend(r.Body)
	if err != nil {
		f.t.Errorf("fake sendgrid: bad JSON: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	m := sentMail{From: p.From.Email, Subject: p.Subject}
	if len(p.Personalizations) == 1 && len(p.Personalizations[0].To) == 1 {
		m.To = p.Personalizations[0].To[0].Email
		m.Key = p.Personalizations[0].CustomArgs["idempotency_key"]
	}
	if m.Key == "" {
		m.Key = p.CustomArgs["idempotency_key"]
	}
	for _, c := range p.Content {
		switch c.Type {
		case "text/plain":
			m.Text = c.Value
		case "text/html":
			m.HTML = c.Value
		}
	}
	var problems []string
	if m.From == "" {
		problems = append(problems, "no from")
	}
	if m.To == "" {
		problems = append(problems, "want exactly one personalization with one recipient")
	}
	if strings.TrimSpace(m.Subject) == "" {
		problems = append(problems, "no subject")
	}
	if m.Text == "" || m.HTML == "" {
		problems = append(problems, "want text/plain and text/html content")
	}
	if len(p.Content) > 0 && p.Content[0].Type != "text/plain" {
		problems = append(problems, "text/plain must come first")
	}
	if m.Key == "" {
		problems = append(problems, "no idempotency_key custom arg")
	}
	if len(problems) > 0 {
		f.t.Errorf("fake sendgrid: invalid payload (%s): %+v", strings.Join(problems, "; "), p)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	h := f.held
	f.mu.Unlock()
	if h != nil && h.match(m) {
		select {
		case h.arrived <- m:
		default:
			f.t.Errorf("fake sendgrid: more held requests than the test reads: %s", m.Key)
		}
		select {
		case <-h.release:
		case <-r.Context().Done(): // the sender gave up: nothing was accepted
			return
		}
	}
	f.mu.Lock()
	f.mails = append(f.mails, m)
	n := len(f.mails)
	f.mu.Unlock()
	w.Header().Set("X-Message-Id", fmt.Sprintf("fake-%d", n))
	w.WriteHeader(http.StatusAccepted)
}

// sent returns a copy of what was accepted.
func (f *fakeSendGrid) sent() []sentMail {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMail(nil), f.mails...)
}

// find returns the accepted mails matching pred.
func (f *fakeSendGrid) find(pred func(sentMail) bool) []sentMail {
	var out []sentMail
	for _, m := range f.sent() {
		if pred(m) {
			out = append(out, m)
		}
	}
	return out
}

// duplicates returns the idempotency keys accepted more than once.
func (f *fakeSendGrid) duplicates() []string {
	seen := map[string]int{}
	var dup []string
	for _, m := range f.sent() {
		seen[m.Key]++
		if seen[m.Key] == 2 {
			dup = append(dup, m.Key)
		}
	}
	return dup
}
