package sendgridtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An HTTP/2 connection preface reaches an HTTP/1 handler as a request, and StrayHTTP2
// tells it from a mail/send request.
func TestStrayHTTP2(t *testing.T) {
	stray := make(chan bool, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stray <- StrayHTTP2(r)
	}))
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/v3/mail/send", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if <-stray {
		t.Error("a mail/send POST counted as stray")
	}

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-stray:
		if !s {
			t.Error("an HTTP/2 preface did not count as stray")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never saw the preface")
	}
}
