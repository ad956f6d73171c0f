package main

import (
	"context"
	"os"
	"time"
)

// diskProbeEvery is how often the disk probe writes and syncs.
const diskProbeEvery = 20 * time.Millisecond

// diskStallAt is the sync time over which loadgen counts a sync as a stall of the disk:
// on this project's machine a quiet disk syncs in under 20 ms (p99 3–15 ms).
const diskStallAt = 50 * time.Millisecond

// diskProbe rewrites 4 KiB of a file and syncs it every diskProbeEvery, timing each
// sync. PostgreSQL waits for such a sync at every commit, so while the disk is slow to
// sync (other work on a shared disk) every request that writes waits too: a completion
// p99 far above its p50 that matches a slow sync here is the disk's doing. (The stalls
// seen here stayed with the embedded Temporal's SQLite checkpoints moved off the
// server's connection, and with SQLite not syncing at all.)
type diskProbe struct {
	syncs samples
	stop  context.CancelFunc
	done  chan struct{}
}

// startDiskProbe starts probing the disk of dir.
func startDiskProbe(dir string) (*diskProbe, error) {
	f, err := os.CreateTemp(dir, "loadgen-disk-probe-*")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &diskProbe{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer os.Remove(f.Name())
		defer f.Close()
		buf := make([]byte, 4096)
		tick := time.NewTicker(diskProbeEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := p.syncs.time(func() error {
				if _, err := f.WriteAt(buf, 0); err != nil {
					return err
				}
				return f.Sync()
			})
			if err != nil {
				return
			}
		}
	}()
	return p, nil
}

// Stop ends the probe, removes its file and returns the sync times.
func (p *diskProbe) Stop() Latency {
	p.stop()
	<-p.done
	return p.syncs.summary()
}

// DiskStalls relates the completions to the disk's stalls: the syncs slower than
// diskStallAt, the completions under way during one of them, and the latency of the
// others. Those others still include any request that queued behind a stall and began
// after it, so they show the service's own tail at most as good as it is.
type DiskStalls struct {
	OverMs      float64 `json:"sync_over_ms"`
	Syncs       int     `json:"syncs"`
	Overlapping int     `json:"post_task_complete_overlapping"`
	Outside     Latency `json:"post_task_complete_outside"`
}

// stallsDuring relates the completions c to the stalls the probe saw; call it after Stop.
func (p *diskProbe) stallsDuring(c *samples) DiskStalls {
	stalls := p.syncs.longerThan(diskStallAt)
	outside, overlapping := c.outside(stalls)
	return DiskStalls{OverMs: ms(diskStallAt), Syncs: len(stalls), Overlapping: overlapping, Outside: outside}
}
