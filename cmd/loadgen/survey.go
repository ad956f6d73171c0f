package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The survey scenario (issue 13, "Scale"): one cycle over N customers. It seeds the
// customers, has the admin create a programme (all active customers) and run it, and
// measures: how long until every invitation is queued (its link and its outbox row),
// the delivery at the provider rate (the fake SendGrid of sendgrid.go, whose e-mails
// carry the tokens the answers use), the cycle workflow's history length, the latency
// of POST /c/{token} with every customer answering from 16 clients, and whether each
// detractor got exactly one return_visit task.

// surveyLinkPrefix is the key prefix of the cycle's invitations: <workflow id>/invite/,
// followed by the customer id (activities.InviteSurveyBatch).
func surveyLinkPrefix(workflowID string) string { return workflowID + "/invite/" }

// surveyReminders are the reminders of a cycle shortened to closeAfter, where they fall
// in the 14 days of a real one: at 3 and 7 days.
func surveyReminders(closeAfter time.Duration) (time.Duration, time.Duration) {
	return (closeAfter * 3 / 14).Round(time.Second), (closeAfter * 7 / 14).Round(time.Second)
}

// seededCustomer is the id of the i-th customer the scenario seeds.
func seededCustomer(i int) string { return fmt.Sprintf("cus_LOADGEN%07d", i) }

// seedCustomers copies n customers into the database, owned by the two demo sales reps
// (whose return_visit tasks the detractors' answers open), and analyses the table.
func seedCustomers(ctx context.Context, db *pgxpool.Pool, n int) error {
	owners := []string{"alice", "aaron"}
	tiers := []string{"A", "B", "B", "C", "C", "C", "D"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		locale := "en"
		if i%10 == 0 {
			locale = "zh-CN"
		}
		return []any{seededCustomer(i), fmt.Sprintf("Loadgen Customer %d", i), fmt.Sprintf("customer%07d@loadgen.example", i),
			locale, tiers[i%len(tiers)], owners[i%len(owners)]}, nil
	})
	if _, err := db.CopyFrom(ctx, pgx.Identifier{"customers"}, []string{"id", "name", "email", "locale", "tier", "owner"}, src); err != nil {
		return fmt.Errorf("copy %d customers: %w", n, err)
	}
	_, err := db.Exec(ctx, "ANALYZE customers")
	return err
}

// surveyAnswer is the answer customer i posts; a detractor's has an NPS of 6 or less,
// or a rating of 2 or less, or both (domain.IsDetractor); anybody else's has neither.
func surveyAnswer(rng *rand.Rand, detractor bool) map[string]any {
	rating := func() int { return 3 + rng.IntN(3) } // 3–5
	a := map[string]any{}
	for _, r := range domain.SurveyRatings {
		a[r] = rating()
	}
	a["nps"] = 7 + rng.IntN(4) // 7–10
	if detractor {
		switch rng.IntN(3) {
		case 0: // a low NPS
			a["nps"] = rng.IntN(7)
		case 1: // a poor rating
			a[domain.SurveyRatings[rng.IntN(len(domain.SurveyRatings))]] = 1 + rng.IntN(2)
		default:
			a["nps"] = rng.IntN(7)
			a[domain.SurveyRatings[rng.IntN(len(domain.SurveyRatings))]] = 1 + rng.IntN(2)
		}
	}
	if rng.IntN(3) == 0 {
		a["comment"] = "Posted by cmd/loadgen: delivery was on time; the manual could be clearer."
	}
	return a
}

// surveyPlan is who answers what: customers[i] posts answers[i]; detractors[id] says
// whether its answer makes it a detractor.
type surveyPlan struct {
	customers  []string
	answers    []map[string]any
	detractors map[string]bool
}

// planAnswers picks round(share × n) of the customers as detractors and draws each
// customer's answer, reproducibly.
func planAnswers(customers []string, share float64) surveyPlan {
	rng := rand.New(rand.NewPCG(13, uint64(len(customers))))
	p := surveyPlan{customers: customers, answers: make([]map[string]any, len(customers)), detractors: map[string]bool{}}
	nd := int(share*float64(len(customers)) + 0.5)
	for k, i := range rng.Perm(len(customers)) {
		p.detractors[customers[i]] = k < nd
	}
	for i, c := range customers {
		p.answers[i] = surveyAnswer(rng, p.detractors[c])
	}
	return p
}

// Survey is what the survey scenario measured, as written to the JSON file.
type Survey struct {
	At         time.Time `json:"at"`
	Cores      int       `json:"cores"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"go_version"`
	OSArch     string    `json:"os_arch"`
	Stack      string    `json:"stack"`
	Clients    int       `json:"clients"`
	LoadAvg    [2]string `json:"load_avg_start_end,omitempty"`

	Customers    int     `json:"customers"`      // seeded by loadgen
	Audience     int     `json:"audience"`       // every customer in the database (the demo's too)
	CycleID      string  `json:"cycle_id"`       // the cycle POST …/run started
	SeedSeconds  float64 `json:"seed_seconds"`   // COPY of the customers
	RunRequestMs float64 `json:"run_request_ms"` // POST …/run → 201

	// Queued: from the run request until every invitation had its link and its e-mail
	// in the outbox.
	Invited       int     `json:"invited"`
	EmailsQueued  int     `json:"emails_queued"`
	QueuedSeconds float64 `json:"queued_seconds"`
	// Delivery: the invitations accepted by the fake SendGrid, at the rate asked for.
	MailRate         float64 `json:"mail_rate_configured"`
	Delivered        int     `json:"delivered"`
	DeliveredSeconds float64 `json:"delivered_seconds"` // first to last e-mail accepted
	DeliveryRate     float64 `json:"delivery_rate"`     // e-mails a second, achieved
	AllSentSeconds   float64 `json:"all_sent_seconds"`  // run request → every invitation accepted and recorded sent
	OutboxSent       int     `json:"outbox_sent"`
	OutboxFailed     int     `json:"outbox_failed"`
	ProviderRepeats  int     `json:"provider_repeats"` // e-mails the provider got twice
	ProviderRefused  int     `json:"provider_refused"` // payloads the fake refused
	// History: the cycle workflow's event count after the deliveries, and at the end.
	HistoryAfterDelivery int64 `json:"history_after_delivery"`
	HistoryAtEnd         int64 `json:"history_at_end"`

	// Answers: POST /c/{token} from Clients clients, one answer per seeded customer.
	Answers    Throughput `json:"answers"`
	PostAnswer Latency    `json:"post_c_token"`
	// The same, for the detractors' answers (which also start the return visit) and
	// the others'.
	PostDetractor Latency `json:"post_c_token_detractors"`
	PostOther     Latency `json:"post_c_token_others"`
	Answered      int     `json:"answered"`       // links answered in the database
	AnswersWrong  int     `json:"answers_wrong"`  // stored answer differs from the one posted
	AnswersMissed int     `json:"answers_missed"` // posted, yet the link is not answered

	// Detractors: each must have exactly one return_visit task of the cycle.
	Detractors     int     `json:"detractors"`
	VisitTasks     int     `json:"return_visit_tasks"`
	VisitCustomers int     `json:"return_visit_customers"` // distinct customers among them
	VisitMissing   int     `json:"detractors_without_task"`
	VisitExtra     int     `json:"tasks_for_non_detractors"`
	VisitDuplicate int     `json:"customers_with_several_tasks"`
	VisitSeconds   float64 `json:"visits_seconds_after_answers"` // the last answer → every detractor's task open

	// Close (with -close-after): the cycle shortened to CloseAfter, its reminders at
	// 3/14 and 7/14 of it; the catch-up of the visits runs at each and at the close.
	CloseAfter      float64 `json:"close_after_seconds,omitempty"`
	ClosedSeconds   float64 `json:"closed_seconds,omitempty"` // run request → cycle closed
	RemindersQueued int     `json:"reminders_queued,omitempty"`
	WorkflowStatus  string  `json:"workflow_status,omitempty"` // at the end

	// Cycle is GET /api/v1/survey-cycles/{id} at the end.
	Cycle   json.RawMessage `json:"cycle,omitempty"`
	Targets []Target        `json:"targets"`
}

func (f *Survey) evaluate() {
	if f.LoadAvg[1] == "" {
		f.LoadAvg[1] = loadAvg()
	}
	f.Targets = []Target{
		{"all invitations queued, seconds", f.QueuedSeconds, "< 60", f.Invited > 0 && f.Invited == f.Audience && f.QueuedSeconds < 60},
		{"cycle workflow history, events", float64(max(f.HistoryAfterDelivery, f.HistoryAtEnd)), "< 2000",
			f.HistoryAfterDelivery > 0 && max(f.HistoryAfterDelivery, f.HistoryAtEnd) < 2000},
		{"answers recorded", float64(f.Answered), "= " + strconv.Itoa(f.Customers),
			f.Customers > 0 && f.Answered == f.Customers && f.AnswersWrong == 0 && f.AnswersMissed == 0},
		{"detractors with exactly one return_visit", float64(f.Detractors - f.VisitMissing - f.VisitDuplicate), "= " + strconv.Itoa(f.Detractors),
			f.Answered > 0 && f.VisitMissing == 0 && f.VisitDuplicate == 0 && f.VisitExtra == 0 && f.VisitTasks == f.Detractors},
	}
}

func (f *Survey) print(w io.Writer) {
	f.evaluate()
	fmt.Fprintf(w, "\nserviceflow loadgen -scenario survey  %s  %d cores (GOMAXPROCS %d)  %s  %d clients\n  stack: %s\n",
		f.OSArch, f.Cores, f.GOMAXPROCS, f.GoVersion, f.Clients, f.Stack)
	if f.LoadAvg[0] != "" {
		fmt.Fprintf(w, "  load average (1 min) at start %s, at end %s\n", f.LoadAvg[0], f.LoadAvg[1])
	}
	fmt.Fprintf(w, "  %d customers seeded in %.1fs (audience: %d with the demo's); cycle %s\n",
		f.Customers, f.SeedSeconds, f.Audience, f.CycleID)
	fmt.Fprintln(w, "\nInvitations")
	fmt.Fprintf(w, "  %-44s %7.1f ms\n", "POST /survey-programmes/{id}/run → 201", f.RunRequestMs)
	fmt.Fprintf(w, "  %-44s %5d links, %d e-mails in %6.2fs after the run request\n", "queued (links and outbox rows)",
		f.Invited, f.EmailsQueued, f.QueuedSeconds)
	fmt.Fprintf(w, "  %-44s %5d in %6.2fs  %7.1f e-mails/s  (provider rate %g/s)\n", "delivered to the provider",
		f.Delivered, f.DeliveredSeconds, f.DeliveryRate, f.MailRate)
	fmt.Fprintf(w, "  %-44s %6.2fs after the run request; outbox: %d sent, %d failed\n", "every invitation sent",
		f.AllSentSeconds, f.OutboxSent, f.OutboxFailed)
	if f.ProviderRepeats > 0 || f.ProviderRefused > 0 {
		fmt.Fprintf(w, "  provider: %d e-mails received twice, %d payloads refused\n", f.ProviderRepeats, f.ProviderRefused)
	}
	fmt.Fprintf(w, "  %-44s %5d events after the deliveries, %d at the end\n", "cycle workflow history", f.HistoryAfterDelivery, f.HistoryAtEnd)
	fmt.Fprintln(w, "\nAnswers")
	fmt.Fprintf(w, "  %-44s %5d in %6.2fs  %7.1f answers/s", "POST /c/{token} → 200 (recorded)", f.Answers.Count, f.Answers.Seconds, f.Answers.PerSecond)
	if f.Answers.Errors > 0 {
		fmt.Fprintf(w, "  (%d errors)", f.Answers.Errors)
	}
	fmt.Fprintln(w)
	lat := func(name string, l Latency) {
		fmt.Fprintf(w, "  %-44s p50 %7.1f ms   p99 %7.1f ms   max %7.1f ms   (n=%d)\n", name, l.P50, l.P99, l.Max, l.Count)
	}
	lat("POST /c/{token}", f.PostAnswer)
	lat("  detractors (the answer starts a visit)", f.PostDetractor)
	lat("  the others", f.PostOther)
	fmt.Fprintf(w, "  %-44s %5d of %d (%d differ from what was posted, %d missing)\n", "answered links in the database",
		f.Answered, f.Customers, f.AnswersWrong, f.AnswersMissed)
	fmt.Fprintln(w, "\nDetractors")
	fmt.Fprintf(w, "  %-44s %5d detractors, %d return_visit tasks for %d customers (%.1fs after the last answer)\n",
		"return visits", f.Detractors, f.VisitTasks, f.VisitCustomers, f.VisitSeconds)
	if f.VisitMissing+f.VisitExtra+f.VisitDuplicate > 0 {
		fmt.Fprintf(w, "  %d detractors without a task, %d tasks for customers who are none, %d customers with several\n",
			f.VisitMissing, f.VisitExtra, f.VisitDuplicate)
	}
	if f.CloseAfter > 0 {
		fmt.Fprintf(w, "\nClose (cycle shortened to %.0fs, reminders at 3/14 and 7/14 of it)\n", f.CloseAfter)
		fmt.Fprintf(w, "  %-44s %6.1fs after the run request; %d reminders queued; workflow %s\n", "closed",
			f.ClosedSeconds, f.RemindersQueued, f.WorkflowStatus)
		fmt.Fprintf(w, "  %-44s %5d return_visit tasks for %d detractors after the catch-ups\n", "return visits", f.VisitTasks, f.Detractors)
	}
	printTargets(w, f.Targets)
}

func (f *Survey) write(file string) error {
	f.evaluate()
	return writeJSON(file, f)
}

// runSurvey runs the survey scenario on a `serviceflow dev` of its own, whose e-mails
// go to a fake SendGrid in this process.
func runSurvey(ctx context.Context, o options) (*Survey, error) {
	if o.api != "" {
		return nil, errors.New("-scenario survey starts its own serviceflow (it seeds customers and receives the e-mails): drop -api")
	}
	sg, err := startFakeSendGrid()
	if err != nil {
		return nil, err
	}
	defer sg.Close()
	env := append(sg.env(), "SERVICEFLOW_SURVEY_MAIL_RATE="+strconv.FormatFloat(o.mailRate, 'g', -1, 64))
	if o.closeAfter > 0 {
		r1, r2 := surveyReminders(o.closeAfter)
		env = append(env, "SERVICEFLOW_SURVEY_CLOSE_AFTER="+o.closeAfter.String(),
			"SERVICEFLOW_SURVEY_REMINDERS="+r1.String()+","+r2.String())
	}
	s, err := startDev(ctx, o, env...)
	if err != nil {
		return nil, err
	}
	defer s.stop()

	f := &Survey{At: time.Now().UTC().Truncate(time.Second), Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, Stack: s.mode, Clients: o.clients, LoadAvg: [2]string{loadAvg(), ""}, Customers: o.customers, MailRate: o.mailRate}
	tc, err := client.DialContext(ctx, client.Options{HostPort: s.temporal, Namespace: "default",
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		return f, fmt.Errorf("connect to Temporal at %s: %w", s.temporal, err)
	}
	defer tc.Close()
	db, err := store.Open(ctx, s.dbURL)
	if err != nil {
		return f, err
	}
	defer db.Close()
	if s.tokens["admin"] == "" {
		return f, errors.New("dev-tokens.json has no token for admin")
	}
	a := newAPIClient(s, o.clients)
	err = surveyScenario(ctx, o, f, a, db.Pool, tc, sg)
	return f, err
}

// surveyScenario is runSurvey once the stack is up.
func surveyScenario(ctx context.Context, o options, f *Survey, a *apiClient, db *pgxpool.Pool, tc client.Client, sg *fakeSendGrid) error {
	logf("survey: seeding %d customers", o.customers)
	start := time.Now()
	if err := seedCustomers(ctx, db, o.customers); err != nil {
		return err
	}
	f.SeedSeconds = time.Since(start).Seconds()
	if err := db.QueryRow(ctx, `SELECT count(*) FROM customers`).Scan(&f.Audience); err != nil {
		return err
	}

	runID := strings.ToLower(domain.NewID("run")[4:])
	var prog struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, "admin", http.MethodPost, "/api/v1/survey-programmes",
		map[string]any{"name": "Loadgen " + runID, "audience": domain.AudienceAllActive, "cadence": domain.CadenceQuarterly},
		map[string]string{"Idempotency-Key": "loadgen-programme-" + runID}, http.StatusCreated, &prog); err != nil {
		return fmt.Errorf("create programme: %w", err)
	}
	logf("survey: running programme %s over %d customers", prog.ID, f.Audience)
	var cycle struct {
		ID string `json:"id"`
	}
	runAt := time.Now()
	if err := a.call(ctx, "admin", http.MethodPost, "/api/v1/survey-programmes/"+prog.ID+"/run", nil,
		map[string]string{"Idempotency-Key": "loadgen-run-" + runID}, http.StatusCreated, &cycle); err != nil {
		return fmt.Errorf("run programme: %w", err)
	}
	f.RunRequestMs = ms(time.Since(runAt))
	f.CycleID = cycle.ID
	wfID := domain.SurveyProcess.WorkflowID(cycle.ID)

	// Invitations queued: every customer's link and e-mail are in the database.
	err := poll(ctx, 10*time.Minute, 50*time.Millisecond, func() (bool, error) {
		err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM customer_links WHERE process_id = $1),
			(SELECT count(*) FROM emails WHERE process_id = $1)`, cycle.ID).Scan(&f.Invited, &f.EmailsQueued)
		return f.Invited >= f.Audience && f.EmailsQueued >= f.Audience, err
	})
	f.QueuedSeconds = time.Since(runAt).Seconds()
	if err != nil {
		return fmt.Errorf("invitations: %d links, %d e-mails of %d: %w", f.Invited, f.EmailsQueued, f.Audience, err)
	}
	logf("survey: %d invitations queued in %.1fs; delivering at %g/s", f.Invited, f.QueuedSeconds, o.mailRate)

	// Delivery: the provider has every invitation and the outbox says sent.
	prefix := surveyLinkPrefix(wfID)
	bound := time.Duration(float64(f.Audience)/o.mailRate*float64(time.Second))*2 + 5*time.Minute
	err = poll(ctx, bound, 100*time.Millisecond, func() (bool, error) {
		f.Delivered, _, _ = sg.delivered(prefix)
		err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('sent', 'delivered')),
			count(*) FILTER (WHERE status IN ('failed', 'bounced')) FROM emails WHERE process_id = $1`, cycle.ID).Scan(&f.OutboxSent, &f.OutboxFailed)
		return f.OutboxSent+f.OutboxFailed >= f.EmailsQueued && f.Delivered >= f.Invited, err
	})
	f.AllSentSeconds = time.Since(runAt).Seconds()
	var first, last time.Time
	f.Delivered, first, last = sg.delivered(prefix)
	_, f.ProviderRepeats, f.ProviderRefused, _ = sg.stats()
	if f.Delivered > 1 {
		f.DeliveredSeconds = last.Sub(first).Seconds()
		f.DeliveryRate = float64(f.Delivered-1) / f.DeliveredSeconds
	}
	if err != nil {
		_, _, _, reasons := sg.stats()
		return fmt.Errorf("delivery: %d of %d delivered, outbox %d sent %d failed (refused: %v): %w",
			f.Delivered, f.Invited, f.OutboxSent, f.OutboxFailed, reasons, err)
	}
	if f.HistoryAfterDelivery, err = historyLength(ctx, tc, wfID); err != nil {
		return err
	}
	logf("survey: %d delivered in %.1fs (%.1f/s); cycle history %d events", f.Delivered, f.DeliveredSeconds, f.DeliveryRate, f.HistoryAfterDelivery)

	// Answers: every seeded customer answers through the token of their e-mail.
	tokens := sg.tokensOf(prefix)
	var customers []string
	for i := 1; i <= o.customers; i++ {
		c := seededCustomer(i)
		if tokens[c] == "" {
			return fmt.Errorf("no invitation with a link reached %s", c)
		}
		customers = append(customers, c)
	}
	plan := planAnswers(customers, o.detractors)
	for _, d := range plan.detractors {
		if d {
			f.Detractors++
		}
	}
	logf("survey: %d answers (%d detractors) from %d clients", len(customers), f.Detractors, o.clients)
	var lat, latDetractor, latOther samples
	wall, errs := closedLoop(ctx, o.clients, len(customers), func(ctx context.Context, _, i int) error {
		start := time.Now()
		err := a.answer(ctx, tokens[customers[i]], plan.answers[i])
		d := time.Since(start)
		lat.add(start, d)
		if plan.detractors[customers[i]] {
			latDetractor.add(start, d)
		} else {
			latOther.add(start, d)
		}
		return err
	})
	answeredAt := time.Now()
	f.Answers, f.PostAnswer = throughput(len(customers), len(errs), wall), lat.summary()
	f.PostDetractor, f.PostOther = latDetractor.summary(), latOther.summary()
	aerr := checkAnswers(ctx, db, cycle.ID, plan, f)

	// Detractors: each gets one return_visit task, opened by the request that stored the
	// answer (or by the cycle's catch-up).
	_ = poll(ctx, o.visitWait, 200*time.Millisecond, func() (bool, error) {
		return f.VisitTasks >= f.Detractors, countVisits(ctx, db, cycle.ID, plan, f)
	})
	f.VisitSeconds = time.Since(answeredAt).Seconds()
	// Let a duplicate on its way show up, then count for good.
	time.Sleep(time.Second)
	if err = countVisits(ctx, db, cycle.ID, plan, f); err == nil {
		err = visitError(f)
	}
	var cerr error
	if o.closeAfter > 0 {
		cerr = waitClose(ctx, o, f, a, db, tc, runAt, wfID, plan)
	}
	var herr error
	f.HistoryAtEnd, herr = historyLength(ctx, tc, wfID)
	var raw json.RawMessage
	if err := a.call(ctx, "admin", http.MethodGet, "/api/v1/survey-cycles/"+cycle.ID, nil, nil, http.StatusOK, &raw); err == nil {
		f.Cycle = raw
	}
	return errors.Join(firstErr(errs), aerr, err, cerr, herr)
}

// waitClose waits for the shortened cycle to remind and close, then for its workflow to
// end (bounded), and counts the visits again: the catch-up at each reminder and at the
// close must start none twice.
func waitClose(ctx context.Context, o options, f *Survey, a *apiClient, db *pgxpool.Pool, tc client.Client,
	runAt time.Time, wfID string, plan surveyPlan) error {
	f.CloseAfter = o.closeAfter.Seconds()
	logf("survey: waiting for the cycle to remind and close (%s after the run)", o.closeAfter)
	err := poll(ctx, time.Until(runAt.Add(o.closeAfter))+5*time.Minute, time.Second, func() (bool, error) {
		var cy struct {
			Status string `json:"status"`
		}
		err := a.call(ctx, "admin", http.MethodGet, "/api/v1/survey-cycles/"+f.CycleID, nil, nil, http.StatusOK, &cy)
		return cy.Status == domain.CycleClosed, err
	})
	f.ClosedSeconds = time.Since(runAt).Seconds()
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	// The workflow ends once the reminders' deliveries are done (and any improvement
	// task is completed: those it waits for).
	_ = poll(ctx, 2*time.Minute, time.Second, func() (bool, error) {
		d, err := tc.DescribeWorkflowExecution(ctx, wfID, "")
		if err != nil {
			return false, err
		}
		f.WorkflowStatus = strings.ToLower(d.GetWorkflowExecutionInfo().GetStatus().String())
		return f.WorkflowStatus != "running", nil
	})
	if err := db.QueryRow(ctx, `SELECT count(*) FROM emails WHERE process_id = $1 AND idempotency_key LIKE '%/reminder/%'`,
		f.CycleID).Scan(&f.RemindersQueued); err != nil {
		return err
	}
	if err := countVisits(ctx, db, f.CycleID, plan, f); err != nil {
		return err
	}
	return visitError(f)
}

// visitError reports detractors without exactly one task.
func visitError(f *Survey) error {
	if f.VisitTasks == f.Detractors && f.VisitMissing+f.VisitExtra+f.VisitDuplicate == 0 {
		return nil
	}
	return fmt.Errorf("return visits: %d tasks for %d detractors (%d without, %d for non-detractors, %d customers with several)",
		f.VisitTasks, f.Detractors, f.VisitMissing, f.VisitExtra, f.VisitDuplicate)
}

// answer posts a survey answer as the customer's phone would (JSON) and expects it
// recorded.
func (a *apiClient) answer(ctx context.Context, token string, answer map[string]any) error {
	b, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/c/"+token, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Status string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Status != "recorded" {
		return fmt.Errorf("POST /c/…: %d: %.300s", resp.StatusCode, raw)
	}
	return nil
}

// checkAnswers compares the answered links of the cycle with what was posted.
func checkAnswers(ctx context.Context, db *pgxpool.Pool, cycleID string, plan surveyPlan, f *Survey) error {
	rows, err := db.Query(ctx, `SELECT customer_id, answer FROM customer_links
		WHERE process_id = $1 AND status = 'answered'`, cycleID)
	if err != nil {
		return err
	}
	stored := map[string]map[string]any{}
	for rows.Next() {
		var c string
		var ans map[string]any
		if err := rows.Scan(&c, &ans); err != nil {
			return err
		}
		stored[c] = ans
	}
	if err := rows.Err(); err != nil {
		return err
	}
	f.Answered = len(stored)
	for i, c := range plan.customers {
		got, ok := stored[c]
		if !ok {
			f.AnswersMissed++
			continue
		}
		if !sameAnswer(got, plan.answers[i]) {
			f.AnswersWrong++
		}
	}
	if f.Answered != len(plan.customers) || f.AnswersMissed+f.AnswersWrong > 0 {
		return fmt.Errorf("answers: %d links answered for %d posted (%d missing, %d differ)",
			f.Answered, len(plan.customers), f.AnswersMissed, f.AnswersWrong)
	}
	return nil
}

// sameAnswer compares a stored answer (JSON numbers as float64) with the posted one.
func sameAnswer(stored, posted map[string]any) bool {
	if len(stored) != len(posted) {
		return false
	}
	for k, v := range posted {
		switch v := v.(type) {
		case int:
			if n, ok := stored[k].(float64); !ok || n != float64(v) {
				return false
			}
		default:
			if stored[k] != v {
				return false
			}
		}
	}
	return true
}

// countVisits counts the cycle's return_visit tasks by customer and compares them with
// the detractors.
func countVisits(ctx context.Context, db *pgxpool.Pool, cycleID string, plan surveyPlan, f *Survey) error {
	rows, err := db.Query(ctx, `SELECT coalesce(context->>'customer_id', ''), count(*) FROM tasks
		WHERE step = $1 AND process = $2 AND process_id = $3 AND workflow_id LIKE 'visit/%'
		GROUP BY 1`, domain.StepReturnVisit, domain.ProcessSurvey, cycleID)
	if err != nil {
		return err
	}
	byCustomer := map[string]int{}
	f.VisitTasks = 0
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			return err
		}
		byCustomer[c] = n
		f.VisitTasks += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	f.VisitCustomers, f.VisitMissing, f.VisitExtra, f.VisitDuplicate = len(byCustomer), 0, 0, 0
	for c, d := range plan.detractors {
		if d && byCustomer[c] == 0 {
			f.VisitMissing++
		}
	}
	for c, n := range byCustomer {
		if !plan.detractors[c] {
			f.VisitExtra++
		}
		if n > 1 {
			f.VisitDuplicate++
		}
	}
	return nil
}

// historyLength is the number of events in the workflow's history.
func historyLength(ctx context.Context, tc client.Client, workflowID string) (int64, error) {
	d, err := tc.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return 0, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	return d.GetWorkflowExecutionInfo().GetHistoryLength(), nil
}

// poll calls done every `every` until it reports true, at most timeout; the last error
// of done is returned with the timeout.
func poll(ctx context.Context, timeout, every time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := done()
		if ok && err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(every):
		}
	}
}
