package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// A survey programme on the real stack: its Temporal Schedule exists on the server and
// pauses and resumes; its run e-mails every demo customer a survey link (checked at the
// fake SendGrid); four answer through their links; the cycle's figures match a hand
// computation; the one detractor gets exactly one return visit.
func TestSurveyEndToEnd(t *testing.T) {
	s := startStack(t, nil)
	ctx := context.Background()

	prog := s.must(201, "admin", "POST", "/api/v1/survey-programmes",
		map[string]any{"name": "Everyone, each quarter", "audience": "all_active", "cadence": "quarterly"})
	id := prog["id"].(string)
	if prog["next_run"] == nil {
		t.Errorf("no next run: %v", prog)
	}
	h := s.tc.ScheduleClient().GetHandle(ctx, domain.SurveyScheduleID(id))
	paused := func() bool {
		d, err := h.Describe(ctx)
		if err != nil {
			t.Fatalf("describe the schedule: %v", err)
		}
		return d.Schedule.State.Paused
	}
	listed := false
	it, err := s.tc.ScheduleClient().List(ctx, client.ScheduleListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the schedule in the server's list", func() bool {
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			listed = listed || e.ID == domain.SurveyScheduleID(id)
		}
		if !listed {
			it, _ = s.tc.ScheduleClient().List(ctx, client.ScheduleListOptions{})
		}
		return listed
	})
	if paused() {
		t.Fatal("a new programme's schedule is paused")
	}
	s.must(200, "admin", "POST", "/api/v1/survey-programmes/"+id+"/pause", nil)
	if !paused() {
		t.Error("pause left the schedule running")
	}
	s.must(200, "admin", "POST", "/api/v1/survey-programmes/"+id+"/resume", nil)
	if paused() {
		t.Error("resume left the schedule paused")
	}

	cycle := s.must(201, "admin", "POST", "/api/v1/survey-programmes/"+id+"/run", nil)["id"].(string)
	// Every demo customer is invited, in their language.
	tokens := map[string]string{}
	for _, c := range demoCustomers {
		text := "about two minutes"
		if c.Locale == "zh-CN" {
			text = "约需两分钟"
		}
		tokens[c.ID] = s.customerLink(c.Email, text)
	}

	// Four answer (the five ratings in survey order, then the NPS); two do not.
	answers := map[string][6]int{
		"cus_DEMO_NORTHWIND": {5, 5, 4, 4, 5, 10}, // promoter, five ratings of 4–5
		"cus_DEMO_HUADONG":   {4, 4, 4, 3, 4, 8},  // passive, four of 4–5
		"cus_DEMO_CONTOSO":   {2, 3, 3, 2, 3, 4},  // detractor, none of 4–5
		"cus_DEMO_FABRIKAM":  {4, 5, 4, 3, 4, 9},  // promoter, four of 4–5
	}
	for cus, a := range answers {
		form := url.Values{"nps": {strconv.Itoa(a[5])}, "comment": {"from " + cus}}
		for i, r := range domain.SurveyRatings {
			form.Set(r, strconv.Itoa(a[i]))
		}
		s.answerLink(tokens[cus], form)
	}
	// A second answer through the same link changes nothing.
	resp, err := http.PostForm(s.base+"/c/"+tokens["cus_DEMO_CONTOSO"], url.Values{"nps": {"10"}})
	if err != nil || resp.StatusCode != http.StatusConflict {
		t.Errorf("second answer: %v %v", err, resp)
	}

	// By hand: 6 invited, 4 answered (66.7 %); the averages 15/4, 17/4, 15/4, 12/4, 16/4;
	// 13 of the 20 ratings are 4 or 5 (CSAT 65.0); 2 promoters, 1 passive, 1 detractor:
	// NPS (2 − 1) / 4 = 25.0.
	got := s.must(200, "dave", "GET", "/api/v1/survey-cycles/"+cycle, nil)
	res := got["results"].(map[string]any)
	want := map[string]any{"invited": 6.0, "answered": 4.0, "response_rate": "66.7", "csat": "65.0", "nps": "25.0",
		"promoters": 2.0, "passives": 1.0, "detractors": 1.0, "csat_satisfied": 13.0, "csat_ratings": 20.0}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("%s = %v, want %v", k, res[k], v)
		}
	}
	averages := []string{"3.75", "4.25", "3.75", "3.00", "4.00"}
	for i, r := range res["ratings"].([]any) {
		if avg := r.(map[string]any)["average"]; avg != averages[i] {
			t.Errorf("rating %d average %v, want %s", i, avg, averages[i])
		}
	}
	if got["status"] != domain.CycleOpen {
		t.Errorf("status %v", got["status"])
	}

	// The detractor (Contoso, alice's) has one return visit, for alice, due in 72 h, with
	// the answer in its context. Starting it again, as the cycle's catch-up would, makes
	// no second one.
	visit := s.findTask("alice", "mine", cycle, domain.StepReturnVisit)
	due, _ := time.Parse(time.RFC3339, visit["due_at"].(string))
	if d := time.Until(due); d < 71*time.Hour || d > 72*time.Hour {
		t.Errorf("the visit is due in %v", d)
	}
	if !strings.Contains(visit["title"].(string), "Contoso") {
		t.Errorf("visit task %v", visit["title"])
	}
	st, err := store.Open(ctx, s.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := store.CustomerLinkByID(ctx, st.Pool, domain.LinkID(domain.SurveyProcess.WorkflowID(cycle)+"/invite/cus_DEMO_CONTOSO"))
	if err != nil {
		t.Fatal(err)
	}
	d := activities.DetractorVisits{Store: st, Temporal: s.tc, TaskQueue: domain.TaskQueue,
		Policy: s.cfg.SurveyPolicy(), Complaint: s.cfg.ComplaintPolicy()}
	if _, err := d.Start(ctx, l); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	var n int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE process_id = $1 AND step = $2`, cycle, domain.StepReturnVisit).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d return visits (%v), want 1", n, err)
	}
	s.recordHistory(domain.SurveyProcess.WorkflowID(cycle), "survey_cycle_open")
	s.recordHistory(domain.VisitWorkflowID(domain.VisitID(domain.ProcessSurvey, cycle, "cus_DEMO_CONTOSO")), "VisitWorkflow_detractor_open")

	// The Schedule's own action starts a cycle too (triggered now rather than on the
	// first of next quarter): it invites nobody, everyone being in the quiet period.
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
		t.Fatal(err)
	}
	var scheduled map[string]any
	eventually(t, 30*time.Second, "the scheduled cycle open", func() bool {
		for _, c := range items(s.must(200, "judy", "GET", "/api/v1/survey-cycles?programme_id="+id, nil)) {
			if c["id"] != cycle && c["status"] == domain.CycleOpen {
				scheduled = c
			}
		}
		return scheduled != nil
	})
	if r := scheduled["results"].(map[string]any); r["invited"] != 0.0 || scheduled["started_by"] != nil {
		t.Errorf("scheduled cycle %v", scheduled)
	}
}
