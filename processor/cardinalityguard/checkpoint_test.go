// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadatatest"
)

// ckptStream is a deterministic stream of exports over every kind the guard merges: members
// that join late, reset (a new start time) or go away, a budget that overflows, two
// producers. Step i is at clock second 10*i.
type ckptStream struct {
	members []ckptMember
	// in steps [calmFrom, calmTo) no input resets or stops
	calmFrom, calmTo int64
}

func (s *ckptStream) calm(from, to int64) {
	s.calmFrom, s.calmTo = from, to
	for i := range s.members {
		if m := &s.members[i]; m.until >= from-1 && m.until < to {
			m.until = to + 2
		}
	}
}

type ckptMember struct {
	res, route, user string
	start, from      int64 // start time; first step it reports
	until            int64 // last step it reports (0: forever)
	v                int64
	counts           []uint64
}

func newCkptStream(seed uint64, n int) *ckptStream {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	s := &ckptStream{}
	routes := []string{"/a", "/b", "/c", "/d", "/e", "/f"} // budget 4: two routes overflow
	for i := range n {
		m := ckptMember{
			res:    []string{"pod-1", "pod-2"}[rng.IntN(2)],
			route:  routes[rng.IntN(len(routes))],
			user:   fmt.Sprintf("u%d", i),
			from:   int64(rng.IntN(6)),
			start:  1,
			counts: make([]uint64, 4),
		}
		if rng.IntN(4) == 0 {
			m.until = m.from + 3 + int64(rng.IntN(4))
		}
		s.members = append(s.members, m)
	}
	// a producer that goes away: all its series are evicted a minute later
	s.members = append(s.members, ckptMember{res: "pod-3", route: "/a", user: "gone", start: 1, until: 13, counts: make([]uint64, 4)})
	return s
}

// step returns export i; rng decides the increments and resets of that step.
func (s *ckptStream) step(i int64) pmetric.Metrics {
	rng := rand.New(rand.NewPCG(uint64(i), 77))
	b := newBuilder()
	t := 10 * i
	for k := range s.members {
		m := &s.members[k]
		if i < m.from || (m.until != 0 && i > m.until) {
			continue
		}
		if rng.IntN(15) == 0 && (i < s.calmFrom || i >= s.calmTo) { // the process restarted: its counters start again
			m.start, m.v = t-1, 0
			clear(m.counts)
		}
		m.v += int64(rng.IntN(5))
		m.counts[rng.IntN(4)]++
		a := attrs("service", m.res, "project", "proj-"+m.res, "http_route", m.route, "user_id", m.user)
		b.sum(m.res, "reqs_total", false, a, m.start, t, m.v)
		b.sum(m.res, "tokens_total", true, a, t-10, t, int64(rng.IntN(7)))
		b.gauge(m.res, "inflight", a, t, float64(rng.IntN(9)))
		b.gauge(m.res, "sessions", a, t, float64(rng.IntN(50)))
		b.hist(m.res, "latency", false, a, m.start, t, []float64{1, 2, 5}, append([]uint64(nil), m.counts...), float64(m.v))
		b.expHist(m.res, "eh", a, m.start, t, 2, -1, append([]uint64(nil), m.counts...), uint64(m.v/3))
		b.summary(m.res, "rpc", a, m.start, t, uint64(m.v))
	}
	return b.md
}

func ckptConfig() *Config {
	cfg := testConfig()
	cfg.MaxSeriesPerMetric = 4
	cfg.StaleAfter = time.Minute
	cfg.Metrics = map[string]MetricOverride{"sessions": {GaugeAggregation: GaugeMax, MaxSeries: 3}}
	cfg.MaxSeriesPerProject = 12 // proj-pod-1 reaches it; FuzzRestore's seeds carry project books
	cfg.Projects = map[string]ProjectOverride{"proj-pod-2": {MaxSeries: 16}}
	return cfg
}

// runSteps processes steps [from, to) of the stream (one per 10 s of the guard's clock) and
// returns the flattened outputs.
func runSteps(t testing.TB, g *guard, clk *fakeClock, s *ckptStream, from, to int64) []map[string]outPoint {
	var outs []map[string]outPoint
	for i := from; i < to; i++ {
		g.mu.Lock() // the checkpoint ticker reads the clock under the lock
		clk.t = time.Unix(1_700_000_000+10*i, 0)
		g.mu.Unlock()
		outs = append(outs, flatten(t, run(t, g, s.step(i))))
	}
	return outs
}

// restored returns a new guard started from the checkpoint data (at the clock of step at).
func restored(t testing.TB, cfg *Config, data []byte, at int64) (*guard, *fakeClock) {
	t.Helper()
	return restoredAt(t, cfg, data, time.Unix(1_700_000_000+10*at, 0))
}

// restoredAt returns a new guard started from the checkpoint data, its clock at now.
func restoredAt(t testing.TB, cfg *Config, data []byte, now time.Time) (*guard, *fakeClock) {
	t.Helper()
	g, clk := newTestGuard(t, cfg)
	clk.t = now
	g.restoreFrom(context.Background(), data, nil)
	require.Positive(t, g.liveSeries, "the checkpoint was restored")
	return g, clk
}

// TestCheckpointRestoreContinuesExactly: a guard restored from a checkpoint (SIGTERM: the
// final checkpoint holds everything) produces exactly the outputs of a guard that never
// stopped, over every kind, including series that overflow, reset and go stale later.
func TestCheckpointRestoreContinuesExactly(t *testing.T) {
	// cut is even: run's simulated sweeps (every 20 s from a guard's first export) then fall
	// on the same steps for both guards
	const steps, cut = 24, 12
	cfg := ckptConfig()
	whole, wclk := newTestGuard(t, cfg)
	want := runSteps(t, whole, wclk, newCkptStream(1, 40), 0, steps)

	s := newCkptStream(1, 40)
	first, fclk := newTestGuard(t, cfg)
	runSteps(t, first, fclk, s, 0, cut)
	data := first.encodeCheckpoint(nil, fclk.now().UnixNano())
	g, clk := restored(t, cfg, data, cut)
	require.Equal(t, first.liveSeries, g.liveSeries)
	require.Equal(t, first.liveMembers, g.liveMembers)
	got := runSteps(t, g, clk, s, cut, steps)
	for i := range got {
		require.Len(t, got[i], len(want[cut+i]), "step %d after the restore", cut+i)
		for id, p := range want[cut+i] {
			require.Equal(t, p, got[i][id], "step %d after the restore: %s", cut+i, id)
		}
	}
	// the comparison covered merged cumulative series, overflow and evictions
	last := got[len(got)-1]
	var overflow bool
	for id := range last {
		overflow = overflow || strings.Contains(id, overflowKey)
	}
	require.True(t, overflow, "the stream overflows a budget")
	require.Positive(t, totalsOf(g).evicted, "series went stale after the restore")
}

// TestCheckpointRestoreAfterKill: restored from a checkpoint taken some exports before the
// process died (SIGKILL), no merged cumulative series goes backwards or changes its start
// time against what the dead process last exported — provided no input counter reset or
// stopped between the checkpoint and its first point after the restart (its increments after
// the checkpoint were seen by the dead process only; README says so).
func TestCheckpointRestoreAfterKill(t *testing.T) {
	const cut, lost = 12, 3
	cfg := ckptConfig()
	s := newCkptStream(2, 40)
	s.calm(cut-lost, cut+1)
	first, fclk := newTestGuard(t, cfg)
	runSteps(t, first, fclk, s, 0, cut-lost)
	data := first.encodeCheckpoint(nil, fclk.now().UnixNano())
	exported := runSteps(t, first, fclk, s, cut-lost, cut)
	seen := map[string]outPoint{}
	for _, out := range exported {
		for id, p := range out {
			seen[id] = p
		}
	}
	g, clk := restored(t, cfg, data, cut)
	after := runSteps(t, g, clk, s, cut, cut+4)
	var compared int
	for _, out := range after {
		for id, p := range out {
			prev, ok := seen[id]
			if !ok || p.metric == "tokens_total" || p.metric == "inflight" || p.metric == "sessions" {
				continue
			}
			compared++
			require.Equal(t, prev.start, p.start, "%s keeps its start time", id)
			require.GreaterOrEqual(t, p.value, prev.value, "%s does not go backwards", id)
			require.Greater(t, p.ts, prev.ts, "%s moves forward in time", id)
			seen[id] = p
		}
	}
	require.Greater(t, compared, 20)
}

// memStorage is a storage extension holding its values in memory (the real file_storage is
// exercised by tests/distribution's TestGuardStateSurvivesRestart).
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc
	mu   sync.Mutex
	vals map[string][]byte
}

func (m *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return m, nil
}

func (m *memStorage) Get(_ context.Context, k string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vals[k], nil
}

func (m *memStorage) Set(_ context.Context, k string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vals[k] = append([]byte(nil), v...)
	return nil
}

func (m *memStorage) Delete(_ context.Context, k string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.vals, k)
	return nil
}

func (m *memStorage) Batch(context.Context, ...*storage.Operation) error { return nil }
func (m *memStorage) Close(context.Context) error                        { return nil }

type extHost map[component.ID]component.Component

func (h extHost) GetExtensions() map[component.ID]component.Component { return h }

var storageID = component.MustNewID("file_storage")

// TestCheckpointThroughStorage runs the lifecycle: Start restores, the ticker checkpoints,
// Shutdown writes the final checkpoint; and the checkpoint outcomes are counted.
func TestCheckpointThroughStorage(t *testing.T) {
	ctx := context.Background()
	st := &memStorage{vals: map[string][]byte{}}
	host := extHost{storageID: st}
	cfg := ckptConfig()
	cfg.Storage = &storageID
	cfg.CheckpointInterval = 5 * time.Millisecond
	s := newCkptStream(3, 20)

	first, fclk := newTestGuard(t, cfg)
	require.NoError(t, first.start(ctx, host))
	runSteps(t, first, fclk, s, 0, 5)
	require.Eventually(t, func() bool {
		d, _ := st.Get(ctx, ckptKey)
		return len(d) > 0
	}, 5*time.Second, 5*time.Millisecond, "a periodic checkpoint is written")
	runSteps(t, first, fclk, s, 5, 8)
	require.NoError(t, first.shutdown(ctx))
	final, _ := st.Get(ctx, ckptKey)
	_, _, written, err := decodeCheckpoint(final)
	require.NoError(t, err)
	require.Equal(t, fclk.now().UnixNano(), written, "the final checkpoint is of the last state")

	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(ctx)) })
	start := func(data []byte, at int64) *guard {
		t.Helper()
		st.vals[ckptKey] = data
		tel, err := metadata.NewTelemetryBuilder(tt.NewTelemetrySettings())
		require.NoError(t, err)
		g := newGuard(cfg, tel)
		clk := newFakeClock()
		clk.t = time.Unix(1_700_000_000+10*at, 0)
		g.now = clk.now
		require.NoError(t, g.start(ctx, host))
		t.Cleanup(func() { require.NoError(t, g.shutdown(ctx)) })
		return g
	}
	require.Equal(t, first.liveSeries, start(final, 8).liveSeries)

	corrupt := append([]byte(nil), final...)
	corrupt[len(corrupt)/2] ^= 0x40
	version := append([]byte(nil), final[:len(final)-4]...)
	version[len(ckptMagic)] = 9
	version = binary.LittleEndian.AppendUint32(version, crc32.Checksum(version, ckptCRC))
	for _, data := range [][]byte{corrupt, []byte("{\"not\": \"ours\"}"), version, final[:20]} {
		require.Zero(t, start(data, 8).liveSeries)
	}
	require.Zero(t, start(final, 8+7).liveSeries, "older than stale_after (1m)")

	outcome := func(o string, n int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("outcome", o)), Value: n}
	}
	metadatatest.AssertEqualProcessorCardinalityGuardCheckpointRestores(t, tt, []metricdata.DataPoint[int64]{
		outcome("restored", 1), outcome("corrupt", 2), outcome("foreign", 1), outcome("version", 1), outcome("stale", 1),
	}, metricdatatest.IgnoreTimestamp())
}

// TestCheckpointStorageMissing: a storage ID that names no storage extension fails the start.
func TestCheckpointStorageMissing(t *testing.T) {
	cfg := ckptConfig()
	cfg.Storage = &storageID
	g, _ := newTestGuard(t, cfg)
	require.ErrorContains(t, g.start(context.Background(), extHost{}), `storage: extension "file_storage" not found`)
	require.ErrorContains(t, g.start(context.Background(), extHost{storageID: struct {
		component.StartFunc
		component.ShutdownFunc
	}{}}), "is not a storage extension")
}

// FuzzRestore feeds arbitrary checkpoint bodies (the checksum recomputed, so the decoder
// behind it is what is fuzzed): decoding never panics, and a state it accepts is consistent
// and keeps merging and sweeping without a panic.
func FuzzRestore(f *testing.F) {
	cfg := ckptConfig()
	s := newCkptStream(4, 12)
	g, clk := newTestGuard(f, cfg)
	runSteps(f, g, clk, s, 0, 6)
	valid := g.encodeCheckpoint(nil, clk.now().UnixNano())
	f.Add(valid[:len(valid)-4], false)
	f.Add(valid, true)
	f.Add([]byte(ckptMagic+"\x01\x00"), false)
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		if !raw {
			data = binary.LittleEndian.AppendUint32(append([]byte(nil), data...), crc32.Checksum(data, ckptCRC))
		}
		st, _, _, err := decodeCheckpoint(data)
		if err != nil {
			return
		}
		require.Equal(t, st.seriesIdx.Len(), st.liveSeries)
		require.Equal(t, st.memberIdx.Len(), st.liveMembers)
		g, clk := newTestGuard(t, cfg)
		clk.t = time.Unix(1_700_000_000+60, 0)
		g.restoreFrom(context.Background(), data, nil)
		checkProjectCounts(t, g)
		s := newCkptStream(4, 12)
		runSteps(t, g, clk, s, 6, 9)
		checkProjectCounts(t, g)
		clk.advance(2 * time.Minute)
		g.sweepStale(context.Background())
		require.Equal(t, g.seriesIdx.Len(), g.liveSeries)
		require.Equal(t, g.memberIdx.Len(), g.liveMembers)
		checkProjectCounts(t, g)
	})
}
