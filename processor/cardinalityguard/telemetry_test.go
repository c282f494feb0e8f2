// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadatatest"
)

func TestTelemetry(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	tel, err := metadata.NewTelemetryBuilder(tt.NewTelemetrySettings())
	require.NoError(t, err)
	cfg := testConfig()
	cfg.MaxSeriesPerMetric = 1
	g := newGuard(cfg, tel)
	clk := newFakeClock()
	g.now = clk.now

	in := newBuilder()
	in.sum("r1", "hits_total", false, attrs("url_path", "/users/123", "user_id", "a"), 1, 10, 1)
	in.sum("r1", "hits_total", false, attrs("url_path", "/users/456", "user_id", "b"), 1, 10, 1)
	in.sum("r1", "hits_total", false, attrs("url_path", "/health", "user_id", "c"), 1, 10, 1)
	run(t, g, in.md)
	in = newBuilder()
	in.sum("r1", "hits_total", false, attrs("url_path", "/users/123", "user_id", "a"), 1, 5, 1) // out of order
	run(t, g, in.md)

	ignore := metricdatatest.IgnoreTimestamp()
	metadatatest.AssertEqualProcessorCardinalityGuardStrippedLabels(t, tt, []metricdata.DataPoint[int64]{{Value: 4}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardRewrittenValues(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardOverflowPoints(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardDroppedPoints(t, tt, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "out_of_order"))},
	}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardSeriesActive(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardMembersActive(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, ignore)

	clk.advance(6 * time.Minute)
	run(t, g, pmetric.NewMetrics()) // nothing seen for stale_after: everything is forgotten
	metadatatest.AssertEqualProcessorCardinalityGuardEvictedSeries(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardSeriesActive(t, tt, []metricdata.DataPoint[int64]{{Value: 0}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardMembersActive(t, tt, []metricdata.DataPoint[int64]{{Value: 0}}, ignore)
}

func TestValueTypesShareOneIdentity(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	in := newBuilder()
	m := in.metric("r1", "x_total", cumSum)
	dp := m.Sum().DataPoints().AppendEmpty()
	dp.Attributes().PutInt("code", 200)
	dp.Attributes().PutStr("user_id", "a")
	dp.SetIntValue(1)
	dp = m.Sum().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("code", "200") // "200" in Prometheus either way
	dp.Attributes().PutStr("user_id", "b")
	dp.SetIntValue(2)
	p := only(t, flatten(t, run(t, g, in.md)), "x_total")
	require.Equal(t, 3.0, p.value)
}
