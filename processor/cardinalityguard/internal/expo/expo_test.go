// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package expo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// index is the bucket of v > 0 at scale s by the specification's definition: bucket i holds
// (base^i, base^(i+1)] with base = 2^(2^-s). ok is false when v lies so close to a boundary
// that float64 cannot tell the side.
func index(v float64, s int32) (int64, bool) {
	x := math.Log2(v) * math.Ldexp(1, int(s))
	c := math.Ceil(x)
	if math.Abs(x-math.Round(x)) < 1e-6 {
		return 0, false
	}
	return int64(c) - 1, true
}

// histogram puts values into buckets at scale s.
func histogram(vals []float64, s int32) Buckets {
	m := map[int64]uint64{}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, v := range vals {
		i, _ := index(v, s)
		m[i]++
		lo, hi = min(lo, i), max(hi, i)
	}
	b := Buckets{Offset: lo, Counts: make([]uint64, hi-lo+1)}
	for i, c := range m {
		b.Counts[i-lo] = c
	}
	return b
}

func TestDownscaleExamples(t *testing.T) {
	t.Parallel()
	b := Buckets{Offset: 0, Counts: []uint64{1, 2, 3, 4}}
	b.Downscale(1)
	assert.Equal(t, Buckets{Offset: 0, Counts: []uint64{3, 7}}, b)

	// negative indexes round towards minus infinity: -3>>1 = -2
	b = Buckets{Offset: -3, Counts: []uint64{1, 1, 1, 1}}
	b.Downscale(1)
	assert.Equal(t, Buckets{Offset: -2, Counts: []uint64{1, 2, 1}}, b)

	b = Buckets{Offset: 5, Counts: []uint64{1, 0, 2}}
	b.Downscale(0)
	assert.Equal(t, Buckets{Offset: 5, Counts: []uint64{1, 0, 2}}, b, "by 0 changes nothing")
	b.Downscale(100)
	assert.Equal(t, Buckets{Offset: 0, Counts: []uint64{3}}, b, "beyond 62 everything lands in one bucket")

	var e Buckets
	e.Downscale(3)
	assert.True(t, e.Empty())
}

// Downscaling is exact: the histogram of values at scale s, downscaled by d, is the histogram
// of the same values at scale s-d.
func TestDownscaleMatchesBucketMapping(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		s := int32(r.IntN(MaxScale-MinScale+1)) + MinScale
		d := int32(r.IntN(int(s-MinScale) + 1))
		vals := make([]float64, 0, 50)
		center := r.Float64()*200 - 100
		for len(vals) < cap(vals) {
			// spread over at most ~2000 buckets at scale s, and within the float range
			v := math.Exp2(center + r.Float64()*min(400, 2000/math.Ldexp(1, int(s))))
			_, ok1 := index(v, s)
			_, ok2 := index(v, s-d)
			if ok1 && ok2 {
				vals = append(vals, v)
			}
		}
		got := histogram(vals, s)
		got.Downscale(d)
		want := histogram(vals, s-d)
		require.Equal(t, want, got, "scale %d downscaled by %d", s, d)
	}
}

func TestAddSubRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	rnd := func() Buckets {
		b := Buckets{Offset: int64(r.IntN(40)) - 20, Counts: make([]uint64, r.IntN(10))}
		for i := range b.Counts {
			b.Counts[i] = uint64(r.IntN(5))
		}
		return b
	}
	total := func(b Buckets) (n uint64) {
		for _, c := range b.Counts {
			n += c
		}
		return n
	}
	for range 500 {
		a, b := rnd(), rnd()
		orig := Buckets{Offset: a.Offset, Counts: append([]uint64(nil), a.Counts...)}
		a.Add(b)
		require.Equal(t, total(orig)+total(b), total(a))
		require.True(t, a.Geq(b), "a sum covers each part")
		require.True(t, a.Geq(orig))
		a.Sub(b)
		// Add may widen the range with zero buckets; compare bucket by bucket
		for i := range a.Counts {
			j := a.Offset + int64(i) - orig.Offset
			want := uint64(0)
			if j >= 0 && int(j) < len(orig.Counts) {
				want = orig.Counts[j]
			}
			require.Equal(t, want, a.Counts[i], "bucket %d", a.Offset+int64(i))
		}
	}
}

func TestSubNeverUnderflows(t *testing.T) {
	t.Parallel()
	a := Buckets{Offset: 0, Counts: []uint64{1, 5}}
	a.Sub(Buckets{Offset: -1, Counts: []uint64{7, 3, 2, 9}})
	assert.Equal(t, []uint64{0, 3}, a.Counts)
	assert.False(t, a.Geq(Buckets{Offset: 1, Counts: []uint64{4}}))
	assert.True(t, a.Geq(Buckets{Offset: 5, Counts: []uint64{0}}), "zero counts outside the range are covered")
}

func TestFitsAndMergeScale(t *testing.T) {
	t.Parallel()
	wide := Buckets{Offset: 0, Counts: make([]uint64, MaxBuckets)}
	assert.True(t, Fits(&wide, 3, &Buckets{}, 3, 3), "exactly MaxBuckets fits")
	wider := Buckets{Offset: 0, Counts: make([]uint64, MaxBuckets+1)}
	assert.False(t, Fits(&wider, 3, &Buckets{}, 3, 3))
	assert.True(t, Fits(&wider, 3, &Buckets{}, 3, 2), "one scale lower halves the range")
	assert.True(t, Fits(&Buckets{}, 0, &Buckets{}, 0, 0), "nothing fits")

	x := &State{Scale: 3, Pos: wider}
	in := &State{Scale: 5, Pos: Buckets{Offset: 8, Counts: []uint64{1}}}
	s, ok := MergeScale(x, in, 3)
	require.True(t, ok)
	assert.Equal(t, int32(2), s)

	// indexes too far apart for MaxBuckets even at MinScale
	far := &State{Scale: 0, Neg: Buckets{Offset: 1 << 40, Counts: []uint64{1}}}
	near := &State{Scale: 0, Neg: Buckets{Offset: 0, Counts: []uint64{1}}}
	s, ok = MergeScale(far, near, 0)
	assert.False(t, ok)
	assert.Equal(t, int32(MinScale), s)
}

func TestSupported(t *testing.T) {
	t.Parallel()
	dp := pmetric.NewExponentialHistogramDataPoint()
	for _, c := range []struct {
		scale int32
		ok    bool
	}{{MinScale - 1, false}, {MinScale, true}, {0, true}, {MaxScale, true}, {MaxScale + 1, false}} {
		dp.SetScale(c.scale)
		assert.Equal(t, c.ok, Supported(dp), "scale %d", c.scale)
	}
	dp.SetScale(0)
	// at scale 0 -> MinScale one MinScale bucket holds 16 scale-0 buckets
	dp.Positive().BucketCounts().FromRaw(make([]uint64, MaxBuckets*16))
	assert.True(t, Supported(dp))
	dp.Positive().BucketCounts().FromRaw(make([]uint64, MaxBuckets*16+1))
	assert.False(t, Supported(dp))
}

func TestStateLoadAddCoversSubCopyTo(t *testing.T) {
	t.Parallel()
	dp := pmetric.NewExponentialHistogramDataPoint()
	dp.SetScale(2)
	dp.SetZeroCount(3)
	dp.SetZeroThreshold(0.5)
	dp.Positive().SetOffset(-2)
	dp.Positive().BucketCounts().FromRaw([]uint64{1, 2})
	dp.Negative().SetOffset(4)
	dp.Negative().BucketCounts().FromRaw([]uint64{5})

	in := &State{}
	in.Load(dp)
	assert.Equal(t, State{Scale: 2, ZeroCount: 3, ZeroThreshold: 0.5,
		Pos: Buckets{Offset: -2, Counts: []uint64{1, 2}}, Neg: Buckets{Offset: 4, Counts: []uint64{5}}}, *in)

	x := New()
	assert.Equal(t, int32(MaxScale), x.Scale)
	x.DownscaleTo(in.Scale)
	assert.Equal(t, int32(2), x.Scale)
	x.Add(in)
	x.Add(&State{Scale: 2, ZeroCount: math.MaxUint64, ZeroThreshold: 0.25})
	assert.Equal(t, uint64(math.MaxUint64), x.ZeroCount, "zero count saturates")
	assert.Equal(t, 0.5, x.ZeroThreshold, "the larger threshold")
	assert.True(t, x.Covers(in))
	assert.False(t, in.Covers(x))

	var cp State
	cp.CopyFrom(x)
	cp.Sub(in)
	assert.Equal(t, []uint64{0, 0}, cp.Pos.Counts)
	assert.Equal(t, []uint64{0}, cp.Neg.Counts)
	assert.Equal(t, []uint64{1, 2}, x.Pos.Counts, "CopyFrom copies, it does not share")

	out := pmetric.NewExponentialHistogramDataPoint()
	in.CopyTo(out)
	assert.Equal(t, dp.Scale(), out.Scale())
	assert.Equal(t, dp.ZeroCount(), out.ZeroCount())
	assert.Equal(t, dp.ZeroThreshold(), out.ZeroThreshold())
	assert.Equal(t, dp.Positive().Offset(), out.Positive().Offset())
	assert.Equal(t, dp.Positive().BucketCounts().AsRaw(), out.Positive().BucketCounts().AsRaw())
	assert.Equal(t, dp.Negative().Offset(), out.Negative().Offset())
	assert.Equal(t, dp.Negative().BucketCounts().AsRaw(), out.Negative().BucketCounts().AsRaw())

	x.Reset()
	assert.Equal(t, int32(MaxScale), x.Scale)
	assert.Zero(t, x.ZeroCount)
	assert.True(t, x.Pos.Empty() && x.Neg.Empty())
}
