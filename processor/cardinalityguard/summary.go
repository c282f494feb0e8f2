// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Summaries cannot be merged: quantiles of different members do not combine. Count and
// sum are cumulative and merge like a cumulative sum (per-member latest value, resets
// carried). Quantiles are emitted only while the output series has exactly one member
// (then they are that member's own quantiles); a series that merges several members is
// emitted with count and sum only. Either way there is one point per identity.
func (g *guard) summaryPoint(c *mctx, dp pmetric.SummaryDataPoint, now int64) {
	if !g.admit(dp.Timestamp()) {
		return
	}
	mp, ok := g.openPoint(c, &inPoint{attrs: dp.Attributes(), start: dp.StartTimestamp(), ts: dp.Timestamp(), noValue: dp.Flags().NoRecordedValue()}, now)
	if !ok {
		return
	}
	r, s, e := mp.r, mp.s, mp.e
	if s.ext == nil {
		s.ext = &seriesExt{}
	}
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
		reset := uint64(dp.StartTimestamp()) != m.start || dp.Count() < mx.count
		if reset {
			sum = g.finiteSum(dp.Sum(), 0)
		} else {
			sum = g.finiteSum(dp.Sum(), mx.sum)
			x.count -= min(x.count, mx.count)
			x.sum -= mx.sum
		}
	}
	x.count = satAddU(x.count, dp.Count())
	x.sum = satF(x.sum + sum)
	mx.count, mx.sum = dp.Count(), sum
	m.start, m.ts = uint64(dp.StartTimestamp()), uint64(dp.Timestamp())
	e.lastSum = dp
	e.hasLastSum = true
}

func (g *guard) finalizeSummary(s *series, e *touchedEntry) {
	x := s.ext
	if x == nil {
		return
	}
	o := e.sum
	o.SetStartTimestamp(pcommon.Timestamp(s.start))
	o.SetCount(x.count)
	o.SetSum(x.sum)
	if s.members == 1 && e.hasLastSum {
		e.lastSum.QuantileValues().CopyTo(o.QuantileValues())
	} else {
		o.QuantileValues().RemoveIf(func(pmetric.SummaryDataPointValueAtQuantile) bool { return true })
	}
}
