// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadatatest"
)

// reportStream is a random stream that makes the guard do everything it does: strip
// user_id, rewrite order IDs and URL paths, merge, overflow two budgets, hit the member
// share, drop future, NaN and out-of-order points, and evict.
func reportStream(seed uint64, steps int) []pmetric.Metrics {
	rng := rand.New(rand.NewPCG(seed, seed*31))
	var out []pmetric.Metrics
	for step := range steps {
		now := int64(10 * (step + 1))
		in := newBuilder()
		for i := range 12 + rng.IntN(12) {
			res := []string{"pod-1", "pod-2"}[rng.IntN(2)]
			a := attrs("environment", "prod", "project", "p1", "service", "api",
				"user_id", fmt.Sprint("u", rng.IntN(40)),
				"url_path", fmt.Sprintf("/users/%d", rng.IntN(4000)),
				"order", fmt.Sprintf("order-%d", 1_000_000+rng.IntN(9)),
				"route", fmt.Sprint("/r", rng.IntN(9)))
			if step > steps/2 {
				a["route"] = fmt.Sprint("/late-", i) // a burst of new series late in the stream
			}
			in.sum(res, "reqs_total", false, a, 1, now, int64(step+i))
			in.hist(res, "latency", false, a, 1, now, []float64{1, 5}, []uint64{uint64(i), 1, 0}, float64(i))
			in.gauge(res, "inflight", a, now, float64(rng.IntN(9)))
			in.sum(res, "tokens_total", true, a, now-10, now, int64(rng.IntN(5)))
			switch rng.IntN(8) {
			case 0:
				in.gauge(res, "inflight", a, 2_000_000_000, 1) // far in the future
			case 1:
				in.gauge(res, "inflight", attrs("route", "/nan"), now, math.NaN())
			case 2:
				in.sum(res, "reqs_total", false, a, 1, now-30, 0) // older than its member's last point
			}
		}
		out = append(out, in.md)
	}
	return out
}

func reportConfig() *Config {
	cfg := testConfig()
	cfg.MaxSeriesPerMetric = 6
	cfg.MaxSeriesTotal = 20
	cfg.MaxMembers = 400
	cfg.MaxMembersPerMetric = 60
	cfg.StaleAfter = time.Minute
	return cfg
}

// TestReportModeCountsWhatEnforceDoes runs an enforce and a report guard on the same stream:
// every count (and the state behind the budgets) is identical after every batch, and the
// report guard hands on every batch byte for byte as it came in.
func TestReportModeCountsWhatEnforceDoes(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			enforce, clkE := newTestGuard(t, reportConfig())
			rcfg := reportConfig()
			rcfg.Mode = ModeReport
			report, clkR := newTestGuard(t, rcfg)
			var marshal pmetric.ProtoMarshaler
			for _, md := range reportStream(seed, 40) {
				clkE.advance(10 * time.Second)
				clkR.advance(10 * time.Second)
				want, err := marshal.MarshalMetrics(md)
				require.NoError(t, err)
				forReport := pmetric.NewMetrics()
				md.CopyTo(forReport)

				run(t, enforce, md)
				passed := runReport(t, report, forReport)
				got, err := marshal.MarshalMetrics(passed)
				require.NoError(t, err)
				require.Equal(t, want, got, "report mode passes the batch through byte-identical")

				require.Equal(t, totalsOf(enforce), totalsOf(report))
				require.Equal(t, enforce.liveSeries, report.liveSeries)
				require.Equal(t, enforce.liveMembers, report.liveMembers)
				require.Equal(t, enforce.regularTotal, report.regularTotal)
			}
			// the stream exercised what report mode must count
			l := totalsOf(report)
			require.Positive(t, l.overflow, "points would overflow")
			require.Positive(t, l.stripped, "labels would be stripped")
			require.Positive(t, l.rewritten, "values would be rewritten")
			require.Positive(t, l.evicted, "series would be evicted")
			for _, r := range []int{dropFuture, dropNonFinite, dropOutOfOrder, dropMemberLimit} {
				require.Positive(t, l.dropped[r], "points would be dropped: %s", dropReasonNames[r])
			}
		})
	}
}

// TestReportModeThroughFactory checks the built processor: the next consumer receives the
// input unchanged, and report_mode says so.
func TestReportModeThroughFactory(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	cfg := reportConfig()
	cfg.Mode = ModeReport
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), metadatatest.NewSettings(tt), cfg, sink)
	require.NoError(t, err)
	require.False(t, p.Capabilities().MutatesData, "report mode never edits the batch")
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	var marshal pmetric.ProtoMarshaler
	for _, md := range reportStream(7, 3) {
		want, err := marshal.MarshalMetrics(md)
		require.NoError(t, err)
		require.NoError(t, p.ConsumeMetrics(context.Background(), md))
		got, err := marshal.MarshalMetrics(sink.AllMetrics()[len(sink.AllMetrics())-1])
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	metadatatest.AssertEqualProcessorCardinalityGuardReportMode(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}
