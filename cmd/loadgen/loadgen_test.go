package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

func TestPercentileIsNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 100 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one sample: %v", got)
	}
}

func TestClosedLoopRunsEachIndexOnce(t *testing.T) {
	var seen [100]atomic.Int32
	boom := errors.New("boom")
	_, errs := closedLoop(context.Background(), 7, len(seen), func(_ context.Context, w, i int) error {
		if w < 0 || w >= 7 {
			t.Errorf("worker %d", w)
		}
		seen[i].Add(1)
		if i%10 == 0 {
			return boom
		}
		return nil
	})
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("index %d ran %d times", i, n)
		}
	}
	if len(errs) != 10 || !errors.Is(errs[0], boom) {
		t.Fatalf("errors: %v", errs)
	}
}

func TestClosedLoopStopsWhenCancelled(t *testing.T) {
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		var ran atomic.Int32
		// Op 4 cancels; later ops behave like requests that honour ctx and return only
		// once it is cancelled, so the schedule cannot let one worker run ahead.
		_, errs := closedLoop(ctx, 2, 1000, func(ctx context.Context, _, i int) error {
			ran.Add(1)
			switch {
			case i == 4:
				cancel()
			case i > 4:
				<-ctx.Done()
			}
			return nil
		})
		// Ops 0-4, plus at most op 5 taken by the other worker before the cancel.
		if n := ran.Load(); n < 5 || n > 6 {
			t.Fatalf("ran %d ops, want 5 or 6", n)
		}
		if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
			t.Fatalf("errors: %v", errs)
		}
	}
}

func TestCleanEnvDropsServiceflowSettings(t *testing.T) {
	got := cleanEnv([]string{"PATH=/bin", "SENDGRID_API_KEY=SG.real", "DATABASE_URL=postgres://prod", "TEMPORAL_ADDRESS=x:7233",
		"SERVICEFLOW_HTTP_ADDR=:80", "MAIL_FROM=a@b", "HOME=/root"})
	if !slices.Equal(got, []string{"PATH=/bin", "HOME=/root"}) {
		t.Fatalf("cleanEnv = %v", got)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:8080/", "127.0.0.1:7233", "localhost:7233", "http://[::1]:8080"} {
		if err := loopbackOnly(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://example.com:8080", "10.0.0.1:7233", "https://api.serviceflow.example"} {
		if err := loopbackOnly(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestTaskRowsLookLikeAnInbox(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	const n = 20_000
	ids := map[string]bool{}
	var open, waiting, carolMine int
	for i := range n {
		r := taskRow(i, rng, now)
		row := map[string]any{}
		for j, c := range taskRowColumns {
			row[c] = r[j]
		}
		ids[row["id"].(string)] = true
		status, groups := row["status"].(string), row["candidate_groups"].([]string)
		switch {
		case row["assignee"] == nil && (status != domain.TaskOpen || len(groups) == 0):
			t.Fatalf("row %d: unassigned but %s with groups %v", i, status, groups)
		case status == domain.TaskCompleted && row["completed_by"] != row["assignee"]:
			t.Fatalf("row %d: completed by %v, assigned to %v", i, row["completed_by"], row["assignee"])
		case status != domain.TaskOpen && row["completed_at"] == nil:
			t.Fatalf("row %d: %s without completed_at", i, status)
		case !row["due_at"].(time.Time).After(row["created_at"].(time.Time)):
			t.Fatalf("row %d: due before created", i)
		}
		if status == domain.TaskOpen {
			open++
			if row["assignee"] == nil {
				waiting++
			}
			if row["assignee"] == "carol" {
				carolMine++
			}
		}
	}
	if len(ids) != n {
		t.Fatalf("%d distinct ids for %d rows", len(ids), n)
	}
	if share := float64(open) / n; share < 0.15 || share > 0.19 {
		t.Errorf("open share %.3f, want about 0.17", share)
	}
	if share := float64(waiting) / float64(open); share < 0.25 || share > 0.35 {
		t.Errorf("waiting share of open %.3f, want about 0.30", share)
	}
	if carolMine == 0 || carolMine > open/10 {
		t.Errorf("carol holds %d of %d open tasks", carolMine, open)
	}
}

// The settle step waits while an e-mail of the run's complaints is queued, ignores other
// complaints' e-mails, and counts the run's.
func TestWaitOutboxDrained(t *testing.T) {
	st := storetest.New(t, "loadgen")
	ctx := context.Background()
	add := func(key, processID string) string {
		t.Helper()
		e := store.Email{ID: domain.NewID("eml"), IdempotencyKey: key, To: "x@example.com", Locale: "en",
			Template: "complaint_ack", Subject: "s", Text: "t", HTML: "h", Process: "complaint", ProcessID: processID}
		if _, err := store.InsertEmail(ctx, st.Pool, e); err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	ours := add("a", "CMP-1")
	add("b", "CMP-2")
	add("c", "CMP-OTHER") // another run's: stays queued

	if _, err := waitOutboxDrained(ctx, st.Pool, []string{"CMP-1", "CMP-2"}, 100*time.Millisecond); err == nil {
		t.Fatal("returned while two e-mails were queued")
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE emails SET status = $1 WHERE process_id IN ('CMP-1', 'CMP-2')`, store.EmailSent); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE emails SET status = $1 WHERE id = $2`, store.EmailFailed, ours); err != nil {
		t.Fatal(err)
	}
	n, err := waitOutboxDrained(ctx, st.Pool, []string{"CMP-1", "CMP-2", ""}, time.Second)
	if err != nil || n != 2 {
		t.Fatalf("after sending: %d, %v; want 2, nil", n, err)
	}
}

// The disk probe times syncs until stopped, then leaves nothing behind.
func TestDiskProbeTimesSyncsAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	p, err := startDiskProbe(dir)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.syncs.summary().Count < 3 && time.Now().Before(deadline) {
		time.Sleep(diskProbeEvery)
	}
	l := p.Stop()
	if l.Count < 3 || l.Max <= 0 || l.P50 > l.Max {
		t.Errorf("syncs = %+v, want at least 3 timed", l)
	}
	if after := p.Stop(); after.Count != l.Count {
		t.Errorf("a second Stop sees %d syncs, the first %d: the probe went on", after.Count, l.Count)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("the probe left %v", files)
	}
}

// A completion counts as under way during a disk stall when their spans overlap, even by
// a moment; one that ends as the stall begins, or begins as it ends, does not.
func TestStallsDuringSplitsCompletionsBySlowSyncs(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	at := func(msec int) time.Time { return t0.Add(time.Duration(msec) * time.Millisecond) }
	var p diskProbe
	p.syncs.add(at(0), 2*time.Millisecond)
	p.syncs.add(at(1000), 200*time.Millisecond) // a stall: 1000–1200 ms
	p.syncs.add(at(1300), diskStallAt)          // not over the threshold
	p.syncs.add(at(2000), 60*time.Millisecond)  // a stall: 2000–2060 ms

	var c samples
	c.add(at(900), 100*time.Millisecond)  // ends as the first stall begins
	c.add(at(950), 80*time.Millisecond)   // overlaps it
	c.add(at(1100), 250*time.Millisecond) // overlaps it
	c.add(at(1200), 40*time.Millisecond)  // begins as it ends
	c.add(at(1290), 30*time.Millisecond)  // during a slow sync that is not a stall
	c.add(at(2059), 5*time.Millisecond)   // overlaps the second stall by 1 ms
	c.add(at(3000), 20*time.Millisecond)

	got := p.stallsDuring(&c)
	want := DiskStalls{OverMs: 50, Syncs: 2, Overlapping: 3,
		Outside: Latency{Count: 4, P50: 30, P99: 100, Max: 100}}
	if got != want {
		t.Errorf("stallsDuring = %+v\nwant %+v", got, want)
	}

	var none diskProbe
	none.syncs.add(at(0), time.Millisecond)
	if got := none.stallsDuring(&c); got.Syncs != 0 || got.Overlapping != 0 || got.Outside.Count != 7 {
		t.Errorf("no stalls: %+v, want every completion outside", got)
	}
}

// The printed figures name the stalls, and only when there were some.
func TestPrintShowsDiskStalls(t *testing.T) {
	f := &Figures{CompleteTask: Latency{Count: 600, P50: 40, P99: 177, Max: 260},
		DiskStalls: DiskStalls{OverMs: 50, Syncs: 2, Overlapping: 14, Outside: Latency{Count: 586, P50: 39, P99: 98, Max: 130}}}
	var b strings.Builder
	f.print(&b)
	for _, s := range []string{"disk stalls: 2 syncs over 50 ms; 14 of 600 completions", "the other 586: p50 39.0 ms  p99 98.0 ms"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, b.String())
		}
	}
	// The target is judged on every completion, stalls or not.
	if !strings.Contains(b.String(), "177.00  (goal < 150)  MISSED") {
		t.Errorf("the completion target should be missed on all 600:\n%s", b.String())
	}
	f.DiskStalls = DiskStalls{OverMs: 50}
	b.Reset()
	f.print(&b)
	if strings.Contains(b.String(), "disk stalls") {
		t.Errorf("no stalls, yet:\n%s", b.String())
	}
}
