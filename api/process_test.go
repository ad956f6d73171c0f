package api

import (
	"strings"
	"testing"

	"github.com/serviceflow/serviceflow/workflows"
)

// Every process of the registry has its routes mounted, and a process without any
// stops the server from being built.
func TestEveryProcessHasRoutes(t *testing.T) {
	e := newEnv(t)
	for _, d := range workflows.Registry {
		found := false
		for _, r := range e.srv.engine.Routes() {
			found = found || (r.Method == "POST" && r.Path == "/api/v1/"+d.Name+"s")
		}
		if !found {
			t.Errorf("process %s: no POST /api/v1/%ss route", d.Name, d.Name)
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
