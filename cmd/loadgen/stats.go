package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// samples collects latencies from concurrent clients, with when each began.
type samples struct {
	mu    sync.Mutex
	d     []time.Duration
	start []time.Time
}

// add records an operation that began at start and took d.
func (s *samples) add(start time.Time, d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.start = append(s.start, start)
	s.mu.Unlock()
}

// time runs f and records how long it took.
func (s *samples) time(f func() error) error {
	start := time.Now()
	err := f()
	s.add(start, time.Since(start))
	return err
}

// longerThan returns the operations that took longer than d, as [start, end) spans.
func (s *samples) longerThan(d time.Duration) []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []span
	for i, di := range s.d {
		if di > d {
			out = append(out, span{s.start[i], s.start[i].Add(di)})
		}
	}
	return out
}

// span is the time an operation was under way.
type span struct{ from, to time.Time }

func (a span) overlaps(b span) bool { return a.from.Before(b.to) && b.from.Before(a.to) }

// outside splits s by whether each operation overlapped one of the spans: it returns
// the latencies of those that did not, and how many did.
func (s *samples) outside(spans []span) (rest Latency, overlapping int) {
	var r samples
	s.mu.Lock()
	for i, d := range s.d {
		op := span{s.start[i], s.start[i].Add(d)}
		if slices.ContainsFunc(spans, op.overlaps) {
			overlapping++
			continue
		}
		r.d = append(r.d, d)
	}
	s.mu.Unlock()
	return r.summary(), overlapping
}

// Latency summarises samples in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (s *samples) summary() Latency {
	s.mu.Lock()
	d := slices.Clone(s.d)
	s.mu.Unlock()
	slices.Sort(d)
	return Latency{Count: len(d), P50: ms(percentile(d, 50)), P99: ms(percentile(d, 99)), Max: ms(percentile(d, 100))}
}

// percentile is the nearest-rank percentile p (0 < p <= 100) of sorted d; 0 when empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Throughput is a count of operations over a wall time.
type Throughput struct {
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

func throughput(n, errs int, wall time.Duration) Throughput {
	t := Throughput{Count: n, Errors: errs, Seconds: wall.Seconds()}
	if wall > 0 {
		t.PerSecond = float64(n-errs) / wall.Seconds()
	}
	return t
}

// closedLoop runs op(ctx, worker, i) for each i in [0, n) on `workers` goroutines: each
// worker takes the next i as soon as its previous op returns. It stops handing out work
// when ctx ends and returns the wall time and the errors.
func closedLoop(ctx context.Context, workers, n int, op func(ctx context.Context, worker, i int) error) (time.Duration, []error) {
	var next atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(ctx, w, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return time.Since(start), errs
}
