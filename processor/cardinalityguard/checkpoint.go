// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/expo"
)

// Checkpoints. With `storage` set, the store (store.go) is written into the storage extension
// every checkpoint_interval and at shutdown, and read back at start, so that after a restart
// every merged cumulative series continues from its total and start time instead of
// restarting. What is written is everything the merges read: per output series its
// identity hash, start time, total, last emitted timestamp, last seen time, kind and kind
// state (buckets, gauge min/max/last); per member its identity, start time, last timestamp,
// last value (and buckets) and last seen time; the budgets (metric name hashes) and shares
// (metric and producer keys); with per-project budgets, the project of every regular series
// (checkpoint_projects.go). Counters (series per budget and project, members per share, live
// counts) and the indexes are rebuilt from the entries, and slabs are written densely (free entries
// are not kept), so a checkpoint cannot disagree with itself. The identity hash seed is in
// the checkpoint too: a restored state hashes new points exactly as the old process did.
//
// Layout: magic "AIRICGK\x00", version (uint16 LE), written-at (unix ns, int64 LE), hash seed
// (uint64 LE), body, CRC-32C of everything before it (uint32 LE). Integers in the body are
// varints, hashes and values fixed 8 bytes.
//
// After a SIGKILL the restored state is the last periodic checkpoint: points merged after it
// are merged again from the members' next points (their cumulative values), so no merged
// cumulative series goes backwards; a delta point merged and exported after the checkpoint is
// not re-counted (it was exported already).

const (
	ckptMagic   = "AIRICGK\x00"
	ckptVersion = 2 // 2: per-project budgets
	ckptKey     = "cardinality_guard_state"
	ckptHeader  = len(ckptMagic) + 2 + 8 + 8
)

var ckptCRC = crc32.MakeTable(crc32.Castagnoli)

// checkpoint outcomes (the outcome attribute of processor_cardinality_guard_checkpoint_restores)
var (
	errCkptForeign = errors.New("not a cardinality_guard checkpoint")
	errCkptVersion = errors.New("checkpoint of an unknown version")
	errCkptCorrupt = errors.New("corrupt checkpoint")
	errCkptStale   = errors.New("checkpoint older than stale_after")
)

// encodeCheckpoint appends the store (and the hash seed) to b.
func (g *guard) encodeCheckpoint(b []byte, now int64) []byte {
	b = append(b, ckptMagic...)
	b = binary.LittleEndian.AppendUint16(b, ckptVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(now))
	b = binary.LittleEndian.AppendUint64(b, g.h.seed)
	s := &g.store
	// budgets and shares, densely renumbered
	metricNew, n := renumber(len(s.metricStates), func(i int) bool { return s.metricStates[i].nameHash != 0 })
	b = binary.AppendUvarint(b, uint64(n))
	for i := 1; i < len(s.metricStates); i++ {
		if metricNew[i] != 0 {
			b = binary.LittleEndian.AppendUint64(b, s.metricStates[i].nameHash)
		}
	}
	shareNew, n := renumber(len(s.shares), func(i int) bool { return s.shares[i].series > 0 })
	b = binary.AppendUvarint(b, uint64(n))
	for i := 1; i < len(s.shares); i++ {
		if shareNew[i] != 0 {
			b = binary.LittleEndian.AppendUint64(b, s.shares[i].key)
			b = binary.AppendUvarint(b, uint64(metricNew[s.shares[i].metric]))
		}
	}
	projNew, b := s.projects.appendProjectNames(b)
	// output series, each followed by its members in list order
	b = binary.AppendUvarint(b, uint64(s.liveSeries))
	b = binary.AppendUvarint(b, uint64(s.liveMembers))
	for i := uint32(1); int(i) < s.series.Len(); i++ {
		se := s.series.At(i)
		if se.flags&fLive == 0 {
			continue
		}
		b = appendU64s(b, se.hash, se.start, se.total, se.emitted)
		b = binary.AppendVarint(b, se.lastSeen)
		b = binary.AppendUvarint(b, uint64(shareNew[se.share]))
		b = binary.AppendUvarint(b, s.projects.projectOrdinal(projNew, i))
		b = append(b, se.flags, byte(se.kind), byte(se.agg))
		b = appendSeriesExt(b, se.ext)
		b = binary.AppendUvarint(b, uint64(se.members))
		for mi := se.head; mi != 0; mi = s.members.At(mi).next {
			m := s.members.At(mi)
			b = appendU64s(b, m.hash, m.start, m.ts, m.val)
			b = binary.AppendVarint(b, m.lastSeen.unixNano(now))
			b = append(b, m.flags, m.nStrip, m.nRewrite)
			b = appendMemberExt(b, s.memberExts[mi])
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, ckptCRC))
}

// renumber numbers the entries 1..size-1 for which live holds densely from 1 (0: not
// written) and returns the numbers and how many there are.
func renumber(size int, live func(i int) bool) ([]uint32, uint32) {
	ord := make([]uint32, size)
	var n uint32
	for i := 1; i < size; i++ {
		if live(i) {
			n++
			ord[i] = n
		}
	}
	return ord, n
}

func appendU64s(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func appendF64s(b []byte, vs ...float64) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

func appendCounts(b []byte, c []uint64) []byte {
	b = binary.AppendUvarint(b, uint64(len(c)))
	for _, v := range c {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func appendExpo(b []byte, x *expo.State) []byte {
	if x == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, int64(x.Scale))
	b = binary.AppendUvarint(b, x.ZeroCount)
	b = appendF64s(b, x.ZeroThreshold)
	b = binary.AppendVarint(b, x.Pos.Offset)
	b = appendCounts(b, x.Pos.Counts)
	b = binary.AppendVarint(b, x.Neg.Offset)
	return appendCounts(b, x.Neg.Counts)
}

func appendSeriesExt(b []byte, x *seriesExt) []byte {
	if x == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendF64s(b, x.gval)
	b = binary.AppendUvarint(b, x.gts)
	b = binary.AppendUvarint(b, uint64(len(x.bounds)))
	b = appendF64s(b, x.bounds...)
	b = appendCounts(b, x.counts)
	b = binary.AppendUvarint(b, x.count)
	b = appendF64s(b, x.sum, x.min, x.max)
	if x.hasMinMax {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return appendExpo(b, x.exp)
}

func appendMemberExt(b []byte, x *memberExt) []byte {
	if x == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendCounts(b, x.counts)
	b = binary.AppendUvarint(b, x.count)
	b = appendF64s(b, x.sum)
	b = binary.LittleEndian.AppendUint64(b, x.layout)
	return appendExpo(b, x.exp)
}

// decoder reads a checkpoint body; the first problem sticks in err and every later read
// returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCkptCorrupt, fmt.Sprintf(format, a...))
	}
}

// bytes reads the next n bytes (nil once truncated).
func (d *decoder) bytes(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.fail("truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if b := d.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length of entries of at least minBytes each, bounded by what is left (so
// that a corrupt length cannot make the decoder allocate more than the checkpoint's size).
func (d *decoder) count(minBytes int, what string) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minBytes) {
		d.fail("%s: %d entries in %d bytes", what, n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) counts() []uint64 {
	n := d.count(1, "bucket counts")
	if n == 0 {
		return nil
	}
	c := make([]uint64, n)
	for i := range c {
		c[i] = d.uvarint()
	}
	return c
}

func (d *decoder) flag() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad presence byte")
	return false
}

func (d *decoder) expo() *expo.State {
	if !d.flag() {
		return nil
	}
	x := &expo.State{}
	sc := d.varint()
	if sc < expo.MinScale || sc > expo.MaxScale {
		d.fail("exponential histogram scale %d", sc)
	}
	x.Scale = int32(sc)
	x.ZeroCount = d.uvarint()
	x.ZeroThreshold = d.f64()
	for _, bk := range []*expo.Buckets{&x.Pos, &x.Neg} {
		bk.Offset = d.varint()
		bk.Counts = d.counts()
		// the offset is a point's int32 one (or downscaled from it); the last bucket may lie past
		// MaxInt32, as the guard keeps such a point's state (hostile.Cases' extreme fields)
		if bk.Offset < math.MinInt32 || bk.Offset > math.MaxInt32 || len(bk.Counts) > expo.MaxBuckets {
			d.fail("exponential histogram buckets out of range")
		}
	}
	if math.IsNaN(x.ZeroThreshold) || x.ZeroThreshold < 0 {
		d.fail("zero threshold %v", x.ZeroThreshold)
	}
	return x
}

func (d *decoder) seriesExt() *seriesExt {
	if !d.flag() {
		return nil
	}
	x := &seriesExt{gval: d.f64(), gts: d.uvarint()}
	if n := d.count(8, "bounds"); n > 0 {
		x.bounds = make([]float64, n)
		for i := range x.bounds {
			x.bounds[i] = d.f64()
		}
	}
	x.counts = d.counts()
	x.count = d.uvarint()
	x.sum, x.min, x.max = d.f64(), d.f64(), d.f64()
	x.hasMinMax = d.flag()
	x.exp = d.expo()
	return x
}

func (d *decoder) memberExt() *memberExt {
	if !d.flag() {
		return nil
	}
	x := &memberExt{counts: d.counts(), count: d.uvarint(), sum: d.f64(), layout: d.u64()}
	x.exp = d.expo()
	return x
}

// decodeCheckpoint reads a checkpoint into a new store and returns it with its hash seed and
// the time it was written. It checks everything the merges rely on (indexes in range, no
// duplicate identities, the kind state each kind needs), so a corrupt checkpoint whose
// checksum happens to match is rejected too, never a crash later.
func decodeCheckpoint(data []byte) (st store, seed uint64, written int64, err error) {
	if len(data) < len(ckptMagic) || string(data[:len(ckptMagic)]) != ckptMagic {
		return store{}, 0, 0, errCkptForeign
	}
	if len(data) < ckptHeader+4 {
		return store{}, 0, 0, fmt.Errorf("%w: %d bytes", errCkptCorrupt, len(data))
	}
	if v := binary.LittleEndian.Uint16(data[len(ckptMagic):]); v != ckptVersion {
		return store{}, 0, 0, fmt.Errorf("%w: version %d, this build reads %d", errCkptVersion, v, ckptVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, ckptCRC) != sum {
		return store{}, 0, 0, fmt.Errorf("%w: checksum mismatch", errCkptCorrupt)
	}
	return decodeBody(body)
}

// decodeBody decodes a checksummed checkpoint (header included, checksum excluded).
func decodeBody(body []byte) (store, uint64, int64, error) {
	if len(body) < ckptHeader {
		return store{}, 0, 0, fmt.Errorf("%w: %d bytes", errCkptCorrupt, len(body))
	}
	p := len(ckptMagic) + 2
	written := int64(binary.LittleEndian.Uint64(body[p:]))
	seed := binary.LittleEndian.Uint64(body[p+8:])
	d := &decoder{b: body[ckptHeader:]}
	s := newStore()

	nm := d.count(8, "budgets")
	for range nm {
		h := d.u64()
		if _, dup := s.metricIdx[h]; dup || h == 0 {
			d.fail("budget %x duplicated or zero", h)
			break
		}
		s.metricStates = append(s.metricStates, metricState{nameHash: h})
		s.metricIdx[h] = uint32(len(s.metricStates) - 1)
	}
	nsh := d.count(9, "shares")
	for range nsh {
		key, metric := d.u64(), d.uvarint()
		if _, dup := s.shareIdx[key]; dup || metric == 0 || metric > uint64(nm) {
			d.fail("share %x duplicated or of budget %d", key, metric)
			break
		}
		s.shares = append(s.shares, share{key: key, metric: uint32(metric)})
		s.shareIdx[key] = uint32(len(s.shares) - 1)
	}
	books := d.projectNames()
	ns := d.count(38, "series")
	nmem := d.count(0+1, "members")
	if d.err == nil {
		s.series.Reserve(ns + 1)
		s.members.Reserve(nmem + 1)
	}
	for range ns {
		if d.err != nil {
			break
		}
		se := series{hash: d.u64(), start: d.u64(), total: d.u64(), emitted: d.u64(), lastSeen: d.varint()}
		sh, pj := d.uvarint(), d.uvarint()
		se.flags, se.kind, se.agg = d.u8(), kind(d.u8()), aggKind(d.u8())
		se.ext = d.seriesExt()
		if d.err != nil {
			break
		}
		if sh == 0 || sh > uint64(nsh) {
			d.fail("series %x: share %d", se.hash, sh)
			break
		}
		se.share = uint32(sh)
		if err := checkSeries(&se); err != nil {
			d.fail("series %x: %v", se.hash, err)
			break
		}
		si := uint32(s.series.Len())
		if _, dup := s.findSeries(se.hash); dup {
			d.fail("series %x duplicated", se.hash)
			break
		}
		nmm := d.count(36, "members")
		d.bookRestored(books, si, se.flags, pj)
		*s.series.At(s.series.Append()) = se
		s.seriesIdx.Insert(se.hash, si)
		ps := s.series.At(si)
		var prev uint32
		for range nmm {
			m := member{hash: d.u64(), start: d.u64(), ts: d.u64(), val: d.u64(), lastSeen: tickOf(d.varint())}
			m.flags, m.nStrip, m.nRewrite = d.u8(), d.u8(), d.u8()
			ext := d.memberExt()
			if d.err != nil {
				break
			}
			if err := checkMember(ps, &m, ext); err != nil {
				d.fail("member %x: %v", m.hash, err)
				break
			}
			if _, dup := s.findMember(m.hash); dup {
				d.fail("member %x duplicated", m.hash)
				break
			}
			m.series = si
			mi := s.members.Append()
			*s.members.At(mi) = m
			if ext != nil {
				s.memberExts[mi] = ext
			}
			if prev == 0 {
				ps.head = mi
			} else {
				s.members.At(prev).next = mi
			}
			prev = mi
			ps.members++
			s.shares[se.share].members++
			s.memberIdx.Insert(m.hash, mi)
			s.liveMembers++
		}
		s.shares[se.share].series++
		ms := &s.metricStates[s.shares[se.share].metric]
		if se.flags&fOverflow != 0 {
			ms.overflow++
		} else {
			ms.regular++
			s.regularTotal++
		}
		s.liveSeries++
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the last series", len(d.b))
	}
	if d.err == nil && s.liveMembers != nmem {
		d.fail("%d members, header says %d", s.liveMembers, nmem)
	}
	for i := 1; d.err == nil && i < len(s.shares); i++ {
		if s.shares[i].series == 0 {
			d.fail("share %x without series", s.shares[i].key)
		}
	}
	for i := 1; d.err == nil && i < len(s.metricStates); i++ {
		if ms := s.metricStates[i]; ms.regular == 0 && ms.overflow == 0 {
			d.fail("budget %x without series", ms.nameHash)
		}
	}
	d.checkProjects(books)
	if d.err != nil {
		return store{}, 0, 0, d.err
	}
	s.projects = books
	return s, seed, written, nil
}

// checkSeries checks that the series' kind state has exactly the shape its kind's merge
// creates, so that nothing restored can send a merge down a path it does not expect.
func checkSeries(s *series) error {
	if s.flags&fLive == 0 || s.kind > kSummary || s.agg > aggLast {
		return fmt.Errorf("flags %#x, kind %d, aggregation %d", s.flags, s.kind, s.agg)
	}
	x := s.ext
	var ok bool
	switch s.kind {
	case kGauge:
		ok = (s.agg == aggSum) == (x == nil) && (x == nil || plainExt(x))
	case kCumSum, kDeltaSum:
		ok = x == nil
	case kCumHist, kDeltaHist:
		ok = x == nil || (x.exp == nil && len(x.counts) == len(x.bounds)+1)
	case kCumExp, kDeltaExp:
		ok = x == nil || (x.exp != nil && len(x.counts) == 0 && len(x.bounds) == 0)
	case kSummary:
		ok = x == nil || plainExt(x)
	}
	if !ok {
		return fmt.Errorf("kind %d with the state of another kind", s.kind)
	}
	return nil
}

func plainExt(x *seriesExt) bool { return x.exp == nil && len(x.counts) == 0 && len(x.bounds) == 0 }

// checkMember checks a member's state against its series' kind.
func checkMember(s *series, m *member, x *memberExt) error {
	if m.flags&fLive == 0 {
		return fmt.Errorf("flags %#x", m.flags)
	}
	var ok bool
	switch s.kind {
	case kGauge, kCumSum:
		ok = x == nil
	case kCumHist:
		ok = s.ext != nil && x != nil && x.exp == nil
	case kCumExp:
		ok = s.ext != nil && x != nil && x.exp != nil && len(x.counts) == 0
	case kSummary:
		ok = s.ext != nil && x != nil && x.exp == nil && len(x.counts) == 0
	}
	if !ok {
		return fmt.Errorf("member of a kind %d series with the state of another kind", s.kind)
	}
	return nil
}

// ckptState is the guard's part for checkpoints: its component ID (the storage client's
// owner), its logger (both set by the factory) and the running checkpointer.
type ckptState struct {
	id     component.ID
	logger *zap.Logger
	ckpt   *checkpointer
}

func (c *ckptState) log() *zap.Logger {
	if c.logger == nil {
		return zap.NewNop()
	}
	return c.logger
}

// checkpointer writes and reads the guard's checkpoints through a storage client.
type checkpointer struct {
	client  storage.Client
	lastLen int // size of the last checkpoint: the next one's buffer is allocated at about it
	stop    chan struct{}
	done    chan struct{}
}

// restoreOutcome values (attribute outcome).
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "restored"
	case errors.Is(err, errCkptForeign):
		return "foreign"
	case errors.Is(err, errCkptVersion):
		return "version"
	case errors.Is(err, errCkptCorrupt):
		return "corrupt"
	case errors.Is(err, errCkptStale):
		return "stale"
	}
	return "error"
}

// startCheckpoints, called from start, opens the storage client, restores the last checkpoint
// and starts the periodic checkpoints. Without `storage` it does nothing. A missing or wrong
// extension fails the start (a configuration error); an unreadable checkpoint does not.
func (g *guard) startCheckpoints(ctx context.Context, host component.Host) error {
	if g.cfg.Storage == nil || g.ckpt != nil {
		return nil
	}
	ext, ok := host.GetExtensions()[*g.cfg.Storage]
	if !ok {
		return fmt.Errorf("storage: extension %q not found", g.cfg.Storage)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("storage: extension %q is not a storage extension", g.cfg.Storage)
	}
	client, err := se.GetClient(ctx, component.KindProcessor, g.id, "")
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	g.ckpt = &checkpointer{client: client, stop: make(chan struct{}), done: make(chan struct{})}
	g.restore(ctx)
	go g.checkpointLoop()
	return nil
}

// restore replaces the (empty) state by the stored checkpoint, if there is a usable one.
func (g *guard) restore(ctx context.Context) {
	data, err := g.ckpt.client.Get(ctx, ckptKey)
	if err == nil && data == nil {
		return // first start
	}
	g.restoreFrom(ctx, data, err)
}

// restoreFrom installs the checkpoint data (read with error err) or logs and counts why not.
func (g *guard) restoreFrom(ctx context.Context, data []byte, err error) {
	var st store
	var seed uint64
	if err == nil {
		var written int64
		st, seed, written, err = decodeCheckpoint(data)
		if age := time.Duration(g.now().UnixNano() - written); err == nil && age > g.cfg.StaleAfter {
			err = fmt.Errorf("%w: written %s ago, stale_after %s", errCkptStale, age.Round(time.Millisecond), g.cfg.StaleAfter)
		}
	}
	outcome := outcomeOf(err)
	if g.tel != nil {
		g.tel.ProcessorCardinalityGuardCheckpointRestores.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", outcome))))
	}
	if err != nil {
		g.log().Warn("cardinality_guard: checkpoint ignored, starting with empty state", zap.String("outcome", outcome), zap.Error(err))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.h.seed = seed
	g.applyLimits(&st)
	g.store = st
	g.publishActive()
	g.log().Info("cardinality_guard: state restored from checkpoint", zap.Int("series", st.liveSeries), zap.Int("members", st.liveMembers), zap.Int("bytes", len(data)))
}

// applyLimits sets each budget's limit from the current configuration (it may have changed
// since the checkpoint was written).
func (g *guard) applyLimits(st *store) {
	st.projects = g.projects.adopt(st.projects)
	st.markUnbooked()
	if g.ins != nil {
		st.markUnobserved()
	}
	for i := 1; i < len(st.metricStates); i++ {
		st.metricStates[i].limit = g.defaultRules.limit
	}
	for name, r := range g.overrides {
		if i, ok := st.metricIdx[g.h.str(name)]; ok {
			st.metricStates[i].limit = r.limit
		}
	}
}

func (g *guard) checkpointLoop() {
	defer close(g.ckpt.done)
	tick := time.NewTicker(g.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-g.ckpt.stop:
			return
		case <-tick.C:
			if err := g.writeCheckpoint(context.Background()); err != nil {
				g.log().Warn("cardinality_guard: checkpoint failed", zap.Error(err))
			}
		}
	}
}

// writeCheckpoint encodes the state under the lock and stores it outside it.
func (g *guard) writeCheckpoint(ctx context.Context) error {
	g.mu.Lock()
	// A buffer of its own for every checkpoint, dropped once stored: kept from one checkpoint
	// to the next it would hold about as much heap as the state itself (~48 bytes per member)
	// all the time, to save one allocation per checkpoint_interval.
	data := g.encodeCheckpoint(make([]byte, 0, g.ckpt.lastLen+g.ckpt.lastLen/8+ckptHeader+4), g.now().UnixNano())
	g.ckpt.lastLen = len(data)
	g.mu.Unlock()
	if err := g.ckpt.client.Set(ctx, ckptKey, data); err != nil {
		return err
	}
	if g.tel != nil {
		g.tel.ProcessorCardinalityGuardCheckpoints.Add(ctx, 1)
	}
	return nil
}

// stopCheckpoints, called from shutdown, stops the periodic checkpoints, writes the final one
// and closes the storage client.
func (g *guard) stopCheckpoints(ctx context.Context) error {
	if g.ckpt == nil {
		return nil
	}
	close(g.ckpt.stop)
	<-g.ckpt.done
	err := g.writeCheckpoint(ctx)
	if err != nil {
		err = fmt.Errorf("cardinality_guard: final checkpoint: %w", err)
	}
	err = errors.Join(err, g.ckpt.client.Close(ctx))
	g.ckpt = nil
	return err
}
