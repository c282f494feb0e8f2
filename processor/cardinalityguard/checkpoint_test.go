// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/airi-otel/otelcol-airi/internal/hostile"
	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
)

// checkpointCases are the golden cases with the configuration they need, each a sequence of
// input batches: input_2.yaml where there is one, else input_1.yaml sent again a minute later.
var checkpointCases = map[string]func(*Config){
	"cumulative_sum": nil,
	"delta_sum":      nil,
	"gauges": func(c *Config) {
		c.Metrics = map[string]MetricOverride{"user_active_sessions": {GaugeAggregation: GaugeMax}}
	},
	"histograms":            nil,
	"exponential_histogram": nil,
	"summary":               nil,
	"overflow":              func(c *Config) { c.MaxSeriesPerMetric = 2 },
}

func checkpointBatches(t testing.TB, name string) []pmetric.Metrics {
	t.Helper()
	first, err := goldenRead(filepath.Join("testdata", name, "input_1.yaml"))
	require.NoError(t, err)
	second, err := goldenRead(filepath.Join("testdata", name, "input_2.yaml"))
	if os.IsNotExist(err) {
		second = pmetric.NewMetrics()
		first.CopyTo(second)
		shiftTimes(second, time.Minute)
	} else {
		require.NoError(t, err)
	}
	return []pmetric.Metrics{first, second}
}

// shiftTimes moves every point's timestamp (not its start) later by d.
func shiftTimes(md pmetric.Metrics, d time.Duration) {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				shift := func(ts pcommon.Timestamp) pcommon.Timestamp { return ts + pcommon.Timestamp(d) }
				pmetricutil.PointFuncs{
					Number:       func(_ int, dp pmetric.NumberDataPoint) { dp.SetTimestamp(shift(dp.Timestamp())) },
					Histogram:    func(_ int, dp pmetric.HistogramDataPoint) { dp.SetTimestamp(shift(dp.Timestamp())) },
					ExpHistogram: func(_ int, dp pmetric.ExponentialHistogramDataPoint) { dp.SetTimestamp(shift(dp.Timestamp())) },
					Summary:      func(_ int, dp pmetric.SummaryDataPoint) { dp.SetTimestamp(shift(dp.Timestamp())) },
				}.Walk(m)
			}
		}
	}
}

func checkpointConfig(mod func(*Config)) *Config {
	cfg := testConfig()
	if mod != nil {
		mod(cfg)
	}
	return cfg
}

// restartedGuard is a new guard on the same hash seed as g, as a restarted collector would be
// once the seed is kept with the checkpoint.
func restartedGuard(t testing.TB, g *guard, cfg *Config, clk *fakeClock) *guard {
	t.Helper()
	r := newGuard(cfg, nil)
	r.h = hasher{seed: g.h.seed}
	r.now = clk.now
	return r
}

// TestCheckpointContinuesExactly runs every golden case twice: once through one guard, once
// through a guard that is checkpointed after the first batch and replaced by a new guard
// restored from the checkpoint. The second batch's output must be the same: running totals,
// start times, budgets and members continue as if nothing had happened.
func TestCheckpointContinuesExactly(t *testing.T) {
	for name, mod := range checkpointCases {
		t.Run(name, func(t *testing.T) {
			batches := checkpointBatches(t, name)
			copyOf := func(md pmetric.Metrics) pmetric.Metrics {
				c := pmetric.NewMetrics()
				md.CopyTo(c)
				return c
			}
			cfg := checkpointConfig(mod)
			steady, clk := newTestGuard(t, cfg)
			run(t, steady, copyOf(batches[0]))
			restarted, _ := newTestGuard(t, cfg)
			restarted.h = hasher{seed: steady.h.seed}
			restarted.now = clk.now
			run(t, restarted, copyOf(batches[0]))

			ck := restarted.checkpoint(nil)
			fresh := restartedGuard(t, restarted, cfg, clk)
			require.NoError(t, fresh.restore(ck))
			require.Equal(t, restarted.liveSeries, fresh.liveSeries)
			require.Equal(t, restarted.liveMembers, fresh.liveMembers)
			require.Equal(t, ck, fresh.checkpoint(nil), "a restored guard checkpoints to the same bytes")

			clk.advance(time.Minute)
			want := run(t, steady, copyOf(batches[1]))
			got := run(t, fresh, copyOf(batches[1]))
			require.NoError(t, pmetrictest.CompareMetrics(want, got,
				pmetrictest.IgnoreResourceMetricsOrder(), pmetrictest.IgnoreMetricsOrder(),
				pmetrictest.IgnoreMetricDataPointsOrder()))
			require.Positive(t, want.DataPointCount(), "the second batch produced nothing to compare")
			t.Logf("%s: %d series, %d members: %d bytes", name, fresh.liveSeries, fresh.liveMembers, len(ck))
		})
	}
}

// TestCheckpointCorruptOrForeignIsIgnored: a damaged, truncated or empty checkpoint, and one
// written under another hash seed, are refused with an error and leave the guard empty.
func TestCheckpointCorruptOrForeignIsIgnored(t *testing.T) {
	cfg := checkpointConfig(nil)
	g, clk := newTestGuard(t, cfg)
	run(t, g, checkpointBatches(t, "histograms")[0])
	ck := g.checkpoint(nil)
	require.Positive(t, g.liveSeries)

	flipped := append([]byte(nil), ck...)
	flipped[len(flipped)/2] ^= 0x40
	for name, data := range map[string][]byte{
		"flipped":   flipped,
		"truncated": ck[:len(ck)-7],
		"empty":     nil,
		"other":     []byte("not a checkpoint at all"),
	} {
		r := restartedGuard(t, g, cfg, clk)
		err := r.restore(data)
		require.ErrorIs(t, err, errCheckpointCorrupt, name)
		require.Zero(t, r.liveSeries+r.liveMembers, name)
	}
	other, _ := newTestGuard(t, cfg) // a fresh seed
	require.ErrorIs(t, other.restore(ck), errCheckpointForeign)
	require.Zero(t, other.liveSeries)
	// It still works as a guard afterwards.
	run(t, other, checkpointBatches(t, "histograms")[0])
	require.Positive(t, other.liveSeries)
}

// sealCheckpoint wraps a record payload (everything after the magic but the checksum) into a
// checkpoint with a valid checksum, so that a fuzzer reaches the record decoder.
func sealCheckpoint(body []byte) []byte {
	b := append([]byte(checkpointMagic), body...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(body))
}

// FuzzRestoreCheckpoint restores arbitrary record payloads (sealed with a valid checksum and the
// fuzz guard's own hash probe, so the decoder itself is exercised) and then processes the
// golden inputs: never a panic, and a restored state is a consistent one.
func FuzzRestoreCheckpoint(f *testing.F) {
	cfg := checkpointConfig(func(c *Config) { c.MaxSeriesPerMetric = 2; c.MaxMembers = 200 })
	seedGuard, _ := newTestGuard(f, cfg)
	var inputs []pmetric.Metrics
	for name := range checkpointCases {
		batches := checkpointBatches(f, name)
		inputs = append(inputs, batches[0])
		g := restartedGuard(f, seedGuard, cfg, newFakeClock())
		in := pmetric.NewMetrics()
		batches[0].CopyTo(in)
		run(f, g, in)
		ck := g.checkpoint(nil)
		f.Add(ck[len(checkpointMagic) : len(ck)-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		g := restartedGuard(t, seedGuard, cfg, newFakeClock())
		if err := g.restore(sealCheckpoint(body)); err != nil {
			require.Zero(t, g.liveSeries+g.liveMembers)
		}
		require.Equal(t, g.seriesIdx.len(), g.liveSeries)
		require.Equal(t, g.memberIdx.len(), g.liveMembers)
		for _, md := range inputs {
			in := pmetric.NewMetrics()
			md.CopyTo(in)
			flatten(t, run(t, g, in))
		}
		require.Equal(t, g.seriesIdx.len(), g.liveSeries)
		require.Equal(t, g.memberIdx.len(), g.liveMembers)
	})
}

// BenchmarkCheckpoint measures the checkpoint of n cumulative counter series, each merging two
// members (user_id stripped): its size per output series and the time to write and to restore.
func BenchmarkCheckpoint(b *testing.B) {
	const n = 100_000
	cfg := checkpointConfig(func(c *Config) { c.MaxSeriesPerMetric = n; c.MaxSeriesTotal = 0 })
	g, clk := newTestGuard(b, cfg)
	in := newBuilder()
	for i := range n {
		for u := range 2 {
			in.sum("r1", "requests_total", false, attrs("customer", fmt.Sprintf("c%d", i), "user_id", fmt.Sprint(u)), 1, 2, int64(i+u))
		}
	}
	run(b, g, in.md)
	require.Equal(b, n, g.liveSeries)
	ck := g.checkpoint(nil)
	b.Run("write", func(b *testing.B) {
		buf := make([]byte, 0, len(ck))
		for b.Loop() {
			buf = g.checkpoint(buf[:0])
		}
		b.ReportMetric(float64(len(ck))/n, "bytes/series")
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/100k-series")
	})
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			r := restartedGuard(b, g, cfg, clk)
			if err := r.restore(ck); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/100k-series")
	})
}

// TestCheckpointOlderThanStaleAfterIsSwept: a checkpoint restored after the collector was down
// longer than stale_after brings back nothing that outlives the next sweep.
func TestCheckpointOlderThanStaleAfterIsSwept(t *testing.T) {
	cfg := checkpointConfig(nil)
	g, clk := newTestGuard(t, cfg)
	run(t, g, checkpointBatches(t, "cumulative_sum")[0])
	ck := g.checkpoint(nil)

	clk.advance(cfg.StaleAfter + time.Minute)
	r := restartedGuard(t, g, cfg, clk)
	require.NoError(t, r.restore(ck))
	require.Positive(t, r.liveSeries)
	run(t, r, pmetric.NewMetrics()) // the restored sweep time is long past: the first batch sweeps
	require.Zero(t, r.liveSeries+r.liveMembers)
}

// TestCheckpointOfHostileState: whatever state hostile input leaves (issue 12's points, bounds
// out of order or NaN, extreme exponential scales and offsets), the guard restores its own
// checkpoint of it.
func TestCheckpointOfHostileState(t *testing.T) {
	cfg := checkpointConfig(nil)
	g, clk := newTestGuard(t, cfg)
	for _, c := range hostile.Cases("checkpoint", clk.now()) {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(c.JSON())
		require.NoError(t, err, c.Name)
		run(t, g, md)
	}
	for _, js := range []string{
		`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"3","bucketCounts":["1"],"explicitBounds":[1,2,"NaN"]},{"count":"1","bucketCounts":["1","0","0","0"],"explicitBounds":[3,2,1]}]}}]}]}]}`,
		`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h2","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"1","bucketCounts":["1","0","0","0"],"explicitBounds":[3,2,1]}]}}]}]}]}`,
		`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"e","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[{"scale":-100,"count":"1","positive":{"offset":-2147483648,"bucketCounts":["1"]}},{"scale":100,"count":"1","negative":{"offset":2147483647,"bucketCounts":["1","1"]}}]}}]}]}]}`,
	} {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics([]byte(js))
		require.NoError(t, err)
		run(t, g, md)
	}
	require.Positive(t, g.liveSeries)
	r := restartedGuard(t, g, cfg, clk)
	require.NoError(t, r.restore(g.checkpoint(nil)))
	require.Equal(t, g.liveSeries, r.liveSeries)
	require.Equal(t, g.liveMembers, r.liveMembers)
}
