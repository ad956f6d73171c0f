package web

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/api"
)

// stream opens /events as cookie's user on srv and returns its lines.
func stream(t *testing.T, srv *httptest.Server, cookieName, cookie string) (<-chan string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines, resp
}

// nextLine returns the next line of a stream, failing after 10 s.
func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line within 10 s")
	}
	return ""
}

// nextEvent returns the data of the next "change" event on lines.
func nextEvent(t *testing.T, lines <-chan string) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	event := false
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			if l == "event: change" {
				event = true
			} else if d, ok := strings.CutPrefix(l, "data: "); ok && event {
				return d
			}
		case <-timeout:
			t.Fatal("no event within 5 s")
		}
	}
}

func TestEvents(t *testing.T) {
	const dbTimeout = 300 * time.Millisecond
	e := newEnvAPI(t, Config{}, func(c *api.Config) { c.DBTimeout = dbTimeout })
	// The server closes last: Close waits for the open streams, which end with Run. (The
	// other order turned any failure below into a hang.)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { e.app.Run(ctx); close(ran) }()
	defer func() { cancel(); <-ran }()
	select {
	case <-e.app.hub.Listening():
	case <-time.After(30 * time.Second):
		t.Fatal("the hub did not listen within 30 s")
	}

	if _, resp := stream(t, srv, e.app.cookie, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("signed out: %d", resp.StatusCode)
	}
	// Sessions straight from the store: signing in through the handler, argon2id and
	// all, does not always fit in the short request deadline on a busy machine.
	session := func(user string) string {
		t.Helper()
		tok, err := e.st.CreateWebSession(context.Background(), user, e.clock.now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	carolLines, resp := stream(t, srv, e.app.cookie, session("carol"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" ||
		resp.Header.Get("Content-Security-Policy") != ContentSecurityPolicy {
		t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
	}
	daveLines, _ := stream(t, srv, e.app.cookie, session("dave"))
	if l := nextLine(t, carolLines); l != "retry: 2000" {
		t.Fatalf("first line %q", l)
	}
	nextLine(t, daveLines)

	// Past the API's request deadline (DBTimeout) the stream still works.
	time.Sleep(2 * dbTimeout)
	now := e.clock.now()
	e.insertTask(taskRow{id: "new1", created: now, due: now.Add(time.Hour)})
	if d := nextEvent(t, carolLines); d != "tasks" {
		t.Fatalf("carol after a task insert: %q", d)
	}
	if d := nextEvent(t, daveLines); d != "tasks" {
		t.Fatalf("dave after a task insert: %q", d)
	}
	// An escalation reaches the manager only: carol's next event is the task update.
	e.insertEscalation("esc_live", "", "invoice/INV-9", 1, now, "dave")
	if d := nextEvent(t, daveLines); d != "escalations" {
		t.Fatalf("dave after an escalation: %q", d)
	}
	if _, err := e.st.Pool.Exec(ctx, `UPDATE tasks SET status = 'completed' WHERE id = 'new1'`); err != nil {
		t.Fatal(err)
	}
	if d := nextEvent(t, carolLines); d != "tasks" {
		t.Fatalf("carol after an escalation and a task update: %q, want tasks", d)
	}

	// Ending Run ends the streams (as at shutdown).
	cancel()
	<-ran
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-carolLines:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream outlived Run")
		}
	}
}
