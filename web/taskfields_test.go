package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
)

// The visit record's form: a datetime is an <input type="datetime-local"> read in the
// user's time zone and sent as RFC 3339; a list with options is a group of checkboxes,
// sent as the options checked. A refused record shows both again as they were.
func TestTaskDatetimeAndChoices(t *testing.T) {
	tc := &fakeTemporal{}
	e := newEnvWith(t, Config{}, tc)
	if err := e.st.SetPreferences(context.Background(), "carol", "en", "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	form := domain.VisitRecordForm(domain.VisitPhone)
	e.insertFull("rv1", "return_visit", "carol", []string{"done"}, form)
	tc.onUpdate = e.workflow(map[string][]domain.FormField{"rv1": form})
	carol := e.session("carol")
	body := e.req(http.MethodGet, "/tasks/rv1", carol, nil).Body.String()
	for _, want := range []string{
		`<input type="datetime-local" id="f-visited_at" name="f.visited_at" value="" aria-required="true" aria-describedby="f-visited_at-hint">`,
		"Date and time in your time zone (Asia/Shanghai, UTC&#43;8).",
		`<fieldset class="checks">`, `<legend>Discussed <span class="req">(required)</span></legend>`,
		`<input type="checkbox" id="f-discussed-product_use" name="f.discussed" value="product_use"> Product use</label>`,
		`<input type="checkbox" id="f-discussed-needs" name="f.discussed" value="needs"> Needs</label>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the visit record form lacks %q: %s", want, field(body, "visited_at"))
		}
	}

	// Nothing discussed: the workflow names the field; the time and the method are kept.
	w := e.req(http.MethodPost, "/tasks/rv1/complete", carol, url.Values{"action": {"done"}, "f.visited_at": {"2026-12-10T09:30"},
		"f.method": {"phone"}, "f.satisfaction": {"4"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(field(w.Body.String(), "discussed"), "is required") &&
		!strings.Contains(field(w.Body.String(), "discussed"), "This is required") {
		t.Fatalf("nothing discussed: %d %s", w.Code, field(w.Body.String(), "discussed"))
	}
	if !strings.Contains(field(w.Body.String(), "visited_at"), `value="2026-12-10T09:30"`) {
		t.Errorf("the time typed is not kept: %s", field(w.Body.String(), "visited_at"))
	}

	w = e.req(http.MethodPost, "/tasks/rv1/complete", carol, url.Values{"action": {"done"}, "f.visited_at": {"2026-12-10T09:30"},
		"f.method": {"phone"}, "f.satisfaction": {"4"}, "f.discussed": {"needs", "product_use", "needs"}, "f.needs": {"A second line"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("the record: %d %s", w.Code, w.Body.String())
	}
	tc.mu.Lock()
	req := tc.updates[len(tc.updates)-1].Args[0].(domain.CompleteTaskRequest)
	tc.mu.Unlock()
	if req.Data["visited_at"] != "2026-12-10T09:30:00+08:00" {
		t.Errorf("visited_at sent as %v", req.Data["visited_at"])
	}
	if got, _ := json.Marshal(req.Data["discussed"]); string(got) != `["needs","product_use"]` {
		t.Errorf("discussed sent as %s", got)
	}
	rec := domain.VisitRecordFrom(map[string]any{"visited_at": req.Data["visited_at"], "discussed": req.Data["discussed"]})
	if !rec.At.Equal(time.Date(2026, 12, 10, 1, 30, 0, 0, time.UTC)) {
		t.Errorf("the record's time is %v", rec.At)
	}
}
