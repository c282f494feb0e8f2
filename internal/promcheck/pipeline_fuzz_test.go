// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package promcheck_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/airi-otel/otelcol-airi/internal/hostile"
	"github.com/airi-otel/otelcol-airi/internal/promcheck"
	"github.com/airi-otel/otelcol-airi/processor/airinormalize"
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard"
	"github.com/airi-otel/otelcol-airi/processor/trackingid"
)

// pipeline is airi_normalize → tracking_id → cardinality_guard → the Prometheus exporter, in
// the shipped order with default configs.
func pipeline(t *testing.T, exp *promcheck.Exporter) consumer.Metrics {
	t.Helper()
	ctx := context.Background()
	var next consumer.Metrics = exp
	for _, f := range []processor.Factory{cardinalityguard.NewFactory(), trackingid.NewFactory(), airinormalize.NewFactory()} {
		p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), next)
		require.NoError(t, err)
		require.NoError(t, p.Start(ctx, componenttest.NewNopHost()))
		t.Cleanup(func() { require.NoError(t, p.Shutdown(ctx)) })
		next = p
	}
	return next
}

// FuzzPipelineExposition feeds OTLP/JSON through the three processors into the real Prometheus
// exporter and requires that a scrape answers 200, parses with Prometheus' text parser, has no
// duplicate or invalid label, that the exporter logged no conversion error, and that an
// innocent producer's counter sent in the same batch is still there: no input can break the
// scrape for everybody.
func FuzzPipelineExposition(f *testing.F) {
	for _, c := range hostile.Cases("hostile", time.Now()) {
		f.Add(c.JSON())
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(data)
		if err != nil {
			return
		}
		now := time.Now()
		hostile.Counter("innocent", "innocent.requests", now.Add(-time.Minute), now, 7).ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
		exp := promcheck.Start(t)
		ctx := context.Background()
		_ = pipeline(t, exp).ConsumeMetrics(ctx, md) // a rejected batch is fine; a broken scrape is not
		fams, err := exp.Scrape(ctx)
		require.NoError(t, err)
		v, ok := promcheck.Value(fams, "innocent_requests_total", map[string]string{"service": "innocent"})
		require.True(t, ok, "the innocent producer's counter is in the exposition")
		require.Equal(t, 7.0, v)
	})
}
