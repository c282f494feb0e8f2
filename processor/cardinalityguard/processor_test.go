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

func TestCumulativeSumMergesMembersAcrossBatches(t *testing.T) {
	t.Parallel()
	g, clk := newTestGuard(t, testConfig())
	const m = "requests_total"
	a := attrs("route", "/x", "user_id", "a")
	b := attrs("route", "/x", "user_id", "b")

	in := newBuilder()
	in.sum("r1", m, false, a, 100, 110, 5)
	in.sum("r1", m, false, b, 100, 110, 7)
	p := only(t, flatten(t, run(t, g, in.md)), m)
	assert.Equal(t, 12.0, p.value)
	assert.Equal(t, "route=/x", p.attrs)
	assert.Equal(t, ts(100), p.start)
	assert.Equal(t, ts(110), p.ts)

	// only member a reports: b's latest value still counts
	clk.advance(10 * time.Second)
	in = newBuilder()
	in.sum("r1", m, false, a, 100, 120, 9)
	p = only(t, flatten(t, run(t, g, in.md)), m)
	assert.Equal(t, 16.0, p.value)

	// b resets (new start time): its pre-reset 7 is carried, the counter never goes back
	in = newBuilder()
	in.sum("r1", m, false, b, 125, 130, 2)
	p = only(t, flatten(t, run(t, g, in.md)), m)
	assert.Equal(t, 18.0, p.value)
	assert.Equal(t, ts(100), p.start, "start time stable across exports")

	// a drops without a start change (monotonic): also a reset
	in = newBuilder()
	in.sum("r1", m, false, a, 100, 140, 1)
	p = only(t, flatten(t, run(t, g, in.md)), m)
	assert.Equal(t, 19.0, p.value)

	// out-of-order point for a is ignored
	in = newBuilder()
	in.sum("r1", m, false, a, 100, 135, 1000)
	p = only(t, flatten(t, run(t, g, in.md)), m)
	assert.Equal(t, 19.0, p.value)
}

func TestNonMonotonicCumulativeSumMayDecrease(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	mk := func(m pmetric.Metric) {
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	dp := in.metric("r1", "queue_depth", mk).Sum().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("user_id", "a")
	dp.SetStartTimestamp(ts(1))
	dp.SetTimestamp(ts(2))
	dp.SetIntValue(10)
	run(t, g, in.md)

	in = newBuilder()
	dp = in.metric("r1", "queue_depth", mk).Sum().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("user_id", "a")
	dp.SetStartTimestamp(ts(1))
	dp.SetTimestamp(ts(3))
	dp.SetIntValue(4)
	p := only(t, flatten(t, run(t, g, in.md)), "queue_depth")
	assert.Equal(t, 4.0, p.value, "an up-down counter going down is not a reset")
}

func TestDeltaSumAddsWithinBatch(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.sum("r1", "tokens_total", true, attrs("model", "m", "user_id", "a"), 10, 20, 3)
	in.sum("r1", "tokens_total", true, attrs("model", "m", "user_id", "b"), 5, 21, 4)
	in.sum("r2", "tokens_total", true, attrs("model", "m", "user_id", "b"), 5, 21, 100)
	pts := flatten(t, run(t, g, in.md))
	require.Len(t, pts, 2, "never merged across resources")
	for _, p := range pts {
		if p.value != 7 {
			assert.Equal(t, 100.0, p.value)
			continue
		}
		assert.Equal(t, ts(5), p.start)
		assert.Equal(t, ts(21), p.ts)
	}
}

func TestGaugeAggregations(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Metrics = map[string]MetricOverride{
		"user_active_sessions": {GaugeAggregation: GaugeMax},
		"g_min":                {GaugeAggregation: GaugeMin},
		"g_last":               {GaugeAggregation: GaugeLast},
	}
	g, _ := newTestGuard(t, cfg)
	in := newBuilder()
	for _, name := range []string{"ws_connections_active", "user_active_sessions", "g_min", "g_last"} {
		in.gauge("r1", name, attrs("pod", "1", "session_id", "a"), 10, 5)
		in.gauge("r1", name, attrs("pod", "1", "session_id", "b"), 11, 3)
	}
	pts := flatten(t, run(t, g, in.md))
	assert.Equal(t, 8.0, only(t, pts, "ws_connections_active").value)
	assert.Equal(t, 5.0, only(t, pts, "user_active_sessions").value)
	assert.Equal(t, 3.0, only(t, pts, "g_min").value)
	assert.Equal(t, 3.0, only(t, pts, "g_last").value)

	// member a lowers its value: max must be recomputed from the members
	in = newBuilder()
	for _, name := range []string{"ws_connections_active", "user_active_sessions", "g_min", "g_last"} {
		in.gauge("r1", name, attrs("pod", "1", "session_id", "a"), 20, 1)
	}
	pts = flatten(t, run(t, g, in.md))
	assert.Equal(t, 4.0, only(t, pts, "ws_connections_active").value)
	assert.Equal(t, 3.0, only(t, pts, "user_active_sessions").value)
	assert.Equal(t, 1.0, only(t, pts, "g_min").value)
	assert.Equal(t, 1.0, only(t, pts, "g_last").value)
}

func TestGaugeMemberEvictionRemovesItsValue(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.StaleAfter = time.Minute
	g, clk := newTestGuard(t, cfg)
	in := newBuilder()
	in.gauge("r1", "inflight", attrs("user_id", "a"), 10, 5)
	in.gauge("r1", "inflight", attrs("user_id", "b"), 10, 3)
	run(t, g, in.md)
	for i := 0; i < 8; i++ { // b keeps reporting, a goes silent
		clk.advance(20 * time.Second)
		in = newBuilder()
		in.gauge("r1", "inflight", attrs("user_id", "b"), 20+int64(i), 3)
		run(t, g, in.md)
	}
	in = newBuilder()
	in.gauge("r1", "inflight", attrs("user_id", "b"), 40, 3)
	assert.Equal(t, 3.0, only(t, flatten(t, run(t, g, in.md)), "inflight").value)
	assert.Equal(t, 1, g.liveMembers)
}

// The members of a series form a singly-linked list: the sweep unlinks stale ones at its head,
// in its middle and at its tail, and the list, the merged value and the freed slots stay right.
func TestGaugeEvictionUnlinksMembersAnywhereInTheirList(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.StaleAfter = time.Minute
	g, clk := newTestGuard(t, cfg)
	in := newBuilder()
	for i, u := range []string{"a", "b", "c", "d", "e"} { // list order e d c b a
		in.gauge("r1", "inflight", attrs("user_id", u), 10, float64(int(1)<<i))
	}
	assert.Equal(t, 31.0, only(t, flatten(t, run(t, g, in.md)), "inflight").value)
	for i := 0; i < 8; i++ { // b and d keep reporting; e (head), c (middle) and a (tail) go silent
		clk.advance(20 * time.Second)
		in = newBuilder()
		in.gauge("r1", "inflight", attrs("user_id", "b"), 20+int64(i), 2)
		in.gauge("r1", "inflight", attrs("user_id", "d"), 20+int64(i), 8)
		run(t, g, in.md)
	}
	require.Equal(t, 2, g.liveMembers)
	var listed []float64
	require.Zero(t, g.members.At(1).flags&fLive, "a, the first member, is forgotten")
	for mi := g.series.At(g.members.At(2).series).head; mi != 0; mi = g.members.At(mi).next {
		listed = append(listed, numF(g.members.At(mi).val, false))
	}
	assert.ElementsMatch(t, []float64{2, 8}, listed)
	in = newBuilder()
	in.gauge("r1", "inflight", attrs("user_id", "f"), 40, 32) // takes a freed slot
	in.gauge("r1", "inflight", attrs("user_id", "b"), 40, 2)
	assert.Equal(t, 42.0, only(t, flatten(t, run(t, g, in.md)), "inflight").value)
	assert.Equal(t, 3, g.liveMembers)
	assert.Equal(t, 6, g.members.Len(), "no slot grown while freed ones were there")
}

func TestHistogramMergeSameAndDifferentBounds(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.hist("r1", "latency", false, attrs("user_id", "a"), 1, 10, []float64{1, 2, 5}, []uint64{1, 2, 3, 4}, 20)
	in.hist("r1", "latency", false, attrs("user_id", "b"), 1, 10, []float64{1, 2, 5}, []uint64{1, 1, 1, 1}, 8)
	// c has other bounds: 0.5 -> bucket le=1, 3 -> le=5, 10 -> +Inf, +Inf -> +Inf
	in.hist("r1", "latency", false, attrs("user_id", "c"), 1, 10, []float64{0.5, 3, 10}, []uint64{1, 1, 1, 1}, 9)
	p := only(t, flatten(t, run(t, g, in.md)), "latency")
	assert.Equal(t, []float64{1, 2, 5}, p.bounds)
	assert.Equal(t, []uint64{3, 3, 5, 7}, p.buckets)
	assert.Equal(t, 18.0, p.value)
	assert.Equal(t, 37.0, p.sum)

	// a advances, b resets: cumulative, never backwards
	in = newBuilder()
	in.hist("r1", "latency", false, attrs("user_id", "a"), 1, 20, []float64{1, 2, 5}, []uint64{2, 2, 3, 4}, 21)
	in.hist("r1", "latency", false, attrs("user_id", "b"), 15, 20, []float64{1, 2, 5}, []uint64{0, 1, 0, 0}, 1.5)
	p = only(t, flatten(t, run(t, g, in.md)), "latency")
	assert.Equal(t, []uint64{4, 4, 5, 7}, p.buckets)
	assert.Equal(t, 20.0, p.value)
	assert.InDelta(t, 39.5, p.sum, 1e-9)
	assert.Equal(t, ts(1), p.start)
}

func TestDeltaHistogramAdds(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.hist("r1", "latency", true, attrs("user_id", "a"), 1, 10, []float64{1}, []uint64{1, 2}, 4)
	in.hist("r1", "latency", true, attrs("user_id", "b"), 1, 10, []float64{1}, []uint64{3, 4}, 6)
	p := only(t, flatten(t, run(t, g, in.md)), "latency")
	assert.Equal(t, []uint64{4, 6}, p.buckets)
	assert.Equal(t, 10.0, p.value)
}

func TestExponentialHistogramMergeAtCommonScale(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	mk := func(m pmetric.Metric) {
		m.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	add := func(user string, scale int32, offset int32, counts []uint64, zero uint64) {
		dp := in.metric("r1", "eh", mk).ExponentialHistogram().DataPoints().AppendEmpty()
		dp.Attributes().PutStr("user_id", user)
		dp.SetStartTimestamp(ts(1))
		dp.SetTimestamp(ts(2))
		dp.SetScale(scale)
		dp.SetZeroCount(zero)
		dp.Positive().SetOffset(offset)
		dp.Positive().BucketCounts().FromRaw(counts)
		n := zero
		for _, c := range counts {
			n += c
		}
		dp.SetCount(n)
		dp.SetSum(float64(n))
	}
	add("a", 2, 4, []uint64{1, 1, 1, 1}, 1) // indexes 4..7 at scale 2 -> 2,2,3,3 at scale 1
	add("b", 1, 2, []uint64{5, 5}, 0)       // indexes 2..3 at scale 1
	out := run(t, g, in.md)
	dp := out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).ExponentialHistogram().DataPoints()
	require.Equal(t, 1, dp.Len())
	assert.Equal(t, int32(1), dp.At(0).Scale())
	assert.Equal(t, int32(2), dp.At(0).Positive().Offset())
	assert.Equal(t, []uint64{7, 7}, dp.At(0).Positive().BucketCounts().AsRaw())
	assert.Equal(t, uint64(1), dp.At(0).ZeroCount())
	assert.Equal(t, uint64(15), dp.At(0).Count())
}

func TestSummaryKeepsQuantilesOnlyForALoneMember(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	mk := func(m pmetric.Metric) { m.SetEmptySummary() }
	add := func(b *builder, user string, cnt uint64) {
		dp := b.metric("r1", "rpc_duration", mk).Summary().DataPoints().AppendEmpty()
		dp.Attributes().PutStr("user_id", user)
		dp.SetStartTimestamp(ts(1))
		dp.SetTimestamp(ts(2))
		dp.SetCount(cnt)
		dp.SetSum(float64(cnt))
		q := dp.QuantileValues().AppendEmpty()
		q.SetQuantile(0.5)
		q.SetValue(1)
	}
	in := newBuilder()
	add(in, "a", 3)
	p := only(t, flatten(t, run(t, g, in.md)), "rpc_duration")
	assert.Equal(t, 1, p.quantile)

	in = newBuilder()
	add(in, "a", 4)
	add(in, "b", 5)
	p = only(t, flatten(t, run(t, g, in.md)), "rpc_duration")
	assert.Equal(t, 0, p.quantile, "quantiles of several members cannot be merged")
	assert.Equal(t, 9.0, p.value)
	assert.Equal(t, 9.0, p.sum)
}

func TestBudgetOverflowAndEviction(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxSeriesPerMetric = 2
	cfg.StaleAfter = time.Minute
	g, clk := newTestGuard(t, cfg)
	in := newBuilder()
	for i, route := range []string{"/a", "/b", "/c", "/d"} {
		in.sum("r1", "hits_total", false, attrs("route", route, "environment", "prod", "service", "s"), 1, 10, int64(i+1))
	}
	pts := flatten(t, run(t, g, in.md))
	require.Len(t, pts, 3)
	var overflow outPoint
	for _, p := range pts {
		if p.attrs == "environment=prod,otel.metric.overflow=true,service=s" {
			overflow = p
		}
	}
	assert.Equal(t, 7.0, overflow.value, "/c and /d folded into the overflow series")

	// /a and /b go silent and are forgotten; /c keeps reporting into overflow, whose
	// accumulated value persists; a new route takes a freed slot.
	for i := 0; i < 6; i++ {
		clk.advance(20 * time.Second)
		in = newBuilder()
		in.sum("r1", "hits_total", false, attrs("route", "/c", "environment", "prod", "service", "s"), 1, 20+int64(i), 3)
		run(t, g, in.md)
	}
	assert.Equal(t, 1, g.liveSeries, "only the overflow series is left")
	in = newBuilder()
	in.sum("r1", "hits_total", false, attrs("route", "/c", "environment", "prod", "service", "s"), 1, 40, 10)
	in.sum("r1", "hits_total", false, attrs("route", "/e", "environment", "prod", "service", "s"), 1, 40, 1)
	pts = flatten(t, run(t, g, in.md))
	require.Len(t, pts, 2)
	for _, p := range pts {
		if p.attrs == "environment=prod,otel.metric.overflow=true,service=s" {
			assert.Equal(t, 14.0, p.value, "the evicted /d's 4 stays counted, /c moved 3 -> 10")
		} else {
			assert.Equal(t, "environment=prod,route=/e,service=s", p.attrs)
		}
	}
}

func TestTotalBudget(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxSeriesTotal = 3
	g, _ := newTestGuard(t, cfg)
	in := newBuilder()
	for _, name := range []string{"a_total", "b_total"} {
		for _, route := range []string{"/1", "/2"} {
			in.sum("r1", name, false, attrs("route", route), 1, 2, 1)
		}
	}
	pts := flatten(t, run(t, g, in.md))
	require.Len(t, pts, 4)
	assert.Equal(t, 3, g.regularTotal)
	_, ok := pts["service.instance.id=r1,service.name=svc#test@|b_total|otel.metric.overflow=true"]
	assert.True(t, ok, "%v", pts)
}

func TestLabelLimitsAndTruncation(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxLabelsPerSeries = 3
	cfg.MaxLabelValueLength = 20
	g, _ := newTestGuard(t, cfg)
	in := newBuilder()
	in.sum("r1", "x_total", false, attrs("environment", "prod", "zz", "1", "b", "1", "a", "1", "long", "abcdefghijklmnopqrstuvwxyz"), 1, 2, 1)
	in.sum("r1", "x_total", false, attrs("environment", "prod", "zz", "2", "b", "1", "a", "1", "long", "x"), 1, 2, 2)
	p := only(t, flatten(t, run(t, g, in.md)), "x_total")
	assert.Equal(t, "a=1,b=1,environment=prod", p.attrs, "keep_labels first, then by key; zz and long dropped")
	assert.Equal(t, 3.0, p.value, "re-aggregated like a strip")

	g2, _ := newTestGuard(t, func() *Config { c := testConfig(); c.MaxLabelValueLength = 20; return c }())
	in = newBuilder()
	in.sum("r1", "x_total", false, attrs("long", "abcdefghijklmnopqrstuvwxyz"), 1, 2, 1)
	p = only(t, flatten(t, run(t, g2, in.md)), "x_total")
	assert.Equal(t, "long=abcdefghi[truncated]", p.attrs)
}

func TestRewriteInLabels(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.sum("r1", "http_requests_total", false, attrs("url_path", "/api/v1/users/123/orders/9f1c2e3a4b5c6d7e", "client", "cust-123456"), 1, 2, 1)
	in.sum("r1", "http_requests_total", false, attrs("url_path", "/api/v1/users/456/orders/aa1c2e3a4b5c6d7e?x=1", "client", "cust-654321"), 1, 2, 2)
	p := only(t, flatten(t, run(t, g, in.md)), "http_requests_total")
	assert.Equal(t, "client=cust-{num},url_path=/api/v1/users/{id}/orders/{id}", p.attrs)
	assert.Equal(t, 3.0, p.value)
}

func TestMemberLimitDropsAndCounts(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxMembers, cfg.MaxMembersPerMetric = 2, 2
	g, _ := newTestGuard(t, cfg)
	in := newBuilder()
	for _, u := range []string{"a", "b", "c"} {
		in.sum("r1", "x_total", false, attrs("user_id", u), 1, 2, 1)
	}
	p := only(t, flatten(t, run(t, g, in.md)), "x_total")
	assert.Equal(t, 2.0, p.value)
	assert.Equal(t, 2, g.liveMembers)
}

func TestExemplarsBounded(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	for i := 0; i < 6; i++ {
		in.sum("r1", "x_total", true, attrs("tracking_id", string(rune('a'+i))), 1, 2, 1)
	}
	dps := in.md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		ex := dps.At(i).Exemplars().AppendEmpty()
		ex.SetTimestamp(ts(int64(100 + i)))
		ex.SetIntValue(int64(i))
	}
	out := run(t, g, in.md)
	exs := out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0).Exemplars()
	require.Equal(t, 4, exs.Len())
	for i := 0; i < exs.Len(); i++ {
		assert.GreaterOrEqual(t, exs.At(i).IntValue(), int64(2), "the newest exemplars are kept")
	}
}

func TestNaNValuesAreDroppedNotMerged(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	in.gauge("r1", "inflight", attrs("user_id", "a"), 10, 5)
	in.gauge("r1", "inflight", attrs("user_id", "b"), 10, math.NaN())
	p := only(t, flatten(t, run(t, g, in.md)), "inflight")
	assert.Equal(t, 5.0, p.value)
	assert.Equal(t, int64(1), totalsOf(g).dropped[dropNonFinite])
}

func TestIncomingOverflowSeriesJoinsOwnOverflow(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxSeriesPerMetric = 1
	g, _ := newTestGuard(t, cfg)
	in := newBuilder()
	in.sum("r1", "x_total", false, attrs("environment", "prod", "route", "/a"), 1, 2, 1)
	in.sum("r1", "x_total", false, attrs("environment", "prod", "route", "/b"), 1, 2, 2)
	// an SDK's own overflow series: same identity as ours, so it must merge into it
	in.sum("r1", "x_total", false, attrs("environment", "prod", "otel.metric.overflow", "true"), 1, 2, 5)
	pts := flatten(t, run(t, g, in.md))
	require.Len(t, pts, 2)
	p := pts["service.instance.id=r1,service.name=svc#test@|x_total|environment=prod,otel.metric.overflow=true"]
	assert.Equal(t, 7.0, p.value)
}

// Two members merged in one batch usually carry exemplars of one timestamp, in the SDK's map
// order. Prometheus' and Mimir's exemplar storage accept several exemplars of a sample only in
// (timestamp, value, labels) order and reject the rest as out of order, so the merged point
// must carry them sorted, whatever order the members came in.
func TestMergedExemplarsAreOrderedForTheBackends(t *testing.T) {
	t.Parallel()
	for _, order := range [][]int64{{2, 1}, {1, 2}} {
		g, _ := newTestGuard(t, testConfig())
		in := newBuilder()
		for i, v := range order {
			in.sum("r1", "calls_total", false, attrs("tracking_id", fmt.Sprint("req-", i)), 1, 100, v)
		}
		ms := in.md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := 0; i < ms.Len(); i++ {
			dps := ms.At(i).Sum().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				ex := dps.At(j).Exemplars().AppendEmpty()
				ex.SetTimestamp(ts(100))
				ex.SetIntValue(dps.At(j).IntValue())
				ex.SetTraceID(pcommon.TraceID{byte(dps.At(j).IntValue())})
			}
		}
		out := run(t, g, in.md)
		dp := out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
		require.Equal(t, 2, dp.Exemplars().Len(), "order %v", order)
		assert.Equal(t, int64(1), dp.Exemplars().At(0).IntValue(), "order %v", order)
		assert.Equal(t, int64(2), dp.Exemplars().At(1).IntValue(), "order %v", order)
	}
}
