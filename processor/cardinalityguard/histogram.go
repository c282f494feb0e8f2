// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"math"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Explicit-bounds histograms. An output series keeps the bounds of the first point it
// ever saw. A point with other bounds is mapped into them: each source bucket's count goes
// to the output bucket containing the source bucket's upper bound (the first output bound
// >= it; +Inf goes to the last bucket). The mapping is deterministic and never moves an
// observation below its true upper bound, so every output `le` count is exact or an
// under-count of the coarser bucket, never an over-count. A point whose bucket_counts does
// not have len(explicit_bounds)+1 entries contributes its count to the +Inf bucket.

func equalBounds(a pcommon.Float64Slice, b []float64) bool {
	if a.Len() != len(b) {
		return false
	}
	for i := range b {
		if a.At(i) != b[i] {
			return false
		}
	}
	return true
}

// mapBuckets maps dp's bucket counts into bounds; the result is valid until the next call.
// layout identifies dp's bucket layout: 0 for the series' own bounds (no hashing on the common
// path), 1 for a point counted into +Inf only (unusable bounds), otherwise a hash of dp's bounds.
func (g *guard) mapBuckets(dp pmetric.HistogramDataPoint, bounds []float64) (out []uint64, layout uint64) {
	n := len(bounds) + 1
	out = g.hbuf[:0]
	for i := 0; i < n; i++ {
		out = append(out, 0)
	}
	g.hbuf = out
	src, counts := dp.ExplicitBounds(), dp.BucketCounts()
	if !usableBounds(dp) {
		out[n-1] += dp.Count()
		return out, 1
	}
	if equalBounds(src, bounds) {
		for i := 0; i < n; i++ {
			out[i] = counts.At(i)
		}
		return out, 0
	}
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < counts.Len(); i++ {
		j := n - 1
		if i < src.Len() {
			j = sort.SearchFloat64s(bounds, src.At(i))
			h = (h ^ math.Float64bits(src.At(i))) * 0x100000001b3
		}
		out[j] += counts.At(i)
	}
	return out, h | 2
}

func initHistExt(s *series, dp pmetric.HistogramDataPoint) {
	if s.ext != nil {
		return
	}
	b := dp.ExplicitBounds().AsRaw()
	if !usableBounds(dp) {
		b = nil
	}
	s.ext = &seriesExt{bounds: b, counts: make([]uint64, len(b)+1)}
}

// setCountSumMinMax writes the merged count, sum, min and max of a histogram of either kind
// into its output point.
func setCountSumMinMax[P interface {
	SetCount(uint64)
	SetSum(float64)
	SetMin(float64)
	SetMax(float64)
}](o P, x *seriesExt) {
	o.SetCount(x.count)
	o.SetSum(x.sum)
	if x.hasMinMax {
		if !math.IsInf(x.min, 1) {
			o.SetMin(x.min)
		}
		if !math.IsInf(x.max, -1) {
			o.SetMax(x.max)
		}
	}
}

func combineMinMax(x *seriesExt, hasMin bool, mn float64, hasMax bool, mx float64) {
	if !hasMin && !hasMax {
		return
	}
	if !x.hasMinMax {
		x.min, x.max = math.Inf(1), math.Inf(-1)
		x.hasMinMax = true
	}
	if hasMin && mn < x.min {
		x.min = mn
	}
	if hasMax && mx > x.max {
		x.max = mx
	}
}

// histPoint admits a histogram point, runs the shared prologue, maps its buckets into the
// series' bounds and hands it to its kind's merge.
func (g *guard) histPoint(c *mctx, dp pmetric.HistogramDataPoint, now int64, merge histMerge) {
	if !g.admit(dp.Timestamp()) {
		return
	}
	mp, ok := g.openPoint(c, &inPoint{dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), dp.Flags().NoRecordedValue(), dp.Exemplars(), true}, now)
	if !ok {
		return
	}
	s := mp.s
	initHistExt(s, dp)
	x := s.ext
	mapped, layout := g.mapBuckets(dp, x.bounds)
	// The count is the sum of the buckets: a point whose count disagrees with them would make
	// the exported le buckets non-cumulative (+Inf is the count).
	var count uint64
	for _, v := range mapped {
		count = satAddU(count, v)
	}
	merge(g, dp, mapped, count, layout, mp)
}

// histMerge merges one admitted histogram point (its buckets mapped into the series' bounds,
// their total count, its source layout) into its series' state and output point: one per temporality, chosen once
// per metric by histMergeOf.
type histMerge func(g *guard, dp pmetric.HistogramDataPoint, mapped []uint64, count, layout uint64, mp merging)

func histMergeOf(k kind) histMerge {
	if k == kDeltaHist {
		return (*guard).mergeDeltaHist
	}
	return (*guard).mergeCumHist
}

// mergeDeltaHist adds a delta point into the export's output point: delta histograms keep no
// state across exports (no member), the output point is the accumulator.
func (g *guard) mergeDeltaHist(dp pmetric.HistogramDataPoint, mapped []uint64, count, _ uint64, mp merging) {
	o, x := mp.e.hist, mp.s.ext
	sum := g.finiteSum(dp.Sum(), 0)
	if mp.first {
		o.ExplicitBounds().FromRaw(x.bounds)
		o.BucketCounts().FromRaw(mapped)
		o.SetCount(count)
		o.SetSum(sum)
		if dp.HasMin() {
			o.SetMin(dp.Min())
		}
		if dp.HasMax() {
			o.SetMax(dp.Max())
		}
		return
	}
	bc := o.BucketCounts()
	for i, v := range mapped {
		if i < bc.Len() {
			bc.SetAt(i, satAddU(bc.At(i), v))
		}
	}
	o.SetCount(satAddU(o.Count(), count))
	o.SetSum(satF(o.Sum() + sum))
	if dp.HasMin() && (!o.HasMin() || dp.Min() < o.Min()) {
		o.SetMin(dp.Min())
	}
	if dp.HasMax() && (!o.HasMax() || dp.Max() > o.Max()) {
		o.SetMax(dp.Max())
	}
}

// mergeCumHist applies the member's increase since its last point to the series' buckets (a
// reset, a new start time or a falling bucket within one source layout, counts the whole point).
func (g *guard) mergeCumHist(dp pmetric.HistogramDataPoint, mapped []uint64, count, layout uint64, mp merging) {
	r, s := mp.r, mp.s
	x := s.ext
	m := g.members.At(r.mi)
	var sum float64
	var mx *memberExt
	if r.newMember {
		if s.start == 0 {
			s.start = uint64(dp.StartTimestamp())
		}
		mx = &memberExt{}
		g.memberExts[r.mi] = mx
		sum = g.finiteSum(dp.Sum(), 0)
	} else {
		mx = g.memberExts[r.mi]
		if uint64(dp.Timestamp()) < m.ts {
			g.batch.cnt.dropped[dropOutOfOrder]++
			return
		}
		// A bucket that falls is a reset only within one source layout: mapped into the
		// series' bounds, a point with other bounds may move counts between buckets, and
		// taking that for a reset would add the whole count again at every layout change.
		reset := uint64(dp.StartTimestamp()) != m.start || count < mx.count || len(mx.counts) != len(mapped)
		for i := 0; !reset && layout == mx.layout && i < len(mapped); i++ {
			reset = mapped[i] < mx.counts[i]
		}
		if reset {
			sum = g.finiteSum(dp.Sum(), 0)
		} else {
			sum = g.finiteSum(dp.Sum(), mx.sum)
			for i, v := range mx.counts {
				x.counts[i] -= min(x.counts[i], v)
			}
			x.count -= min(x.count, mx.count)
			x.sum -= mx.sum
		}
	}
	for i, v := range mapped {
		x.counts[i] = satAddU(x.counts[i], v)
	}
	x.count = satAddU(x.count, count)
	x.sum = satF(x.sum + sum)
	combineMinMax(x, dp.HasMin(), dp.Min(), dp.HasMax(), dp.Max())
	mx.counts = append(mx.counts[:0], mapped...)
	mx.count, mx.sum, mx.layout = count, sum, layout
	m.start, m.ts = uint64(dp.StartTimestamp()), uint64(dp.Timestamp())
}

func finalizeHist(s *series, o pmetric.HistogramDataPoint) {
	x := s.ext
	if x == nil {
		return
	}
	o.SetStartTimestamp(pcommon.Timestamp(s.start))
	o.ExplicitBounds().FromRaw(x.bounds)
	o.BucketCounts().FromRaw(x.counts)
	setCountSumMinMax(o, x)
}
