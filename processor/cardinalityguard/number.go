// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Number points: sums (cumulative and delta) and gauges.

func numValue(dp pmetric.NumberDataPoint) (uint64, bool) {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
		return math.Float64bits(dp.DoubleValue()), false
	}
	return uint64(dp.IntValue()), true
}

// validNumber returns a number point's value, or drops (and counts) a point without a value or
// with a NaN or infinite one.
func (g *guard) validNumber(dp pmetric.NumberDataPoint) (v uint64, vInt, ok bool) {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeEmpty && !dp.Flags().NoRecordedValue() {
		// a point without a value would be merged (and exported) as 0
		g.batch.cnt.dropped[dropInvalid]++
		return 0, false, false
	}
	v, vInt = numValue(dp)
	if !vInt && !dp.Flags().NoRecordedValue() && (math.IsNaN(numF(v, false)) || math.IsInf(numF(v, false), 0)) {
		// a NaN or infinite value would poison every later merged value of the series
		g.batch.cnt.dropped[dropNonFinite]++
		return 0, false, false
	}
	return v, vInt, true
}

// numberPoint admits a number point, runs the shared prologue and hands the point to its kind's
// merge.
func (g *guard) numberPoint(c *mctx, dp pmetric.NumberDataPoint, now int64, merge numberMerge) {
	if !g.admit(dp.Timestamp()) {
		return
	}
	v, vInt, valid := g.validNumber(dp)
	if !valid {
		return
	}
	mp, ok := g.openPoint(c, &inPoint{dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), dp.Flags().NoRecordedValue(), dp.Exemplars(), true}, now)
	if !ok {
		return
	}
	merge(g, dp, v, vInt, mp)
}

// numberMerge merges one admitted number point (value v) into its series' state and output
// point: one per kind, chosen once per metric by numberMergeOf.
type numberMerge func(g *guard, dp pmetric.NumberDataPoint, v uint64, vInt bool, mp merging)

func numberMergeOf(k kind) numberMerge {
	switch k {
	case kDeltaSum:
		return (*guard).mergeDeltaSum
	case kCumSum:
		return (*guard).mergeCumSum
	}
	return (*guard).mergeGauge
}

// mergeDeltaSum adds a delta point into the export's output point: delta sums keep no state
// across exports (no member, no series total), the output point is the accumulator.
func (g *guard) mergeDeltaSum(_ pmetric.NumberDataPoint, v uint64, vInt bool, mp merging) {
	o := mp.e.num
	if mp.first {
		setNum(o, v, vInt)
		return
	}
	cur, curInt := numValue(o)
	sum, sumInt := numAdd(cur, curInt, v, vInt)
	setNum(o, sum, sumInt)
}

// mergeCumSum adds the member's increase since its last point into the series total (a reset,
// a new start time or a fall of a monotonic sum, counts the whole new value).
func (g *guard) mergeCumSum(dp pmetric.NumberDataPoint, v uint64, vInt bool, mp merging) {
	r, s := mp.r, mp.s
	m := g.members.At(r.mi)
	if r.newMember {
		if s.start == 0 {
			s.start = uint64(dp.StartTimestamp())
		}
		s.total, s.flags = addFlag(s.total, s.flags, v, vInt)
	} else {
		if uint64(dp.Timestamp()) < m.ts {
			g.batch.cnt.dropped[dropOutOfOrder]++
			return
		}
		mInt := m.flags&fInt != 0
		reset := uint64(dp.StartTimestamp()) != m.start || (s.flags&fMono != 0 && numLess(v, vInt, m.val, mInt))
		if reset {
			s.total, s.flags = addFlag(s.total, s.flags, v, vInt)
		} else {
			d, dInt := numSub(v, vInt, m.val, mInt)
			s.total, s.flags = addFlag(s.total, s.flags, d, dInt)
		}
	}
	m.val, m.start, m.ts = v, uint64(dp.StartTimestamp()), uint64(dp.Timestamp())
	m.flags = setInt(m.flags, vInt)
}

func setInt(flags uint8, isInt bool) uint8 {
	if isInt {
		return flags | fInt
	}
	return flags &^ fInt
}

// addFlag adds d to a number whose int-ness is kept in flags.
func addFlag(bits uint64, flags uint8, d uint64, dInt bool) (uint64, uint8) {
	r, isInt := numAdd(bits, flags&fInt != 0, d, dInt)
	return r, setInt(flags, isInt)
}

func setNum(dp pmetric.NumberDataPoint, bits uint64, isInt bool) {
	if isInt {
		dp.SetIntValue(int64(bits))
	} else {
		dp.SetDoubleValue(numF(bits, false))
	}
}

func subFlag(bits uint64, flags uint8, d uint64, dInt bool) (uint64, uint8) {
	r, isInt := numSub(bits, flags&fInt != 0, d, dInt)
	return r, setInt(flags, isInt)
}

// prefetch computes the member keys of a stateful number metric's points (numberPoint then
// skips hashing them again) and warms their index slots and member entries (warmMembers).
func (g *guard) prefetch(c *mctx, dps pmetric.NumberDataPointSlice) bool {
	n := dps.Len()
	if !c.kind.stateful() || n < 16 {
		return false
	}
	pre := g.pre[:0]
	for i := 0; i < n; i++ {
		pre = append(pre, combine(c.base, g.memberSum(dps.At(i).Attributes())))
	}
	g.pre = pre
	g.preMI = g.warmMembers(pre, g.preMI)
	return true
}
