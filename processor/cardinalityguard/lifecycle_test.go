// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadatatest"
)

// The stale sweeps run on the ticker Start starts (no request needed to trigger them) and stop
// with Shutdown; the state gauges follow.
func TestStaleSweepsRunOnATicker(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	cfg := testConfig()
	cfg.StaleAfter = 200 * time.Millisecond
	f := NewFactory()
	p, err := f.CreateMetrics(context.Background(), metadatatest.NewSettings(tt), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	in := newBuilder()
	in.sum("r1", "hits_total", false, attrs("route", "/a", "user_id", "u1"), 1, 10, 1)
	in.sum("r1", "hits_total", false, attrs("route", "/a", "user_id", "u2"), 1, 10, 1)
	in.sum("r1", "hits_total", false, attrs("route", "/b", "user_id", "u3"), 1, 10, 1)
	require.NoError(t, p.ConsumeMetrics(context.Background(), in.md))
	ignore := metricdatatest.IgnoreTimestamp()
	metadatatest.AssertEqualProcessorCardinalityGuardSeriesActive(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardMembersActive(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, ignore)

	// nothing more is sent: only the ticker can forget the series
	require.Eventually(t, func() bool {
		m, err := tt.GetMetric("otelcol_processor_cardinality_guard_evicted_series")
		if err != nil {
			return false
		}
		dps := m.Data.(metricdata.Sum[int64]).DataPoints
		return len(dps) == 1 && dps[0].Value == 2
	}, 10*time.Second, 20*time.Millisecond)
	metadatatest.AssertEqualProcessorCardinalityGuardEvictedSeries(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardSeriesActive(t, tt, []metricdata.DataPoint[int64]{{Value: 0}}, ignore)
	metadatatest.AssertEqualProcessorCardinalityGuardMembersActive(t, tt, []metricdata.DataPoint[int64]{{Value: 0}}, ignore)

	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()), "a second Shutdown is harmless")
}
