// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// deltaExp turns the one metric of md (an exponential histogram) into a delta one.
func deltaExp(md pmetric.Metrics) pmetric.Metrics {
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	m.ExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	return md
}

// onlyExp returns the single exponential-histogram point of an export.
func onlyExp(t *testing.T, md pmetric.Metrics) pmetric.ExponentialHistogramDataPoint {
	t.Helper()
	require.Equal(t, 1, md.DataPointCount())
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	require.Equal(t, pmetric.AggregationTemporalityDelta, m.ExponentialHistogram().AggregationTemporality())
	return m.ExponentialHistogram().DataPoints().At(0)
}

// Delta exponential histograms of one output series add up within one export, at the lowest
// scale of their points, and start from nothing in the next: the accumulator belongs to the
// export, not to the series.
func TestDeltaExpHistogramsAddPerExport(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())

	in := newBuilder()
	in.expHist("r1", "latency", attrs("route", "/a", "user_id", "a"), 1, 10, 1, 0, []uint64{1, 2}, 0)
	in.expHist("r1", "latency", attrs("route", "/a", "user_id", "b"), 1, 10, 0, 0, []uint64{4}, 1)
	p := onlyExp(t, run(t, g, deltaExp(in.md)))
	require.Equal(t, int32(0), p.Scale(), "the lower scale of the two")
	require.Equal(t, []uint64{7}, p.Positive().BucketCounts().AsRaw(), "scale-1 buckets 0 and 1 are scale-0 bucket 0")
	require.Equal(t, uint64(1), p.ZeroCount())
	require.Equal(t, uint64(8), p.Count())
	require.Equal(t, 8.0, p.Sum())

	in = newBuilder()
	in.expHist("r1", "latency", attrs("route", "/a", "user_id", "a"), 10, 20, 1, 0, []uint64{0, 5}, 0)
	p = onlyExp(t, run(t, g, deltaExp(in.md)))
	require.Equal(t, int32(1), p.Scale(), "the previous export's lower scale is not carried over")
	require.Equal(t, []uint64{0, 5}, p.Positive().BucketCounts().AsRaw())
	require.Equal(t, uint64(5), p.Count())

	// a staleness marker alone refreshes the series and carries no counts: nothing of the
	// previous export may be emitted again
	in = newBuilder()
	in.expHist("r1", "latency", attrs("route", "/a", "user_id", "a"), 20, 30, 1, 0, nil, 0)
	md := deltaExp(in.md)
	md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).ExponentialHistogram().DataPoints().At(0).
		SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	p = onlyExp(t, run(t, g, md))
	require.Equal(t, uint64(0), p.Count())
	require.Zero(t, p.Positive().BucketCounts().Len())
}
