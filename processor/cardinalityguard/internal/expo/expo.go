// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package expo is the exponential-histogram arithmetic of cardinality_guard: bucket ranges at a
// scale, downscaling, adding and removing one histogram's buckets into a merged one.
//
// Exponential histograms merge at the lowest scale among the output series and its members: a
// higher-scale histogram is downscaled by merging 2^(Δscale) adjacent buckets (index >> Δscale),
// which is exact. Zero counts add; the output zero_threshold is the largest threshold seen.
// Buckets of a member with a smaller threshold that would fall inside the larger zero bucket are
// kept in their buckets (not moved into the zero count), so the output is never lossy, only
// slightly more detailed near zero.
package expo // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/expo"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

const (
	// MinScale is the lowest scale the shipped exporters convert (the Prometheus exporter
	// and remote write reject anything below -4 as a native histogram). At -4 one bucket spans
	// a factor of 2^16, so every finite float64 fits in 136 buckets: a merge never needs to go
	// lower, and an input point below it is dropped and counted (unsupported_scale).
	MinScale = -4
	// MaxScale is the highest scale the specification defines.
	MaxScale = 20
	// MaxBuckets bounds each merged bucket range (positive and negative); a wider
	// merge is downscaled further, as the SDK's max_size does (2x its default of 160).
	MaxBuckets = 320
)

// Buckets is one side (positive or negative) of an exponential histogram.
type Buckets struct {
	Offset int64 // int64 so that offset+len never overflows; always within int32 on output
	Counts []uint64
}

// Empty reports whether b has no buckets.
func (b *Buckets) Empty() bool { return len(b.Counts) == 0 }

// Span returns the index range of b at scale s seen at the lower scale target.
func (b *Buckets) Span(s, target int32) (lo, hi int64, ok bool) {
	if b.Empty() {
		return 0, 0, false
	}
	d := s - target
	return b.Offset >> d, (b.Offset + int64(len(b.Counts)) - 1) >> d, true
}

// Fits reports whether the union of a (at scale as) and b (at scale bs) spans at most
// MaxBuckets buckets at scale target.
func Fits(a *Buckets, as int32, b *Buckets, bs int32, target int32) bool {
	alo, ahi, aok := a.Span(as, target)
	blo, bhi, bok := b.Span(bs, target)
	switch {
	case aok && bok:
		return max(ahi, bhi)-min(alo, blo) < MaxBuckets
	case aok:
		return ahi-alo < MaxBuckets
	case bok:
		return bhi-blo < MaxBuckets
	}
	return true
}

// FitsAtMinScale reports whether buckets b at scale s span at most MaxBuckets at MinScale.
func FitsAtMinScale(b pmetric.ExponentialHistogramDataPointBuckets, s int32) bool {
	n := b.BucketCounts().Len()
	if n == 0 {
		return true
	}
	d := s - MinScale
	return (int64(b.Offset())+int64(n)-1)>>d-int64(b.Offset())>>d < MaxBuckets
}

// Supported reports whether a point's scale is one the guard merges: within [MinScale,
// MaxScale] and its buckets narrow enough to fit MaxBuckets even at MinScale.
func Supported(dp pmetric.ExponentialHistogramDataPoint) bool {
	return dp.Scale() >= MinScale && dp.Scale() <= MaxScale &&
		FitsAtMinScale(dp.Positive(), dp.Scale()) && FitsAtMinScale(dp.Negative(), dp.Scale())
}

// Downscale merges buckets so that the scale drops by by.
func (b *Buckets) Downscale(by int32) {
	if by <= 0 || b.Empty() {
		return
	}
	if by > 62 {
		by = 62
	}
	newOff := b.Offset >> by
	last := 0
	for i := 0; i < len(b.Counts); i++ {
		ni := int((b.Offset+int64(i))>>by - newOff)
		if ni != i {
			b.Counts[ni] += b.Counts[i]
			b.Counts[i] = 0
		}
		last = ni
	}
	b.Counts = b.Counts[:last+1]
	b.Offset = newOff
}

// Add adds src (same scale) into b.
func (b *Buckets) Add(src Buckets) {
	if src.Empty() {
		return
	}
	if b.Empty() {
		b.Offset = src.Offset
		b.Counts = append(b.Counts[:0], src.Counts...)
		return
	}
	lo, hi := b.Offset, b.Offset+int64(len(b.Counts))
	slo, shi := src.Offset, src.Offset+int64(len(src.Counts))
	if slo < lo || shi > hi {
		nlo, nhi := min(lo, slo), max(hi, shi)
		n := make([]uint64, nhi-nlo)
		copy(n[lo-nlo:], b.Counts)
		b.Counts, b.Offset = n, nlo
	}
	for i, c := range src.Counts {
		b.Counts[src.Offset+int64(i)-b.Offset] += c
	}
}

// Sub removes src (same scale, previously added) from b; it never underflows.
func (b *Buckets) Sub(src Buckets) {
	for i, c := range src.Counts {
		j := src.Offset + int64(i) - b.Offset
		if j < 0 || int(j) >= len(b.Counts) {
			continue
		}
		if b.Counts[j] >= c {
			b.Counts[j] -= c
		} else {
			b.Counts[j] = 0
		}
	}
}

// Geq reports whether b >= o bucket by bucket (same scale).
func (b *Buckets) Geq(o Buckets) bool {
	for i, c := range o.Counts {
		if c == 0 {
			continue
		}
		j := o.Offset + int64(i) - b.Offset
		if j < 0 || int(j) >= len(b.Counts) || b.Counts[j] < c {
			return false
		}
	}
	return true
}

// Load replaces b with the buckets of a data point, reusing b's memory.
func (b *Buckets) Load(src pmetric.ExponentialHistogramDataPointBuckets) {
	b.Offset = int64(src.Offset())
	b.Counts = b.Counts[:0]
	bc := src.BucketCounts()
	for i := 0; i < bc.Len(); i++ {
		b.Counts = append(b.Counts, bc.At(i))
	}
}

// State is a whole exponential histogram's buckets and zero bucket at one scale (count, sum,
// min and max are kept by the caller).
type State struct {
	Scale         int32
	ZeroCount     uint64
	ZeroThreshold float64
	Pos, Neg      Buckets
}

// New returns an empty state at MaxScale, the scale any first histogram can be merged into.
func New() *State { return &State{Scale: MaxScale} }

// Reset empties x (back to MaxScale), keeping its bucket memory.
func (x *State) Reset() {
	x.Scale, x.ZeroCount, x.ZeroThreshold = MaxScale, 0, 0
	x.Pos.Counts, x.Neg.Counts = x.Pos.Counts[:0], x.Neg.Counts[:0]
}

// Load replaces x with the histogram of a data point, reusing x's memory.
func (x *State) Load(dp pmetric.ExponentialHistogramDataPoint) {
	x.Scale = dp.Scale()
	x.ZeroCount, x.ZeroThreshold = dp.ZeroCount(), dp.ZeroThreshold()
	x.Pos.Load(dp.Positive())
	x.Neg.Load(dp.Negative())
}

// MergeScale returns the highest scale, at most target, at which x and in together fit
// MaxBuckets on both sides; ok is false when they do not fit even at MinScale (bucket indexes
// too far apart, only offsets beyond the float range get there).
func MergeScale(x, in *State, target int32) (scale int32, ok bool) {
	fit := func(t int32) bool {
		return Fits(&x.Pos, x.Scale, &in.Pos, in.Scale, t) && Fits(&x.Neg, x.Scale, &in.Neg, in.Scale, t)
	}
	for target > MinScale && !fit(target) {
		target--
	}
	return target, fit(target)
}

// DownscaleTo lowers x to scale; a higher scale leaves x as it is.
func (x *State) DownscaleTo(scale int32) {
	if scale < x.Scale {
		x.Pos.Downscale(x.Scale - scale)
		x.Neg.Downscale(x.Scale - scale)
		x.Scale = scale
	}
}

// CopyFrom makes x a copy of o, reusing x's memory.
func (x *State) CopyFrom(o *State) {
	x.Scale, x.ZeroCount, x.ZeroThreshold = o.Scale, o.ZeroCount, o.ZeroThreshold
	x.Pos.Offset, x.Pos.Counts = o.Pos.Offset, append(x.Pos.Counts[:0], o.Pos.Counts...)
	x.Neg.Offset, x.Neg.Counts = o.Neg.Offset, append(x.Neg.Counts[:0], o.Neg.Counts...)
}

// Covers reports whether x (same scale) holds at least o's counts in every bucket and the zero
// bucket: a cumulative histogram that does not cover its previous value was reset.
func (x *State) Covers(o *State) bool {
	return x.ZeroCount >= o.ZeroCount && x.Pos.Geq(o.Pos) && x.Neg.Geq(o.Neg)
}

// Add adds in (same scale) into x: buckets and zero count add (saturating), the zero threshold
// is the larger one.
func (x *State) Add(in *State) {
	x.Pos.Add(in.Pos)
	x.Neg.Add(in.Neg)
	x.ZeroCount = satAdd(x.ZeroCount, in.ZeroCount)
	x.ZeroThreshold = max(x.ZeroThreshold, in.ZeroThreshold)
}

// Sub removes o (same scale, previously added) from x; it never underflows.
func (x *State) Sub(o *State) {
	x.Pos.Sub(o.Pos)
	x.Neg.Sub(o.Neg)
	x.ZeroCount -= min(x.ZeroCount, o.ZeroCount)
}

// CopyTo writes x's scale, zero bucket and buckets into a data point.
func (x *State) CopyTo(o pmetric.ExponentialHistogramDataPoint) {
	o.SetScale(x.Scale)
	o.SetZeroCount(x.ZeroCount)
	o.SetZeroThreshold(x.ZeroThreshold)
	o.Positive().SetOffset(int32(x.Pos.Offset))
	o.Positive().BucketCounts().FromRaw(x.Pos.Counts)
	o.Negative().SetOffset(int32(x.Neg.Offset))
	o.Negative().BucketCounts().FromRaw(x.Neg.Counts)
}

func satAdd(a, b uint64) uint64 {
	if r := a + b; r >= a {
		return r
	}
	return math.MaxUint64
}
