// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
)

// TestGolden feeds testdata/<case>/input_N.yaml in order through the factory-built
// processor and compares each export with expected_N.yaml (hand-checked; see the comments
// at the top of each expected file's case below).
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		batches int
		cfg     func(*Config)
	}{
		// tracking_id/user_id stripped, raw endpoints templated, two members merged; in
		// batch 2 one member resets (start moved): 9 + (7 carried + 1) = 17.
		{name: "cumulative_sum", batches: 2},
		// seed 000: user_active_sessions is cluster-wide (max), ws_connections_active is
		// per-process (sum); pod-1 and pod-2 are never merged.
		{name: "gauges", batches: 1, cfg: func(c *Config) {
			c.Metrics = map[string]MetricOverride{"user_active_sessions": {GaugeAggregation: GaugeMax}}
		}},
		// differing bounds map into the first-seen bounds; delta histograms add.
		{name: "histograms", batches: 2},
		{name: "exponential_histogram", batches: 1},
		// seed 002: per-request labels on delta counters; int+double members add as double;
		// e-mail addresses in a free-text label become {email}; the exemplar survives.
		{name: "delta_sum", batches: 1},
		// Chat merges two members: count/sum only; Embed has one member: quantiles kept.
		{name: "summary", batches: 1},
		// budget 2: client-3 and client-4 fold into the overflow series (3+4=7).
		{name: "overflow", batches: 1, cfg: func(c *Config) { c.MaxSeriesPerMetric = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := createDefaultConfig().(*Config)
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			sink := new(consumertest.MetricsSink)
			p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(NewFactory().Type()), cfg, sink)
			require.NoError(t, err)
			for i := 1; i <= tc.batches; i++ {
				in, err := golden.ReadMetrics(filepath.Join("testdata", tc.name, fmt.Sprintf("input_%d.yaml", i)))
				require.NoError(t, err)
				require.NoError(t, p.ConsumeMetrics(context.Background(), in))
				got := sink.AllMetrics()[i-1]
				path := filepath.Join("testdata", tc.name, fmt.Sprintf("expected_%d.yaml", i))
				if os.Getenv("GOLDEN_WRITE") != "" {
					require.NoError(t, golden.WriteMetrics(t, path, got, golden.SkipMetricTimestampNormalization()))
				}
				want, err := golden.ReadMetrics(path)
				require.NoError(t, err)
				require.NoError(t, pmetrictest.CompareMetrics(want, got,
					pmetrictest.IgnoreResourceMetricsOrder(),
					pmetrictest.IgnoreMetricsOrder(),
					pmetrictest.IgnoreMetricDataPointsOrder()))
			}
			require.NoError(t, p.Shutdown(context.Background()))
		})
	}
}

func goldenRead(path string) (pmetric.Metrics, error) { return golden.ReadMetrics(path) }

// TestConcurrentExports sends delta sums from several goroutines at once through the
// factory-built processor: the total must be conserved exactly (run with -race).
func TestConcurrentExports(t *testing.T) {
	t.Parallel()
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(NewFactory().Type()), createDefaultConfig(), sink)
	require.NoError(t, err)
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 50; i++ {
				in := newBuilder()
				in.sum("r1", "tokens_total", true, attrs("user_id", fmt.Sprint(w, i)), 1, 2, 3)
				in.sum("r1", "tokens_total", true, attrs("user_id", fmt.Sprint(i, w)), 1, 2, 4)
				if err := p.ConsumeMetrics(context.Background(), in.md); err != nil {
					panic(err)
				}
			}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
	var total float64
	for _, md := range sink.AllMetrics() {
		for _, pt := range flatten(t, md) {
			total += pt.value
		}
	}
	require.Equal(t, float64(4*50*7), total)
	require.NoError(t, p.Shutdown(context.Background()))
}
