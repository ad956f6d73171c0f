package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	r := e.do("GET", "/api/v1/me", "", nil)
	r.problem(http.StatusUnauthorized)
	if !strings.HasPrefix(r.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("401 without WWW-Authenticate: %v", r.Header())
	}
	e.do("GET", "/api/v1/me", "", nil, "Authorization", "Basic YWxpY2U6eA==").problem(http.StatusUnauthorized)
	e.do("GET", "/api/v1/me", "", nil, "Authorization", "Bearer").problem(http.StatusUnauthorized)
	r = e.do("GET", "/api/v1/me", "", nil, "Authorization", "Bearer not-a-token")
	r.problem(http.StatusUnauthorized)
	if !strings.Contains(r.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("invalid token: %q", r.Header().Get("WWW-Authenticate"))
	}

	m := e.do("GET", "/api/v1/me", "carol", nil).want(http.StatusOK).json()
	if m["username"] != "carol" || m["manager"] != "dave" || m["delegate"] != nil || m["out_of_office"] != false {
		t.Fatalf("me: %v", m)
	}
	if roles := m["roles"].([]any); len(roles) != 1 || roles[0] != "customer_service" {
		t.Fatalf("roles: %v", roles)
	}
	if m := e.do("GET", "/api/v1/me", "olivia", nil).want(http.StatusOK).json(); m["delegate"] != "carol" || m["out_of_office"] != true {
		t.Fatalf("olivia: %v", m)
	}

	if err := e.st.RevokeToken(context.Background(), e.tokens["carol"]); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/api/v1/me", "carol", nil).problem(http.StatusUnauthorized)

	// Request ids: a sane one is echoed, otherwise one is made.
	r = e.do("GET", "/healthz", "", nil, "X-Request-Id", "abc-123")
	if r.Header().Get("X-Request-Id") != "abc-123" {
		t.Fatalf("request id not echoed: %v", r.Header())
	}
	if id := e.do("GET", "/healthz", "", nil).Header().Get("X-Request-Id"); !strings.HasPrefix(id, "req_") {
		t.Fatalf("no request id made: %q", id)
	}
}

func TestProblemShapes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	post := func(body any) resp { return e.do("POST", "/api/v1/customers", "admin", body) }

	post(`{"name": "x",`).problem(http.StatusBadRequest)
	post(`{"name": "x"} trailing`).problem(http.StatusBadRequest)
	post(`[1, 2]`).problem(http.StatusBadRequest)
	post(``).problem(http.StatusBadRequest)

	p := post(`{"name": "Initech", "nickname": "ini"}`).problem(http.StatusUnprocessableEntity)
	if got := fieldNames(p); !slices.Equal(got, []string{"nickname", "email", "tier", "owner"}) { // every bad field
		t.Fatalf("unknown field: %v", p)
	}
	p = post(`{"name": 42}`).problem(http.StatusUnprocessableEntity)
	if got := fieldNames(p); !slices.Equal(got, []string{"name", "email", "tier", "owner"}) || !strings.Contains(p.Errors[0].Message, "string") {
		t.Fatalf("wrong type: %+v", p)
	}
	p = post(`{"name": "x", "credit_limit": {"amount": 5}}`).problem(http.StatusUnprocessableEntity)
	if got := fieldNames(p); !slices.Equal(got, []string{"credit_limit.amount", "email", "tier", "owner"}) {
		t.Fatalf("nested wrong type: %+v", p)
	}
	p = post(`{}`).problem(http.StatusUnprocessableEntity)
	if got := fieldNames(p); !slices.Equal(got, []string{"name", "email", "tier", "owner"}) {
		t.Fatalf("missing fields: %v", got)
	}
	p = post(map[string]any{"name": strings.Repeat("n", 201), "email": "not-an-address", "tier": "Z", "locale": "fr",
		"owner": "alice", "credit_limit": map[string]string{"amount": "1.5", "currency": "yuan"}}).problem(http.StatusUnprocessableEntity)
	if got := fieldNames(p); !slices.Equal(got, []string{"name", "email", "locale", "tier", "credit_limit"}) {
		t.Fatalf("invalid values: %+v", p)
	}
	// 200 characters of CJK text are fine: lengths count characters, not bytes.
	post(map[string]any{"name": strings.Repeat("名", 200), "email": "a@b.test", "tier": "B", "owner": "alice"}).want(http.StatusCreated)

	big := `{"name": "` + strings.Repeat("x", 1<<20) + `"}`
	post(big).problem(http.StatusRequestEntityTooLarge)

	// A panic becomes a 500 problem (Handle mounts behind the common middleware).
	e.srv.Handle("GET", "/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	if p := e.do("GET", "/boom", "", nil).problem(http.StatusInternalServerError); p.RequestID == "" {
		t.Fatalf("500 without request id: %+v", p)
	}

	e.do("GET", "/api/v1/nothing-here", "admin", nil).problem(http.StatusNotFound)
	e.do("DELETE", "/api/v1/customers", "admin", nil).problem(http.StatusMethodNotAllowed)
	e.do("GET", "/api/v1/customers?limit=abc", "admin", nil).problem(http.StatusUnprocessableEntity)
	e.do("GET", "/api/v1/customers?cursor=bad!", "admin", nil).problem(http.StatusUnprocessableEntity)
}

func TestHealthMetricsOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("GET", "/healthz", "", nil).want(http.StatusOK)
	e.do("GET", "/readyz", "", nil).want(http.StatusOK)
	e.tc.mu.Lock()
	e.tc.healthErr = errors.New("connection refused")
	e.tc.mu.Unlock()
	if p := e.do("GET", "/readyz", "", nil).problem(http.StatusServiceUnavailable); !strings.Contains(p.Detail, "temporal") {
		t.Fatalf("readyz: %+v", p)
	}

	e.do("GET", "/api/v1/customers/cus_acme", "alice", nil).want(http.StatusOK)
	body := e.metricsText().String()
	if !strings.Contains(body, `serviceflow_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/customers/:id"} 1`) {
		t.Fatalf("latency histogram by route missing:\n%s", body)
	}

	r := e.do("GET", "/openapi.yaml", "", nil).want(http.StatusOK)
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(r.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || !strings.Contains(r.Body.String(), "url: http://example.test\n") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	// Every route the server serves is described.
	for _, rt := range e.srv.engine.Routes() {
		path := rt.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		ops, ok := doc.Paths[path]
		if !ok {
			t.Errorf("openapi.yaml lacks path %s", path)
			continue
		}
		if _, ok := ops[strings.ToLower(rt.Method)]; !ok {
			t.Errorf("openapi.yaml lacks %s %s", rt.Method, path)
		}
	}
}
