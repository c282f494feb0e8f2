// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package hostile builds the single hostile metric points of issue 12 — each one able, before
// it was fixed, to corrupt, freeze or remove everybody's metrics — as OTLP/JSON, the form the
// fuzz targets take as seeds and an attacker sends to /v1/metrics.
package hostile // import "github.com/airi-otel/otelcol-airi/internal/hostile"

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Case is one hostile batch.
type Case struct {
	Name    string
	Metrics pmetric.Metrics
}

// JSON is the case as OTLP/JSON.
func (c Case) JSON() []byte {
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(c.Metrics)
	if err != nil {
		panic(err) // pdata built in this package always marshals
	}
	return b
}

func newMetric(service, name string) (pmetric.Metrics, pmetric.Metric) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", service)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	return md, m
}

// Counter is one point of a cumulative monotonic counter of service — what an innocent
// producer, or one of many racing senders, sends beside the hostile cases. attrs are the
// point's labels as key, value pairs.
func Counter(service, name string, start, ts time.Time, v int64, attrs ...string) pmetric.Metrics {
	md, m := newMetric(service, name)
	dp := cumSum(m).AppendEmpty()
	for i := 0; i+1 < len(attrs); i += 2 {
		dp.Attributes().PutStr(attrs[i], attrs[i+1])
	}
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	dp.SetIntValue(v)
	return md
}

func cumSum(m pmetric.Metric) pmetric.NumberDataPointSlice {
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	return s.DataPoints()
}

func cumHist(m pmetric.Metric) pmetric.HistogramDataPoint {
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := h.DataPoints().AppendEmpty()
	dp.ExplicitBounds().FromRaw([]float64{1})
	dp.BucketCounts().FromRaw([]uint64{1, 1})
	dp.SetCount(2)
	dp.SetSum(3)
	return dp
}

func cumExp(m pmetric.Metric) pmetric.ExponentialHistogramDataPoint {
	e := m.SetEmptyExponentialHistogram()
	e.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	return e.DataPoints().AppendEmpty()
}

// Cases returns the hostile batches, stamped relative to now. service names the producer.
func Cases(service string, now time.Time) []Case {
	ts := pcommon.NewTimestampFromTime(now)
	start := pcommon.NewTimestampFromTime(now.Add(-time.Minute))
	var out []Case
	add := func(name string, md pmetric.Metrics) { out = append(out, Case{Name: name, Metrics: md}) }

	md, m := newMetric(service, "hostile.le")
	dp := cumHist(m)
	dp.Attributes().PutStr("le", "x")
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(ts)
	add("le_label_on_histogram", md)

	md, m = newMetric(service, "hostile.quantile")
	sdp := m.SetEmptySummary().DataPoints().AppendEmpty()
	sdp.Attributes().PutStr("quantile", "0.5")
	sdp.SetStartTimestamp(start)
	sdp.SetTimestamp(ts)
	sdp.SetCount(1)
	sdp.SetSum(1)
	q := sdp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.5)
	q.SetValue(1)
	add("quantile_label_on_summary", md)

	md, m = newMetric(service, "hostile.reserved")
	g := m.SetEmptyGauge().DataPoints().AppendEmpty()
	g.SetTimestamp(ts)
	g.SetIntValue(1)
	for _, k := range []string{"job", "instance", "__name__", "", "...", "日本", "otel_scope_name", "otel.scope.version"} {
		g.Attributes().PutStr(k, "v")
	}
	add("reserved_and_invalid_label_keys", md)

	md = pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	md.ResourceMetrics().At(0).Resource().Attributes().PutStr("service.name", service)
	for _, name := range []string{"", "...", "日本"} {
		bad := ms.AppendEmpty()
		bad.SetName(name)
		bdp := bad.SetEmptyGauge().DataPoints().AppendEmpty()
		bdp.SetTimestamp(ts)
		bdp.SetIntValue(1)
	}
	add("invalid_metric_names", md)

	md, m = newMetric(service, "hostile.future")
	fdp := cumSum(m).AppendEmpty()
	fdp.SetStartTimestamp(start)
	fdp.SetTimestamp(pcommon.Timestamp(math.MaxInt64))
	fdp.SetIntValue(1000)
	add("far_future_timestamp", md)

	md, m = newMetric(service, "hostile.nan")
	ndp := cumHist(m)
	ndp.SetStartTimestamp(start)
	ndp.SetTimestamp(ts)
	ndp.SetSum(math.NaN())
	add("nan_histogram_sum", md)

	md, m = newMetric(service, "hostile.overflow")
	dps := cumSum(m)
	for _, user := range []string{"a", "b"} {
		odp := dps.AppendEmpty()
		odp.Attributes().PutStr("user_id", user)
		odp.SetStartTimestamp(start)
		odp.SetTimestamp(ts)
		odp.SetIntValue(math.MaxInt64)
	}
	add("int64_max_members", md)

	md, m = newMetric(service, "hostile.huge")
	gdps := m.SetEmptyGauge().DataPoints()
	for _, user := range []string{"a", "b"} {
		hdp := gdps.AppendEmpty()
		hdp.Attributes().PutStr("user_id", user)
		hdp.SetTimestamp(ts)
		hdp.SetDoubleValue(1.7e308)
	}
	add("float_overflow_members", md)

	md, m = newMetric(service, "hostile.count")
	cdp := cumHist(m)
	cdp.SetStartTimestamp(start)
	cdp.SetTimestamp(ts)
	cdp.BucketCounts().FromRaw([]uint64{math.MaxUint64, 0})
	cdp.SetCount(math.MaxUint64)
	add("u64_max_count", md)

	md, m = newMetric(service, "hostile.lowscale")
	edp := cumExp(m)
	edp.SetStartTimestamp(start)
	edp.SetTimestamp(ts)
	edp.SetScale(-10)
	edp.Positive().BucketCounts().FromRaw([]uint64{1, 2})
	edp.SetCount(3)
	add("exp_histogram_scale_minus_10", md)

	// 1000 buckets at scale -3 span 500 at -4: more than the 320 a merge may hold (the report's
	// 100,000 buckets at scale 0 are the same case; kept small so fuzzing stays fast)
	md, m = newMetric(service, "hostile.wide")
	wdp := cumExp(m)
	wdp.SetStartTimestamp(start)
	wdp.SetTimestamp(ts)
	wdp.SetScale(-3)
	wide := make([]uint64, 1000)
	for i := range wide {
		wide[i] = 1
	}
	wdp.Positive().BucketCounts().FromRaw(wide)
	wdp.SetCount(uint64(len(wide)))
	add("exp_histogram_too_wide", md)

	md, m = newMetric(service, "hostile.apart")
	edps := m.SetEmptyExponentialHistogram()
	edps.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i, off := range []int32{-2000, 2000} {
		adp := edps.DataPoints().AppendEmpty()
		adp.Attributes().PutStr("user_id", string(rune('a'+i)))
		adp.SetStartTimestamp(start)
		adp.SetTimestamp(ts)
		adp.Positive().SetOffset(off)
		adp.Positive().BucketCounts().FromRaw([]uint64{1})
		adp.SetCount(1)
		adp.SetSum(1)
	}
	add("exp_histogram_members_far_apart", md)

	md, m = newMetric(service, "hostile.family")
	m.SetUnit("s")
	fh := cumHist(m)
	fh.SetStartTimestamp(start)
	fh.SetTimestamp(ts)
	fg := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	fg.SetName("hostile_family_seconds_count")
	fgp := fg.SetEmptyGauge().DataPoints().AppendEmpty()
	fgp.SetTimestamp(ts)
	fgp.SetIntValue(99)
	fs := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	fs.SetName("hostile_family_seconds_count")
	fs.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(5)
	fs.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	add("family_name_collisions", md)

	// invalid UTF-8 in a label value, a label key and a description
	md, m = newMetric(service, "hostile.utf8")
	m.SetDescription("bad \xff description")
	up := m.SetEmptyGauge().DataPoints().AppendEmpty()
	up.SetTimestamp(ts)
	up.SetIntValue(1)
	up.Attributes().PutStr("route", "/caf\xc3")
	up.Attributes().PutStr("k\xfe", "v")
	add("invalid_utf8", md)

	// one member whose bucket layout changes between its points: not a reset each time
	md, m = newMetric(service, "hostile.layout")
	lh := m.SetEmptyHistogram()
	lh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i, b := range [][]float64{{1, 2, 5}, {1, 3, 5}, {1, 2, 5}} {
		lp := lh.DataPoints().AppendEmpty()
		lp.SetStartTimestamp(start)
		lp.SetTimestamp(ts + pcommon.Timestamp(i))
		lp.ExplicitBounds().FromRaw(b)
		n := uint64(i + 1)
		lp.BucketCounts().FromRaw([]uint64{n, n, n, n})
		lp.SetCount(4 * n)
		lp.SetSum(float64(4 * n))
	}
	add("histogram_layout_change", md)

	// Malformed explicit histograms (issue 17): bucket counts ≠ bounds+1 (too many, too few),
	// bounds unsorted, repeated, NaN and infinite, count ≠ the buckets' sum, min above max.
	md, m = newMetric(service, "hostile.malformed")
	mh := m.SetEmptyHistogram()
	mh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i, b := range []struct {
		bounds []float64
		counts []uint64
	}{
		{[]float64{0.1, 1}, []uint64{1, 2, 3, 4, 5}},
		{[]float64{1, 2, 3}, []uint64{7}},
		{[]float64{5, 1, 3}, []uint64{1, 1, 1, 1}},
		{[]float64{1, 1, math.NaN(), math.Inf(1)}, []uint64{1, 1, 1, 1, 1}},
		{[]float64{math.Inf(-1), -1e308, 1e308}, []uint64{0, 1, 1, math.MaxUint64}},
	} {
		mp := mh.DataPoints().AppendEmpty()
		mp.Attributes().PutStr("shape", string(rune('a'+i)))
		mp.SetStartTimestamp(start)
		mp.SetTimestamp(ts)
		mp.ExplicitBounds().FromRaw(b.bounds)
		mp.BucketCounts().FromRaw(b.counts)
		mp.SetCount(3) // whatever the buckets say
		mp.SetSum(1e308)
		mp.SetMin(10)
		mp.SetMax(-10)
	}
	add("malformed_histograms", md)

	// Exponential histograms at the edges of their fields: scale far above 20 and at the
	// int32 limits, offsets at the int32 limits (offset + bucket index overflows int32), counts
	// that disagree with the buckets (below, above, overflowing uint64).
	md, m = newMetric(service, "hostile.expedge")
	eh := m.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i, e := range []struct {
		scale            int32
		posOff, negOff   int32
		pos, neg         []uint64
		zeroCount, count uint64
	}{
		{scale: 100, pos: []uint64{1, 1}, count: 2},
		{scale: math.MaxInt32, pos: []uint64{1}, count: 1},
		{scale: math.MinInt32, pos: []uint64{1}, count: 1},
		{scale: 0, posOff: math.MaxInt32 - 1, pos: []uint64{1, 1, 1, 1}, count: 4},
		{scale: 0, negOff: math.MinInt32, neg: []uint64{1, 1}, count: 2},
		{scale: 20, posOff: math.MinInt32, negOff: math.MaxInt32, pos: []uint64{1}, neg: []uint64{1}, count: 2},
		{scale: 0, pos: []uint64{1}, zeroCount: 5, count: 1},
		{scale: 0, pos: []uint64{1}, count: 100},
		{scale: 0, pos: []uint64{math.MaxUint64}, zeroCount: 2, count: 1},
	} {
		ep := eh.DataPoints().AppendEmpty()
		ep.Attributes().PutStr("shape", string(rune('a'+i)))
		ep.SetStartTimestamp(start)
		ep.SetTimestamp(ts)
		ep.SetScale(e.scale)
		ep.Positive().SetOffset(e.posOff)
		ep.Positive().BucketCounts().FromRaw(e.pos)
		ep.Negative().SetOffset(e.negOff)
		ep.Negative().BucketCounts().FromRaw(e.neg)
		ep.SetZeroCount(e.zeroCount)
		ep.SetCount(e.count)
		ep.SetSum(1)
	}
	add("exp_histogram_extreme_fields", md)
	return out
}
