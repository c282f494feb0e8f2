// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/expo"
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
)

// The driver: the guard, one processMetrics call over the input, its telemetry.

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
	mi     uint32 // the member guessed for mh (0: none), confirmed before use
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

	// store is the state that outlives a call (store.go); its fields are promoted
	store

	epoch            uint32 // counts exports: a series whose epoch is current has an output point
	membersPerMetric int    // effective max_members_per_metric

	// the identity hasher (seeded once) and the points' scratch buffers, reused
	h      hasher
	vbuf   []byte
	sbuf   []byte
	ents   []attrEnt // scan's reused buffer (a pointScan's ents, valid until the next scan)
	seen   []string
	hbuf   []uint64
	expTmp expo.State
	pre    []uint64 // member keys of the current metric's points (prefetch)
	preMI  []uint32 // the members warmMembers guessed for pre (0: none, or not warmed)
	// batch is the state of the export being processed; kept between calls only to reuse
	// its maps and buffers
	batch batch

	// active mirrors the store's live series and members for the asynchronous gauges, which
	// are read without the lock
	activeSeries, activeMembers atomic.Int64
	initErr                     error
	stopSweeps                  chan struct{}
	sweepsDone                  sync.WaitGroup
	ckptState                   // checkpoints into a storage extension (checkpoint.go)

	ins *insightState // top offenders (insight.go); nil when top_offenders is 0
}

func newGuard(cfg *Config, tel *metadata.TelemetryBuilder) *guard {
	g := &guard{
		cfg:       cfg,
		h:         newHasher(),
		rules:     newLabelRules(cfg),
		now:       time.Now,
		tel:       tel,
		overrides: map[string]*metricRules{},
		store:     newStore(),
		batch: batch{
			res:   map[uint64]pmetric.ResourceMetrics{},
			scope: map[[2]uint64]pmetric.ScopeMetrics{},
			met:   map[uint64]pmetric.Metric{},
		},
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
	// an error (only a meter that does not accept the callback) fails the processor's creation
	g.initErr = g.registerGauges()
	return g
}

func (g *guard) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now().UnixNano()
	out := pmetric.NewMetrics()
	g.batch.begin(out, uint64(now)+uint64(g.cfg.MaxFuture))
	g.epoch++
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
	g.batch.end()
	if out.DataPointCount() == 0 && out.ResourceMetrics().Len() == 0 {
		return out, processorhelper.ErrSkipProcessingData
	}
	return out, nil
}

func (g *guard) report(ctx context.Context) {
	g.publishActive()
	if g.tel == nil {
		return
	}
	if g.batch.cnt.overflow > 0 {
		g.tel.ProcessorCardinalityGuardOverflowPoints.Add(ctx, g.batch.cnt.overflow)
	}
	if g.batch.cnt.stripped > 0 {
		g.tel.ProcessorCardinalityGuardStrippedLabels.Add(ctx, g.batch.cnt.stripped)
	}
	if g.batch.cnt.rewritten > 0 {
		g.tel.ProcessorCardinalityGuardRewrittenValues.Add(ctx, g.batch.cnt.rewritten)
	}
	for r, d := range g.batch.cnt.dropped {
		if d > 0 {
			g.tel.ProcessorCardinalityGuardDroppedPoints.Add(ctx, d, g.dropOpts[r]...)
		}
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
		g.batch.cnt.dropped[dropInvalid] += int64(pmetricutil.DataPointCount(m))
		return
	}
	c.base = combine(combine(rh, sh), g.h.str(m.Name(), m.Unit(), string(rune('a'+k)), boolStr(mono)))
	c.rules = &g.defaultRules
	if r, ok := g.overrides[m.Name()]; ok {
		c.rules = r
	}
	c.ms = g.metricState(g.h.str(m.Name()), c.rules.limit)
	// the kind is decided here, once per metric
	merge, hmerge := numberMergeOf(c.kind), histMergeOf(c.kind)
	pre := false
	if dps, ok := pmetricutil.NumberDataPoints(m); ok {
		pre = g.prefetch(&c, dps)
	}
	pmetricutil.PointFuncs{
		Number: func(i int, dp pmetric.NumberDataPoint) {
			if pre {
				c.mh, c.hasMH, c.mi = g.pre[i], true, 0
				if i < len(g.preMI) {
					c.mi = g.preMI[i]
				}
			}
			g.numberPoint(&c, dp, now, merge)
		},
		Histogram:    func(_ int, dp pmetric.HistogramDataPoint) { g.histPoint(&c, dp, now, hmerge) },
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
