// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/testbed/testbed"
	"github.com/stretchr/testify/require"
)

// guardMemory is what TestGuardMemory measured at one member count.
type guardMemory struct {
	members    int
	liveMiB    float64 // HeapAlloc right after a forced GC, load stopped, state held (least of liveSamples)
	liveMaxMiB float64 // the most of those samples: a checkpoint write in flight
	heapAvgMiB float64 // otelcol_process_runtime_heap_alloc_bytes during the load
	heapMaxMiB float64
	rssMaxMiB  float64
}

var (
	guardMu  sync.Mutex
	guardMem []guardMemory
)

// TestGuardMemory holds 100 000 and then 1 000 000 active input series (members) in the
// shipped gateway's cardinality_guard — user_id stripped, 10 counters of 160 output series
// each, within max_members (1M) and its per-metric share (200k) — and reads the collector's
// Go heap two ways: otelcol_process_runtime_heap_alloc_bytes while the load runs (what a
// dashboard shows: live state plus the garbage GOGC lets accumulate), and HeapAlloc right
// after a GC forced through the gateway's pprof extension once everything is delivered (the
// live heap; the heap profile is saved next to agent.log). The bytes per member are the
// live-heap difference between the two runs over the 900 000 members between them.
func TestGuardMemory(t *testing.T) {
	for _, members := range []int{100_000, 1_000_000} {
		t.Run(strconv.Itoa(members), func(t *testing.T) {
			const rate = 100_000
			metrics := newRequestMetrics(members, compareMetricsBatch, standardLabels).withMetrics(10)
			tracker := newSeriesTracker()
			recv := newTeeReceiver(t, "metrics")
			recv.metrics = tracker.metrics
			var live, liveMax float64
			var dropped, active float64
			var windowStart uint64 // items sent when the window began: until's first call
			res := execute(t, run{
				signal: "metrics", kind: kindAiri, receiver: recv, provider: metrics,
				// the window ends once every member was sent twice within it (on a busy
				// machine the generator falls short of the rate); at most 2 minutes. Counted
				// from the window's start: at 100k members the warm-up alone sends 2 passes.
				until: func() bool {
					sent := metrics.Sent()
					if windowStart == 0 {
						windowStart = sent
					}
					return sent-windowStart >= 2*uint64(members)
				},
				duration:  2 * time.Minute,
				opts:      testbed.LoadOptions{DataItemsPerSecond: rate, ItemsPerBatch: compareMetricsBatch, Parallel: 4},
				delivered: func(*testbed.TestCase) bool { return tracker.Total() == metrics.Total() },
				afterLoad: func(c collectorPorts) {
					var err error
					live, liveMax, err = liveHeap(c)
					require.NoError(t, err)
					active, err = scrapeGauge(c.telemetry, "otelcol_processor_cardinality_guard_members_active")
					require.NoError(t, err)
					dropped, _ = scrapeGauge(c.telemetry, "otelcol_processor_cardinality_guard_dropped_points_total")
				},
			})
			requireHealthy(t, res)
			require.True(t, res.delivered, "counts lost or double-counted: sent total %d, received total %d", metrics.Total(), tracker.Total())
			require.Equal(t, members, metrics.MembersSeen(), "not every member was sent")
			require.Zero(t, dropped, "the guard dropped points (member limits)")
			require.InDelta(t, float64(members), active, float64(members)/100, "members_active")
			record(res.measurement)
			guardMu.Lock()
			guardMem = append(guardMem, guardMemory{members: members, liveMiB: live, liveMaxMiB: liveMax, heapAvgMiB: res.HeapAvgMiB, heapMaxMiB: res.HeapMaxMiB, rssMaxMiB: res.RAMMaxMiB})
			guardMu.Unlock()
			t.Logf("%d members: live heap %.0f MiB after GC (%.0f with a checkpoint write in flight); heap_alloc during load avg %.0f max %.0f MiB; RSS max %.0f MiB",
				members, live, liveMax, res.HeapAvgMiB, res.HeapMaxMiB, res.RAMMaxMiB)
		})
	}
}

// liveSamples is how many times liveHeap forces a GC, a second apart.
const liveSamples = 6

// liveHeap forces a GC in the collector (pprof's heap endpoint with gc=1) and reads the
// HeapAlloc the runtime reports right after it (the debug=1 form of the same endpoint prints
// runtime.MemStats), liveSamples times a second apart, and returns the least and the most, in
// MiB. The guard writes its checkpoint every AIRI_GUARD_CHECKPOINT_INTERVAL (5s): at 1M members
// a write holds ~90 MiB for a second or two (the encoded state and bbolt's pages), so a single
// reading lands on one about every third time. The least is the state held; the profile of
// that sample is saved as heap.pprof.
func liveHeap(c collectorPorts) (least, most float64, err error) {
	base := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", c.pprof)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := range liveSamples {
		if i > 0 {
			<-tick.C
		}
		prof, err := httpGet(base + "?gc=1")
		if err != nil {
			return 0, 0, err
		}
		stats, err := httpGet(base + "?debug=1")
		if err != nil {
			return 0, 0, err
		}
		v, err := heapAlloc(stats)
		if err != nil {
			return 0, 0, fmt.Errorf("%s?debug=1: %w", base, err)
		}
		if i == 0 || v < least {
			least = v
			if err := os.WriteFile(filepath.Join(c.resultDir, "heap.pprof"), prof, 0o644); err != nil {
				return 0, 0, err
			}
		}
		most = max(most, v)
	}
	return least, most, nil
}

func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// heapAlloc reads "# HeapAlloc = N" from a debug=1 heap profile, in MiB.
func heapAlloc(stats []byte) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(stats))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			n, err := strconv.ParseFloat(v, 64)
			return n / (1 << 20), err
		}
	}
	return 0, fmt.Errorf("no HeapAlloc (%v)", sc.Err())
}

func guardTable() string {
	guardMu.Lock()
	defer guardMu.Unlock()
	if len(guardMem) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Live heap = HeapAlloc right after a GC forced through pprof, load stopped, state held: the least of %d "+
		"readings a second apart (the most: a checkpoint write in flight). heap_alloc = "+
		"`otelcol_process_runtime_heap_alloc_bytes` while the load ran (no forced GC: garbage included).\n\n", liveSamples)
	b.WriteString("| active members | live heap MiB | live heap, checkpoint in flight MiB | heap_alloc avg / max MiB | RSS max MiB | live heap / member |\n|---:|---:|---:|---|---:|---:|\n")
	for _, g := range guardMem {
		fmt.Fprintf(&b, "| %d | %.1f | %.1f | %.0f / %.0f | %.0f | %.0f B |\n", g.members, g.liveMiB, g.liveMaxMiB, g.heapAvgMiB, g.heapMaxMiB, g.rssMaxMiB,
			g.liveMiB*(1<<20)/float64(g.members))
	}
	if len(guardMem) == 2 {
		lo, hi := guardMem[0], guardMem[1]
		perMember := (hi.liveMiB - lo.liveMiB) * (1 << 20) / float64(hi.members-lo.members)
		perMemberAlloc := (hi.heapAvgMiB - lo.heapAvgMiB) * (1 << 20) / float64(hi.members-lo.members)
		fmt.Fprintf(&b, "\nBytes per member (%d → %d members): **%.0f B from the live heap** (target ≤ 64 B: %s); %.0f B from heap_alloc's average during the load.\n",
			lo.members, hi.members, perMember, mark(perMember <= 64), perMemberAlloc)
	}
	return b.String()
}
