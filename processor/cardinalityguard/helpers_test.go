// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
)

// fakeClock is an injectable clock: tests advance it instead of sleeping.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func testConfig() *Config                    { return createDefaultConfig().(*Config) }
func ts(sec int64) pcommon.Timestamp         { return pcommon.Timestamp(sec * int64(time.Second)) }
func attrs(kv ...string) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func newTestGuard(t testing.TB, cfg *Config) (*guard, *fakeClock) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	g := newGuard(cfg, nil)
	clk := newFakeClock()
	g.now = clk.now
	return g, clk
}

// totals sums the per-export counters of every batch a guard processed through run, and the
// series its stale sweeps evicted, for the tests that assert on counts over several exports
// (the guard itself keeps none).
var totals = struct {
	sync.Mutex
	of map[*guard]*totalCounters
}{of: map[*guard]*totalCounters{}}

type totalCounters struct {
	counters
	evicted   int64
	lastSweep int64 // the fake clock's time of the last simulated tick
}

// totalsOf returns the counters summed over all batches g processed through run.
func totalsOf(g *guard) totalCounters {
	totals.Lock()
	defer totals.Unlock()
	if c := totals.of[g]; c != nil {
		return *c
	}
	return totalCounters{}
}

// run processes one batch; a batch that produced nothing returns an empty Metrics.
func run(t testing.TB, g *guard, md pmetric.Metrics) pmetric.Metrics {
	t.Helper()
	return runWith(t, g, md, g.processMetrics)
}

// runReport processes one batch in mode report (processReport) with run's bookkeeping and
// returns what passed on.
func runReport(t testing.TB, g *guard, md pmetric.Metrics) pmetric.Metrics {
	t.Helper()
	return runWith(t, g, md, g.processReport)
}

func runWith(t testing.TB, g *guard, md pmetric.Metrics, process func(context.Context, pmetric.Metrics) (pmetric.Metrics, error)) pmetric.Metrics {
	t.Helper()
	ctx := context.Background()
	totals.Lock()
	sum := totals.of[g]
	if sum == nil {
		sum = &totalCounters{}
		totals.of[g] = sum
		t.Cleanup(func() {
			totals.Lock()
			delete(totals.of, g)
			totals.Unlock()
		})
	}
	// the stale sweeps of Start's ticker, at the guard's (fake) clock: one every stale_after/4
	if now := g.now().UnixNano(); sum.lastSweep == 0 {
		sum.lastSweep = now
	} else if now-sum.lastSweep >= int64(g.cfg.StaleAfter)/4 {
		sum.lastSweep = now
		sum.evicted += int64(g.sweepStale(ctx))
	}
	totals.Unlock()
	out, err := process(ctx, md)
	totals.Lock()
	sum.overflow += g.batch.cnt.overflow
	sum.stripped += g.batch.cnt.stripped
	sum.rewritten += g.batch.cnt.rewritten
	for r, d := range g.batch.cnt.dropped {
		sum.dropped[r] += d
	}
	totals.Unlock()
	if errors.Is(err, processorhelper.ErrSkipProcessingData) {
		return pmetric.NewMetrics()
	}
	require.NoError(t, err)
	return out
}

// builder assembles input batches point by point.
type builder struct {
	md  pmetric.Metrics
	res map[string]pmetric.ScopeMetrics
	met map[string]pmetric.Metric
}

func newBuilder() *builder {
	return &builder{md: pmetric.NewMetrics(), res: map[string]pmetric.ScopeMetrics{}, met: map[string]pmetric.Metric{}}
}

func (b *builder) metric(resource, name string, mk func(pmetric.Metric)) pmetric.Metric {
	sm, ok := b.res[resource]
	if !ok {
		rm := b.md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "svc")
		rm.Resource().Attributes().PutStr("service.instance.id", resource)
		sm = rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("test")
		b.res[resource] = sm
	}
	key := resource + "/" + name
	m, ok := b.met[key]
	if !ok {
		m = sm.Metrics().AppendEmpty()
		m.SetName(name)
		mk(m)
		b.met[key] = m
	}
	return m
}

func cumSum(m pmetric.Metric) {
	s := m.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	s.SetIsMonotonic(true)
}

func deltaSum(m pmetric.Metric) {
	s := m.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	s.SetIsMonotonic(true)
}

func gauge(m pmetric.Metric) { m.SetEmptyGauge() }

func cumHist(m pmetric.Metric) {
	m.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
}

func deltaHist(m pmetric.Metric) {
	m.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
}

func (b *builder) sum(resource, name string, delta bool, a map[string]any, start, t int64, v int64) {
	mk := cumSum
	if delta {
		mk = deltaSum
	}
	dp := b.metric(resource, name, mk).Sum().DataPoints().AppendEmpty()
	_ = dp.Attributes().FromRaw(a)
	dp.SetStartTimestamp(ts(start))
	dp.SetTimestamp(ts(t))
	dp.SetIntValue(v)
}

func (b *builder) gauge(resource, name string, a map[string]any, t int64, v float64) {
	dp := b.metric(resource, name, gauge).Gauge().DataPoints().AppendEmpty()
	_ = dp.Attributes().FromRaw(a)
	dp.SetTimestamp(ts(t))
	dp.SetDoubleValue(v)
}

func (b *builder) hist(resource, name string, delta bool, a map[string]any, start, t int64, bounds []float64, counts []uint64, sum float64) {
	mk := cumHist
	if delta {
		mk = deltaHist
	}
	dp := b.metric(resource, name, mk).Histogram().DataPoints().AppendEmpty()
	_ = dp.Attributes().FromRaw(a)
	dp.SetStartTimestamp(ts(start))
	dp.SetTimestamp(ts(t))
	dp.ExplicitBounds().FromRaw(bounds)
	dp.BucketCounts().FromRaw(counts)
	var n uint64
	for _, c := range counts {
		n += c
	}
	dp.SetCount(n)
	dp.SetSum(sum)
}

// outPoint is a flattened output point.
type outPoint struct {
	resource string
	metric   string
	attrs    string
	start    pcommon.Timestamp
	ts       pcommon.Timestamp
	value    float64 // number value, or histogram/summary count
	sum      float64
	buckets  []uint64
	bounds   []float64
	quantile int
}

func (p outPoint) id() string { return p.resource + "|" + p.metric + "|" + p.attrs }

func attrString(m pcommon.Map) string {
	keys := make([]string, 0, m.Len())
	for k, v := range m.All() {
		keys = append(keys, k+"="+v.AsString())
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func numF64(dp pmetric.NumberDataPoint) float64 {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return float64(dp.IntValue())
	}
	return dp.DoubleValue()
}

// flatten lists every output point; it fails the test if two share an identity.
func flatten(t testing.TB, md pmetric.Metrics) map[string]outPoint {
	t.Helper()
	out := map[string]outPoint{}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := attrString(rm.Resource().Attributes())
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			scope := sm.Scope().Name() + "@" + sm.Scope().Version()
			for k := 0; k < sm.Metrics().Len(); k++ {
				m := sm.Metrics().At(k)
				add := func(p outPoint) {
					p.resource, p.metric = res+"#"+scope, m.Name()
					if prev, dup := out[p.id()]; dup {
						t.Fatalf("two output points with one identity in one export: %s (%v and %v)", p.id(), prev, p)
					}
					out[p.id()] = p
				}
				if m.Type() == pmetric.MetricTypeEmpty {
					add(outPoint{attrs: fmt.Sprintf("type=%s", m.Type())})
				}
				pmetricutil.PointFuncs{
					Number: func(_ int, dp pmetric.NumberDataPoint) {
						add(outPoint{attrs: attrString(dp.Attributes()), start: dp.StartTimestamp(), ts: dp.Timestamp(), value: numF64(dp)})
					},
					Histogram: func(_ int, dp pmetric.HistogramDataPoint) {
						add(outPoint{attrs: attrString(dp.Attributes()), start: dp.StartTimestamp(), ts: dp.Timestamp(),
							value: float64(dp.Count()), sum: dp.Sum(), buckets: dp.BucketCounts().AsRaw(), bounds: dp.ExplicitBounds().AsRaw()})
					},
					ExpHistogram: func(_ int, dp pmetric.ExponentialHistogramDataPoint) {
						b := append(dp.Positive().BucketCounts().AsRaw(), dp.Negative().BucketCounts().AsRaw()...)
						add(outPoint{attrs: attrString(dp.Attributes()), start: dp.StartTimestamp(), ts: dp.Timestamp(),
							value: float64(dp.Count()), sum: dp.Sum(), buckets: append(b, dp.ZeroCount())})
					},
					Summary: func(_ int, dp pmetric.SummaryDataPoint) {
						add(outPoint{attrs: attrString(dp.Attributes()), start: dp.StartTimestamp(), ts: dp.Timestamp(),
							value: float64(dp.Count()), sum: dp.Sum(), quantile: dp.QuantileValues().Len()})
					},
				}.Walk(m)
			}
		}
	}
	return out
}

// only returns the single output point of a metric, failing when there is not exactly one.
func only(t testing.TB, pts map[string]outPoint, metric string) outPoint {
	t.Helper()
	var found []outPoint
	for _, p := range pts {
		if p.metric == metric {
			found = append(found, p)
		}
	}
	require.Len(t, found, 1, "points of %s: %v", metric, found)
	return found[0]
}

func (b *builder) expHist(resource, name string, a map[string]any, start, t int64, scale, offset int32, counts []uint64, zero uint64) uint64 {
	mk := func(m pmetric.Metric) {
		m.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	dp := b.metric(resource, name, mk).ExponentialHistogram().DataPoints().AppendEmpty()
	_ = dp.Attributes().FromRaw(a)
	dp.SetStartTimestamp(ts(start))
	dp.SetTimestamp(ts(t))
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
	return n
}

func (b *builder) summary(resource, name string, a map[string]any, start, t int64, count uint64) {
	dp := b.metric(resource, name, func(m pmetric.Metric) { m.SetEmptySummary() }).Summary().DataPoints().AppendEmpty()
	_ = dp.Attributes().FromRaw(a)
	dp.SetStartTimestamp(ts(start))
	dp.SetTimestamp(ts(t))
	dp.SetCount(count)
	dp.SetSum(float64(count))
	q := dp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.5)
	q.SetValue(1)
}
