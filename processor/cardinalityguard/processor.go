// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"bytes"
	"context"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
)

// metricRules is the resolved per-metric configuration.
type metricRules struct {
	extraStrip map[string]struct{}
	agg        aggKind
	limit      int
}

// mctx is the per-metric context while one input metric is processed.
type mctx struct {
	base   uint64 // combine(resource, scope, metric identity)
	rh, sh uint64
	rm     pmetric.ResourceMetrics
	sm     pmetric.ScopeMetrics
	in     pmetric.Metric
	out    pmetric.Metric
	hasOut bool
	rules  *metricRules
	ms     uint32 // metric budget index
	kind   kind
	mono   bool
	mh     uint64 // member key of the current point, when precomputed (hasMH)
	hasMH  bool
}

// touchedEntry links an output series to its output point in the current export.
type touchedEntry struct {
	si         uint32
	num        pmetric.NumberDataPoint
	hist       pmetric.HistogramDataPoint
	exp        pmetric.ExponentialHistogramDataPoint
	sum        pmetric.SummaryDataPoint
	lastSum    pmetric.SummaryDataPoint // latest input summary point (quantiles of a lone member)
	hasLastSum bool
}

// Reasons an input data point is not applied (the reason attribute of dropped_points).
const (
	dropInvalid          = iota // no defined merge: empty metric, unspecified temporality
	dropMemberLimit             // a new member while max_members is full
	dropOutOfOrder              // older than its member's last applied point
	dropFuture                  // timestamp more than max_future past the collector's clock
	dropNonFinite               // NaN or infinite value
	dropUnsupportedScale        // exponential-histogram scale the exporters cannot convert
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	"invalid", "member_limit", "out_of_order", "future", "non_finite", "unsupported_scale",
}

type counters struct {
	overflow, stripped, rewritten, evicted int64
	dropped                                [numDropReasons]int64
}

type guard struct {
	mu    sync.Mutex
	cfg   *Config
	rules *labelRules
	now   func() time.Time
	tel   *metadata.TelemetryBuilder
	// dropOpts are built once, so recording a drop allocates nothing.
	dropOpts [numDropReasons][]metric.AddOption

	defaultRules metricRules
	overrides    map[string]*metricRules

	seriesIdx   idxTable
	series      []series
	freeSeries  []uint32
	liveSeries  int
	memberIdx   idxTable
	members     []member
	freeMembers []uint32
	liveMembers int

	metricIdx    map[uint64]uint32
	metricStates []metricState
	freeMetrics  []uint32
	regularTotal int
	shareIdx     map[uint64]uint32
	shares       []share
	freeShares   []uint32

	epoch            uint32
	lastSweep        int64
	membersPerMetric int // effective max_members_per_metric
	// horizon is the latest timestamp accepted in the current batch (now + max_future).
	horizon uint64

	// per-batch scratch, reused
	h        hasher
	vbuf     []byte
	sbuf     []byte
	ents     []attrEnt
	sc       scanResult
	scanned  bool // sc and ents describe the current point
	seen     []string
	touched  []touchedEntry
	hbuf     []uint64
	expTmp   expState
	pre      []uint64 // member keys of the current metric's points (prefetch)
	preSink  uint64
	outRes   map[uint64]pmetric.ResourceMetrics
	outScope map[[2]uint64]pmetric.ScopeMetrics
	outMet   map[uint64]pmetric.Metric
	cnt      counters
	lifetime counters // sums of cnt over all batches (tests and debugging)
	out      pmetric.Metrics

	reportedSeries, reportedMembers int

	ins      *insightState   // top offenders (insight.go); nil when top_offenders is 0
	projects *projectBudgets // per-project budgets (projects.go); nil when none is set
}

func newGuard(cfg *Config, tel *metadata.TelemetryBuilder) *guard {
	g := &guard{
		cfg:       cfg,
		h:         newHasher(),
		rules:     newLabelRules(cfg),
		now:       time.Now,
		tel:       tel,
		overrides: map[string]*metricRules{},
		seriesIdx: newIdxTable(),
		series:    make([]series, 1),
		memberIdx: newIdxTable(),
		members:   make([]member, 1),
		metricIdx: map[uint64]uint32{},
		// index 0 unused so that 0 means "none"
		metricStates: make([]metricState, 1),
		shareIdx:     map[uint64]uint32{},
		shares:       make([]share, 1),
		outRes:       map[uint64]pmetric.ResourceMetrics{},
		outScope:     map[[2]uint64]pmetric.ScopeMetrics{},
		outMet:       map[uint64]pmetric.Metric{},
	}
	g.membersPerMetric = cfg.membersPerMetric()
	g.ins = newInsight(cfg)
	g.projects = newProjectBudgets(cfg)
	for r := range numDropReasons {
		g.dropOpts[r] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", dropReasonNames[r])))}
	}
	g.defaultRules = metricRules{agg: toAgg(cfg.GaugeAggregation), limit: cfg.MaxSeriesPerMetric}
	for name, o := range cfg.Metrics {
		r := g.defaultRules
		if o.GaugeAggregation != "" {
			r.agg = toAgg(o.GaugeAggregation)
		}
		if o.MaxSeries > 0 {
			r.limit = o.MaxSeries
		}
		if len(o.StripLabels) > 0 {
			r.extraStrip = map[string]struct{}{}
			for _, k := range o.StripLabels {
				r.extraStrip[k] = struct{}{}
			}
		}
		g.overrides[name] = &r
	}
	return g
}

func (g *guard) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now().UnixNano()
	g.horizon = uint64(now) + uint64(g.cfg.MaxFuture)
	g.cnt = counters{}
	g.maybeSweep(now)
	g.epoch++
	g.touched = g.touched[:0]
	clear(g.outRes)
	clear(g.outScope)
	clear(g.outMet)

	out := pmetric.NewMetrics()
	g.out = out
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		rh := g.h.attrs(rm.Resource().Attributes())
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			sc := sm.Scope()
			sh := combine(g.h.str(sc.Name(), sc.Version()), g.h.attrs(sc.Attributes()))
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				g.processMetric(rm, sm, rh, sh, ms.At(k), now)
			}
		}
	}
	g.finalize()
	g.report(ctx)
	g.maybeRankOffenders(now)
	// drop the references to this export so it can be freed once sent
	clear(g.touched)
	clear(g.outRes)
	clear(g.outScope)
	clear(g.outMet)
	g.out = pmetric.Metrics{}
	if out.DataPointCount() == 0 && out.ResourceMetrics().Len() == 0 {
		return out, processorhelper.ErrSkipProcessingData
	}
	return out, nil
}

func (g *guard) report(ctx context.Context) {
	g.lifetime.overflow += g.cnt.overflow
	g.lifetime.stripped += g.cnt.stripped
	g.lifetime.rewritten += g.cnt.rewritten
	g.lifetime.evicted += g.cnt.evicted
	for r, d := range g.cnt.dropped {
		g.lifetime.dropped[r] += d
	}
	if g.tel == nil {
		return
	}
	if g.cnt.overflow > 0 {
		g.tel.ProcessorCardinalityGuardOverflowPoints.Add(ctx, g.cnt.overflow)
	}
	if g.cnt.stripped > 0 {
		g.tel.ProcessorCardinalityGuardStrippedLabels.Add(ctx, g.cnt.stripped)
	}
	if g.cnt.rewritten > 0 {
		g.tel.ProcessorCardinalityGuardRewrittenValues.Add(ctx, g.cnt.rewritten)
	}
	if g.cnt.evicted > 0 {
		g.tel.ProcessorCardinalityGuardEvictedSeries.Add(ctx, g.cnt.evicted)
	}
	for r, d := range g.cnt.dropped {
		if d > 0 {
			g.tel.ProcessorCardinalityGuardDroppedPoints.Add(ctx, d, g.dropOpts[r]...)
		}
	}
	if d := g.liveSeries - g.reportedSeries; d != 0 {
		g.tel.ProcessorCardinalityGuardSeriesActive.Add(ctx, int64(d))
		g.reportedSeries = g.liveSeries
	}
	if d := g.liveMembers - g.reportedMembers; d != 0 {
		g.tel.ProcessorCardinalityGuardMembersActive.Add(ctx, int64(d))
		g.reportedMembers = g.liveMembers
	}
}

func metricKind(m pmetric.Metric) (kind, bool, bool) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return kGauge, false, true
	case pmetric.MetricTypeSum:
		switch m.Sum().AggregationTemporality() {
		case pmetric.AggregationTemporalityCumulative:
			return kCumSum, m.Sum().IsMonotonic(), true
		case pmetric.AggregationTemporalityDelta:
			return kDeltaSum, m.Sum().IsMonotonic(), true
		}
	case pmetric.MetricTypeHistogram:
		switch m.Histogram().AggregationTemporality() {
		case pmetric.AggregationTemporalityCumulative:
			return kCumHist, false, true
		case pmetric.AggregationTemporalityDelta:
			return kDeltaHist, false, true
		}
	case pmetric.MetricTypeExponentialHistogram:
		switch m.ExponentialHistogram().AggregationTemporality() {
		case pmetric.AggregationTemporalityCumulative:
			return kCumExp, false, true
		case pmetric.AggregationTemporalityDelta:
			return kDeltaExp, false, true
		}
	case pmetric.MetricTypeSummary:
		return kSummary, false, true
	}
	return 0, false, false
}

func (g *guard) processMetric(rm pmetric.ResourceMetrics, sm pmetric.ScopeMetrics, rh, sh uint64, m pmetric.Metric, now int64) {
	k, mono, ok := metricKind(m)
	c := mctx{rh: rh, sh: sh, rm: rm, sm: sm, in: m, kind: k, mono: mono}
	if !ok {
		// Empty metrics and an unspecified temporality are invalid OTLP with no defined
		// merge (the Prometheus exporters drop them too): dropped and counted, so nothing
		// unmerged can put two points with one identity into an export.
		g.cnt.dropped[dropInvalid] += int64(pmetricutil.DataPointCount(m))
		return
	}
	c.base = combine(combine(rh, sh), g.h.str(m.Name(), m.Unit(), string(rune('a'+k)), boolStr(mono)))
	c.rules = &g.defaultRules
	if r, ok := g.overrides[m.Name()]; ok {
		c.rules = r
	}
	c.ms = g.metricState(m.Name(), c.rules.limit)
	pre := false
	if dps, ok := pmetricutil.NumberDataPoints(m); ok {
		pre = g.prefetch(&c, dps)
	}
	pmetricutil.PointFuncs{
		Number: func(i int, dp pmetric.NumberDataPoint) {
			if pre {
				c.mh, c.hasMH = g.pre[i], true
			}
			g.numberPoint(&c, dp, now)
		},
		Histogram:    func(_ int, dp pmetric.HistogramDataPoint) { g.histPoint(&c, dp, now) },
		ExpHistogram: func(_ int, dp pmetric.ExponentialHistogramDataPoint) { g.expPoint(&c, dp, now) },
		Summary:      func(_ int, dp pmetric.SummaryDataPoint) { g.summaryPoint(&c, dp, now) },
	}.Walk(m)
	// keep the metric stream's budget entry alive even if nothing was created
	g.releaseMetricIfUnused(c.ms)
}

func boolStr(b bool) string {
	if b {
		return "m"
	}
	return "n"
}

// outMetric returns (creating on first use) the output metric for the stream of c.
func (g *guard) outMetric(c *mctx) pmetric.Metric {
	if c.hasOut {
		return c.out
	}
	if om, ok := g.outMet[c.base]; ok {
		c.out, c.hasOut = om, true
		return om
	}
	// out is owned by the caller of processMetrics; reached through the resource map
	orm, ok := g.outRes[c.rh]
	if !ok {
		orm = g.out.ResourceMetrics().AppendEmpty()
		c.rm.Resource().CopyTo(orm.Resource())
		orm.SetSchemaUrl(c.rm.SchemaUrl())
		g.outRes[c.rh] = orm
	}
	sk := [2]uint64{c.rh, c.sh}
	osm, ok := g.outScope[sk]
	if !ok {
		osm = orm.ScopeMetrics().AppendEmpty()
		c.sm.Scope().CopyTo(osm.Scope())
		osm.SetSchemaUrl(c.sm.SchemaUrl())
		g.outScope[sk] = osm
	}
	om := osm.Metrics().AppendEmpty()
	in := c.in
	om.SetName(in.Name())
	om.SetDescription(in.Description())
	om.SetUnit(in.Unit())
	in.Metadata().CopyTo(om.Metadata())
	switch in.Type() {
	case pmetric.MetricTypeGauge:
		om.SetEmptyGauge()
	case pmetric.MetricTypeSum:
		s := om.SetEmptySum()
		s.SetAggregationTemporality(in.Sum().AggregationTemporality())
		s.SetIsMonotonic(in.Sum().IsMonotonic())
	case pmetric.MetricTypeHistogram:
		om.SetEmptyHistogram().SetAggregationTemporality(in.Histogram().AggregationTemporality())
	case pmetric.MetricTypeExponentialHistogram:
		om.SetEmptyExponentialHistogram().SetAggregationTemporality(in.ExponentialHistogram().AggregationTemporality())
	case pmetric.MetricTypeSummary:
		om.SetEmptySummary()
	}
	g.outMet[c.base] = om
	c.out, c.hasOut = om, true
	return om
}

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

// strForm returns the string form of an attribute value, exactly as Value.AsString
// renders it (which is what reaches Prometheus), without allocating for strings, ints
// and bools. The result may alias g.sbuf and is valid until the next call.
func (g *guard) strForm(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		g.sbuf = strconv.AppendInt(g.sbuf[:0], v.Int(), 10)
		return unsafeString(g.sbuf)
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return "true"
		}
		return "false"
	case pcommon.ValueTypeEmpty:
		return ""
	}
	return v.AsString()
}

// scan classifies and hashes the attributes of one data point. Identity uses each
// value's string form: values that differ only in type are one series in the backend, so
// they are one series here too.
func (g *guard) scan(c *mctx, attrs pcommon.Map) {
	r := g.rules
	var res scanResult
	ents := g.ents[:0]
	for k, v := range attrs.All() {
		sv := g.strForm(v)
		cls := r.class(k, c.rules.extraStrip)
		if cls == clsStrip {
			res.stripped++
			res.inSum += g.h.pairStr(k, sv)
			continue
		}
		oh := g.h.pairStr(k, sv)
		res.inSum += oh
		if cls != clsKeep || r.maxValueLen > 0 {
			tcls := cls
			if tcls == clsKeep {
				tcls = clsPlain
			}
			var changed bool
			g.vbuf, changed = r.transform(g.vbuf, tcls, sv)
			if changed {
				res.rewritten++
				oh = g.h.pairStr(k, unsafeString(g.vbuf))
			}
		}
		ents = append(ents, attrEnt{key: k, h: oh, keep: cls == clsKeep})
		if k == overflowKey {
			res.overflow = true
		}
	}
	g.ents = ents
	g.sc = res
	g.scanned = true
}

// memberSum is the identity of a point's attributes as received (order-independent).
func (g *guard) memberSum(attrs pcommon.Map) uint64 {
	var sum uint64
	for k, v := range attrs.All() {
		sum += g.h.pairStr(k, g.strForm(v))
	}
	return sum
}

// selectEnts reduces g.ents to the output labels: the first of duplicate keys wins (as
// Map.Get does), then the labels-per-series limit keeps keep_labels first and the rest in
// ascending key order. It returns how many labels the limit dropped. Idempotent.
func (g *guard) selectEnts() int {
	ents := g.ents
	n := 0
	for i := range ents {
		dup := false
		for j := 0; j < n; j++ {
			if ents[j].key == ents[i].key {
				dup = true
				break
			}
		}
		if !dup {
			ents[n] = ents[i]
			n++
		}
	}
	ents = ents[:n]
	dropped := 0
	if m := g.rules.maxLabels; m > 0 && len(ents) > m {
		sortEnts(ents)
		dropped = len(ents) - m
		ents = ents[:m]
	}
	g.ents = ents
	return dropped
}

// outSums computes the output-series and keep-label identities of the scanned point.
func (g *guard) outSums() {
	g.sc.stripped += g.selectEnts()
	g.sc.outSum, g.sc.keepSum, g.sc.markerH = 0, 0, 0
	for _, e := range g.ents {
		g.sc.outSum += e.h
		if e.keep {
			g.sc.keepSum += e.h
		}
		if e.key == overflowKey {
			g.sc.markerH = e.h
		}
	}
}

// buildAttrs writes the output attributes of a series from the scanned point (g.ents
// must still describe src). The input attributes are moved, not copied (the processor
// declares MutatesData), then the stripped, duplicate and over-limit labels are removed
// and rewritten values replaced.
func (g *guard) buildAttrs(c *mctx, dst, src pcommon.Map, overflow bool) {
	r := g.rules
	g.selectEnts()
	src.MoveTo(dst)
	if !overflow && g.sc.rewritten == 0 && len(g.ents) == dst.Len() {
		return // nothing stripped, rewritten, duplicated or limited
	}
	seen := g.seen[:0]
	dst.RemoveIf(func(k string, _ pcommon.Value) bool {
		for _, s := range seen {
			if s == k {
				return true // a later duplicate: the first one wins, as in Map.Get
			}
		}
		for _, e := range g.ents {
			if e.key == k {
				if overflow && !e.keep {
					return true
				}
				seen = append(seen, k)
				return false
			}
		}
		return true // stripped or over the labels-per-series limit
	})
	g.seen = seen[:0]
	if g.sc.rewritten > 0 {
		for k, v := range dst.All() {
			cls := r.class(k, c.rules.extraStrip)
			if cls == clsKeep {
				cls = clsPlain
			}
			var changed bool
			g.vbuf, changed = r.transform(g.vbuf, cls, g.strForm(v))
			if changed {
				v.SetStr(string(g.vbuf))
			}
		}
	}
	if overflow {
		dst.PutStr(overflowKey, "true")
	}
}

// resolved is the series (and member) a data point belongs to.
type resolved struct {
	si, mi    uint32
	newMember bool
	ok        bool
}

// resolve finds or creates the output series and, for stateful kinds, the member.
func (g *guard) resolve(c *mctx, attrs pcommon.Map, now int64) resolved {
	g.scanned = false
	stateful := c.kind.stateful()
	var mh uint64
	if stateful {
		// fast path: a known member needs only the hash of its attributes as received
		if c.hasMH {
			mh = c.mh
		} else {
			mh = combine(c.base, g.memberSum(attrs))
		}
		if mi, ok := g.memberIdx.find(mh, g.memberKey); ok {
			m := &g.members[mi]
			m.lastSeen = now
			s := &g.series[m.series]
			s.lastSeen = now
			if s.flags&fOverflow != 0 {
				g.cnt.overflow++
			}
			g.cnt.stripped += int64(m.nStrip)
			g.cnt.rewritten += int64(m.nRewrite)
			return resolved{si: m.series, mi: mi, ok: true}
		}
		if g.liveMembers >= g.cfg.MaxMembers {
			g.cnt.dropped[dropMemberLimit]++
			return resolved{}
		}
	}
	g.scan(c, attrs)
	g.outSums()
	shareKey := combine(g.metricStates[c.ms].nameHash, g.sc.keepSumNoMarker())
	if stateful {
		if sh, ok := g.shareIdx[shareKey]; ok && int(g.shares[sh].members) >= g.membersPerMetric {
			// the share per metric and producer keeps one service's exploding label from
			// taking the pool and starving every other service's (and metric's) new series
			g.cnt.dropped[dropMemberLimit]++
			return resolved{}
		}
	}
	g.cnt.stripped += int64(g.sc.stripped)
	g.cnt.rewritten += int64(g.sc.rewritten)
	oh := combine(c.base, g.sc.outSum)
	si, ok := g.seriesIdx.find(oh, g.seriesKey)
	if !ok {
		ms := &g.metricStates[c.ms]
		// a point that is already an overflow aggregate (an SDK's cardinality limit) joins
		// the overflow series: the two would otherwise share one identity
		if !g.sc.overflow && ms.regular < ms.limit && (g.cfg.MaxSeriesTotal == 0 || g.regularTotal < g.cfg.MaxSeriesTotal) && g.projectHasRoom(attrs) {
			si = g.newSeries(oh, c, shareKey, false)
			g.projectTake(si)
		} else {
			fh := combine(c.base, g.sc.keepSumNoMarker()^overflowSalt)
			if si, ok = g.seriesIdx.find(fh, g.seriesKey); !ok {
				si = g.newSeries(fh, c, shareKey, true)
			}
		}
	}
	s := &g.series[si]
	s.lastSeen = now
	if s.flags&fOverflow != 0 {
		g.cnt.overflow++
	}
	res := resolved{si: si, ok: true}
	if stateful {
		res.mi = g.newMember(mh, si, now)
		res.newMember = true
		m := &g.members[res.mi]
		m.nStrip, m.nRewrite = uint8(min(g.sc.stripped, 255)), uint8(min(g.sc.rewritten, 255))
	}
	g.observeInput(c, shareKey, attrs, res, stateful)
	return res
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

// touch returns the output point entry of series si, creating the point on the first
// touch in this export.
func (g *guard) touch(c *mctx, si uint32, attrs pcommon.Map) *touchedEntry {
	s := &g.series[si]
	if s.epoch == g.epoch {
		return &g.touched[s.touched]
	}
	if !g.scanned {
		g.scan(c, attrs)
	}
	s.epoch = g.epoch
	s.touched = uint32(len(g.touched))
	g.touched = append(g.touched, touchedEntry{si: si})
	e := &g.touched[len(g.touched)-1]
	om := g.outMetric(c)
	overflow := s.flags&fOverflow != 0
	switch c.kind {
	case kGauge:
		e.num = om.Gauge().DataPoints().AppendEmpty()
		g.buildAttrs(c, e.num.Attributes(), attrs, overflow)
	case kCumSum, kDeltaSum:
		e.num = om.Sum().DataPoints().AppendEmpty()
		g.buildAttrs(c, e.num.Attributes(), attrs, overflow)
	case kCumHist, kDeltaHist:
		e.hist = om.Histogram().DataPoints().AppendEmpty()
		g.buildAttrs(c, e.hist.Attributes(), attrs, overflow)
	case kCumExp, kDeltaExp:
		e.exp = om.ExponentialHistogram().DataPoints().AppendEmpty()
		g.buildAttrs(c, e.exp.Attributes(), attrs, overflow)
	case kSummary:
		e.sum = om.Summary().DataPoints().AppendEmpty()
		g.buildAttrs(c, e.sum.Attributes(), attrs, overflow)
	}
	return e
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

func numValue(dp pmetric.NumberDataPoint) (uint64, bool) {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeDouble {
		return math.Float64bits(dp.DoubleValue()), false
	}
	return uint64(dp.IntValue()), true
}

// admit reports whether a point may enter the guard's state, counting it when not. It runs
// before the point is resolved, so a rejected point creates no series and no member.
func (g *guard) admit(ts pcommon.Timestamp) bool {
	if uint64(ts) > g.horizon {
		// accepted, every later point of its member would be out of order: frozen for good
		g.cnt.dropped[dropFuture]++
		return false
	}
	return true
}

// finiteSum returns v, or keep when v is NaN or infinite (counted): folded into a running
// merged sum it would stay there for good. The point's counts are still applied.
func (g *guard) finiteSum(v, keep float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		g.cnt.dropped[dropNonFinite]++
		return keep
	}
	return v
}

func (g *guard) numberPoint(c *mctx, dp pmetric.NumberDataPoint, now int64) {
	if !g.admit(dp.Timestamp()) {
		return
	}
	if dp.ValueType() == pmetric.NumberDataPointValueTypeEmpty && !dp.Flags().NoRecordedValue() {
		// a point without a value would be merged (and exported) as 0
		g.cnt.dropped[dropInvalid]++
		return
	}
	v, vInt := numValue(dp)
	if !vInt && !dp.Flags().NoRecordedValue() && (math.IsNaN(numF(v, false)) || math.IsInf(numF(v, false), 0)) {
		// a NaN or infinite value would poison every later merged value of the series
		g.cnt.dropped[dropNonFinite]++
		return
	}
	r := g.resolve(c, dp.Attributes(), now)
	if !r.ok {
		return
	}
	s := &g.series[r.si]
	first := s.epoch != g.epoch
	e := g.touch(c, r.si, dp.Attributes())
	o := e.num
	st, ts := mergeTimes(o.StartTimestamp(), o.Timestamp(), first, dp.StartTimestamp(), dp.Timestamp())
	o.SetStartTimestamp(st)
	o.SetTimestamp(ts)
	addExemplars(o.Exemplars(), dp.Exemplars(), g.cfg.MaxExemplarsPerPoint)
	if dp.Flags().NoRecordedValue() {
		// a staleness marker carries no value; it only refreshes the series
		return
	}
	switch c.kind {
	case kDeltaSum:
		if first {
			if vInt {
				o.SetIntValue(int64(v))
			} else {
				o.SetDoubleValue(numF(v, false))
			}
			return
		}
		cur, curInt := numValue(o)
		sum, sumInt := numAdd(cur, curInt, v, vInt)
		if sumInt {
			o.SetIntValue(int64(sum))
		} else {
			o.SetDoubleValue(numF(sum, false))
		}
	case kCumSum:
		m := &g.members[r.mi]
		if r.newMember {
			if s.start == 0 {
				s.start = uint64(dp.StartTimestamp())
			}
			s.total, s.flags = addFlag(s.total, s.flags, v, vInt)
		} else {
			if uint64(dp.Timestamp()) < m.ts {
				g.cnt.dropped[dropOutOfOrder]++
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
	case kGauge:
		m := &g.members[r.mi]
		mInt := m.flags&fInt != 0
		if !r.newMember && uint64(dp.Timestamp()) < m.ts {
			g.cnt.dropped[dropOutOfOrder]++
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

// finalize writes the merged state of every series touched in this export into its point.
func (g *guard) finalize() {
	for i := range g.touched {
		e := &g.touched[i]
		s := &g.series[e.si]
		if s.kind.stateful() {
			stampMonotonic(s, e)
		}
		switch s.kind {
		case kCumSum:
			e.num.SetStartTimestamp(pcommon.Timestamp(s.start))
			setNum(e.num, s.total, s.flags&fInt != 0)
		case kGauge:
			g.finalizeGauge(s, e.num)
		case kCumHist:
			finalizeHist(s, e.hist)
		case kCumExp, kDeltaExp:
			finalizeExp(s, e.exp)
		case kSummary:
			g.finalizeSummary(s, e)
		}
	}
}

// stampMonotonic makes the timestamp of a merged series' output point strictly later (by at
// least a millisecond, the Prometheus resolution) than the one it emitted last. The point is
// stamped with the latest of its inputs, and a member that joins late (a retried batch, a
// second sender) may be older than what was already emitted: the exporters keep the newest
// point of a series, so a merged total stamped older would be discarded and the series would
// undercount. Two exports of one series may also reach an exporter in either order; strictly
// increasing stamps make the one computed last win.
func stampMonotonic(s *series, e *touchedEntry) {
	var ts pcommon.Timestamp
	switch s.kind {
	case kGauge, kCumSum:
		ts = e.num.Timestamp()
	case kCumHist:
		ts = e.hist.Timestamp()
	case kCumExp:
		ts = e.exp.Timestamp()
	case kSummary:
		ts = e.sum.Timestamp()
	default:
		return
	}
	if s.emitted != 0 && uint64(ts) <= s.emitted {
		ts = pcommon.Timestamp(s.emitted + uint64(time.Millisecond))
	}
	s.emitted = uint64(ts)
	switch s.kind {
	case kGauge, kCumSum:
		e.num.SetTimestamp(ts)
	case kCumHist:
		e.hist.SetTimestamp(ts)
	case kCumExp:
		e.exp.SetTimestamp(ts)
	case kSummary:
		e.sum.SetTimestamp(ts)
	}
}

func setNum(dp pmetric.NumberDataPoint, bits uint64, isInt bool) {
	if isInt {
		dp.SetIntValue(int64(bits))
	} else {
		dp.SetDoubleValue(numF(bits, false))
	}
}

func (g *guard) finalizeGauge(s *series, dp pmetric.NumberDataPoint) {
	isInt := s.flags&fInt != 0
	switch s.agg {
	case aggSum:
		if s.flags&fDirty != 0 {
			s.total, s.flags = 0, s.flags|fInt
			for mi := s.head; mi != 0; mi = g.members[mi].next {
				m := &g.members[mi]
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
			for mi := s.head; mi != 0; mi = g.members[mi].next {
				m := &g.members[mi]
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

// maybeSweep forgets members and series not seen for stale_after. It runs at most every
// stale_after/4, so a series is forgotten between stale_after and 1.25×stale_after after
// its last point.
func (g *guard) maybeSweep(now int64) {
	stale := int64(g.cfg.StaleAfter)
	if g.lastSweep == 0 {
		g.lastSweep = now
		return
	}
	if now-g.lastSweep < stale/4 {
		return
	}
	g.lastSweep = now
	g.sweep(now - stale)
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
		g.seriesIdx.remove(s.hash, uint32(si))
		*s = series{}
		g.freeSeries = append(g.freeSeries, uint32(si))
		g.liveSeries--
		g.cnt.evicted++
	}
}

func subFlag(bits uint64, flags uint8, d uint64, dInt bool) (uint64, uint8) {
	r, isInt := numSub(bits, flags&fInt != 0, d, dInt)
	return r, setInt(flags, isInt)
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
	g.preSink = sink
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
