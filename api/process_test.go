package api

import (
	"strings"
	"testing"

	"github.com/serviceflow/serviceflow/workflows"
)

// Every process of the registry has its routes mounted (at least its case's, under its
// CasePath), and a process without any stops the server from being built.
func TestEveryProcessHasRoutes(t *testing.T) {
	e := newEnv(t)
	for _, d := range workflows.Registry {
		found := false
		for _, r := range e.srv.engine.Routes() {
			found = found || (r.Method == "GET" && r.Path == "/api/v1/"+d.CasePath()+"/:id")
		}
		if !found {
			t.Errorf("process %s: no GET /api/v1/%s/:id route", d.Name, d.CasePath())
		}
	}
	saved := processRoutes[workflows.Registry[0].Name]
	delete(processRoutes, workflows.Registry[0].Name)
	defer func() { processRoutes[workflows.Registry[0].Name] = saved }()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "has no routes") {
			t.Errorf("New with a process without routes: recovered %v", r)
		}
	}()
	New(Config{}, e.st, e.tc, nil)
}

// Every process of the registry says who sees one of its cases (the inbox's case links
// and the task page's timeline ask it), and SeesCase follows the process's own read
// route: carol sees a complaint, erin (finance) does not, and an unknown one nobody.
func TestEveryProcessDecidesCaseAccess(t *testing.T) {
	for _, d := range workflows.Registry {
		if caseAccess[d.Name] == nil {
			t.Errorf("process %s has no caseAccess entry", d.Name)
		}
	}
	e := newEnv(t)
	cmp := e.fileComplaint("carol", "cus_acme")
	ctx := t.Context()
	for _, c := range []struct {
		user, id string
		want     bool
	}{{"carol", cmp, true}, {"erin", cmp, false}, {"bob", cmp, false}, {"carol", "cmp_nope", true}, {"alice", cmp, true}, {"alice", "cmp_nope", false}} {
		u, err := e.st.UserByUsername(ctx, c.user)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.srv.SeesCase(ctx, u, "complaint", c.id); err != nil || got != c.want {
			t.Errorf("%s sees %s: %v %v, want %v", c.user, c.id, got, err, c.want)
		}
	}
	erin, _ := e.st.UserByUsername(ctx, "erin")
	if _, err := e.srv.CaseTimeline(ctx, erin, "complaint", cmp); err == nil {
		t.Error("erin read the timeline of a complaint she may not see")
	}
}
