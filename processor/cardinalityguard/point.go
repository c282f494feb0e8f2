// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"bytes"
	"math"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// One input point: the prologue every kind shares (admission, resolving its series and
// member, touching its output point, times and exemplars).

// resolved is the series (and member) a data point belongs to.
type resolved struct {
	si, mi    uint32
	newMember bool
	ok        bool
}

// resolve finds or creates the output series and, for stateful kinds, the member.
// ps receives the point's scanned labels when resolving needs them (ps.done).
func (g *guard) resolve(c *mctx, attrs pcommon.Map, now int64, ps *pointScan) resolved {
	stateful := c.kind.stateful()
	var mh uint64
	if stateful {
		// fast path: a known member needs only the hash of its attributes as received
		if c.hasMH {
			mh = c.mh
		} else {
			mh = combine(c.base, g.memberSum(attrs))
		}
		mi, ok := c.mi, g.guessedMember(c.mi, mh)
		if !ok {
			mi, ok = g.findMember(mh)
		}
		if ok {
			m := g.members.At(mi)
			m.lastSeen = tickOf(now)
			s := g.seriesSeen(m.series, attrs, now)
			if m.flags&fUnobserved != 0 {
				m.flags &^= fUnobserved
				g.observeRestored(c, s, attrs)
			}
			g.batch.cnt.stripped += int64(m.nStrip)
			g.batch.cnt.rewritten += int64(m.nRewrite)
			return resolved{si: m.series, mi: mi, ok: true}
		}
		if g.liveMembers >= g.cfg.MaxMembers {
			g.batch.cnt.dropped[dropMemberLimit]++
			return resolved{}
		}
	}
	*ps = g.scan(c, attrs)
	g.outSums(ps)
	shareKey := combine(g.metricStates[c.ms].nameHash, ps.keepSumNoMarker())
	if stateful {
		if g.shareFull(shareKey, g.membersPerMetric) {
			// the share per metric and producer keeps one service's exploding label from
			// taking the pool and starving every other service's (and metric's) new series
			g.batch.cnt.dropped[dropMemberLimit]++
			return resolved{}
		}
	}
	g.batch.cnt.stripped += int64(ps.stripped)
	g.batch.cnt.rewritten += int64(ps.rewritten)
	oh := combine(c.base, ps.outSum)
	si, ok := g.findSeries(oh)
	if !ok {
		ms := &g.metricStates[c.ms]
		// a point that is already an overflow aggregate (an SDK's cardinality limit) joins
		// the overflow series: the two would otherwise share one identity
		if !ps.overflow && ms.regular < ms.limit && (g.cfg.MaxSeriesTotal == 0 || g.regularTotal < g.cfg.MaxSeriesTotal) && g.projectHasRoom(attrs) {
			si = g.newSeries(oh, c.ms, shareKey, c.kind, c.mono, c.rules.agg, false)
			g.projectTake(si)
		} else {
			fh := combine(c.base, ps.keepSumNoMarker()^overflowSalt)
			if si, ok = g.findSeries(fh); !ok {
				si = g.newSeries(fh, c.ms, shareKey, c.kind, c.mono, c.rules.agg, true)
			}
		}
	}
	g.seriesSeen(si, attrs, now)
	res := resolved{si: si, ok: true}
	if stateful {
		res.mi = g.newMember(mh, si, now)
		res.newMember = true
		m := g.members.At(res.mi)
		m.nStrip, m.nRewrite = uint8(min(ps.stripped, 255)), uint8(min(ps.rewritten, 255))
	}
	g.observeInput(c, shareKey, attrs, stateful, ps.inSum)
	return res
}

// seriesSeen refreshes the series si at a point that belongs to it: its last-seen time, its
// project booking (a series restored from a checkpoint books at its first point) and the
// batch's overflow count.
func (g *guard) seriesSeen(si uint32, attrs pcommon.Map, now int64) *series {
	s := g.series.At(si)
	s.lastSeen = now
	if s.flags&fUnbooked != 0 {
		g.projectBook(si, attrs)
	}
	if s.flags&fOverflow != 0 {
		g.batch.cnt.overflow++
	}
	return s
}

// inPoint is what the shared prologue reads of an input data point of any kind, read by the
// kind's caller (concrete calls: a generic over the pdata point types would reach each of them
// through a dictionary, which cost the number path about 15%).
type inPoint struct {
	attrs        pcommon.Map
	start, ts    pcommon.Timestamp
	noValue      bool // a staleness marker (NoRecordedValue)
	exemplars    pmetric.ExemplarSlice
	hasExemplars bool // summaries have none
}

// merging is one input point being merged into its output point of this export.
type merging struct {
	r     resolved
	s     *series
	e     *touchedEntry
	first bool // the output point was created by this point
}

// openPoint is the prologue every kind of point shares, once the point is admitted: it
// resolves the point's series (and member), touches the series' output point and merges the
// point's times and exemplars into it. ok is false when nothing more is to be merged: the point
// belongs to no series (resolve counted why) or it is a staleness marker, which carries no value
// and only refreshes the series.
func (g *guard) openPoint(c *mctx, in *inPoint, now int64) (m merging, ok bool) {
	var scan pointScan // the point's labels, if resolve or touch needs them
	ps := &scan
	m.r = g.resolve(c, in.attrs, now, ps)
	if !m.r.ok {
		return m, false
	}
	m.s = g.series.At(m.r.si)
	m.first = m.s.epoch != g.epoch
	e := g.touch(c, m.r.si, in.attrs, ps)
	m.e = e
	e.start, e.ts = mergeTimes(e.start, e.ts, m.first, in.start, in.ts)
	if in.hasExemplars && in.exemplars.Len() > 0 {
		addExemplars(e.exemplars(c.kind), in.exemplars, g.cfg.MaxExemplarsPerPoint)
	}
	return m, !in.noValue
}

// mergeTimes keeps the latest timestamp and, for non-cumulative outputs, the earliest
// start time of the points merged into one output point.
func mergeTimes(ostart, ots pcommon.Timestamp, first bool, start, ts pcommon.Timestamp) (pcommon.Timestamp, pcommon.Timestamp) {
	if first {
		return start, ts
	}
	if ts > ots {
		ots = ts
	}
	if start != 0 && (ostart == 0 || start < ostart) {
		ostart = start
	}
	return ostart, ots
}

// addExemplars copies src's exemplars into dst, keeping at most limit, newest first kept, and
// leaves dst ordered by timestamp, then value, then trace and span ID: the order in which
// Prometheus' and Mimir's exemplar storage accept several exemplars of one sample (a later one
// that sorts lower is rejected as out of order). Merged members usually carry the same timestamp,
// and their arrival order is the SDK's map order, so without the sort one of them is lost at
// random.
func addExemplars(dst, src pmetric.ExemplarSlice, limit int) {
	if limit == 0 || src.Len() == 0 {
		return
	}
	for i := 0; i < src.Len(); i++ {
		ex := src.At(i)
		if dst.Len() < limit {
			ex.CopyTo(dst.AppendEmpty())
			continue
		}
		oldest := 0
		for j := 1; j < dst.Len(); j++ {
			if dst.At(j).Timestamp() < dst.At(oldest).Timestamp() {
				oldest = j
			}
		}
		if ex.Timestamp() > dst.At(oldest).Timestamp() {
			ex.CopyTo(dst.At(oldest))
		}
	}
	if dst.Len() > 1 && !exemplarsOrdered(dst) {
		sortExemplars(dst)
	}
}

// sortExemplars orders es by exemplarLess (a few exemplars: insertion order of indices, then
// the exemplars moved back in that order).
func sortExemplars(es pmetric.ExemplarSlice) {
	tmp := pmetric.NewExemplarSlice()
	es.MoveAndAppendTo(tmp)
	idx := make([]int, tmp.Len())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return exemplarLess(tmp.At(idx[i]), tmp.At(idx[j])) })
	es.EnsureCapacity(len(idx))
	for _, i := range idx {
		tmp.At(i).MoveTo(es.AppendEmpty())
	}
}

func exemplarsOrdered(es pmetric.ExemplarSlice) bool {
	for i := 1; i < es.Len(); i++ {
		if exemplarLess(es.At(i), es.At(i-1)) {
			return false
		}
	}
	return true
}

func exemplarLess(a, b pmetric.Exemplar) bool {
	if a.Timestamp() != b.Timestamp() {
		return a.Timestamp() < b.Timestamp()
	}
	if va, vb := exemplarValue(a), exemplarValue(b); va != vb {
		return va < vb
	}
	if ta, tb := a.TraceID(), b.TraceID(); ta != tb {
		return bytes.Compare(ta[:], tb[:]) < 0
	}
	sa, sb := a.SpanID(), b.SpanID()
	return bytes.Compare(sa[:], sb[:]) < 0
}

func exemplarValue(e pmetric.Exemplar) float64 {
	if e.ValueType() == pmetric.ExemplarValueTypeInt {
		return float64(e.IntValue())
	}
	return e.DoubleValue()
}

// admit reports whether a point may enter the guard's state, counting it when not. It runs
// before the point is resolved, so a rejected point creates no series and no member.
func (g *guard) admit(ts pcommon.Timestamp) bool {
	if uint64(ts) > g.batch.horizon {
		// accepted, every later point of its member would be out of order: frozen for good
		g.batch.cnt.dropped[dropFuture]++
		return false
	}
	return true
}

// finiteSum returns v, or keep when v is NaN or infinite (counted): folded into a running
// merged sum it would stay there for good. The point's counts are still applied.
func (g *guard) finiteSum(v, keep float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		g.batch.cnt.dropped[dropNonFinite]++
		return keep
	}
	return v
}
