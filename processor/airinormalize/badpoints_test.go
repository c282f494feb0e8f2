// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadatatest"
)

// pointAttrsOf returns the attributes of the first data point of the metric named name.
func pointAttrsOf(t *testing.T, md pmetric.Metrics, name string) map[string]any {
	t.Helper()
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != name {
					continue
				}
				var first map[string]any
				pmetricutil.EachPoint(m, func(i int, p pmetricutil.Point) {
					if i == 0 {
						first = p.Attributes.AsRaw()
					}
				})
				if first != nil {
					return first
				}
			}
		}
	}
	t.Fatalf("metric %q not in output", name)
	return nil
}

// TestReservedAndInvalidLabelKeys: issue 12, defect 1. An le attribute on a histogram, a
// quantile on a summary, job/instance/__name__ and an empty key used to reach the Prometheus
// exporter as they were, breaking the whole scrape.
func TestReservedAndInvalidLabelKeys(t *testing.T) {
	t.Parallel()
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	sink := new(consumertest.MetricsSink)
	cfg := createDefaultConfig()
	cfg.Environment, cfg.Project, cfg.Service = "dev", "p", "s"
	p := newMetricsProcessor(t, metadatatest.NewSettings(tt), cfg, sink)

	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	h := ms.AppendEmpty()
	h.SetName("x")
	hdp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	h.Histogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hdp.Attributes().PutStr("le", "x")
	hdp.Attributes().PutStr("exported_le", "y") // already there: joined in key order, none lost
	hdp.SetCount(1)
	hdp.ExplicitBounds().FromRaw([]float64{1})
	hdp.BucketCounts().FromRaw([]uint64{1, 0})

	s := ms.AppendEmpty()
	s.SetName("q")
	sdp := s.SetEmptySummary().DataPoints().AppendEmpty()
	sdp.Attributes().PutStr("quantile", "0.5")

	g := ms.AppendEmpty()
	g.SetName("g")
	gdp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	gdp.SetIntValue(1)
	attrs := gdp.Attributes()
	attrs.PutStr("job", "j")
	attrs.PutStr("instance", "i")
	attrs.PutStr("__name__", "n")
	attrs.PutStr("", "empty")
	attrs.PutStr("__private__", "p")
	attrs.PutStr("otel_scope_name", "s")

	for _, bad := range []string{"", "...", "日本"} {
		b := ms.AppendEmpty()
		b.SetName(bad)
		b.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	}

	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	require.Len(t, sink.AllMetrics(), 1)
	out := sink.AllMetrics()[0]
	require.Equal(t, 3, out.MetricCount(), "the three metrics without a valid name are dropped")

	require.Equal(t, map[string]any{
		"exported_le": "y;x", "environment": "dev", "project": "p", "service": "s",
	}, pointAttrsOf(t, out, "x"))
	require.Equal(t, map[string]any{
		"exported_quantile": "0.5", "environment": "dev", "project": "p", "service": "s",
	}, pointAttrsOf(t, out, "q"))
	require.Equal(t, map[string]any{
		"exported_job": "j", "exported_instance": "i", "exported_name_": "n", "key_": "empty",
		"exported_private_": "p", "exported_otel_scope_name": "s", "environment": "dev", "project": "p", "service": "s",
	}, pointAttrsOf(t, out, "g"))

	opts := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}
	reason := func(r string) attribute.Set { return attribute.NewSet(attribute.String("reason", r)) }
	metadatatest.AssertEqualProcessorAiriNormalizeLabelKeysReplaced(t, tt, []metricdata.DataPoint[int64]{
		{Value: 7, Attributes: reason("reserved")}, {Value: 1, Attributes: reason("invalid")},
	}, opts...)
	metadatatest.AssertEqualProcessorAiriNormalizeDroppedPoints(t, tt, []metricdata.DataPoint[int64]{
		{Value: 3, Attributes: reason("invalid_name")},
	}, opts...)

	// Idempotent: a second pass changes nothing.
	again := pmetric.NewMetrics()
	out.CopyTo(again)
	require.NoError(t, p.ConsumeMetrics(context.Background(), again))
	require.Equal(t, pointAttrsOf(t, out, "g"), pointAttrsOf(t, sink.AllMetrics()[1], "g"))
}

// TestFamilyCollisions: issue 12, defect 7. A gauge named <histogram>_count removed the
// histogram from the scrape; a gauge and a non-monotonic sum under one name lost the gauge.
// The first family to use a series name keeps it, in either order; the other is dropped and
// counted.
func TestFamilyCollisions(t *testing.T) {
	t.Parallel()
	hist := func(ms pmetric.MetricSlice, name string) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit("s")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		h.DataPoints().AppendEmpty().SetCount(1)
	}
	gauge := func(ms pmetric.MetricSlice, name string) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	}
	upDown := func(ms pmetric.MetricSlice, name string) {
		m := ms.AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		s.DataPoints().AppendEmpty().SetIntValue(1)
	}
	counter := func(ms pmetric.MetricSlice, name string) {
		m := ms.AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		s.DataPoints().AppendEmpty().SetIntValue(1)
	}
	for _, tc := range []struct {
		name   string
		add    []func(pmetric.MetricSlice)
		kept   []string
		points int64
	}{
		{"gauge after histogram", []func(pmetric.MetricSlice){
			func(ms pmetric.MetricSlice) { hist(ms, "req.duration") },
			func(ms pmetric.MetricSlice) { gauge(ms, "req_duration_seconds_count") },
			func(ms pmetric.MetricSlice) { gauge(ms, "req_duration_seconds_bucket") },
		}, []string{"req_duration_seconds"}, 2},
		{"histogram after gauge", []func(pmetric.MetricSlice){
			func(ms pmetric.MetricSlice) { gauge(ms, "req_duration_seconds_sum") },
			func(ms pmetric.MetricSlice) { hist(ms, "req.duration") },
		}, []string{"req_duration_seconds_sum"}, 1},
		{"created of a counter", []func(pmetric.MetricSlice){
			func(ms pmetric.MetricSlice) { counter(ms, "jobs") },
			func(ms pmetric.MetricSlice) { gauge(ms, "jobs_created") },
			func(ms pmetric.MetricSlice) { gauge(ms, "jobs") }, // no clash: the counter is jobs_total
		}, []string{"jobs_total", "jobs"}, 1},
		{"gauge and non-monotonic sum", []func(pmetric.MetricSlice){
			func(ms pmetric.MetricSlice) { gauge(ms, "queue_size") },
			func(ms pmetric.MetricSlice) { upDown(ms, "queue_size") },
		}, []string{"queue_size"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tt := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
			sink := new(consumertest.MetricsSink)
			p := newMetricsProcessor(t, metadatatest.NewSettings(tt), createDefaultConfig(), sink)
			// one batch per metric: the rule holds across batches
			for _, add := range tc.add {
				md := pmetric.NewMetrics()
				add(md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics())
				require.NoError(t, p.ConsumeMetrics(context.Background(), md))
			}
			var kept []string
			for _, md := range sink.AllMetrics() {
				for _, rm := range md.ResourceMetrics().All() {
					for _, sm := range rm.ScopeMetrics().All() {
						for _, m := range sm.Metrics().All() {
							kept = append(kept, m.Name())
						}
					}
				}
			}
			require.Equal(t, tc.kept, kept)
			metadatatest.AssertEqualProcessorAiriNormalizeCollisionPointsDropped(t, tt,
				[]metricdata.DataPoint[int64]{{Value: tc.points}}, metricdatatest.IgnoreTimestamp())
		})
	}
}
