// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
)

func (p *normalizer) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	var st batchStats
	// local is the within-batch type memory used only once the process-wide one is full.
	var local map[string]owner
	var sc scratch
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		st.utf8Repaired += repairMap(rm.Resource().Attributes(), &sc)
		lv := p.resolve(rm.Resource().Attributes(), false, &sc)
		var points int64
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			st.utf8Repaired += repairScope(sms.At(j).Scope(), &sc)
			ms := sms.At(j).Metrics()
			ms.RemoveIf(func(m pmetric.Metric) bool {
				st.utf8Repaired += repairMetric(m)
				if !p.nameMetric(m, &st, &local) {
					return true
				}
				points += p.labelPoints(m, &lv, &sc, &st)
				return false
			})
		}
		st.addResource(&lv, points)
	}
	p.record(ctx, signalMetrics, &st)
	return md, nil
}

// nameMetric applies the semantic-convention upgrade and Prometheus naming to m. It returns
// false when m must be dropped: its name has no Prometheus form, or one of the series names
// its family writes belongs to another family.
func (p *normalizer) nameMetric(m pmetric.Metric, st *batchStats, local *map[string]owner) bool {
	renamed := false
	if p.cfg.SemconvUpgrade {
		switch upgradeDurationMetric(m) {
		case durationRescaled:
			st.rescaled++
			renamed = true
		case durationRenamed:
			renamed = true
		case durationNotRescaled:
			st.notRescaled++
		}
	}
	if !p.cfg.PrometheusNames {
		if renamed {
			st.renamed++
		}
		return true
	}

	typ, kind := translatorType(m)
	in := m.Name()
	out, ok := p.names.metricName(in, m.Unit(), typ)
	if !ok {
		// No valid Prometheus name can be derived (empty, only punctuation or non-ASCII):
		// every exporter would reject it at each scrape or push.
		st.dropped[dropInvalidName] += int64(pmetricutil.DataPointCount(m))
		if p.names.firstLog(in) {
			p.logger.Warn("metric name has no valid Prometheus form: dropping the metric", zap.String("name", in))
		}
		return false
	}
	if out != in {
		m.SetName(out)
		renamed = true
	}
	if kind != kindNone && m.Name() != "" {
		owner, full := p.names.claim(m.Name(), kind, local)
		if full {
			p.logger.Warn("max_tracked_names reached: collisions of new metric names are detected within a batch only",
				zap.Int("max_tracked_names", p.cfg.MaxTrackedNames))
		}
		if owner != kind {
			st.collisions++
			st.collisionPoints += int64(pmetricutil.DataPointCount(m))
			if p.names.firstLog(m.Name()) {
				p.logger.Warn("metric name collision: dropping the metric whose type differs from the first one seen under this name",
					zap.String("name", m.Name()),
					zap.String("kept_type", owner.String()),
					zap.String("dropped_type", kind.String()))
			}
			return false
		}
	}
	if renamed {
		st.renamed++
	}
	return true
}

// labelPoints upgrades, escapes and labels the attributes of every data point of m and returns
// the number of data points.
func (p *normalizer) labelPoints(m pmetric.Metric, lv *labelValues, sc *scratch, st *batchStats) int64 {
	return int64(pmetricutil.EachAttributes(m, func(attrs pcommon.Map) { p.pointAttrs(attrs, lv, sc, st) }))
}

func (p *normalizer) pointAttrs(attrs pcommon.Map, lv *labelValues, sc *scratch, st *batchStats) {
	if p.cfg.SemconvUpgrade {
		upgradeHTTPAttrs(attrs, sc)
	}
	if p.cfg.PrometheusNames {
		// repairs the values in its walk over the keys; the keys it leaves are ASCII
		st.utf8Repaired += p.names.escapeLabelKeys(attrs, sc, &st.labelsReplaced)
	} else {
		st.utf8Repaired += repairMap(attrs, sc)
	}
	p.putLabels(attrs, lv)
}
