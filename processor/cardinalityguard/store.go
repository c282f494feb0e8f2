// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"runtime"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// The store: the state that outlives a processMetrics call (series and member slabs, their
// indexes, the metric and producer budgets) and the only code that creates or forgets an entry.
// It is what a checkpoint of the guard would snapshot.

// metricState returns the budget entry of a metric name.
func (g *guard) metricState(name string, limit int) uint32 {
	nh := g.h.str(name)
	if i, ok := g.metricIdx[nh]; ok {
		return i
	}
	var i uint32
	if n := len(g.freeMetrics); n > 0 {
		i = g.freeMetrics[n-1]
		g.freeMetrics = g.freeMetrics[:n-1]
	} else {
		g.metricStates = append(g.metricStates, metricState{})
		i = uint32(len(g.metricStates) - 1)
	}
	g.metricStates[i] = metricState{nameHash: nh, limit: limit}
	g.metricIdx[nh] = i
	return i
}

// shareOf returns (creating on first use) the share entry of key for a new output series.
func (g *guard) shareOf(key uint64, metric uint32) uint32 {
	i, ok := g.shareIdx[key]
	if !ok {
		if n := len(g.freeShares); n > 0 {
			i = g.freeShares[n-1]
			g.freeShares = g.freeShares[:n-1]
		} else {
			g.shares = append(g.shares, share{})
			i = uint32(len(g.shares) - 1)
		}
		g.shares[i] = share{key: key, metric: metric}
		g.shareIdx[key] = i
	}
	g.shares[i].series++
	return i
}

// releaseShare drops a forgotten output series' hold on its share entry.
func (g *guard) releaseShare(i uint32) {
	sh := &g.shares[i]
	if sh.series--; sh.series == 0 {
		delete(g.shareIdx, sh.key)
		*sh = share{}
		g.freeShares = append(g.freeShares, i)
	}
}

func (g *guard) releaseMetricIfUnused(i uint32) {
	ms := &g.metricStates[i]
	if ms.regular == 0 && ms.overflow == 0 && ms.nameHash != 0 {
		delete(g.metricIdx, ms.nameHash)
		*ms = metricState{}
		g.freeMetrics = append(g.freeMetrics, i)
	}
}

func (g *guard) newSeries(h uint64, c *mctx, shareKey uint64, overflow bool) uint32 {
	var si uint32
	if n := len(g.freeSeries); n > 0 {
		si = g.freeSeries[n-1]
		g.freeSeries = g.freeSeries[:n-1]
	} else {
		g.series = growSlab(g.series)
		si = uint32(len(g.series) - 1)
	}
	s := &g.series[si]
	*s = series{hash: h, share: g.shareOf(shareKey, c.ms), flags: fLive | fInt, kind: c.kind, agg: c.rules.agg}
	if c.mono {
		s.flags |= fMono
	}
	ms := &g.metricStates[c.ms]
	if overflow {
		s.flags |= fOverflow
		ms.overflow++
	} else {
		ms.regular++
		g.regularTotal++
	}
	if c.kind == kGauge && s.agg != aggSum {
		s.ext = &seriesExt{}
	}
	g.seriesIdx.insert(h, si)
	g.liveSeries++
	return si
}

func (g *guard) newMember(h uint64, si uint32, now int64) uint32 {
	var mi uint32
	if n := len(g.freeMembers); n > 0 {
		mi = g.freeMembers[n-1]
		g.freeMembers = g.freeMembers[:n-1]
	} else {
		g.members = growSlab(g.members)
		mi = uint32(len(g.members) - 1)
	}
	s := &g.series[si]
	g.members[mi] = member{hash: h, series: si, lastSeen: now, flags: fLive | fInt, next: s.head}
	if s.head != 0 {
		g.members[s.head].prev = mi
	}
	s.head = mi
	s.members++
	g.shares[s.share].members++
	g.memberIdx.insert(h, mi)
	g.liveMembers++
	return mi
}

func (g *guard) sweep(cutoff int64) {
	for mi := 1; mi < len(g.members); mi++ {
		m := &g.members[mi]
		if m.flags&fLive == 0 || m.lastSeen >= cutoff {
			continue
		}
		s := &g.series[m.series]
		if s.kind == kGauge {
			if s.agg == aggSum {
				s.total, s.flags = subFlag(s.total, s.flags, m.val, m.flags&fInt != 0)
			} else {
				s.flags |= fDirty
			}
		}
		// cumulative kinds keep the member's contribution in the series total: it was
		// counted and must not go backwards.
		if m.prev != 0 {
			g.members[m.prev].next = m.next
		} else {
			s.head = m.next
		}
		if m.next != 0 {
			g.members[m.next].prev = m.prev
		}
		s.members--
		g.shares[s.share].members--
		g.memberIdx.remove(m.hash, uint32(mi))
		*m = member{}
		g.freeMembers = append(g.freeMembers, uint32(mi))
		g.liveMembers--
	}
	for si := 1; si < len(g.series); si++ {
		s := &g.series[si]
		if s.flags&fLive == 0 || s.lastSeen >= cutoff || s.members != 0 {
			continue
		}
		metric := g.shares[s.share].metric
		g.releaseShare(s.share)
		ms := &g.metricStates[metric]
		if s.flags&fOverflow != 0 {
			ms.overflow--
		} else {
			ms.regular--
			g.regularTotal--
		}
		g.releaseMetricIfUnused(metric)
		g.seriesIdx.remove(s.hash, uint32(si))
		*s = series{}
		g.freeSeries = append(g.freeSeries, uint32(si))
		g.liveSeries--
		g.batch.cnt.evicted++
	}
}

func (g *guard) memberKey(i uint32) uint64 { return g.members[i].hash }

func (g *guard) seriesKey(i uint32) uint64 { return g.series[i].hash }

// prefetch computes the member keys of a stateful number metric's points and touches
// their index slots and member entries in a tight loop first. With many tracked series
// every lookup is a cache (and TLB) miss; issued back to back, independent misses overlap
// instead of being paid one after the other inside the heavier per-point work.
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
	t := &g.memberIdx
	var sink uint64
	for _, h := range pre {
		s := t.slots[t.home(uint32(h>>32))]
		if idx := uint32(s); idx != 0 && int(idx) < len(g.members) {
			sink += g.members[idx].hash
		}
	}
	// sink is otherwise unused: keeping it alive keeps the compiler from dropping the loads
	runtime.KeepAlive(sink)
	return true
}

// growSlab appends one zero element, growing large slabs by 1.25x into memory advised for
// huge pages (see adviseHuge).
func growSlab[T any](s []T) []T {
	if len(s) < cap(s) {
		return s[:len(s)+1]
	}
	n := max(16, cap(s)+cap(s)/4)
	ns := make([]T, len(s)+1, n)
	var zero T
	adviseHuge(unsafe.Pointer(unsafe.SliceData(ns)), uintptr(n)*unsafe.Sizeof(zero))
	copy(ns, s)
	return ns
}
