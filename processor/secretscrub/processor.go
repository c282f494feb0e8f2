// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub // import "github.com/airi-otel/otelcol-airi/processor/secretscrub"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
	"github.com/airi-otel/otelcol-airi/processor/secretscrub/internal/metadata"
)

type signal int

const (
	signalTraces signal = iota
	signalMetrics
	signalLogs
	numSignals
)

var signalNames = [numSignals]string{"traces", "metrics", "logs"}

type scrubProcessor struct {
	enabled   bool
	rules     *rules
	telemetry *metadata.TelemetryBuilder
	// counted holds one prebuilt attribute set per signal and rule, so counting allocates nothing.
	counted [numSignals][numRules]metric.AddOption
	pool    sync.Pool
}

func newScrubProcessor(cfg *Config, tb *metadata.TelemetryBuilder) *scrubProcessor {
	p := &scrubProcessor{enabled: cfg.Enabled, rules: compileRules(cfg), telemetry: tb}
	for s := range numSignals {
		for r, name := range allRules {
			p.counted[s][r] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("rule", string(name)), attribute.String("signal", signalNames[s])))
		}
	}
	p.pool.New = func() any { return &scrubber{r: p.rules} }
	return p
}

func (p *scrubProcessor) get() *scrubber { return p.pool.Get().(*scrubber) }

// put counts what the batch masked and returns the scratch to the pool.
func (p *scrubProcessor) put(ctx context.Context, s *scrubber, sig signal) {
	for r, n := range s.tally {
		if n > 0 {
			p.telemetry.ProcessorSecretScrubRedactions.Add(ctx, n, p.counted[sig][r])
		}
	}
	s.tally = [numRules]int64{}
	if cap(s.buf) > 64<<10 {
		s.buf = nil // one huge log body must not pin its buffer forever
	}
	p.pool.Put(s)
}

func (p *scrubProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	if !p.enabled {
		return td, nil
	}
	s := p.get()
	defer p.put(ctx, s, signalTraces)
	for _, rs := range td.ResourceSpans().All() {
		s.attrs(rs.Resource().Attributes())
		for _, ss := range rs.ScopeSpans().All() {
			s.attrs(ss.Scope().Attributes())
			for _, span := range ss.Spans().All() {
				if out, ok := s.scrubString(span.Name()); ok {
					span.SetName(out)
				}
				if out, ok := s.scrubString(span.Status().Message()); ok {
					span.Status().SetMessage(out)
				}
				s.attrs(span.Attributes())
				for _, ev := range span.Events().All() {
					s.attrs(ev.Attributes())
				}
				for _, l := range span.Links().All() {
					s.attrs(l.Attributes())
				}
			}
		}
	}
	return td, nil
}

func (p *scrubProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	if !p.enabled {
		return ld, nil
	}
	s := p.get()
	defer p.put(ctx, s, signalLogs)
	for _, rl := range ld.ResourceLogs().All() {
		s.attrs(rl.Resource().Attributes())
		for _, sl := range rl.ScopeLogs().All() {
			s.attrs(sl.Scope().Attributes())
			for _, lr := range sl.LogRecords().All() {
				s.attrs(lr.Attributes())
				s.value(lr.Body())
			}
		}
	}
	return ld, nil
}

func (p *scrubProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if !p.enabled {
		return md, nil
	}
	s := p.get()
	defer p.put(ctx, s, signalMetrics)
	for _, rm := range md.ResourceMetrics().All() {
		s.attrs(rm.Resource().Attributes())
		for _, sm := range rm.ScopeMetrics().All() {
			s.attrs(sm.Scope().Attributes())
			for _, m := range sm.Metrics().All() {
				pmetricutil.EachPoint(m, func(_ int, dp pmetricutil.Point) {
					s.attrs(dp.Attributes)
					if dp.HasExemplars {
						s.exemplars(dp.Exemplars)
					}
				})
			}
		}
	}
	return md, nil
}

func (s *scrubber) exemplars(es pmetric.ExemplarSlice) {
	for _, e := range es.All() {
		s.attrs(e.FilteredAttributes())
	}
}

// attrs scrubs a map: a secret key loses its whole value, an allowed key is left alone, every
// other string (also inside lists and nested maps) goes through the value rules.
func (s *scrubber) attrs(m pcommon.Map) {
	for k, v := range m.All() {
		if s.r.mayBeSpecial(k) {
			if s.r.isAllowedKey(k) {
				continue
			}
			if s.r.isSecretKey(k) {
				s.maskValue(v, isCookieKey(k))
				continue
			}
		}
		s.value(v)
	}
}

func (s *scrubber) value(v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if out, ok := s.scrubString(v.Str()); ok {
			v.SetStr(out)
		}
	case pcommon.ValueTypeMap:
		s.attrs(v.Map())
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			s.value(e)
		}
	}
}

// maskValue masks everything under a secret key: strings keep their scheme or key prefix,
// numbers and bytes become the mask, lists and maps are masked element by element.
func (s *scrubber) maskValue(v pcommon.Value, cookie bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		mask := s.maskWhole
		if cookie {
			mask = s.maskCookie
		}
		if out, ok := mask(v.Str()); ok {
			v.SetStr(out)
		}
	case pcommon.ValueTypeInt, pcommon.ValueTypeDouble:
		v.SetStr(mask)
		s.tally[idxKey]++
	case pcommon.ValueTypeBytes:
		if v.Bytes().Len() > 0 {
			v.SetStr(mask)
			s.tally[idxKey]++
		}
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			s.maskValue(e, cookie)
		}
	case pcommon.ValueTypeMap:
		for _, e := range v.Map().All() {
			s.maskValue(e, cookie)
		}
	}
}
