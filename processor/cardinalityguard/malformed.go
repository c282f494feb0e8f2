// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"math"
	"math/bits"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// expCountMatchesBuckets reports whether an exponential-histogram point's count is the sum of
// its zero, positive and negative buckets, as the data model requires, without overflowing
// uint64. The Prometheus exporter refuses a native histogram whose count differs and with it
// the whole metric — every producer's series of that name — so such a point is dropped
// (reason "invalid") before it creates a series or merges into one.
func expCountMatchesBuckets(dp pmetric.ExponentialHistogramDataPoint) bool {
	total, carry := dp.ZeroCount(), uint64(0)
	for _, b := range []pmetric.ExponentialHistogramDataPointBuckets{dp.Positive(), dp.Negative()} {
		bc := b.BucketCounts()
		for i := 0; i < bc.Len(); i++ {
			var c uint64
			total, c = bits.Add64(total, bc.At(i), 0)
			carry |= c
		}
	}
	return carry == 0 && total == dp.Count()
}

// usableBounds reports whether an explicit-histogram point's layout can be merged by bound:
// one count per bound plus +Inf, bounds finite and strictly ascending. Any other point
// contributes its count to the +Inf bucket only, and its bounds never become the series'
// layout, so a malformed member cannot scramble a well-formed member's buckets.
func usableBounds(dp pmetric.HistogramDataPoint) bool {
	b := dp.ExplicitBounds()
	if dp.BucketCounts().Len() != b.Len()+1 {
		return false
	}
	for i := 0; i < b.Len(); i++ {
		v := b.At(i)
		if math.IsNaN(v) || math.IsInf(v, 0) || (i > 0 && v <= b.At(i-1)) {
			return false
		}
	}
	return true
}
