// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/expo"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// One export: what a processMetrics call builds (output metrics, the points touched, the
// counters it reports) and how a touched output point is created and finalized.

// batch is what one processMetrics call builds and counts: the output export and the maps
// that find its resource, scope and metric entries, the output points touched so far, the
// counters reported at its end and the timestamp horizon of its points. It holds no state that
// outlives the call (the store is the rest of the guard).
type batch struct {
	out   pmetric.Metrics
	res   map[uint64]pmetric.ResourceMetrics
	scope map[[2]uint64]pmetric.ScopeMetrics
	met   map[uint64]pmetric.Metric
	// touched are the series with an output point in this export, in order of first touch
	touched []touchedEntry
	cnt     counters
	// horizon is the latest timestamp accepted in this export (now + max_future)
	horizon uint64
	// expAcc are the accumulators of this export's delta exponential histograms (the first
	// nExpAcc in use), kept across exports only to reuse their bucket memory
	expAcc  []*seriesExt
	nExpAcc int
}

// newExpAcc returns an empty accumulator for one delta exponential-histogram output point.
func (b *batch) newExpAcc() *seriesExt {
	if b.nExpAcc == len(b.expAcc) {
		b.expAcc = append(b.expAcc, &seriesExt{exp: expo.New()})
	}
	x := b.expAcc[b.nExpAcc]
	b.nExpAcc++
	*x = seriesExt{exp: x.exp}
	x.exp.Reset()
	return x
}

// begin starts a new export into out, keeping the maps' and buffers' memory.
func (b *batch) begin(out pmetric.Metrics, horizon uint64) {
	b.out, b.horizon, b.cnt = out, horizon, counters{}
	b.touched = b.touched[:0]
	b.nExpAcc = 0
	clear(b.res)
	clear(b.scope)
	clear(b.met)
}

// end drops the references to the export so that it can be freed once sent; the counters stay
// readable until the next begin.
func (b *batch) end() {
	clear(b.touched)
	b.touched = b.touched[:0]
	clear(b.res)
	clear(b.scope)
	clear(b.met)
	b.out = pmetric.Metrics{}
}

// touchedEntry links an output series to its output point in the current export. The
// point's times are merged here and written into the point by finalize: one place for every
// kind, plain fields instead of a pdata call per input point.
type touchedEntry struct {
	si         uint32
	start, ts  pcommon.Timestamp
	num        pmetric.NumberDataPoint
	hist       pmetric.HistogramDataPoint
	exp        pmetric.ExponentialHistogramDataPoint
	sum        pmetric.SummaryDataPoint
	lastSum    pmetric.SummaryDataPoint // latest input summary point (quantiles of a lone member)
	hasLastSum bool
	expAcc     *seriesExt // a delta exponential histogram's sum of this export's points
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
	overflow, stripped, rewritten int64
	dropped                       [numDropReasons]int64
}

// outMetric returns (creating on first use) the output metric for the stream of c.
func (g *guard) outMetric(c *mctx) pmetric.Metric {
	if c.hasOut {
		return c.out
	}
	if om, ok := g.batch.met[c.base]; ok {
		c.out, c.hasOut = om, true
		return om
	}
	// out is owned by the caller of processMetrics; reached through the resource map
	orm, ok := g.batch.res[c.rh]
	if !ok {
		orm = g.batch.out.ResourceMetrics().AppendEmpty()
		c.rm.Resource().CopyTo(orm.Resource())
		orm.SetSchemaUrl(c.rm.SchemaUrl())
		g.batch.res[c.rh] = orm
	}
	sk := [2]uint64{c.rh, c.sh}
	osm, ok := g.batch.scope[sk]
	if !ok {
		osm = orm.ScopeMetrics().AppendEmpty()
		c.sm.Scope().CopyTo(osm.Scope())
		osm.SetSchemaUrl(c.sm.SchemaUrl())
		g.batch.scope[sk] = osm
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
	g.batch.met[c.base] = om
	c.out, c.hasOut = om, true
	return om
}

// touch returns the output point entry of series si, creating the point on the first
// touch in this export.
func (g *guard) touch(c *mctx, si uint32, attrs pcommon.Map, ps *pointScan) *touchedEntry {
	s := g.series.At(si)
	if s.epoch == g.epoch {
		return &g.batch.touched[s.touched]
	}
	if !ps.done {
		*ps = g.scan(c, attrs)
	}
	s.epoch = g.epoch
	s.touched = uint32(len(g.batch.touched))
	g.batch.touched = append(g.batch.touched, touchedEntry{si: si})
	e := &g.batch.touched[len(g.batch.touched)-1]
	om := g.outMetric(c)
	overflow := s.flags&fOverflow != 0
	var dst pcommon.Map
	switch c.kind {
	case kGauge:
		e.num = om.Gauge().DataPoints().AppendEmpty()
		dst = e.num.Attributes()
	case kCumSum, kDeltaSum:
		e.num = om.Sum().DataPoints().AppendEmpty()
		dst = e.num.Attributes()
	case kCumHist, kDeltaHist:
		e.hist = om.Histogram().DataPoints().AppendEmpty()
		dst = e.hist.Attributes()
	case kCumExp, kDeltaExp:
		e.exp = om.ExponentialHistogram().DataPoints().AppendEmpty()
		dst = e.exp.Attributes()
	case kSummary:
		e.sum = om.Summary().DataPoints().AppendEmpty()
		dst = e.sum.Attributes()
	}
	g.buildAttrs(c, dst, attrs, overflow, ps)
	return e
}

// setTimes writes the merged times of e into its output point (of kind k).
func (e *touchedEntry) setTimes(k kind) {
	switch k {
	case kGauge, kCumSum, kDeltaSum:
		e.num.SetStartTimestamp(e.start)
		e.num.SetTimestamp(e.ts)
	case kCumHist, kDeltaHist:
		e.hist.SetStartTimestamp(e.start)
		e.hist.SetTimestamp(e.ts)
	case kCumExp, kDeltaExp:
		e.exp.SetStartTimestamp(e.start)
		e.exp.SetTimestamp(e.ts)
	case kSummary:
		e.sum.SetStartTimestamp(e.start)
		e.sum.SetTimestamp(e.ts)
	}
}

// exemplars returns the exemplars of e's output point (of a kind that has them).
func (e *touchedEntry) exemplars(k kind) pmetric.ExemplarSlice {
	switch k {
	case kCumHist, kDeltaHist:
		return e.hist.Exemplars()
	case kCumExp, kDeltaExp:
		return e.exp.Exemplars()
	}
	return e.num.Exemplars()
}

// finalize writes the merged state of every series touched in this export into its point.
func (g *guard) finalize() {
	for i := range g.batch.touched {
		e := &g.batch.touched[i]
		s := g.series.At(e.si)
		if s.kind.stateful() {
			stampMonotonic(s, e)
		}
		e.setTimes(s.kind)
		switch s.kind {
		case kCumSum:
			e.num.SetStartTimestamp(pcommon.Timestamp(s.start))
			setNum(e.num, s.total, s.flags&fInt != 0)
		case kGauge:
			g.finalizeGauge(s, e.num)
		case kCumHist:
			finalizeHist(s, e.hist)
		case kCumExp, kDeltaExp:
			finalizeExp(s, e)
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
	if s.emitted != 0 && uint64(e.ts) <= s.emitted {
		e.ts = pcommon.Timestamp(s.emitted + uint64(time.Millisecond))
	}
	s.emitted = uint64(e.ts)
}
