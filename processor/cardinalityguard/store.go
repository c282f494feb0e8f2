// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/slab"
)

// store is the state that outlives a processMetrics call: output series and members (input
// series) in slabs indexed by uint32 (0 is "none") and found through their identity hashes, the
// series budget of every metric name and the member share of every metric and producer. Its
// methods are the only code that creates or forgets an entry; the merge code reads and updates
// the entries' values in place. It holds no pdata, no configuration and nothing of the export
// being built, so it is what a checkpoint of the guard would snapshot.
type store struct {
	seriesIdx   slab.Index
	series      slab.Chunked[series]
	freeSeries  []uint32
	liveSeries  int
	memberIdx   slab.Index
	members     slab.Chunked[member]
	freeMembers []uint32
	liveMembers int
	memberExts  map[uint32]*memberExt // histogram and summary state of members, by member index
	prune       []uint32              // the series the running sweep unlinks members from
	lines       slab.Lines            // warmMembers' lines to touch
	again       []uint32              // warmMembers' keys not in their full home bucket

	metricIdx    map[uint64]uint32 // metric name hash -> metricStates index
	metricStates []metricState
	freeMetrics  []uint32
	regularTotal int               // regular (not overflow) output series of every metric
	shareIdx     map[uint64]uint32 // share key -> shares index
	shares       []share
	freeShares   []uint32

	projects *projectBudgets // per-project budgets (projects.go); nil when none is set
}

func newStore() store {
	// index 0 of every slab unused so that 0 means "none"
	st := store{
		seriesIdx:    slab.NewIndex(),
		memberIdx:    slab.NewIndex(),
		memberExts:   map[uint32]*memberExt{},
		metricIdx:    map[uint64]uint32{},
		metricStates: make([]metricState, 1),
		shareIdx:     map[uint64]uint32{},
		shares:       make([]share, 1),
	}
	st.series.Append()
	st.members.Append()
	return st
}

// findMember returns the member of identity h.
func (g *store) findMember(h uint64) (uint32, bool) { return g.memberIdx.Find(h, g.memberKey) }

// findSeries returns the output series of identity h.
func (g *store) findSeries(h uint64) (uint32, bool) { return g.seriesIdx.Find(h, g.seriesKey) }

// shareFull reports whether the share key already holds limit members.
func (g *store) shareFull(key uint64, limit int) bool {
	sh, ok := g.shareIdx[key]
	return ok && int(g.shares[sh].members) >= limit
}

// metricState returns (creating on first use) the budget entry of a metric name (its hash nh).
func (g *store) metricState(nh uint64, limit int) uint32 {
	if i, ok := g.metricIdx[nh]; ok {
		return i
	}
	i := slot(&g.metricStates, &g.freeMetrics, appendZero)
	g.metricStates[i] = metricState{nameHash: nh, limit: limit}
	g.metricIdx[nh] = i
	return i
}

// shareOf returns (creating on first use) the share entry of key for a new output series.
func (g *store) shareOf(key uint64, metric uint32) uint32 {
	i, ok := g.shareIdx[key]
	if !ok {
		i = slot(&g.shares, &g.freeShares, appendZero)
		g.shares[i] = share{key: key, metric: metric}
		g.shareIdx[key] = i
	}
	g.shares[i].series++
	return i
}

// releaseShare drops a forgotten output series' hold on its share entry.
func (g *store) releaseShare(i uint32) {
	sh := &g.shares[i]
	if sh.series--; sh.series == 0 {
		delete(g.shareIdx, sh.key)
		*sh = share{}
		g.freeShares = append(g.freeShares, i)
	}
}

func (g *store) releaseMetricIfUnused(i uint32) {
	ms := &g.metricStates[i]
	if ms.regular == 0 && ms.overflow == 0 && ms.nameHash != 0 {
		delete(g.metricIdx, ms.nameHash)
		*ms = metricState{}
		g.freeMetrics = append(g.freeMetrics, i)
	}
}

// newSeries creates the output series of identity h in metric ms's budget (regular or overflow)
// and share shareKey.
func (g *store) newSeries(h uint64, ms uint32, shareKey uint64, k kind, mono bool, agg aggKind, overflow bool) uint32 {
	si := chunkedSlot(&g.series, &g.freeSeries)
	s := g.series.At(si)
	*s = series{hash: h, share: g.shareOf(shareKey, ms), flags: fLive | fInt, kind: k, agg: agg}
	if mono {
		s.flags |= fMono
	}
	m := &g.metricStates[ms]
	if overflow {
		s.flags |= fOverflow
		m.overflow++
	} else {
		m.regular++
		g.regularTotal++
	}
	if k == kGauge && s.agg != aggSum {
		s.ext = &seriesExt{}
	}
	g.seriesIdx.Insert(h, si)
	g.liveSeries++
	return si
}

func (g *store) newMember(h uint64, si uint32, now int64) uint32 {
	mi := chunkedSlot(&g.members, &g.freeMembers)
	s := g.series.At(si)
	*g.members.At(mi) = member{hash: h, series: si, lastSeen: tickOf(now), flags: fLive | fInt, next: s.head}
	s.head = mi
	s.members++
	g.shares[s.share].members++
	g.memberIdx.Insert(h, mi)
	g.liveMembers++
	return mi
}

// sweep forgets the members and then the member-less series not seen since cutoff and returns
// how many series it forgot. Members are found in slab order and unlinked while walking the
// lists of the series that hold one (the lists are singly linked: a member has no prev).
func (g *store) sweep(cutoff int64) (evicted int) {
	cut := tickOf(cutoff)
	g.prune = g.prune[:0]
	for mi := 1; mi < g.members.Len(); mi++ {
		m := g.members.At(uint32(mi))
		if m.flags&fLive == 0 || !tickBefore(m.lastSeen, cut) {
			continue
		}
		if s := g.series.At(m.series); s.flags&fPrune == 0 {
			s.flags |= fPrune
			g.prune = append(g.prune, m.series)
		}
	}
	for _, si := range g.prune {
		s := g.series.At(si)
		s.flags &^= fPrune
		var prev uint32
		for mi := s.head; mi != 0; {
			m := g.members.At(mi)
			next := m.next
			if !tickBefore(m.lastSeen, cut) {
				prev, mi = mi, next
				continue
			}
			if prev == 0 {
				s.head = next
			} else {
				g.members.At(prev).next = next
			}
			g.forgetMember(s, mi)
			mi = next
		}
	}
	for si := 1; si < g.series.Len(); si++ {
		s := g.series.At(uint32(si))
		if s.flags&fLive == 0 || s.lastSeen >= cutoff || s.members != 0 {
			continue
		}
		metric := g.shares[s.share].metric
		g.projectRelease(uint32(si))
		g.releaseShare(s.share)
		ms := &g.metricStates[metric]
		if s.flags&fOverflow != 0 {
			ms.overflow--
		} else {
			ms.regular--
			g.regularTotal--
		}
		g.releaseMetricIfUnused(metric)
		g.seriesIdx.Remove(s.hash, uint32(si))
		*s = series{}
		g.freeSeries = append(g.freeSeries, uint32(si))
		g.liveSeries--
		evicted++
	}
	return evicted
}

// forgetMember frees member mi, unlinked from its series s.
func (g *store) forgetMember(s *series, mi uint32) {
	m := g.members.At(mi)
	if s.kind == kGauge {
		if s.agg == aggSum {
			s.total, s.flags = subFlag(s.total, s.flags, m.val, m.flags&fInt != 0)
		} else {
			s.flags |= fDirty
		}
	}
	// cumulative kinds keep the member's contribution in the series total: it was
	// counted and must not go backwards.
	s.members--
	g.shares[s.share].members--
	g.memberIdx.Remove(m.hash, mi)
	delete(g.memberExts, mi)
	*m = member{}
	g.freeMembers = append(g.freeMembers, mi)
	g.liveMembers--
}

func (g *store) memberKey(i uint32) uint64 { return g.members.At(i).hash }

func (g *store) seriesKey(i uint32) uint64 { return g.series.At(i).hash }

// warmIndex switches warmMembers (on unless BenchmarkTricks measures without it).
var warmIndex = true

// warmMembers touches the index lines and member entries of keys and returns in guess, for
// each key, the member its tag names in its index bucket (Index.Guess; 0 if none), which the
// point's lookup confirms by the member's full key instead of probing the index again. With
// many tracked series every lookup is a cache (and TLB) miss; issued back to back, independent
// misses overlap instead of being paid one after the other inside the heavier per-point work.
// The lines are touched in rounds (slab.Lines: a tight loop of loads per round), each round
// reading what the one before fetched: the home buckets of all keys (one cache line each);
// then the members they name (both ends of each: a 48-byte member straddles two cache lines
// every other time) and, for the keys not in their full home bucket (about 1 in 10 at the
// highest load), the next bucket; then the members named there. BenchmarkLookup and
// BenchmarkTricks: see README.md.
func (g *store) warmMembers(keys []uint64, guess []uint32) []uint32 {
	guess = guess[:0]
	if !warmIndex {
		return guess
	}
	for _, h := range keys {
		g.lines.Add(g.memberIdx.Line(h, 0))
	}
	g.lines.Touch()
	g.again = g.again[:0]
	for k, h := range keys {
		idx, full := g.memberIdx.Guess(h, 0)
		if idx == 0 && full {
			g.again = append(g.again, uint32(k))
			g.lines.Add(g.memberIdx.Line(h, 1))
		}
		guess = append(guess, g.warmMember(idx))
	}
	g.lines.Touch()
	if len(g.again) > 0 {
		for _, k := range g.again {
			idx, _ := g.memberIdx.Guess(keys[k], 1)
			guess[k] = g.warmMember(idx)
		}
		g.lines.Touch()
	}
	return guess
}

// warmMember queues both ends of member idx (a guess: 0 or out of range is no member) for
// touching and returns idx, or 0.
func (g *store) warmMember(idx uint32) uint32 {
	if idx == 0 || idx >= uint32(g.members.Len()) {
		return 0
	}
	first, last := g.members.Addr(idx)
	g.lines.Add(first)
	g.lines.Add(last)
	return idx
}

// guessedMember returns mi when it is the live member of key h (a guess of warmMembers).
func (g *store) guessedMember(mi uint32, h uint64) bool {
	if mi == 0 {
		return false
	}
	m := g.members.At(mi)
	return m.hash == h && m.flags&fLive != 0
}

// slot returns a free index of slab: the last one freed, or a new one grown by grow.
func slot[T any](slab *[]T, free *[]uint32, grow func([]T) []T) uint32 {
	if i, ok := popFree(free); ok {
		return i
	}
	*slab = grow(*slab)
	return uint32(len(*slab) - 1)
}

// chunkedSlot returns a free index of a chunked slab: the last one freed, or a new one.
func chunkedSlot[T any](slab *slab.Chunked[T], free *[]uint32) uint32 {
	if i, ok := popFree(free); ok {
		return i
	}
	return slab.Append()
}

func popFree(free *[]uint32) (uint32, bool) {
	n := len(*free)
	if n == 0 {
		return 0, false
	}
	i := (*free)[n-1]
	*free = (*free)[:n-1]
	return i, true
}

// appendZero appends one zero element (small slabs: metric budgets and shares).
func appendZero[T any](s []T) []T {
	var zero T
	return append(s, zero)
}
