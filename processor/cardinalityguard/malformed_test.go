// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 17, hostile input: malformed explicit histograms from one member — bucket counts that
// do not match the bounds (more, fewer), unsorted, repeated, NaN and infinite bounds — merge
// with a well-formed member of the same series without a panic, and what leaves the guard is
// a well-formed histogram: one count per bound plus +Inf, bounds ascending, count = the
// buckets' total, every observation of both members in it. Whichever member comes first, the
// malformed one's count goes to +Inf and its bounds never become the series' layout (before,
// an unsorted first member's bounds did, and scrambled the other member's buckets).
func TestMalformedHistogramsMergeIntoAWellFormedOne(t *testing.T) {
	t.Parallel()
	for name, bad := range map[string]struct {
		bounds []float64
		counts []uint64
	}{
		"more_counts_than_bounds": {[]float64{0.1, 1}, []uint64{1, 2, 3, 4, 5}},
		"fewer_counts":            {[]float64{1, 2, 3}, []uint64{7}},
		"unsorted_bounds":         {[]float64{5, 1, 3}, []uint64{1, 1, 1, 1}},
		"repeated_nan_inf_bounds": {[]float64{1, 1, math.NaN(), math.Inf(1)}, []uint64{1, 1, 1, 1, 1}},
		"extreme_bounds":          {[]float64{math.Inf(-1), -1e308, 1e308}, []uint64{0, 1, 1, 1 << 62}},
	} {
		for _, badFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/bad_first=%v", name, badFirst), func(t *testing.T) {
				t.Parallel()
				g, _ := newTestGuard(t, testConfig())
				in := newBuilder()
				if badFirst {
					in.hist("r1", "h", false, attrs("user_id", "bad"), 1, 10, bad.bounds, bad.counts, 1)
				}
				in.hist("r1", "h", false, attrs("user_id", "good"), 1, 10, []float64{1, 5}, []uint64{1, 2, 3}, 6)
				if !badFirst {
					in.hist("r1", "h", false, attrs("user_id", "bad"), 1, 10, bad.bounds, bad.counts, 1)
				}
				var want uint64
				for _, c := range append([]uint64{1, 2, 3}, bad.counts...) {
					want += c
				}
				out := only(t, flatten(t, run(t, g, in.md)), "h")
				require.Len(t, out.buckets, len(out.bounds)+1, "one count per bound plus +Inf: %v / %v", out.bounds, out.buckets)
				for i := 1; i < len(out.bounds); i++ {
					require.Less(t, out.bounds[i-1], out.bounds[i], "bounds ascending: %v", out.bounds)
				}
				var total uint64
				for _, c := range out.buckets {
					total += c
				}
				assert.Equal(t, float64(want), out.value, "count: both members' observations")
				assert.Equal(t, want, total, "buckets add up to the count: %v", out.buckets)
				if badFirst {
					// the malformed layout was not adopted: the series has only +Inf (a series'
					// layout is fixed by its first point), nothing scrambled, nothing lost
					assert.Empty(t, out.bounds)
					assert.Equal(t, []uint64{want}, out.buckets)
				} else {
					// the good member's layout and buckets, the malformed member's count in +Inf
					assert.Equal(t, []float64{1, 5}, out.bounds)
					assert.Equal(t, []uint64{1, 2, 3 + want - 6}, out.buckets)
				}
			})
		}
	}
}

// An exponential-histogram point whose count is not the total of its buckets is dropped and
// counted (reason "invalid") before it creates a series or merges: the Prometheus exporter
// refuses a native histogram whose buckets and count disagree, and with it every producer's
// series of that metric. A well-formed member of the same series is exported as it was sent.
func TestExpHistogramWithACountNotItsBucketsIsDropped(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	n := in.expHist("r1", "e", attrs("user_id", "good"), 1, 10, 0, 0, []uint64{1, 2}, 1)
	for i, c := range []struct {
		buckets     []uint64
		zero, count uint64
	}{
		{[]uint64{1}, 5, 1},                 // zero bucket above the count
		{[]uint64{1}, 0, 100},               // count above the buckets
		{[]uint64{math.MaxUint64, 1}, 0, 1}, // buckets overflow uint64
		{[]uint64{1}, math.MaxUint64, 0},    // zero bucket + buckets overflow
	} {
		in.expHist("r1", "e", attrs("user_id", string(rune('a'+i))), 1, 10, 0, 0, c.buckets, c.zero)
		dps := in.met["r1/e"].ExponentialHistogram().DataPoints()
		dps.At(dps.Len() - 1).SetCount(c.count)
	}
	// a lone malformed point of another metric creates no series
	in.expHist("r1", "lone", attrs("user_id", "x"), 1, 10, 0, 0, []uint64{1}, 3)
	dps := in.met["r1/lone"].ExponentialHistogram().DataPoints()
	dps.At(0).SetCount(1)

	pts := flatten(t, run(t, g, in.md))
	out := only(t, pts, "e")
	assert.Equal(t, float64(n), out.value, "only the good member's count")
	assert.Equal(t, []uint64{1, 2, 1}, out.buckets, "only the good member's buckets (positive, then zero)")
	for _, p := range pts {
		assert.NotEqual(t, "lone", p.metric, "a dropped point creates no series")
	}
	assert.Equal(t, int64(5), totalsOf(g).dropped[dropInvalid])
}
