// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Exponential histograms merge at the lowest scale among the output series and its
// members: a higher-scale histogram is downscaled by merging 2^(Δscale) adjacent buckets
// (index >> Δscale), which is exact. Zero counts add; the output zero_threshold is the
// largest threshold seen. Buckets of a member with a smaller threshold that would fall
// inside the larger zero bucket are kept in their buckets (not moved into the zero count),
// so the output is never lossy, only slightly more detailed near zero.

const (
	// minExpScale is the lowest scale the shipped exporters convert (the Prometheus exporter
	// and remote write reject anything below -4 as a native histogram). At -4 one bucket spans
	// a factor of 2^16, so every finite float64 fits in 136 buckets: a merge never needs to go
	// lower, and an input point below it is dropped and counted (unsupported_scale).
	minExpScale = -4
	maxExpScale = 20
	// maxExpBuckets bounds each merged bucket range (positive and negative); a wider
	// merge is downscaled further, as the SDK's max_size does (2x its default of 160).
	maxExpBuckets = 320
)

type expBuckets struct {
	offset int64 // int64 so that offset+len never overflows; always within int32 on output
	counts []uint64
}

// span returns the index range of b at scale s seen at the lower scale target.
func (b *expBuckets) span(s, target int32) (lo, hi int64, ok bool) {
	if b.empty() {
		return 0, 0, false
	}
	d := s - target
	return b.offset >> d, (b.offset + int64(len(b.counts)) - 1) >> d, true
}

// fits reports whether the union of a (at scale as) and b (at scale bs) spans at most
// maxExpBuckets buckets at scale target.
func fits(a *expBuckets, as int32, b *expBuckets, bs int32, target int32) bool {
	alo, ahi, aok := a.span(as, target)
	blo, bhi, bok := b.span(bs, target)
	switch {
	case aok && bok:
		return max(ahi, bhi)-min(alo, blo) < maxExpBuckets
	case aok:
		return ahi-alo < maxExpBuckets
	case bok:
		return bhi-blo < maxExpBuckets
	}
	return true
}

// fitsAtMinScale reports whether buckets b at scale s span at most maxExpBuckets at minExpScale.
func fitsAtMinScale(b pmetric.ExponentialHistogramDataPointBuckets, s int32) bool {
	n := b.BucketCounts().Len()
	if n == 0 {
		return true
	}
	d := s - minExpScale
	return (int64(b.Offset())+int64(n)-1)>>d-int64(b.Offset())>>d < maxExpBuckets
}

type expState struct {
	scale         int32
	zeroCount     uint64
	zeroThreshold float64
	pos, neg      expBuckets
}

func (b *expBuckets) empty() bool { return len(b.counts) == 0 }

// downscale merges buckets so that the scale drops by by.
func (b *expBuckets) downscale(by int32) {
	if by <= 0 || b.empty() {
		return
	}
	if by > 62 {
		by = 62
	}
	newOff := b.offset >> by
	last := 0
	for i := 0; i < len(b.counts); i++ {
		ni := int((b.offset+int64(i))>>by - newOff)
		if ni != i {
			b.counts[ni] += b.counts[i]
			b.counts[i] = 0
		}
		last = ni
	}
	b.counts = b.counts[:last+1]
	b.offset = newOff
}

// add adds src (same scale) into b.
func (b *expBuckets) add(src expBuckets) {
	if src.empty() {
		return
	}
	if b.empty() {
		b.offset = src.offset
		b.counts = append(b.counts[:0], src.counts...)
		return
	}
	lo, hi := b.offset, b.offset+int64(len(b.counts))
	slo, shi := src.offset, src.offset+int64(len(src.counts))
	if slo < lo || shi > hi {
		nlo, nhi := min(lo, slo), max(hi, shi)
		n := make([]uint64, nhi-nlo)
		copy(n[lo-nlo:], b.counts)
		b.counts, b.offset = n, nlo
	}
	for i, c := range src.counts {
		b.counts[src.offset+int64(i)-b.offset] += c
	}
}

// sub removes src (same scale, previously added) from b; it never underflows.
func (b *expBuckets) sub(src expBuckets) {
	for i, c := range src.counts {
		j := src.offset + int64(i) - b.offset
		if j < 0 || int(j) >= len(b.counts) {
			continue
		}
		if b.counts[j] >= c {
			b.counts[j] -= c
		} else {
			b.counts[j] = 0
		}
	}
}

// geq reports whether a >= b bucket by bucket (same scale).
func (a *expBuckets) geq(b expBuckets) bool {
	for i, c := range b.counts {
		if c == 0 {
			continue
		}
		j := b.offset + int64(i) - a.offset
		if j < 0 || int(j) >= len(a.counts) || a.counts[j] < c {
			return false
		}
	}
	return true
}

func (x *expState) downscaleTo(scale int32) {
	if scale < x.scale {
		x.pos.downscale(x.scale - scale)
		x.neg.downscale(x.scale - scale)
		x.scale = scale
	}
}

func (x *expState) copyFrom(o *expState) {
	x.scale, x.zeroCount, x.zeroThreshold = o.scale, o.zeroCount, o.zeroThreshold
	x.pos.offset, x.pos.counts = o.pos.offset, append(x.pos.counts[:0], o.pos.counts...)
	x.neg.offset, x.neg.counts = o.neg.offset, append(x.neg.counts[:0], o.neg.counts...)
}

func loadBuckets(dst *expBuckets, b pmetric.ExponentialHistogramDataPointBuckets) {
	dst.offset = int64(b.Offset())
	dst.counts = dst.counts[:0]
	bc := b.BucketCounts()
	for i := 0; i < bc.Len(); i++ {
		dst.counts = append(dst.counts, bc.At(i))
	}
}

// validExp drops (and counts) a point whose scale is outside what the exporters convert (below
// -4), what the specification defines (above 20), or too wide to fit maxExpBuckets even at -4;
// checked before the point is resolved, so it creates no empty series.
func (g *guard) validExp(dp pmetric.ExponentialHistogramDataPoint) bool {
	if dp.Scale() < minExpScale || dp.Scale() > maxExpScale ||
		!fitsAtMinScale(dp.Positive(), dp.Scale()) || !fitsAtMinScale(dp.Negative(), dp.Scale()) {
		g.cnt.dropped[dropUnsupportedScale]++
		return false
	}
	return true
}

func (g *guard) expPoint(c *mctx, dp pmetric.ExponentialHistogramDataPoint, now int64) {
	mp, ok := openPoint(g, c, dp, now, &expKind)
	if !ok {
		return
	}
	r, s, first := mp.r, mp.s, mp.first
	if s.ext == nil {
		s.ext = &seriesExt{exp: &expState{scale: maxExpScale}}
	}
	x := s.ext
	if c.kind == kDeltaExp && first {
		// the series state is this export's accumulator for delta points
		*x = seriesExt{exp: x.exp}
		x.exp.scale, x.exp.zeroCount, x.exp.zeroThreshold = maxExpScale, 0, 0
		x.exp.pos.counts, x.exp.neg.counts = x.exp.pos.counts[:0], x.exp.neg.counts[:0]
	}
	in := &g.expTmp
	in.scale = dp.Scale()
	in.zeroCount, in.zeroThreshold = dp.ZeroCount(), dp.ZeroThreshold()
	loadBuckets(&in.pos, dp.Positive())
	loadBuckets(&in.neg, dp.Negative())
	target := min(x.exp.scale, in.scale)
	var m *member
	if c.kind == kCumExp {
		m = &g.members[r.mi]
		if r.newMember {
			if s.start == 0 {
				s.start = uint64(dp.StartTimestamp())
			}
			m.ext = &memberExt{exp: &expState{scale: maxExpScale}}
		} else {
			if uint64(dp.Timestamp()) < m.ts {
				g.cnt.dropped[dropOutOfOrder]++
				return
			}
			target = min(target, m.ext.exp.scale)
		}
	}
	for target > minExpScale && (!fits(&x.exp.pos, x.exp.scale, &in.pos, in.scale, target) ||
		!fits(&x.exp.neg, x.exp.scale, &in.neg, in.scale, target)) {
		target--
	}
	if !fits(&x.exp.pos, x.exp.scale, &in.pos, in.scale, target) || !fits(&x.exp.neg, x.exp.scale, &in.neg, in.scale, target) {
		// bucket indexes too far apart to merge in bounded memory at the lowest scale the
		// exporters convert (only offsets beyond the float range get here)
		g.cnt.dropped[dropUnsupportedScale]++
		return
	}
	x.exp.downscaleTo(target)
	in.downscaleTo(target)
	sum := 0.0
	if m != nil && !r.newMember {
		old := m.ext.exp
		old.downscaleTo(target)
		reset := uint64(dp.StartTimestamp()) != m.start || dp.Count() < m.ext.count || in.zeroCount < old.zeroCount ||
			!in.pos.geq(old.pos) || !in.neg.geq(old.neg)
		if !reset {
			sum = m.ext.sum // kept when the point's own sum is NaN or infinite
			x.exp.pos.sub(old.pos)
			x.exp.neg.sub(old.neg)
			x.exp.zeroCount -= min(x.exp.zeroCount, old.zeroCount)
			x.count -= min(x.count, m.ext.count)
			x.sum -= m.ext.sum
		}
	}
	sum = g.finiteSum(dp.Sum(), sum)
	x.exp.pos.add(in.pos)
	x.exp.neg.add(in.neg)
	x.exp.zeroCount = satAddU(x.exp.zeroCount, in.zeroCount)
	x.exp.zeroThreshold = max(x.exp.zeroThreshold, in.zeroThreshold)
	x.count = satAddU(x.count, dp.Count())
	x.sum = satF(x.sum + sum)
	combineMinMax(x, dp.HasMin(), dp.Min(), dp.HasMax(), dp.Max())
	if m != nil {
		m.ext.exp.copyFrom(in)
		m.ext.count, m.ext.sum = dp.Count(), sum
		m.start, m.ts = uint64(dp.StartTimestamp()), uint64(dp.Timestamp())
	}
}

func finalizeExp(s *series, o pmetric.ExponentialHistogramDataPoint) {
	x := s.ext
	if x == nil || x.exp == nil {
		return
	}
	if s.kind == kCumExp {
		o.SetStartTimestamp(pcommon.Timestamp(s.start))
	}
	o.SetScale(x.exp.scale)
	o.SetZeroCount(x.exp.zeroCount)
	o.SetZeroThreshold(x.exp.zeroThreshold)
	o.Positive().SetOffset(int32(x.exp.pos.offset))
	o.Positive().BucketCounts().FromRaw(x.exp.pos.counts)
	o.Negative().SetOffset(int32(x.exp.neg.offset))
	o.Negative().BucketCounts().FromRaw(x.exp.neg.counts)
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
