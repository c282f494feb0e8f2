// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadatatest"
)

func TestOwnTelemetry(t *testing.T) {
	t.Parallel()
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	ctx := context.Background()

	mp := newMetricsProcessor(t, metadatatest.NewSettings(tt), createDefaultConfig(), new(consumertest.MetricsSink))
	for _, dir := range []string{"labels_defaults", "semconv_upgrade", "collision"} {
		md, err := golden.ReadMetrics(filepath.Join("testdata", dir, "input.yaml"))
		require.NoError(t, err)
		require.NoError(t, mp.ConsumeMetrics(ctx, md))
	}

	tcfg := createDefaultConfig()
	tcfg.Project = "starmates-ai-team"
	tp, err := NewFactory().CreateTraces(ctx, metadatatest.NewSettings(tt), tcfg, new(consumertest.TracesSink))
	require.NoError(t, err)
	td, err := golden.ReadTraces(filepath.Join("testdata", "traces", "input.yaml"))
	require.NoError(t, err)
	require.NoError(t, tp.ConsumeTraces(ctx, td))
	require.NoError(t, tp.Shutdown(ctx))

	sig := func(s string) attribute.Set { return attribute.NewSet(attribute.String("signal", s)) }
	lbl := func(s, l string) attribute.Set {
		return attribute.NewSet(attribute.String("signal", s), attribute.String("label", l))
	}
	dp := func(v int64, set attribute.Set) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: v, Attributes: set}
	}
	noAttrs := attribute.NewSet()
	opts := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}

	// labels_defaults: 2 + 1 points, semconv_upgrade: 3 points, collision: 3 points kept.
	metadatatest.AssertEqualProcessorAiriNormalizeItemsLabelled(t, tt, []metricdata.DataPoint[int64]{
		dp(9, sig("metrics")), dp(2, sig("traces")),
	}, opts...)
	// labels_defaults: an empty resource with 2 points (all three defaulted), a resource with 1
	// point and no service.namespace. traces: a resource with 1 span and no service.name.
	metadatatest.AssertEqualProcessorAiriNormalizeDefaultsApplied(t, tt, []metricdata.DataPoint[int64]{
		dp(2, lbl("metrics", "environment")), dp(3, lbl("metrics", "project")), dp(2, lbl("metrics", "service")),
		dp(1, lbl("traces", "service")),
	}, opts...)
	// "production" on a 1-point resource; "qa" on a 1-span resource.
	metadatatest.AssertEqualProcessorAiriNormalizeInvalidEnvironment(t, tt, []metricdata.DataPoint[int64]{
		dp(1, sig("metrics")), dp(1, sig("traces")),
	}, opts...)
	// labels_defaults 4, semconv_upgrade 2, collision 3 (the two dropped metrics are not counted).
	metadatatest.AssertEqualProcessorAiriNormalizeMetricsRenamed(t, tt, []metricdata.DataPoint[int64]{dp(9, noAttrs)}, opts...)
	// collision: foo_total (gauge after counter), latency_seconds (exponential after explicit
	// histogram), queue_size (non-monotonic sum after gauge).
	metadatatest.AssertEqualProcessorAiriNormalizeNameCollisions(t, tt, []metricdata.DataPoint[int64]{dp(3, noAttrs)}, opts...)
	metadatatest.AssertEqualProcessorAiriNormalizeCollisionPointsDropped(t, tt, []metricdata.DataPoint[int64]{dp(3, noAttrs)}, opts...)
	metadatatest.AssertEqualProcessorAiriNormalizeHistogramsRescaled(t, tt, []metricdata.DataPoint[int64]{dp(1, noAttrs)}, opts...)
	metadatatest.AssertEqualProcessorAiriNormalizeHistogramsNotRescaled(t, tt, []metricdata.DataPoint[int64]{dp(1, noAttrs)}, opts...)
}
