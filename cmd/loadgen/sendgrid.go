package main

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/serviceflow/serviceflow/internal/sendgridtest"
)

// fakeSendGrid is the provider of the survey scenario: a SendGrid v3 mail/send endpoint
// on 127.0.0.1 that checks each payload as the end-to-end tests' fake does, accepts it
// (202) and keeps, by idempotency key, the customer-link token the e-mail carries. The
// scenario answers the survey through those tokens, which also proves each invitation
// was delivered.
type fakeSendGrid struct {
	url, apiKey string
	srv         *http.Server

	mu       sync.Mutex
	tokens   map[string]string // idempotency key → token of the /c/{token} link in the e-mail
	accepted int               // requests accepted, repeats included
	repeats  int               // requests for a key already accepted
	invalid  []string          // what was wrong with the payloads refused (at most 10)
	refused  int
	first    time.Time
	last     time.Time
}

// linkToken finds a customer link's token in an e-mail's text.
var linkToken = regexp.MustCompile(`/c/([0-9a-f]{64})\b`)

func startFakeSendGrid() (*fakeSendGrid, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeSendGrid{url: "http://" + ln.Addr().String(), apiKey: "SG.loadgen-fake", tokens: map[string]string{}}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.handle), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *fakeSendGrid) Close() { _ = f.srv.Close() }

// env points a serviceflow process at the fake.
func (f *fakeSendGrid) env() []string {
	return []string{"SENDGRID_API_KEY=" + f.apiKey, "SENDGRID_API_URL=" + f.url}
}

func (f *fakeSendGrid) handle(w http.ResponseWriter, r *http.Request) {
	if sendgridtest.StrayHTTP2(r) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	key, token, problem := f.check(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if problem != "" {
		f.refused++
		if len(f.invalid) < 10 {
			f.invalid = append(f.invalid, problem)
		}
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	if f.first.IsZero() {
		f.first = now
	}
	f.last = now
	f.accepted++
	if _, ok := f.tokens[key]; ok {
		f.repeats++
	}
	f.tokens[key] = token
	w.Header().Set("X-Message-Id", fmt.Sprintf("loadgen-%d", f.accepted))
	w.WriteHeader(http.StatusAccepted)
}

// check validates a mail/send request and returns its idempotency key and link token,
// or what is wrong with it.
func (f *fakeSendGrid) check(r *http.Request) (key, token, problem string) {
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		return "", "", fmt.Sprintf("unexpected %s %s", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+f.apiKey {
		return "", "", "Authorization " + got
	}
	p, err := sendgridtest.DecodeMailSend(r.Body)
	if err != nil {
		return "", "", "bad JSON: " + err.Error()
	}
	var to, text, html string
	if len(p.Personalizations) == 1 && len(p.Personalizations[0].To) == 1 {
		to = p.Personalizations[0].To[0].Email
		key = p.Personalizations[0].CustomArgs["idempotency_key"]
	}
	if key == "" {
		key = p.CustomArgs["idempotency_key"]
	}
	for _, c := range p.Content {
		switch c.Type {
		case "text/plain":
			text = c.Value
		case "text/html":
			html = c.Value
		}
	}
	var problems []string
	if p.From.Email == "" {
		problems = append(problems, "no from")
	}
	if to == "" {
		problems = append(problems, "want exactly one personalization with one recipient")
	}
	if strings.TrimSpace(p.Subject) == "" {
		problems = append(problems, "no subject")
	}
	if text == "" || html == "" {
		problems = append(problems, "want text/plain and text/html content")
	}
	if len(p.Content) > 0 && p.Content[0].Type != "text/plain" {
		problems = append(problems, "text/plain must come first")
	}
	if key == "" {
		problems = append(problems, "no idempotency_key custom arg")
	}
	if m := linkToken.FindStringSubmatch(text); m != nil {
		token = m[1]
		if !strings.Contains(html, "/c/"+token) {
			problems = append(problems, "the HTML part lacks the text part's link")
		}
	}
	if len(problems) > 0 {
		return "", "", fmt.Sprintf("%s (to %s, key %s)", strings.Join(problems, "; "), to, key)
	}
	return key, token, ""
}

// delivered counts the e-mails accepted under keys of prefix + one more segment (an
// invitation's, not its reminders' <key>/reminder/N), with the times of the first and
// the last acceptance of any e-mail.
func (f *fakeSendGrid) delivered(prefix string) (n int, first, last time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.tokens {
		if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(rest, "/") {
			n++
		}
	}
	return n, f.first, f.last
}

// tokensOf returns the tokens of the e-mails accepted under keys of prefix + one more
// segment, by that segment (for an invitation, the customer id).
func (f *fakeSendGrid) tokensOf(prefix string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, t := range f.tokens {
		if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(rest, "/") {
			out[rest] = t
		}
	}
	return out
}

// stats returns the requests accepted, the repeats among them, and those refused with
// the first reasons.
func (f *fakeSendGrid) stats() (accepted, repeats, refused int, reasons []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted, f.repeats, f.refused, append([]string(nil), f.invalid...)
}
