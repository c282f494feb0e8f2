// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid // import "github.com/airi-otel/otelcol-airi/processor/trackingid"

import (
	"context"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/airi-otel/otelcol-airi/extension/requestjoin"
	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
	"github.com/airi-otel/otelcol-airi/processor/trackingid/internal/metadata"
)

// DerivedAttribute is set to true on a log record whose trace ID was derived from a request ID
// rather than taken from its own trace context (Loki: structured metadata tracking_id_derived).
const DerivedAttribute = "tracking.id.derived"

// JoinedAttribute is set to true on a log record without trace context that took the real
// trace ID and span ID of its request from the request_join store.
const JoinedAttribute = "tracking.id.joined"

var (
	attrTraces  = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", "traces")))
	attrMetrics = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", "metrics")))
	attrLogs    = metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", "logs")))
)

type trackingProcessor struct {
	cfg       *Config
	telemetry *metadata.TelemetryBuilder

	spanKeys   *keyMatcher // span_attribute, request_id_keys, their HTTP header forms
	logKeys    *keyMatcher // log_attribute, request_id_keys
	logPaths   []keyPath   // request_id_keys with a dot, also read as a path of nested maps
	metricKeys *keyMatcher // metric_label_keys

	join requestjoin.Joiner // set in start when request_join names an extension; nil = no join
	hold *holder            // logs only, when join_hold is set
}

func newTrackingProcessor(cfg *Config, tb *metadata.TelemetryBuilder) *trackingProcessor {
	spanKeys := append([]string{cfg.SpanAttribute}, cfg.RequestIDKeys...)
	spanKeys = append(spanKeys, headerForms(cfg.RequestIDKeys)...)
	return &trackingProcessor{
		cfg:        cfg,
		telemetry:  tb,
		spanKeys:   newKeyMatcher(spanKeys),
		logKeys:    newKeyMatcher(append([]string{cfg.LogAttribute}, cfg.RequestIDKeys...)),
		logPaths:   newKeyPaths(cfg.RequestIDKeys, 1), // priority 0 is log_attribute
		metricKeys: newKeyMatcher(cfg.MetricLabelKeys),
	}
}

// counts accumulates one batch's telemetry so the hot path does not touch the meter.
type counts struct {
	fromContext, derived, invalid  int64
	remembered, joined, joinMisses int64
	held                           int64
}

func (p *trackingProcessor) record(ctx context.Context, c counts, attrs metric.AddOption) {
	if c.fromContext > 0 {
		p.telemetry.ProcessorTrackingIDIdsFromContext.Add(ctx, c.fromContext, attrs)
	}
	if c.derived > 0 {
		p.telemetry.ProcessorTrackingIDIdsDerived.Add(ctx, c.derived, attrs)
	}
	if c.invalid > 0 {
		p.telemetry.ProcessorTrackingIDIdsInvalid.Add(ctx, c.invalid, attrs)
	}
	if c.remembered > 0 {
		p.telemetry.ProcessorTrackingIDRequestIdsRemembered.Add(ctx, c.remembered, attrs)
	}
	if c.joined > 0 {
		p.telemetry.ProcessorTrackingIDIdsJoined.Add(ctx, c.joined, attrs)
	}
	if c.joinMisses > 0 {
		p.telemetry.ProcessorTrackingIDJoinMisses.Add(ctx, c.joinMisses, attrs)
	}
	if c.held > 0 {
		p.telemetry.ProcessorTrackingIDLogsHeld.Add(ctx, c.held, attrs)
	}
}

// candidate is the best request ID found so far on one span, log record or data point.
// rank orders candidates: attributes before body, top level before nested, then key priority.
type candidate struct {
	raw      rawID
	rank     int
	found    bool
	isOutput bool // the value sits in the output attribute itself and is about to be replaced
	invalid  bool // a matching key held a value that cannot be an ID
}

// scan holds what one pass over a record's attributes learned.
type scan struct {
	best         candidate
	outEqual     bool          // output attribute already holds exactly the lower-case hex
	outFound     bool          // output attribute present; outVal is its first occurrence
	origPresent  bool          // original attribute already present
	outVal       pcommon.Value // first occurrence of the output attribute, what Map.Get returns
	traceHex     string        // the record's own trace ID, lower-case hex; "" when it has none
	outAttr      string
	origAttr     string
	matcher      *keyMatcher
	matcherRanks int
	lenMask      uint64 // lenBit of outAttr, origAttr and every matcher key: attrs skips the rest
}

func newScan(outAttr, origAttr string, m *keyMatcher) scan {
	return scan{
		outAttr: outAttr, origAttr: origAttr, matcher: m, matcherRanks: m.n,
		lenMask: m.lenMask | lenBit(len(outAttr)) | lenBit(len(origAttr)),
	}
}

// reset prepares s for the next record, keeping its configuration.
func (s *scan) reset(traceHex string) {
	s.best = candidate{}
	s.outEqual, s.outFound, s.origPresent = false, false, false
	s.traceHex = traceHex
}

// consider weighs the value v of key k, whose priority in the matcher is prio.
func (s *scan) consider(k string, v pcommon.Value, level, prio int) {
	if v.Type() == pcommon.ValueTypeMap {
		return // a nested object, searched as such when it is a body; never an ID itself
	}
	raw, ok := extractRawID(v)
	if !ok {
		s.best.invalid = true
		return
	}
	// The record's own trace ID in another spelling is not a separate request ID.
	if s.traceHex != "" && raw.equalsHexFold(s.traceHex) {
		return
	}
	rank := level*s.matcherRanks + prio
	if !s.best.found || rank < s.best.rank {
		s.best = candidate{raw: raw, rank: rank, found: true, isOutput: level == 0 && k == s.outAttr, invalid: s.best.invalid}
	}
}

func (s *scan) attrs(m pcommon.Map) {
	for k, v := range m.All() {
		if !maybeLen(s.lenMask, len(k)) {
			continue // neither output, original nor a request-ID key
		}
		if k == s.outAttr {
			s.outEqual = s.traceHex != "" && v.Type() == pcommon.ValueTypeStr && v.Str() == s.traceHex
			if !s.outFound {
				s.outFound, s.outVal = true, v
			}
		} else if k == s.origAttr {
			s.origPresent = true
		}
		// s.lenMask includes every matcher key's length, so the matcher's own mask test
		// would only repeat the one above.
		if prio := s.matcher.matchLen(k); prio >= 0 {
			s.consider(k, v, 0, prio)
		}
	}
}

// body searches a map body (level 1) and the maps nested in it down to maxLevel.
func (s *scan) body(m pcommon.Map, level, maxLevel int) {
	for k, v := range m.All() {
		if prio := s.matcher.match(k); prio >= 0 {
			s.consider(k, v, level, prio)
		}
		if v.Type() == pcommon.ValueTypeMap && level < maxLevel {
			s.body(v.Map(), level+1, maxLevel)
		}
	}
}

// keyPath is a request-ID key with a dot ("req.id") read as a path of nested maps: pino's
// {"req": {"id": ...}}. Its segments match exactly.
type keyPath struct {
	segs []string
	prio int
}

func newKeyPaths(keys []string, firstPrio int) []keyPath {
	var out []keyPath
	for i, k := range keys {
		if segs := strings.Split(k, "."); len(segs) > 1 {
			out = append(out, keyPath{segs: segs, prio: firstPrio + i})
		}
	}
	return out
}

// nested searches the maps nested in m (a record's attributes or map body; Loguru's "extra",
// pino's "req") as level 1 and below, down to maxLevel, and m's paths. A path needs a map at
// its first segment, so without any map in m the paths are not looked up (a Get per path).
func (s *scan) nested(m pcommon.Map, paths []keyPath, maxLevel int) {
	hasMap := false
	for _, v := range m.All() {
		if v.Type() == pcommon.ValueTypeMap {
			hasMap = true
			s.body(v.Map(), 1, maxLevel)
		}
	}
	if hasMap {
		s.paths(m, paths)
	}
}

// paths looks the dotted keys up as paths below m, ranked like the keys of a nested map.
func (s *scan) paths(m pcommon.Map, paths []keyPath) {
	for _, kp := range paths {
		v, ok := m.Get(kp.segs[0])
		for _, seg := range kp.segs[1:] {
			if !ok || v.Type() != pcommon.ValueTypeMap {
				ok = false
				break
			}
			v, ok = v.Map().Get(seg)
		}
		if ok {
			s.consider(kp.segs[len(kp.segs)-1], v, 1, kp.prio)
		}
	}
}

// applyFromContext writes the output attribute (and the original one) for a span or log
// record that has its own valid trace ID.
func applyFromContext(attrs pcommon.Map, s *scan) {
	b := s.best
	writeOrig := b.found && !b.raw.equalsHex(s.traceHex) && (b.isOutput || !s.origPresent)
	// Room for what is appended, in one step (one growth of the slice, to its exact size,
	// instead of a doubling). Only when something is appended, and then s.outVal is unused.
	if n := appends(writeOrig && !s.origPresent) + appends(!s.outEqual && !s.outFound); n > 0 {
		attrs.EnsureCapacity(attrs.Len() + n)
	}
	appended := false // the attribute slice may have moved, so s.outVal may be stale
	if writeOrig {
		attrs.PutStr(s.origAttr, originalValue(b.raw))
		appended = !s.origPresent
	}
	if !s.outEqual {
		if s.outFound && !appended {
			s.outVal.SetStr(s.traceHex) // what PutStr does to an existing key, minus its Get
		} else {
			attrs.PutStr(s.outAttr, s.traceHex)
		}
	}
}

func (p *trackingProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	var c counts
	var cache batchCache
	s := newScan(p.cfg.SpanAttribute, p.cfg.OriginalAttribute, p.spanKeys)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				id := span.TraceID()
				if id.IsEmpty() {
					c.invalid++
					continue
				}
				cache.left = spans.Len() - k
				s.reset(cache.hexOf(id))
				attrs := span.Attributes()
				s.attrs(attrs)
				if p.join != nil && s.best.found {
					p.remember(span, id, s.best.raw, &c)
				}
				applyFromContext(attrs, &s)
				c.fromContext++
			}
		}
	}
	p.record(ctx, c, attrTraces)
	return td, nil
}

// remember stores the span's request ID in the join store. The request's server span (or its
// root span) is preferred: logs belong to the request as the service handled it.
func (p *trackingProcessor) remember(span ptrace.Span, id pcommon.TraceID, raw rawID, c *counts) {
	// scan.consider already skipped the span's own trace ID in any spelling.
	preferred := span.Kind() == ptrace.SpanKindServer || span.ParentSpanID().IsEmpty()
	p.join.Remember(raw.String(), id, span.SpanID(), preferred)
	c.remembered++
}

func (p *trackingProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	var c counts
	var cache batchCache
	s := newScan(p.cfg.LogAttribute, p.cfg.OriginalAttribute, p.logKeys)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			if p.hold != nil {
				p.holdLogs(rl, sl, &s, &cache, &c)
				continue
			}
			for k := 0; k < lrs.Len(); k++ {
				cache.left = lrs.Len() - k // a record needs at most one hex string
				p.processLog(lrs.At(k), &s, &cache, &c, false)
			}
		}
	}
	p.record(ctx, c, attrLogs)
	return ld, nil
}

// holdLogs is processLogs' walk over one scope's records with join_hold: records that
// processLog would hold move out of the batch into the holder, which forwards them later.
func (p *trackingProcessor) holdLogs(rl plog.ResourceLogs, sl plog.ScopeLogs, s *scan, cache *batchCache, c *counts) {
	sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
		if !p.processLog(lr, s, cache, c, true) {
			return false
		}
		if p.hold.tryHold(rl, sl, lr, s.best.raw.String()) {
			c.held++
			return true
		}
		p.processLog(lr, s, cache, c, false) // the hold is full: derive now
		return false
	})
}

// processLog sets the tracking ID of one log record. With mayHold, a record without trace
// context whose request ID the join store does not know is left untouched and true returned:
// the caller holds it.
func (p *trackingProcessor) processLog(lr plog.LogRecord, s *scan, cache *batchCache, c *counts, mayHold bool) bool {
	id := lr.TraceID()
	hasCtx := !id.IsEmpty()
	if !hasCtx && !p.cfg.DeriveLogTraceID {
		return false
	}
	s.reset("")
	if hasCtx {
		s.traceHex = cache.hexOf(id)
	}
	attrs := lr.Attributes()
	s.attrs(attrs)
	// Attributes always outrank the body, so the body only matters when they held no ID; the
	// attributes' top level outranks the maps nested in them.
	if !s.best.found {
		s.nested(attrs, p.logPaths, 1+p.cfg.BodyMaxDepth)
	}
	if !s.best.found && p.cfg.SearchBody && lr.Body().Type() == pcommon.ValueTypeMap {
		body := lr.Body().Map()
		s.body(body, 1, 1+p.cfg.BodyMaxDepth)
		s.paths(body, p.logPaths)
	}
	if hasCtx {
		applyFromContext(attrs, s)
		c.fromContext++
		return false
	}
	if !s.best.found {
		if s.best.invalid {
			c.invalid++
		}
		return false
	}
	if p.join != nil {
		if tr, sp, ok := p.join.Lookup(s.best.raw.String()); ok {
			p.setTraceID(lr, attrs, s.best.raw, tr, cache)
			lr.SetSpanID(sp)
			attrs.PutBool(JoinedAttribute, true)
			c.joined++
			return false
		}
		if mayHold {
			return true
		}
		c.joinMisses++
	}
	derived, ok := cache.derive(s.best.raw)
	if !ok {
		c.invalid++
		return false
	}
	p.setTraceID(lr, attrs, s.best.raw, derived, cache)
	// No span may stand behind a derived ID: say so, so a UI can search the logs instead of
	// opening a trace that may not exist.
	attrs.PutBool(DerivedAttribute, true)
	c.derived++
	return false
}

// appends is 1 when an attribute is appended, else 0.
func appends(b bool) int {
	if b {
		return 1
	}
	return 0
}

// setTraceID gives a log record without trace context the trace ID id (joined or derived from
// raw), tracking_id = its hex, and keeps raw in the original attribute.
func (p *trackingProcessor) setTraceID(lr plog.LogRecord, attrs pcommon.Map, raw rawID, id pcommon.TraceID, cache *batchCache) {
	lr.SetTraceID(id)
	h := cache.hexOf(id)
	// at most the original, the output and the caller's derived/joined flag are appended: grow
	// the slice once, to its size, rather than doubling it
	attrs.EnsureCapacity(attrs.Len() + 3)
	if !raw.equalsHex(h) {
		attrs.PutStr(p.cfg.OriginalAttribute, originalValue(raw))
	}
	if v, ok := attrs.Get(p.cfg.LogAttribute); !ok || v.Type() != pcommon.ValueTypeStr || v.Str() != h {
		attrs.PutStr(p.cfg.LogAttribute, h)
	}
}

func (p *trackingProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if !p.cfg.MetricExemplars {
		return md, nil
	}
	var c counts
	var cache batchCache
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				p.processMetric(ms.At(k), &cache, &c)
			}
		}
	}
	p.record(ctx, c, attrMetrics)
	return md, nil
}

func (p *trackingProcessor) processMetric(m pmetric.Metric, cache *batchCache, c *counts) {
	pmetricutil.PointFuncs{
		Number: func(_ int, dp pmetric.NumberDataPoint) { p.numberPoint(dp, cache, c) },
		Histogram: func(_ int, dp pmetric.HistogramDataPoint) {
			p.histogramPoint(dp.Attributes(), dp.Exemplars(), dp.Timestamp(), dp.HasSum(), dp.Sum(), dp.Count(), cache, c)
		},
		ExpHistogram: func(_ int, dp pmetric.ExponentialHistogramDataPoint) {
			p.histogramPoint(dp.Attributes(), dp.Exemplars(), dp.Timestamp(), dp.HasSum(), dp.Sum(), dp.Count(), cache, c)
		},
		// Summaries have no exemplars in OTLP: left untouched.
	}.Walk(m)
}

// histogramPoint links a histogram or exponential histogram point (its parts passed by the
// caller, the two kinds share no type) to the trace of its tracking label.
func (p *trackingProcessor) histogramPoint(attrs pcommon.Map, exs pmetric.ExemplarSlice, ts pcommon.Timestamp,
	hasSum bool, sum float64, count uint64, cache *batchCache, c *counts,
) {
	id, ok := p.pointTraceID(attrs, cache, c)
	if !ok || count == 0 {
		return
	}
	if ex, added := addExemplar(exs, id, ts); added {
		setMeasured(ex, hasSum, sum, count)
	}
}

func (p *trackingProcessor) numberPoint(dp pmetric.NumberDataPoint, cache *batchCache, c *counts) {
	id, ok := p.pointTraceID(dp.Attributes(), cache, c)
	if !ok {
		return
	}
	ex, added := addExemplar(dp.Exemplars(), id, dp.Timestamp())
	if !added {
		return
	}
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		ex.SetIntValue(dp.IntValue())
	case pmetric.NumberDataPointValueTypeDouble:
		ex.SetDoubleValue(dp.DoubleValue())
	}
}

// pointTraceID derives the trace ID of a data point from its best tracking label; ok is false
// when it has none that is valid.
func (p *trackingProcessor) pointTraceID(attrs pcommon.Map, cache *batchCache, c *counts) (pcommon.TraceID, bool) {
	s := scan{matcher: p.metricKeys, matcherRanks: p.metricKeys.n}
	for k, v := range attrs.All() {
		if prio := s.matcher.match(k); prio >= 0 {
			s.consider(k, v, 0, prio)
		}
	}
	if !s.best.found {
		if s.best.invalid {
			c.invalid++
		}
		return pcommon.TraceID{}, false
	}
	id, ok := cache.derive(s.best.raw)
	if !ok {
		c.invalid++
		return pcommon.TraceID{}, false
	}
	c.derived++
	return id, true
}

// setMeasured gives a histogram exemplar the one value somebody measured: the sum of a point
// that counts exactly one observation. Several observations have no single measured value, and
// their mean would be invented, so the exemplar then carries none (only the trace ID link).
func setMeasured(ex pmetric.Exemplar, hasSum bool, sum float64, count uint64) {
	if hasSum && count == 1 {
		ex.SetDoubleValue(sum)
	}
}

// addExemplar appends an exemplar carrying id and ts, unless one with id is already there.
func addExemplar(exs pmetric.ExemplarSlice, id pcommon.TraceID, ts pcommon.Timestamp) (pmetric.Exemplar, bool) {
	for i := 0; i < exs.Len(); i++ {
		if exs.At(i).TraceID() == id {
			return pmetric.Exemplar{}, false
		}
	}
	ex := exs.AppendEmpty()
	ex.SetTraceID(id)
	ex.SetTimestamp(ts)
	return ex, true
}
