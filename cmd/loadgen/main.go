// Command loadgen is serviceflow's load benchmark. It brings up `serviceflow dev` on a
// fresh database (or drives one already running on this machine), measures a baseline
// of one-activity workflows on the same Temporal server, files complaints over HTTP from
// N concurrent clients, works their tasks, and times the inbox query with 100 000 task
// rows present. It prints the figures and writes them to a JSON file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

type options struct {
	scenario                      string
	clients, complaints, baseline int
	warmup                        int
	inboxRows, inboxSamples       int
	out                           string
	api, temporalAddr, tokens     string
	databaseURL                   string
	serviceflowBin                string
	ephemeral, settle             bool
	timeout                       time.Duration

	// The survey scenario.
	customers  int
	mailRate   float64
	detractors float64
	visitWait  time.Duration
	closeAfter time.Duration
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./cmd/loadgen [flags]\n\n"+
			"Without -api, loadgen builds ./cmd/serviceflow and runs `serviceflow dev` on free 127.0.0.1\n"+
			"ports with a fresh database on the PostgreSQL server of DATABASE_URL (default\n"+
			"postgres://postgres@127.0.0.1:5432/postgres) and drops it afterwards.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.scenario, "scenario", "complaints", "complaints, or survey (a survey cycle over -customers customers; see README.md)")
	fs.IntVar(&o.clients, "clients", 8, "concurrent clients (survey: 16 unless set)")
	fs.IntVar(&o.complaints, "complaints", 200, "complaints to file and work")
	fs.IntVar(&o.baseline, "baseline", 0, "baseline workflows (0: as many as complaints)")
	fs.IntVar(&o.warmup, "warmup", -1, "complaints filed and worked before the intake, not measured (-1: one per client)")
	fs.IntVar(&o.inboxRows, "inbox-rows", 100_000, "task rows to insert before timing the inbox (0: skip the inbox)")
	fs.IntVar(&o.inboxSamples, "inbox-samples", 500, "timed inbox requests per query")
	fs.StringVar(&o.out, "out", "loadgen-figures.json", "JSON file for the figures (survey: loadgen-survey-figures.json unless set)")
	fs.IntVar(&o.customers, "customers", 10_000, "survey: customers to seed, invite and have answer")
	fs.Float64Var(&o.mailRate, "mail-rate", 100, "survey: the provider's rate, e-mails a second (SERVICEFLOW_SURVEY_MAIL_RATE of the worker)")
	fs.Float64Var(&o.detractors, "detractors", 0.2, "survey: share of the answers that are detractors' (NPS <= 6 or a rating <= 2)")
	fs.DurationVar(&o.closeAfter, "close-after", 0, "survey: shorten the cycle to this, reminders at 3/14 and 7/14 of it, and wait for its close (0: the cycle keeps its 14 days; loadgen stops after the return visits)")
	fs.DurationVar(&o.visitWait, "visit-wait", 3*time.Minute, "survey: how long to wait for the detractors' return_visit tasks after the answers")
	fs.StringVar(&o.api, "api", "", "API base URL of a running serviceflow on this machine (default: start one)")
	fs.StringVar(&o.temporalAddr, "temporal", "127.0.0.1:7233", "with -api: its Temporal frontend")
	fs.StringVar(&o.tokens, "tokens", ".serviceflow/dev-tokens.json", "with -api: its dev-tokens.json")
	fs.StringVar(&o.databaseURL, "database-url", "", "with -api: its database, for the inbox rows (deleted afterwards); unset skips the inbox")
	fs.StringVar(&o.serviceflowBin, "serviceflow", "", "a built serviceflow binary (default: go build ./cmd/serviceflow)")
	fs.BoolVar(&o.ephemeral, "ephemeral", false, "keep the embedded Temporal's state in memory instead of a SQLite file")
	fs.BoolVar(&o.settle, "settle", true, "start the work once the intake's e-mails have left the outbox (needs the database)")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.scenario == "survey" {
		if !set["clients"] {
			o.clients = 16
		}
		if !set["out"] {
			o.out = "loadgen-survey-figures.json"
		}
		if !set["timeout"] && o.closeAfter > 0 {
			o.timeout = max(o.timeout, o.closeAfter+15*time.Minute)
		}
	}
	switch {
	case o.scenario != "complaints" && o.scenario != "survey":
		return o, fmt.Errorf("-scenario %q: want complaints or survey", o.scenario)
	case o.customers < 1 || !(o.mailRate > 0) || o.detractors < 0 || o.detractors > 1 || o.visitWait <= 0 || o.closeAfter < 0:
		return o, errors.New("-customers, -mail-rate and -visit-wait must be positive, -detractors a share between 0 and 1")
	}
	if o.baseline == 0 {
		o.baseline = o.complaints
	}
	if o.warmup == -1 {
		o.warmup = o.clients
	}
	if o.warmup < 0 || o.clients < 1 || o.complaints < 1 || o.baseline < 1 || o.inboxRows < 0 || o.inboxSamples < 1 {
		return o, errors.New("-clients, -complaints, -baseline and -inbox-samples must be positive, -inbox-rows and -warmup not negative")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var f figures
	if o.scenario == "survey" {
		var sf *Survey
		if sf, err = runSurvey(ctx, o); sf != nil {
			f = sf
		}
	} else {
		var cf *Figures
		if cf, err = run(ctx, o); cf != nil {
			f = cf
		}
	}
	if f != nil {
		f.print(os.Stdout)
		if werr := f.write(o.out); werr != nil {
			err = errors.Join(err, werr)
		} else {
			fmt.Printf("\nfigures written to %s\n", o.out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// figures are what a scenario measured: printed, then written to the JSON file.
type figures interface {
	print(w io.Writer)
	write(file string) error
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// run measures everything it can and returns the figures gathered so far with the first
// error.
func run(ctx context.Context, o options) (*Figures, error) {
	var s *stack
	var err error
	if o.api == "" {
		s, err = startDev(ctx, o)
	} else {
		s, err = external(o)
	}
	if err != nil {
		return nil, err
	}
	defer s.stop()

	f := newFigures(o, s.mode)
	runID := strings.ToLower(domain.NewID("run")[4:])
	tc, err := client.DialContext(ctx, client.Options{HostPort: s.temporal, Namespace: "default",
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		return f, fmt.Errorf("connect to Temporal at %s: %w", s.temporal, err)
	}
	defer tc.Close()
	var db *store.Store
	if s.dbURL != "" {
		if db, err = store.Open(ctx, s.dbURL); err != nil {
			return f, err
		}
		defer db.Close()
	}
	a := newAPIClient(s, o.clients)

	logf("baseline: %d one-activity workflows from %d clients", o.baseline, o.clients)
	if f.Baseline, f.BaselineLatency, err = runBaseline(ctx, tc, runID, o.clients, o.baseline); err != nil {
		return f, fmt.Errorf("baseline: %w", err)
	}

	if o.warmup > 0 {
		// As the baseline warms up its worker: the first completions of a fresh process
		// pay for its caches and each connection's prepared statements.
		logf("warm-up: %d complaints filed and worked, not measured", o.warmup)
		wids, _, _, err := runIntake(ctx, a, runID+"-warmup", o.clients, o.warmup)
		if err == nil {
			_, _, err = runWork(ctx, a, wids, o.clients)
		}
		if err == nil && db != nil {
			_, err = waitOutboxDrained(ctx, db.Pool, wids, 5*time.Minute)
		}
		if err != nil {
			return f, fmt.Errorf("warm-up: %w", err)
		}
	}

	logf("intake: %d complaints from %d clients", o.complaints, o.clients)
	start := time.Now()
	ids, intake, createLat, err := runIntake(ctx, a, runID, o.clients, o.complaints)
	f.Intake, f.CreateComplaint = intake, createLat
	if err != nil {
		return f, fmt.Errorf("intake: %w", err)
	}
	if db != nil {
		if err := waitEvaluateTasks(ctx, db.Pool, ids, 5*time.Minute); err != nil {
			return f, fmt.Errorf("intake: %w", err)
		}
		p := throughput(len(ids), 0, time.Since(start))
		f.IntakeProcessed = &p
		if o.settle {
			// Each phase is measured on its own, as the baseline is: the intake leaves
			// ~5 e-mails per complaint queued, and sending them competes with the work.
			logf("settle: waiting for the intake's e-mails to leave the outbox")
			n, err := waitOutboxDrained(ctx, db.Pool, ids, 5*time.Minute)
			if err != nil {
				return f, fmt.Errorf("settle: %w", err)
			}
			f.Settle = &Settle{Emails: n, Seconds: time.Since(start).Seconds() - p.Seconds}
		}
	}

	logf("work: evaluate, respond and resolve %d complaints from %d clients", len(ids), o.clients)
	disk, err := startDiskProbe(os.TempDir())
	if err != nil {
		return f, fmt.Errorf("disk probe: %w", err)
	}
	work, comp, err := runWork(ctx, a, ids, o.clients)
	f.DiskSync = disk.Stop()
	f.DiskStalls = disk.stallsDuring(&comp.all)
	f.Worked, f.CompleteTask, f.CompleteConflicts = work, comp.all.summary(), int(comp.conflicts.Load())
	f.CompleteByStep = map[string]Latency{}
	for step, s := range comp.byStep {
		f.CompleteByStep[step] = s.summary()
	}
	if err != nil {
		return f, fmt.Errorf("work: %w", err)
	}

	switch {
	case o.inboxRows == 0:
	case db == nil:
		logf("inbox: skipped (with -api, pass -database-url to allow loadgen to insert task rows)")
	default:
		logf("inbox: inserting %d task rows", o.inboxRows)
		if err := seedInbox(ctx, db, o.inboxRows); err != nil {
			return f, err
		}
		if o.api != "" {
			defer func() { _ = deleteInbox(context.WithoutCancel(ctx), db) }()
		}
		logf("inbox: timing %d requests per query", o.inboxSamples)
		var total int
		if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM tasks").Scan(&total); err != nil {
			return f, err
		}
		in, err := measureInbox(ctx, a, db, total, o.inboxSamples)
		if err != nil {
			return f, fmt.Errorf("inbox: %w", err)
		}
		f.Inbox = &in
	}
	return f, nil
}

// Figures is what loadgen measured, as written to the JSON file.
type Figures struct {
	At         time.Time `json:"at"`
	Cores      int       `json:"cores"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"go_version"`
	OSArch     string    `json:"os_arch"`
	Stack      string    `json:"stack"`
	Clients    int       `json:"clients"`
	// LoadAvg is the machine's 1-minute load average at the start and the end (Linux):
	// other work on the machine skews every figure.
	LoadAvg [2]string `json:"load_avg_start_end,omitempty"`
	// DiskSync: a 4 KiB write and fsync in the temp directory every 20 ms during the
	// work phase. Every PostgreSQL commit waits for such a sync (disk.go).
	DiskSync Latency `json:"disk_fsync_during_work"`
	// DiskStalls: the completions under way while a sync took over 50 ms, and the
	// latency of the others, which some that queued behind a stall still slow down.
	DiskStalls DiskStalls `json:"disk_stalls_during_work"`

	// Baseline: one-activity workflows started on the same Temporal server, each client
	// waiting for the result (start → result) before starting the next.
	Baseline        Throughput `json:"baseline"`
	BaselineLatency Latency    `json:"baseline_latency"`
	// Intake: POST /complaints answered 201 (complaint validated, Idempotency-Key
	// recorded, workflow started, row inserted), each client filing the next at once.
	Intake          Throughput `json:"intake"`
	CreateComplaint Latency    `json:"post_complaints"`
	// IntakeProcessed: from the first POST until every complaint's workflow has
	// recorded it, sent the acknowledgement and opened its evaluate task.
	IntakeProcessed *Throughput `json:"intake_processed,omitempty"`
	IntakeRatio     float64     `json:"intake_to_baseline"`
	ProcessedRatio  float64     `json:"intake_processed_to_baseline,omitempty"`
	// Settle: the wait after IntakeProcessed until the intake's e-mails had left the
	// outbox, before the work started (absent with -settle=false or without a database).
	Settle *Settle `json:"settle,omitempty"`
	// Worked: complaints taken through evaluate (claim + complete), respond, resolve.
	Worked         Throughput         `json:"worked"`
	CompleteTask   Latency            `json:"post_task_complete"`
	CompleteByStep map[string]Latency `json:"post_task_complete_by_step"`
	// CompleteConflicts counts completions answered 409 while the task row was already
	// open (the workflow had not yet taken the task up), and retried.
	CompleteConflicts int      `json:"post_task_complete_409_retried"`
	Inbox             *Inbox   `json:"inbox,omitempty"`
	Targets           []Target `json:"targets"`
}

// Settle is the pause between the intake and the work phase.
type Settle struct {
	Emails  int     `json:"emails"`
	Seconds float64 `json:"seconds"`
}

// Target is one of issue 3's goals.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Goal  string  `json:"goal"`
	Met   bool    `json:"met"`
}

func newFigures(o options, mode string) *Figures {
	return &Figures{
		At: time.Now().UTC().Truncate(time.Second), Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, Stack: mode, Clients: o.clients,
		LoadAvg: [2]string{loadAvg(), ""},
	}
}

// loadAvg is the 1-minute load average, or "" where /proc/loadavg does not exist.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Fields(string(b))[0]
}

func (f *Figures) evaluate() {
	if f.LoadAvg[1] == "" {
		f.LoadAvg[1] = loadAvg()
	}
	if f.Baseline.PerSecond > 0 {
		f.IntakeRatio = f.Intake.PerSecond / f.Baseline.PerSecond
		if f.IntakeProcessed != nil {
			f.ProcessedRatio = f.IntakeProcessed.PerSecond / f.Baseline.PerSecond
		}
	}
	f.Targets = []Target{
		{"intake / baseline throughput", f.IntakeRatio, ">= 0.50", f.Intake.Count > 0 && f.IntakeRatio >= 0.5},
		{"POST /tasks/{id}/complete p99 ms", f.CompleteTask.P99, "< 150", f.CompleteTask.Count > 0 && f.CompleteTask.P99 < 150},
	}
	if in := f.Inbox; in != nil {
		p99 := max(in.HTTPMine.P99, in.HTTPGroup.P99)
		f.Targets = append(f.Targets, Target{"inbox p99 ms (HTTP, worst scope)", p99, "< 10", p99 < 10})
	}
}

func (f *Figures) print(w io.Writer) {
	f.evaluate()
	fmt.Fprintf(w, "\nserviceflow loadgen  %s  %d cores (GOMAXPROCS %d)  %s  %d clients\n  stack: %s\n",
		f.OSArch, f.Cores, f.GOMAXPROCS, f.GoVersion, f.Clients, f.Stack)
	if f.LoadAvg[0] != "" {
		fmt.Fprintf(w, "  load average (1 min) at start %s, at end %s\n", f.LoadAvg[0], f.LoadAvg[1])
	}
	if d := f.DiskSync; d.Count > 0 {
		fmt.Fprintf(w, "  disk: 4 KiB write+fsync every 20 ms during the work  p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", d.P50, d.P99, d.Max)
	}
	if st := f.DiskStalls; st.Syncs > 0 {
		o := st.Outside
		fmt.Fprintf(w, "  disk stalls: %d syncs over %.0f ms; %d of %d completions were under way during one,\n"+
			"    the other %d: p50 %.1f ms  p99 %.1f ms  max %.1f ms\n",
			st.Syncs, st.OverMs, st.Overlapping, f.CompleteTask.Count, o.Count, o.P50, o.P99, o.Max)
	}
	fmt.Fprintln(w)
	tput := func(name string, t Throughput, unit string) {
		fmt.Fprintf(w, "  %-44s %5d in %6.2fs  %7.1f %s", name, t.Count, t.Seconds, t.PerSecond, unit)
		if t.Errors > 0 {
			fmt.Fprintf(w, "  (%d errors)", t.Errors)
		}
		fmt.Fprintln(w)
	}
	lat := func(name string, l Latency) {
		fmt.Fprintf(w, "  %-44s p50 %7.1f ms   p99 %7.1f ms   max %7.1f ms   (n=%d)\n", name, l.P50, l.P99, l.Max, l.Count)
	}
	fmt.Fprintln(w, "Throughput")
	tput("baseline: 1-activity workflow, start→result", f.Baseline, "workflows/s")
	tput("intake: POST /complaints → 201", f.Intake, "complaints/s")
	if p := f.IntakeProcessed; p != nil {
		tput("intake → acknowledged, evaluate task open", *p, "complaints/s")
	}
	if st := f.Settle; st != nil {
		fmt.Fprintf(w, "  %-44s %5d in %6.2fs  (then the work starts)\n", "settle: intake e-mails sent", st.Emails, st.Seconds)
	}
	tput("worked: evaluate, respond, resolve", f.Worked, "complaints/s")
	fmt.Fprintf(w, "  intake / baseline = %.2f", f.IntakeRatio)
	if f.IntakeProcessed != nil {
		fmt.Fprintf(w, "   (processed intake / baseline = %.2f)", f.ProcessedRatio)
	}
	fmt.Fprintln(w, "\n\nLatency")
	lat("baseline workflow start→result", f.BaselineLatency)
	lat("POST /complaints", f.CreateComplaint)
	lat("POST /tasks/{id}/complete (all steps)", f.CompleteTask)
	for _, step := range []string{domain.StepEvaluate, domain.StepRespond, domain.StepResolve} {
		if l, ok := f.CompleteByStep[step]; ok {
			lat("  "+step, l)
		}
	}
	if f.CompleteConflicts > 0 {
		fmt.Fprintf(w, "  %d completions answered 409 while the task row was already open; retried\n", f.CompleteConflicts)
	}
	if in := f.Inbox; in != nil {
		fmt.Fprintf(w, "\nInbox, %d task rows (carol: %d open assigned, %d open in customer_service)\n", in.Rows, in.MineRows, in.GroupRows)
		lat("GET /api/v1/tasks?scope=mine", in.HTTPMine)
		lat("GET /api/v1/tasks?scope=group", in.HTTPGroup)
		lat("store.ListTasks mine (SQL only)", in.StoreMine)
		lat("store.ListTasks group (SQL only)", in.StoreGroup)
	}
	printTargets(w, f.Targets)
}

// printTargets prints each target with its figure and whether it was met.
func printTargets(w io.Writer, targets []Target) {
	fmt.Fprintln(w, "\nTargets")
	for _, t := range targets {
		mark := "MISSED"
		if t.Met {
			mark = "met"
		}
		fmt.Fprintf(w, "  %-44s %8.2f  (goal %s)  %s\n", t.Name, t.Value, t.Goal, mark)
	}
}

func (f *Figures) write(file string) error {
	f.evaluate()
	return writeJSON(file, f)
}

// writeJSON writes v, indented, to file.
func writeJSON(file string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}
