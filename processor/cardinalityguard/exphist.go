// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/expo"
)

// validExp drops (and counts) a point whose scale is outside what the exporters convert (below
// -4), what the specification defines (above 20), or too wide to fit expo.MaxBuckets even at -4;
// checked before the point is resolved, so it creates no empty series.
func (g *guard) validExp(dp pmetric.ExponentialHistogramDataPoint) bool {
	if !expo.Supported(dp) {
		g.batch.cnt.dropped[dropUnsupportedScale]++
		return false
	}
	if !expCountMatchesBuckets(dp) {
		g.batch.cnt.dropped[dropInvalid]++
		return false
	}
	return true
}

func (g *guard) expPoint(c *mctx, dp pmetric.ExponentialHistogramDataPoint, now int64) {
	if !g.admit(dp.Timestamp()) || !g.validExp(dp) {
		return
	}
	mp, ok := g.openPoint(c, &inPoint{dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), dp.Flags().NoRecordedValue(), dp.Exemplars(), true}, now)
	if !ok {
		return
	}
	r, s := mp.r, mp.s
	var x *seriesExt
	if c.kind == kDeltaExp {
		// delta points add up into an accumulator of this export's output point; the
		// series keeps no state of them across exports
		if mp.e.expAcc == nil {
			mp.e.expAcc = g.batch.newExpAcc()
		}
		x = mp.e.expAcc
	} else {
		if s.ext == nil {
			s.ext = &seriesExt{exp: expo.New()}
		}
		x = s.ext
	}
	in := &g.expTmp
	in.Load(dp)
	target := min(x.exp.Scale, in.Scale)
	var m *member
	var mx *memberExt
	if c.kind == kCumExp {
		m = g.members.At(r.mi)
		if r.newMember {
			if s.start == 0 {
				s.start = uint64(dp.StartTimestamp())
			}
			mx = &memberExt{exp: expo.New()}
			g.memberExts[r.mi] = mx
		} else {
			mx = g.memberExts[r.mi]
			if uint64(dp.Timestamp()) < m.ts {
				g.batch.cnt.dropped[dropOutOfOrder]++
				return
			}
			target = min(target, mx.exp.Scale)
		}
	}
	target, fits := expo.MergeScale(x.exp, in, target)
	if !fits {
		// bucket indexes too far apart to merge in bounded memory at the lowest scale the
		// exporters convert (only offsets beyond the float range get here)
		g.batch.cnt.dropped[dropUnsupportedScale]++
		return
	}
	x.exp.DownscaleTo(target)
	in.DownscaleTo(target)
	sum := 0.0
	if m != nil && !r.newMember {
		old := mx.exp
		old.DownscaleTo(target)
		reset := uint64(dp.StartTimestamp()) != m.start || dp.Count() < mx.count || !in.Covers(old)
		if !reset {
			sum = mx.sum // kept when the point's own sum is NaN or infinite
			x.exp.Sub(old)
			x.count -= min(x.count, mx.count)
			x.sum -= mx.sum
		}
	}
	sum = g.finiteSum(dp.Sum(), sum)
	x.exp.Add(in)
	x.count = satAddU(x.count, dp.Count())
	x.sum = satF(x.sum + sum)
	combineMinMax(x, dp.HasMin(), dp.Min(), dp.HasMax(), dp.Max())
	if m != nil {
		mx.exp.CopyFrom(in)
		mx.count, mx.sum = dp.Count(), sum
		m.start, m.ts = uint64(dp.StartTimestamp()), uint64(dp.Timestamp())
	}
}

// finalizeExp writes the merged histogram of a touched series into its point: the series state
// of a cumulative one, the export's accumulator of a delta one.
func finalizeExp(s *series, e *touchedEntry) {
	o, x := e.exp, s.ext
	if s.kind == kDeltaExp {
		x = e.expAcc
	}
	if x == nil || x.exp == nil {
		return
	}
	if s.kind == kCumExp {
		o.SetStartTimestamp(pcommon.Timestamp(s.start))
	}
	x.exp.CopyTo(o)
	setCountSumMinMax(o, x)
}
