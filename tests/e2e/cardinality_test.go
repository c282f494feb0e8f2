// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/deploy/grafana"
	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// guardInsightEnv makes the collectors rank their top offenders every 2 s (the shipped 1m would
// outlast the test) and track per-project budgets, so the cardinality dashboard's panels have data.
var guardInsightEnv = map[string]string{
	"AIRI_GUARD_REPORT_INTERVAL":  "2s",
	"AIRI_MAX_SERIES_PER_PROJECT": "1000000",
}

// explodedLabel is a label the test gave many values: its metric, key and distinct values sent.
type explodedLabel struct {
	metric, label string
	values        int
}

// requireDashboardNamesExplodedLabels runs the cardinality dashboard's "Labels with the most
// distinct values" panel against the real Prometheus (which scraped the collectors' own
// telemetry) and requires a row for each label the test made explode, from llm-gateway, with
// about as many distinct values as it sent (HyperLogLog, 3.25 % standard error: within 15 %, 4.6 standard errors), and the first of want —
// the one with the most values — as the panel's top row.
func requireDashboardNamesExplodedLabels(ctx context.Context, t *testing.T, promURL string, want []explodedLabel) {
	t.Helper()
	var expr string
	for _, q := range grafana.Queries() {
		if q.Dashboard == grafana.CardinalityUID && q.Panel == grafana.TopLabelsPanel {
			var err error
			expr, err = grafana.Expand(q.Expr, nil)
			require.NoError(t, err)
		}
	}
	require.NotEmpty(t, expr, "the cardinality dashboard has no %q panel", grafana.TopLabelsPanel)
	var top Sample
	found := map[explodedLabel]Sample{}
	harness.Eventually(t, time.Minute, 2*time.Second, func() error {
		rows, err := promQuery(ctx, promURL, expr)
		if err != nil {
			return err
		}
		top = Sample{}
		clear(found)
		for _, r := range rows {
			if r.Value > top.Value {
				top = r
			}
			for _, w := range want {
				if r.Labels["metric"] == w.metric && r.Labels["label"] == w.label && r.Labels["service"] == "llm-gateway" &&
					r.Value > found[w].Value {
					found[w] = r
				}
			}
		}
		for _, w := range want {
			if got := found[w].Value; got < 0.9*float64(w.values) {
				return fmt.Errorf("%q: %s on %s has %v distinct values, want ≈ %d (rows: %v)", grafana.TopLabelsPanel, w.label, w.metric, got, w.values, rows)
			}
		}
		return nil
	})
	for _, w := range want {
		require.InEpsilon(t, float64(w.values), found[w].Value, 0.15, "%s on %s", w.label, w.metric)
		require.Equal(t, "airi", found[w].Labels["project"])
	}
	require.Equal(t, want[0].label, top.Labels["label"], "top row: %v", top.Labels)
	require.Equal(t, want[0].metric, top.Labels["metric"], "top row: %v", top.Labels)
	t.Logf("cardinality dashboard: top label %s on %s from %s: %v distinct values (%d sent), seen by %s",
		top.Labels["label"], top.Labels["metric"], top.Labels["service"], top.Value, want[0].values, top.Labels["instance"])
}
