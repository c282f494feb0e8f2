// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Gauges. Members of a merged gauge series are combined by gauge_aggregation: sum (a running
// total, each member's change applied), max/min (recomputed from the members when the member
// holding the extreme moves away) or last (the newest point).

// mergeGauge applies a member's new value to its series.
func (g *guard) mergeGauge(dp pmetric.NumberDataPoint, v uint64, vInt bool, mp merging) {
	r, s := mp.r, mp.s
	m := g.members.At(r.mi)
	mInt := m.flags&fInt != 0
	if !r.newMember && uint64(dp.Timestamp()) < m.ts {
		g.batch.cnt.dropped[dropOutOfOrder]++
		return
	}
	if !vInt {
		s.flags &^= fInt
	}
	switch s.agg {
	case aggSum:
		if r.newMember {
			s.total, s.flags = addFlag(s.total, s.flags, v, vInt)
		} else {
			d, dInt := numSub(v, vInt, m.val, mInt)
			s.total, s.flags = addFlag(s.total, s.flags, d, dInt)
		}
		if saturated(s.total, s.flags&fInt != 0) {
			// a running sum that hit the float range no longer equals the members' sum:
			// recomputed from them when emitted, so it recovers once they come down
			s.flags |= fDirty
		}
	case aggMax, aggMin:
		x := numF(v, vInt)
		better := s.members == 1 || (s.agg == aggMax && x >= s.ext.gval) || (s.agg == aggMin && x <= s.ext.gval)
		if better && s.flags&fDirty == 0 {
			s.ext.gval = x
		} else if !r.newMember {
			// the member may have held the extreme and moved away from it
			s.flags |= fDirty
		}
	case aggLast:
		if uint64(dp.Timestamp()) >= s.ext.gts {
			s.ext.gts = uint64(dp.Timestamp())
			s.ext.gval = numF(v, vInt)
		}
	}
	m.val, m.start, m.ts = v, uint64(dp.StartTimestamp()), uint64(dp.Timestamp())
	m.flags = setInt(m.flags, vInt)
}

func (g *guard) finalizeGauge(s *series, dp pmetric.NumberDataPoint) {
	isInt := s.flags&fInt != 0
	switch s.agg {
	case aggSum:
		if s.flags&fDirty != 0 {
			s.total, s.flags = 0, s.flags|fInt
			for mi := s.head; mi != 0; mi = g.members.At(mi).next {
				m := g.members.At(mi)
				s.total, s.flags = addFlag(s.total, s.flags, m.val, m.flags&fInt != 0)
			}
			isInt = s.flags&fInt != 0
			if !saturated(s.total, isInt) {
				s.flags &^= fDirty
			}
		}
		setNum(dp, s.total, isInt)
		return
	case aggMax, aggMin:
		if s.flags&fDirty != 0 {
			first := true
			for mi := s.head; mi != 0; mi = g.members.At(mi).next {
				m := g.members.At(mi)
				x := numF(m.val, m.flags&fInt != 0)
				if first || (s.agg == aggMax && x > s.ext.gval) || (s.agg == aggMin && x < s.ext.gval) {
					s.ext.gval = x
					first = false
				}
			}
			s.flags &^= fDirty
		}
	}
	if isInt {
		dp.SetIntValue(int64(s.ext.gval))
	} else {
		dp.SetDoubleValue(s.ext.gval)
	}
}
