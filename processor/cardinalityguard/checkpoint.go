// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// A checkpoint is the guard's state as logical records — per output series its identity,
// share, budget entry and running totals; per member its series, last cumulative value and
// start time — from which restore rebuilds the slabs and indexes through the same bookkeeping
// as newSeries/newMember, so a checkpoint can never leave the state inconsistent: a record that
// contradicts another is an error and the whole checkpoint is ignored.
//
// Layout (little endian): magic, version, the hash probe, lastSweep, series count, member
// count, the records, and a CRC-32 (IEEE) of everything between the magic and it.
//
// The identities are the guard's 64-bit label hashes, comparable only under the same hash
// seed: the seed is stored beside the checkpoint (storage.go) and set before restoring, and the
// probe (the hash of a fixed string) tells a checkpoint of another seed, refused as foreign.
const (
	checkpointMagic   = "AIRICG\x00\x01"
	checkpointVersion = 1
	// caps on what a record may claim, so a corrupt length cannot allocate without bound
	maxCheckpointBuckets = 1 << 16
)

var (
	errCheckpointCorrupt = errors.New("corrupt checkpoint")
	errCheckpointForeign = errors.New("checkpoint of another hash seed or version")
)

// hashProbe identifies the guard's hash seed.
func (g *guard) hashProbe() uint64 { return g.h.pairStr("cardinality_guard", "checkpoint") }

type ckWriter struct{ b []byte }

func (w *ckWriter) u8(v uint8)    { w.b = append(w.b, v) }
func (w *ckWriter) u64(v uint64)  { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *ckWriter) f64(v float64) { w.u64(math.Float64bits(v)) }
func (w *ckWriter) uv(v uint64)   { w.b = binary.AppendUvarint(w.b, v) }
func (w *ckWriter) bool(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

func (w *ckWriter) u64s(v []uint64) {
	w.uv(uint64(len(v)))
	for _, x := range v {
		w.u64(x)
	}
}

func (w *ckWriter) f64s(v []float64) {
	w.uv(uint64(len(v)))
	for _, x := range v {
		w.f64(x)
	}
}

func (w *ckWriter) exp(e *expState) {
	w.bool(e != nil)
	if e == nil {
		return
	}
	w.u64(uint64(int64(e.scale)))
	w.u64(e.zeroCount)
	w.f64(e.zeroThreshold)
	for _, b := range []*expBuckets{&e.pos, &e.neg} {
		w.u64(uint64(b.offset))
		w.u64s(b.counts)
	}
}

// checkpoint appends the guard's state to dst.
func (g *guard) checkpoint(dst []byte) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := ckWriter{b: append(dst, checkpointMagic...)}
	start := len(dst) + len(checkpointMagic)
	w.u8(checkpointVersion)
	w.u64(g.hashProbe())
	w.u64(uint64(g.lastSweep))
	w.uv(uint64(g.liveSeries))
	w.uv(uint64(g.liveMembers))
	for si := 1; si < len(g.series); si++ {
		s := &g.series[si]
		if s.flags&fLive == 0 {
			continue
		}
		sh := &g.shares[s.share]
		ms := &g.metricStates[sh.metric]
		w.u64(s.hash)
		w.u64(sh.key)
		w.u64(ms.nameHash)
		w.uv(uint64(ms.limit))
		w.u64(s.start)
		w.u64(s.total)
		w.u64(s.emitted)
		w.u64(uint64(s.lastSeen))
		w.u8(s.flags)
		w.u8(uint8(s.kind))
		w.u8(uint8(s.agg))
		w.bool(s.ext != nil)
		if x := s.ext; x != nil {
			w.f64(x.gval)
			w.u64(x.gts)
			w.f64s(x.bounds)
			w.u64s(x.counts)
			w.u64(x.count)
			w.f64(x.sum)
			w.f64(x.min)
			w.f64(x.max)
			w.bool(x.hasMinMax)
			w.exp(x.exp)
		}
	}
	for mi := 1; mi < len(g.members); mi++ {
		m := &g.members[mi]
		if m.flags&fLive == 0 {
			continue
		}
		w.u64(m.hash)
		w.u64(g.series[m.series].hash)
		w.u64(m.start)
		w.u64(m.ts)
		w.u64(m.val)
		w.u64(uint64(m.lastSeen))
		w.u8(m.flags)
		w.u8(m.nStrip)
		w.u8(m.nRewrite)
		w.bool(m.ext != nil)
		if x := m.ext; x != nil {
			w.u64s(x.counts)
			w.u64(x.count)
			w.f64(x.sum)
			w.u64(x.layout)
			w.exp(x.exp)
		}
	}
	return binary.LittleEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b[start:]))
}

type ckReader struct {
	b   []byte
	err error
}

func (r *ckReader) fail() {
	if r.err == nil {
		r.err = errCheckpointCorrupt
	}
	r.b = nil
}

func (r *ckReader) u8() uint8 {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *ckReader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *ckReader) f64() float64 { return math.Float64frombits(r.u64()) }

func (r *ckReader) uv() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *ckReader) bool() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail()
	return false
}

// n reads a length of elements of size bytes each, no more than the bytes left.
func (r *ckReader) n(size int) int {
	n := r.uv()
	if n > maxCheckpointBuckets || n*uint64(size) > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *ckReader) u64s() []uint64 {
	n := r.n(8)
	if n == 0 {
		return nil
	}
	v := make([]uint64, n)
	for i := range v {
		v[i] = r.u64()
	}
	return v
}

func (r *ckReader) f64s() []float64 {
	n := r.n(8)
	if n == 0 {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = r.f64()
	}
	return v
}

func (r *ckReader) exp() *expState {
	if !r.bool() {
		return nil
	}
	e := &expState{}
	scale := int64(r.u64())
	if scale < minExpScale || scale > maxExpScale {
		r.fail()
		return nil
	}
	e.scale = int32(scale)
	e.zeroCount = r.u64()
	e.zeroThreshold = r.f64()
	for _, b := range []*expBuckets{&e.pos, &e.neg} {
		b.offset = int64(r.u64())
		b.counts = r.u64s()
		if b.offset < math.MinInt32 || b.offset+int64(len(b.counts)) > math.MaxInt32 {
			r.fail()
		}
	}
	return e
}

// restore rebuilds the state of an empty guard from a checkpoint. On any error the guard is
// left empty, as if there had been no checkpoint.
func (g *guard) restore(data []byte) (err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.liveSeries != 0 || g.liveMembers != 0 {
		return errors.New("restore into a guard that already holds state")
	}
	defer func() {
		if err != nil {
			g.reset()
		}
	}()
	if len(data) < len(checkpointMagic)+4 || string(data[:len(checkpointMagic)]) != checkpointMagic {
		return fmt.Errorf("%w: no checkpoint header", errCheckpointCorrupt)
	}
	body, sum := data[len(checkpointMagic):len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return fmt.Errorf("%w: checksum mismatch", errCheckpointCorrupt)
	}
	r := ckReader{b: body}
	if v := r.u8(); v != checkpointVersion {
		return fmt.Errorf("%w: version %d", errCheckpointForeign, v)
	}
	if p := r.u64(); p != g.hashProbe() {
		return errCheckpointForeign
	}
	lastSweep := int64(r.u64())
	nSeries, nMembers := r.uv(), r.uv()
	if r.err != nil {
		return r.err
	}
	// a series record is at least 61 bytes, a member record 52
	if nSeries*61+nMembers*52 > uint64(len(r.b)) || nMembers > uint64(g.cfg.MaxMembers) {
		return fmt.Errorf("%w: %d series and %d members in %d bytes", errCheckpointCorrupt, nSeries, nMembers, len(r.b))
	}
	// a sweep time in the future would postpone every sweep until then
	g.lastSweep = min(lastSweep, g.now().UnixNano())
	for range nSeries {
		if err := g.restoreSeries(&r); err != nil {
			return err
		}
	}
	for range nMembers {
		if err := g.restoreMember(&r); err != nil {
			return err
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", errCheckpointCorrupt, len(r.b))
	}
	return nil
}

func (g *guard) restoreSeries(r *ckReader) error {
	h, shareKey, nameHash := r.u64(), r.u64(), r.u64()
	limit := r.uv()
	s := series{hash: h, start: r.u64(), total: r.u64(), emitted: r.u64(), lastSeen: int64(r.u64())}
	s.flags, s.kind, s.agg = r.u8(), kind(r.u8()), aggKind(r.u8())
	if r.bool() {
		x := &seriesExt{gval: r.f64(), gts: r.u64(), bounds: r.f64s(), counts: r.u64s(), count: r.u64(),
			sum: r.f64(), min: r.f64(), max: r.f64(), hasMinMax: r.bool(), exp: r.exp()}
		// bounds are kept as the first point had them (in order or not): only their number
		// must match the buckets'
		if len(x.counts) != 0 && len(x.counts) != len(x.bounds)+1 {
			r.fail()
		}
		switch s.kind {
		case kCumHist, kDeltaHist:
			if len(x.counts) != len(x.bounds)+1 {
				r.fail()
			}
		case kCumExp, kDeltaExp:
			if x.exp == nil {
				r.fail()
			}
		}
		s.ext = x
	}
	if r.err != nil {
		return r.err
	}
	if h == 0 || nameHash == 0 || s.flags&fLive == 0 || s.kind > kSummary || s.agg > aggLast || limit > math.MaxInt32 {
		return fmt.Errorf("%w: invalid series record", errCheckpointCorrupt)
	}
	if s.kind == kGauge && s.agg != aggSum && s.ext == nil {
		return fmt.Errorf("%w: gauge series without its aggregation state", errCheckpointCorrupt)
	}
	if _, dup := g.seriesIdx.find(h, g.seriesKey); dup {
		return fmt.Errorf("%w: series recorded twice", errCheckpointCorrupt)
	}
	ms, ok := g.metricIdx[nameHash]
	if !ok {
		ms = uint32(len(g.metricStates))
		g.metricStates = append(g.metricStates, metricState{nameHash: nameHash, limit: int(limit)})
		g.metricIdx[nameHash] = ms
	}
	if sh, ok := g.shareIdx[shareKey]; ok && g.shares[sh].metric != ms {
		return fmt.Errorf("%w: a producer share under two metrics", errCheckpointCorrupt)
	}
	s.share = g.shareOf(shareKey, ms)
	if s.flags&fOverflow != 0 {
		g.metricStates[ms].overflow++
	} else {
		g.metricStates[ms].regular++
		g.regularTotal++
	}
	g.series = growSlab(g.series)
	si := uint32(len(g.series) - 1)
	g.series[si] = s
	g.seriesIdx.insert(h, si)
	g.liveSeries++
	return nil
}

func (g *guard) restoreMember(r *ckReader) error {
	h, seriesHash := r.u64(), r.u64()
	m := member{hash: h, start: r.u64(), ts: r.u64(), val: r.u64(), lastSeen: int64(r.u64())}
	m.flags, m.nStrip, m.nRewrite = r.u8(), r.u8(), r.u8()
	if r.bool() {
		m.ext = &memberExt{counts: r.u64s(), count: r.u64(), sum: r.f64(), layout: r.u64(), exp: r.exp()}
	}
	if r.err != nil {
		return r.err
	}
	si, ok := g.seriesIdx.find(seriesHash, g.seriesKey)
	if h == 0 || !ok || m.flags&fLive == 0 {
		return fmt.Errorf("%w: invalid member record", errCheckpointCorrupt)
	}
	s := &g.series[si]
	if !s.kind.stateful() {
		return fmt.Errorf("%w: a member of a series that keeps none", errCheckpointCorrupt)
	}
	// what merging a known member's next point reads
	switch {
	case (s.kind == kCumHist || s.kind == kSummary) && m.ext == nil,
		s.kind == kCumExp && (m.ext == nil || m.ext.exp == nil):
		return fmt.Errorf("%w: a member without its bucket state", errCheckpointCorrupt)
	}
	if m.ext != nil && len(m.ext.counts) != 0 && (s.ext == nil || len(m.ext.counts) != len(s.ext.counts)) {
		return fmt.Errorf("%w: member buckets do not match its series'", errCheckpointCorrupt)
	}
	if _, dup := g.memberIdx.find(h, g.memberKey); dup {
		return fmt.Errorf("%w: member recorded twice", errCheckpointCorrupt)
	}
	if int(g.shares[s.share].members) >= g.membersPerMetric {
		return fmt.Errorf("%w: more members than max_members_per_metric", errCheckpointCorrupt)
	}
	g.members = growSlab(g.members)
	mi := uint32(len(g.members) - 1)
	m.series, m.next = si, s.head
	g.members[mi] = m
	if s.head != 0 {
		g.members[s.head].prev = mi
	}
	s.head = mi
	s.members++
	g.shares[s.share].members++
	g.memberIdx.insert(h, mi)
	g.liveMembers++
	return nil
}

// reset empties the guard's state (a failed restore).
func (g *guard) reset() {
	g.seriesIdx, g.series, g.freeSeries, g.liveSeries = newIdxTable(), make([]series, 1), nil, 0
	g.memberIdx, g.members, g.freeMembers, g.liveMembers = newIdxTable(), make([]member, 1), nil, 0
	g.metricIdx, g.metricStates, g.freeMetrics, g.regularTotal = map[uint64]uint32{}, make([]metricState, 1), nil, 0
	g.shareIdx, g.shares, g.freeShares = map[uint64]uint32{}, make([]share, 1), nil
	g.epoch, g.lastSweep = 0, 0
}
