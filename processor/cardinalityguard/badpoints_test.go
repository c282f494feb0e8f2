// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// The repros of issue 12: single hostile points from one producer must not corrupt, freeze or
// remove a merged series.

// Defect 2: 1000 @ int64max, then 2000 @ now, 3000 @ now used to freeze the series at 1000.
func TestFarFuturePointIsDroppedAndCounted(t *testing.T) {
	t.Parallel()
	g, clk := newTestGuard(t, testConfig())
	now := clk.now().Unix()

	in := newBuilder()
	in.sum("r1", "ff_total", false, attrs("user_id", "a"), now-60, now, 1)
	dp := in.met["r1/ff_total"].Sum().DataPoints().At(0)
	dp.SetTimestamp(pcommon.Timestamp(math.MaxInt64))
	dp.SetIntValue(1000)
	assert.Empty(t, flatten(t, run(t, g, in.md)), "a far-future point creates no series")
	assert.Equal(t, int64(1), totalsOf(g).dropped[dropFuture])

	for i, v := range []int64{2000, 3000} {
		clk.advance(time.Second)
		in = newBuilder()
		in.sum("r1", "ff_total", false, attrs("user_id", "a"), now-60, now+int64(i)+1, v)
		assert.Equal(t, float64(v), only(t, flatten(t, run(t, g, in.md)), "ff_total").value)
	}

	// Within max_future a point is accepted (clocks drift).
	in = newBuilder()
	in.sum("r1", "ff_total", false, attrs("user_id", "a"), now-60, now+int64(testConfig().MaxFuture/time.Second)-1, 3500)
	assert.Equal(t, 3500.0, only(t, flatten(t, run(t, g, in.md)), "ff_total").value)
	assert.Equal(t, int64(1), totalsOf(g).dropped[dropFuture])
}

// Defect 3: member a=5 at t, then member b=7 at t-1s: the merged 12 used to be stamped t-1s
// and the exporter kept the newer 5.
func TestMergedTimestampNeverGoesBackwards(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.sum("r1", "ooo_total", false, attrs("user_id", "a"), 1, 100, 5)
	first := only(t, flatten(t, run(t, g, in.md)), "ooo_total")
	require.Equal(t, 5.0, first.value)

	in = newBuilder()
	in.sum("r1", "ooo_total", false, attrs("user_id", "b"), 1, 99, 7)
	second := only(t, flatten(t, run(t, g, in.md)), "ooo_total")
	assert.Equal(t, 12.0, second.value)
	assert.Greater(t, second.ts, first.ts, "the merged total must be newer than what was emitted before")
	assert.GreaterOrEqual(t, uint64(second.ts-first.ts), uint64(time.Millisecond), "newer at Prometheus' millisecond resolution")

	// The same for a merged histogram and gauge.
	in = newBuilder()
	in.hist("r1", "h", false, attrs("user_id", "a"), 1, 100, []float64{1}, []uint64{1, 0}, 1)
	in.gauge("r1", "g", attrs("user_id", "a"), 100, 1)
	before := flatten(t, run(t, g, in.md))
	in = newBuilder()
	in.hist("r1", "h", false, attrs("user_id", "b"), 1, 50, []float64{1}, []uint64{1, 0}, 1)
	in.gauge("r1", "g", attrs("user_id", "b"), 50, 1)
	after := flatten(t, run(t, g, in.md))
	for _, name := range []string{"h", "g"} {
		assert.Greater(t, only(t, after, name).ts, only(t, before, name).ts, name)
		assert.Equal(t, 2.0, only(t, after, name).value, name)
	}
}

// Defect 4: a cumulative histogram sending sums 1, NaN, 7 read 1, NaN, NaN.
func TestNaNHistogramSumIsNotFolded(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	for i, sum := range []float64{1, math.NaN(), 7, math.Inf(1), 9} {
		in := newBuilder()
		in.hist("r1", "h", false, attrs("user_id", "a"), 1, int64(10+i), []float64{1}, []uint64{uint64(i + 1), 0}, sum)
		in.summary("r1", "s", attrs("user_id", "a"), 1, int64(10+i), uint64(i+1))
		in.met["r1/s"].Summary().DataPoints().At(0).SetSum(sum)
		pts := flatten(t, run(t, g, in.md))
		want := map[int]float64{0: 1, 1: 1, 2: 7, 3: 7, 4: 9}[i]
		assert.Equal(t, want, only(t, pts, "h").sum, "histogram sum after point %d", i)
		assert.Equal(t, float64(i+1), only(t, pts, "h").value, "the counts of a NaN-sum point still count")
		assert.Equal(t, want, only(t, pts, "s").sum, "summary sum after point %d", i)
	}
	assert.Equal(t, int64(4), totalsOf(g).dropped[dropNonFinite])
}

// Defect 4: two int64-max counter members wrapped to -2; two gauge members at 1.7e308 merged
// to +Inf and stayed there; a u64-max histogram count read -2.
func TestMergesSaturateInsteadOfWrapping(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.sum("r1", "big_total", false, attrs("user_id", "a"), 1, 10, math.MaxInt64)
	in.sum("r1", "big_total", false, attrs("user_id", "b"), 1, 10, math.MaxInt64)
	in.gauge("r1", "huge", attrs("user_id", "a"), 10, 1.7e308)
	in.gauge("r1", "huge", attrs("user_id", "b"), 10, 1.7e308)
	in.hist("r1", "h", false, attrs("user_id", "a"), 1, 10, []float64{1}, []uint64{math.MaxUint64, 0}, 1)
	in.hist("r1", "h", false, attrs("user_id", "b"), 1, 10, []float64{1}, []uint64{math.MaxUint64, 0}, 1)
	pts := flatten(t, run(t, g, in.md))
	assert.Equal(t, 2*float64(math.MaxInt64), only(t, pts, "big_total").value, "switched to double, not wrapped")
	assert.Equal(t, math.MaxFloat64, only(t, pts, "huge").value, "saturated, not +Inf")
	assert.Equal(t, float64(math.MaxUint64), only(t, pts, "h").value, "saturated, not wrapped")
	assert.Equal(t, []uint64{math.MaxUint64, 0}, only(t, pts, "h").buckets)

	// Not poisoned: once a member comes down, the merged gauge is exact again.
	in = newBuilder()
	in.gauge("r1", "huge", attrs("user_id", "b"), 11, 1)
	assert.Equal(t, 1.7e308+1, only(t, flatten(t, run(t, g, in.md)), "huge").value)
}

// Defect 6: scales below -4 made the Prometheus exporter fail every scrape ("scale must be
// >= -4"); a 100,000-bucket input was downscaled to -9; a dropped point still created a
// zero-count series (defect 8).
func TestExpHistogramNeverBelowScaleMinus4(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.expHist("r1", "lowscale", attrs("user_id", "a"), 1, 10, -10, 0, []uint64{1, 2}, 0)
	wide := make([]uint64, 100_000)
	for i := range wide {
		wide[i] = 1
	}
	in.expHist("r1", "wide", attrs("user_id", "a"), 1, 10, 0, 0, wide, 0)
	assert.Empty(t, flatten(t, run(t, g, in.md)), "dropped points create no series")
	assert.Equal(t, int64(2), totalsOf(g).dropped[dropUnsupportedScale])

	// A merge that needs a coarser scale goes down to -4 and no further.
	in = newBuilder()
	in.expHist("r1", "e", attrs("user_id", "a"), 1, 10, 0, -2000, []uint64{1}, 0)
	in.expHist("r1", "e", attrs("user_id", "b"), 1, 10, 0, 2000, []uint64{1}, 0)
	dp := run(t, g, in.md).ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).ExponentialHistogram().DataPoints().At(0)
	assert.GreaterOrEqual(t, dp.Scale(), int32(-4), "the Prometheus exporter converts scales down to -4")
	assert.Equal(t, uint64(2), dp.Count())
}

// Defect 8: a number point with no value was exported as 0.
func TestPointWithoutValueIsDropped(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.sum("r1", "nv_total", false, attrs("user_id", "a"), 1, 10, 5)
	noValue := in.met["r1/nv_total"].Sum().DataPoints().AppendEmpty()
	noValue.Attributes().PutStr("user_id", "b")
	noValue.SetTimestamp(ts(10))
	require.Equal(t, pmetric.NumberDataPointValueTypeEmpty, noValue.ValueType())
	in.gauge("r1", "nv_gauge", attrs("user_id", "a"), 10, 3)
	in.met["r1/nv_gauge"].Gauge().DataPoints().AppendEmpty().Attributes().PutStr("user_id", "b")
	pts := flatten(t, run(t, g, in.md))
	assert.Equal(t, 5.0, only(t, pts, "nv_total").value)
	assert.Equal(t, 3.0, only(t, pts, "nv_gauge").value)
	assert.Equal(t, int64(2), totalsOf(g).dropped[dropInvalid])
}

// Defect 8: a histogram point whose count differs from the sum of its buckets made the exported
// le buckets non-cumulative; the count is the sum of the buckets.
func TestHistogramCountIsSumOfBuckets(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.hist("r1", "h", false, attrs("user_id", "a"), 1, 10, []float64{1}, []uint64{2, 3}, 1)
	in.met["r1/h"].Histogram().DataPoints().At(0).SetCount(1)
	p := only(t, flatten(t, run(t, g, in.md)), "h")
	assert.Equal(t, 5.0, p.value)
	assert.Equal(t, []uint64{2, 3}, p.buckets)
}

// Defect 5 (in part): one metric's exploding label (1M user_id values in the report) took the
// whole max_members pool and every other metric's new series were dropped. Each metric now has
// a share of the pool.
func TestMemberPoolIsSharedPerMetric(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxMembers, cfg.MaxMembersPerMetric = 10, 4
	cfg.StripLabels = []string{"user_id"}
	g, _ := newTestGuard(t, cfg)
	in := newBuilder()
	for u := range 8 {
		in.sum("r1", "flood_total", false, attrs("user_id", fmt.Sprint(u)), 1, 10, 1)
	}
	for u := range 3 {
		in.sum("r2", "innocent_total", false, attrs("user_id", fmt.Sprint(u)), 1, 10, 1)
	}
	pts := flatten(t, run(t, g, in.md))
	assert.Equal(t, 4.0, only(t, pts, "flood_total").value, "the flooding metric keeps its share")
	assert.Equal(t, 3.0, only(t, pts, "innocent_total").value, "another metric's new members still count")
	assert.Equal(t, int64(4), totalsOf(g).dropped[dropMemberLimit])
}

// Defect 5: one service exploding user_id on a metric name that another service also sends
// (http_server_request_duration_seconds) used up that metric's share, and the other service's
// new series of the same metric were dropped. The share is per metric and producer (the
// keep-label values airi_normalize sets on every point: service, environment, project).
func TestMemberShareIsPerMetricAndService(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxMembers, cfg.MaxMembersPerMetric = 20, 4
	cfg.StripLabels = []string{"user_id"}
	g, _ := newTestGuard(t, cfg)
	in := newBuilder()
	for u := range 10 {
		in.sum("r1", "requests_total", false, attrs("service", "flood", "user_id", fmt.Sprint(u)), 1, 10, 1)
	}
	for u := range 3 {
		in.sum("r2", "requests_total", false, attrs("service", "innocent", "user_id", fmt.Sprint(u)), 1, 10, 1)
	}
	pts := flatten(t, run(t, g, in.md))
	var flood, innocent float64
	for _, p := range pts {
		switch p.attrs {
		case "service=flood":
			flood = p.value
		case "service=innocent":
			innocent = p.value
		}
	}
	assert.Equal(t, 4.0, flood, "the flooding service keeps its share: %v", pts)
	assert.Equal(t, 3.0, innocent, "the innocent service's new series of the same metric still count: %v", pts)
	assert.Equal(t, int64(6), totalsOf(g).dropped[dropMemberLimit])

	// a later batch: the innocent service still creates new members, the flood stays capped
	in = newBuilder()
	in.sum("r2", "requests_total", false, attrs("service", "innocent", "user_id", "new"), 1, 20, 5)
	in.sum("r1", "requests_total", false, attrs("service", "flood", "user_id", "new"), 1, 20, 5)
	pts = flatten(t, run(t, g, in.md))
	for _, p := range pts {
		if p.attrs == "service=innocent" {
			innocent = p.value
		}
	}
	assert.Equal(t, 8.0, innocent)
	assert.Equal(t, int64(7), totalsOf(g).dropped[dropMemberLimit])
}

// Defect 8: a cumulative histogram whose bucket layout changes between points (a producer
// redeploying with new bounds, two SDK versions) was taken as a reset at every change: its
// whole count was added again each time and the merged total inflated. Only a start-time
// change or a falling count is a reset across layouts; otherwise count and sum continue by
// difference.
func TestHistogramLayoutChangeIsNotAReset(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	a := attrs("service", "api")
	for i, step := range []struct {
		bounds []float64
		counts []uint64
	}{
		{[]float64{1, 2, 5}, []uint64{1, 1, 1, 1}}, // count 4
		{[]float64{1, 3, 5}, []uint64{2, 2, 2, 2}}, // 8: (1,3] maps to le=5, so le=2 falls 1 -> 0
		{[]float64{1, 2, 5}, []uint64{3, 3, 3, 3}}, // 12: le=5 falls 4 -> 3
		{[]float64{1, 3, 5}, []uint64{4, 4, 4, 4}}, // 16
	} {
		in := newBuilder()
		n := uint64(4 * (i + 1))
		in.hist("r1", "lat", false, a, 1, int64(10+i), step.bounds, step.counts, float64(n))
		p := only(t, flatten(t, run(t, g, in.md)), "lat")
		require.Equal(t, float64(n), p.value, "step %d: count continues by difference", i)
		require.Equal(t, float64(n), p.sum, "step %d: sum continues by difference", i)
		var total uint64
		for _, c := range p.buckets {
			total += c
		}
		require.Equal(t, n, total, "step %d: buckets add up to the count", i)
	}
	// a real reset within one layout is still a reset: the pre-reset count stays counted
	in := newBuilder()
	in.hist("r1", "lat", false, a, 1, 20, []float64{1, 3, 5}, []uint64{1, 0, 0, 0}, 1)
	require.Equal(t, 17.0, only(t, flatten(t, run(t, g, in.md)), "lat").value)
}

// The same for an exponential histogram whose scale changes between points (an SDK
// downscaling as its range grows): merged at the lower scale, exact, never re-added.
func TestExpHistogramScaleChangeIsNotAReset(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	a := attrs("service", "api")
	in := newBuilder()
	in.expHist("r1", "lat", a, 1, 10, 3, 8, []uint64{1, 1, 1, 1}, 0) // 4
	require.Equal(t, 4.0, only(t, flatten(t, run(t, g, in.md)), "lat").value)
	in = newBuilder()
	in.expHist("r1", "lat", a, 1, 11, 2, 4, []uint64{3, 3}, 0) // 6, downscaled by the SDK
	require.Equal(t, 6.0, only(t, flatten(t, run(t, g, in.md)), "lat").value)
	in = newBuilder()
	in.expHist("r1", "lat", a, 1, 12, 1, 2, []uint64{8}, 0) // 8
	require.Equal(t, 8.0, only(t, flatten(t, run(t, g, in.md)), "lat").value)
}
