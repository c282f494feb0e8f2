// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/airi-otel/otelcol-airi/internal/hostile"
)

// TestHostilePointsKeepScrapeUp is issue 12 against the real Prometheus 3.15 scraping
// config/gateway.yaml's prometheus exporter: single hostile points from one producer (reserved
// label keys, invalid names, far-future timestamps, NaN and overflowing values, exponential
// histograms the exporter cannot convert) never take the scrape target down nor hide an
// innocent producer's series, and a merged counter fed by many racing senders whose clocks
// disagree reads its exact total in Prometheus.
func TestHostilePointsKeepScrapeUp(t *testing.T) {
	prom := newBackend(t, prometheusKind)
	gateway := newGateway(t, nil, nil, nil, nil)
	prom.Targets = []string{gateway.PrometheusAddr()}
	prom.TelemetryTargets = []string{gateway.TelemetryAddr()}
	startAll(t, prom)
	gateway.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := prom.URL("http")

	send := func(md pmetric.Metrics) error {
		body, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+gateway.OTLPHTTP()+"/v1/metrics", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST /v1/metrics: %s", resp.Status)
		}
		return nil
	}
	post := func(t *testing.T, md pmetric.Metrics) {
		t.Helper()
		require.NoError(t, send(md))
	}
	// eventually waits until query returns exactly one series with value want.
	eventually := func(t *testing.T, query string, want float64) {
		t.Helper()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			got, err := promScalar(ctx, base, query)
			require.NoError(c, err)
			require.Equal(c, want, got, query)
		}, 60*time.Second, 250*time.Millisecond)
	}
	// targetNeverDown requires that every scrape of the gateway's exporter so far succeeded.
	targetNeverDown := func(t *testing.T) {
		t.Helper()
		eventually(t, `min_over_time(up{job="otelcol-airi-exporter"}[5m])`, 1)
	}
	innocentStart := time.Now().Add(-time.Hour)
	innocent := func(v int64) pmetric.Metrics {
		return hostile.Counter("innocent", "innocent.requests", innocentStart, time.Now(), v)
	}
	post(t, innocent(1))
	eventually(t, `innocent_requests_total{service="innocent"}`, 1)

	cases := map[string]pmetric.Metrics{}
	for _, c := range hostile.Cases("hostile", time.Now()) {
		cases[c.Name] = c.Metrics
	}

	// Defect 1: le, quantile, job, instance, __name__ and empty keys; names without a valid form.
	t.Run("reserved labels", func(t *testing.T) {
		for _, name := range []string{"le_label_on_histogram", "quantile_label_on_summary", "reserved_and_invalid_label_keys", "invalid_metric_names"} {
			post(t, cases[name])
		}
		post(t, innocent(2))
		eventually(t, `innocent_requests_total{service="innocent"}`, 2)
		eventually(t, `hostile_le_count{exported_le="x", service="hostile"}`, 2)
		eventually(t, `hostile_quantile_count{exported_quantile="0.5", service="hostile"}`, 1)
		eventually(t, `hostile_reserved{exported_job="v", exported_instance="v", exported_name_="v", exported_otel_scope_name="v", service="hostile"}`, 1)
		targetNeverDown(t)
	})

	// Defect 3: a merged counter fed by racing senders with disagreeing clocks is exact.
	t.Run("concurrent senders exact totals", func(t *testing.T) {
		const senders, points = 8, 40
		start := time.Now().Add(-time.Minute)
		var wg sync.WaitGroup
		errs := make(chan error, senders*points)
		for w := range senders {
			wg.Go(func() {
				for i := 1; i <= points; i++ {
					// the senders' clocks disagree; user_id is stripped: one merged series
					now := time.Now().Add(-time.Duration(w) * 50 * time.Millisecond)
					md := hostile.Counter("racers", "race.merged", start, now, int64(i), "user_id", fmt.Sprintf("u%d", w))
					errs <- send(md)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		eventually(t, `race_merged_total{service="racers"}`, senders*points)
		targetNeverDown(t)
	})

	// Defects 2, 4, 6: far-future, NaN and overflowing points, exponential histograms below
	// scale -4 or too wide; members far apart merge at -4 and stay convertible.
	t.Run("exp histogram scale and bad values", func(t *testing.T) {
		for _, name := range []string{
			"far_future_timestamp", "nan_histogram_sum", "int64_max_members", "float_overflow_members",
			"u64_max_count", "exp_histogram_scale_minus_10", "exp_histogram_too_wide", "exp_histogram_members_far_apart",
		} {
			post(t, cases[name])
		}
		post(t, innocent(3))
		eventually(t, `innocent_requests_total{service="innocent"}`, 3)
		eventually(t, `hostile_apart_count{service="hostile"}`, 2)
		eventually(t, `hostile_nan_sum{service="hostile"}`, 0)
		eventually(t, `hostile_overflow_total{service="hostile"}`, 2*float64(1<<63-1))
		targetNeverDown(t)
		names, err := promQuery(ctx, base, `{__name__=~"hostile_(future|lowscale|wide).*"}`)
		require.NoError(t, err)
		assert.Empty(t, names, "dropped points leave no series")
	})
	gateway.RequireRunning("the hostile points")
}
