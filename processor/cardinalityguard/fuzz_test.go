// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airi-otel/otelcol-airi/internal/hostile"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// FuzzProcessMetrics feeds arbitrary OTLP JSON twice (a second, later export of the same
// data) and checks the invariants: no panic, no two output points with one identity in one
// export, at most budget+1 output series per metric stream, budgets respected in state; and a
// guard in mode report on the same data passes it on byte for byte, counting exactly the same.
func FuzzProcessMetrics(f *testing.F) {
	for _, dir := range []string{"cumulative_sum", "delta_sum", "gauges", "histograms", "exponential_histogram", "summary", "overflow"} {
		b, err := os.ReadFile(filepath.Join("testdata", dir, "input_1.yaml"))
		require.NoError(f, err)
		md, err := readYAMLMetrics(b)
		require.NoError(f, err)
		js, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
		require.NoError(f, err)
		f.Add(js)
	}
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"3","attributes":[{"key":"user_id","value":{"stringValue":"a"}}]},{"asDouble":-1.5,"attributes":[{"key":"user_id","value":{"stringValue":"b"}}]}]}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"3","bucketCounts":["1"],"explicitBounds":[1,2,"NaN"]},{"count":"1","bucketCounts":["1","0","0","0"],"explicitBounds":[3,2,1]}]}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"e","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[{"scale":-100,"count":"1","positive":{"offset":-2147483648,"bucketCounts":["1"]}},{"scale":100,"count":"1","negative":{"offset":2147483647,"bucketCounts":["1","1"]}}]}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","sum":{"aggregationTemporality":0,"dataPoints":[{"asInt":"1"}]}},{"name":"g"}]}]}]}`))
	for _, c := range hostile.Cases("fuzz", time.Unix(1_700_000_000, 0)) {
		if c.Name == "family_name_collisions" {
			// two types under one name: airi_normalize's to resolve (FuzzPipelineExposition)
			continue
		}
		f.Add(c.JSON()) // the hostile points of issue 12
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(data)
		if err != nil {
			return
		}
		cfg := testConfig()
		cfg.MaxSeriesPerMetric = 3
		cfg.MaxSeriesTotal = 5
		cfg.MaxMembers = 50
		cfg.MaxLabelsPerSeries = 4
		cfg.MaxLabelValueLength = 32
		cfg.Metrics = map[string]MetricOverride{"g": {GaugeAggregation: GaugeMax}, "x": {GaugeAggregation: GaugeLast}}
		cfg.MaxSeriesPerProject = 4
		g, clk := newTestGuard(t, cfg)
		rcfg := *cfg
		rcfg.Mode = ModeReport
		report, rclk := newTestGuard(t, &rcfg)
		for round := 0; round < 3; round++ {
			batch := pmetric.NewMetrics()
			md.CopyTo(batch)
			want, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(batch)
			require.NoError(t, err)
			passed := runReport(t, report, batch)
			got, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(passed)
			require.NoError(t, err)
			require.Equal(t, want, got, "report mode changed the data")
			rclk.advance(3 * time.Minute)
			batch = pmetric.NewMetrics()
			md.CopyTo(batch)
			out := run(t, g, batch)
			require.Equal(t, totalsOf(g), totalsOf(report), "report mode counts what enforce does")
			pts := flatten(t, out) // fails on a duplicate identity
			perStream := map[string]int{}
			for _, p := range pts {
				perStream[p.resource+"|"+p.metric]++
			}
			for k, n := range perStream {
				require.LessOrEqual(t, n, cfg.MaxSeriesPerMetric+1, k)
			}
			require.LessOrEqual(t, g.regularTotal, cfg.MaxSeriesTotal)
			require.LessOrEqual(t, g.liveMembers, cfg.MaxMembers)
			require.Equal(t, g.seriesIdx.Len(), g.liveSeries)
			require.Equal(t, g.memberIdx.Len(), g.liveMembers)
			checkProjectBooks(t, g)
			clk.advance(3 * time.Minute)
		}
	})
}

func readYAMLMetrics(b []byte) (pmetric.Metrics, error) {
	dir, err := os.MkdirTemp("", "cg")
	if err != nil {
		return pmetric.Metrics{}, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "in.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return pmetric.Metrics{}, err
	}
	return goldenRead(p)
}
