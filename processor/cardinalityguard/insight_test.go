// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
)

// TestTopOffendersNameTheExplodingLabel: llm-gateway's request histogram gets a customer_id
// label with a new value per request; the ranking, its telemetry and its log line name it.
func TestTopOffendersNameTheExplodingLabel(t *testing.T) {
	cfg := testConfig()
	cfg.TopOffenders = 2
	cfg.MaxSeriesPerMetric = 50
	cfg.MaxSeriesPerProject = 1000
	cfg.Projects = map[string]ProjectOverride{"batch": {MaxSeries: 8}}
	g, tt := newInsightGuard(t, cfg)
	core, logs := observer.New(zap.InfoLevel)
	g.ins.logger = zap.New(core)
	clk := newFakeClock()
	g.now = clk.now

	const customers = 300
	batch := func(step int) {
		in := newBuilder()
		for c := range customers {
			in.hist("gw", "http_server_request_duration_seconds", false,
				attrs("environment", "prod", "project", "chat", "service", "llm-gateway", "method", []string{"GET", "POST"}[c%2],
					"customer_id", fmt.Sprint("cust-", c), "user_id", fmt.Sprint("u", c)),
				1, int64(10*step), []float64{1}, []uint64{1, 1}, 1)
		}
		for s := range 5 {
			in.sum("wk", "jobs_total", false, attrs("environment", "prod", "project", "batch", "service", "worker", "status", fmt.Sprint(s)), 1, int64(10*step), 1)
			for u := range 8 {
				in.sum("wk", "logins_total", false, attrs("environment", "prod", "project", "batch", "service", "worker", "kind", fmt.Sprint(s), "user_id", fmt.Sprint(u)), 1, int64(10*step), 1)
			}
		}
		run(t, g, in.md)
	}
	batch(1)
	require.Empty(t, logs.All(), "nothing is reported before one interval has passed")
	clk.advance(time.Minute)
	batch(2)

	rep := g.ins.report()
	require.Len(t, rep.ByOutput, 2)
	top := rep.ByOutput[0]
	require.Equal(t, "http_server_request_duration_seconds", top.Metric)
	require.Equal(t, "llm-gateway", top.Service)
	require.Equal(t, "chat", top.Project)
	require.Equal(t, cfg.MaxSeriesPerMetric+1, top.Series, "the budget plus the overflow series")
	require.Equal(t, customers, top.Inputs)
	require.Equal(t, "customer_id", top.Labels[0].Key)
	require.Equal(t, "user_id", top.Labels[1].Key)
	require.InDelta(t, customers, float64(top.Labels[0].Values), customers*0.15)
	require.Equal(t, "method", top.Labels[2].Key)
	require.EqualValues(t, 2, top.Labels[2].Values)
	// by input series the worker's stripped user_id counter comes second; its project "batch"
	// has a budget of 8 series: jobs_total took 5, logins_total the last 3 and an overflow series
	require.Equal(t, "logins_total", rep.ByInput[1].Metric)
	require.Equal(t, 40, rep.ByInput[1].Inputs)
	require.Equal(t, 4, rep.ByInput[1].Series)

	// the log line names the same
	require.Len(t, logs.All(), 1)
	entry := logs.All()[0]
	require.Equal(t, "Cardinality top offenders", entry.Message)
	byOut := entry.ContextMap()["by_output_series"].([]any)
	first := byOut[0].(map[string]any)
	require.Equal(t, "llm-gateway", first["service"])
	require.Equal(t, "customer_id", first["labels"].([]any)[0].(map[string]any)["label"])
	require.Equal(t, []any{
		map[string]any{"project": "chat", "series": 50, "budget": 1000},
		map[string]any{"project": "batch", "series": 8, "budget": 8},
	}, entry.ContextMap()["projects"])

	// the telemetry: one top_series row per kind and ranked stream, one label row per label
	var rm metricdata.ResourceMetrics
	require.NoError(t, tt.Reader.Collect(context.Background(), &rm))
	rows := map[string][]metricdata.DataPoint[int64]{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); ok {
				rows[m.Name] = g.DataPoints
			}
		}
	}
	union := rep.Union()
	require.Len(t, rows["otelcol_processor_cardinality_guard_top_series"], 2*len(union))
	labelRows := 0
	for _, o := range union {
		labelRows += len(o.Labels)
	}
	require.Len(t, rows["otelcol_processor_cardinality_guard_top_label_values"], labelRows)
	require.LessOrEqual(t, labelRows, 2*cfg.TopOffenders*maxTrackedLabels)
	found := false
	for _, dp := range rows["otelcol_processor_cardinality_guard_top_label_values"] {
		if dp.Attributes.Equals(ptr(attribute.NewSet(
			attribute.String("metric", "http_server_request_duration_seconds"), attribute.String("service", "llm-gateway"),
			attribute.String("project", "chat"), attribute.String("environment", "prod"), attribute.String("label", "customer_id")))) {
			found = true
			require.InDelta(t, customers, float64(dp.Value), customers*0.15)
		}
	}
	require.True(t, found, "customer_id of llm-gateway's histogram is one query away")
	projects := map[string][2]int64{}
	for i, name := range []string{"otelcol_processor_cardinality_guard_project_series", "otelcol_processor_cardinality_guard_project_budget"} {
		for _, dp := range rows[name] {
			p, _ := dp.Attributes.Value("project")
			v := projects[p.AsString()]
			v[i] = dp.Value
			projects[p.AsString()] = v
		}
	}
	require.Equal(t, map[string][2]int64{"chat": {50, 1000}, "batch": {8, 8}}, projects, "series and budget per project")

	// an interval with no new customers adds nothing
	clk.advance(time.Minute)
	batch(3)
	require.Zero(t, g.ins.report().ByOutput[0].Labels[0].Added)

	// a burst of new customers, then the guard goes quiet: the collection after the next
	// interval ranks without data, so `added` shows the burst once and then falls to 0
	// instead of repeating it (and firing the exploding-label alert) while nothing arrives
	clk.advance(30 * time.Second)
	in := newBuilder()
	for c := range 40 {
		in.hist("gw", "http_server_request_duration_seconds", false,
			attrs("environment", "prod", "project", "chat", "service", "llm-gateway", "method", "GET",
				"customer_id", fmt.Sprint("late-", c), "user_id", "u0"), 1, 40, []float64{1}, []uint64{1, 1}, 1)
	}
	run(t, g, in.md)
	added := func() int64 {
		var rm metricdata.ResourceMetrics
		require.NoError(t, tt.Reader.Collect(context.Background(), &rm))
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != "otelcol_processor_cardinality_guard_top_label_values_added" {
					continue
				}
				for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
					if l, _ := dp.Attributes.Value("label"); l.AsString() == "customer_id" {
						return dp.Value
					}
				}
			}
		}
		t.Fatal("no customer_id row")
		return 0
	}
	require.Zero(t, added(), "not yet an interval since the last ranking")
	clk.advance(30 * time.Second)
	require.InDelta(t, 40, added(), 4, "ranked from the collection: the burst")
	logged := len(logs.All())
	clk.advance(time.Minute)
	require.Zero(t, added(), "a quiet interval adds nothing")
	require.Len(t, logs.All(), logged+1, "and is still logged once")
}

func ptr[T any](v T) *T { return &v }

// newInsightGuard returns a guard whose own telemetry, the insight's callbacks included, a
// test reader collects.
func newInsightGuard(t *testing.T, cfg *Config) (*guard, *componenttest.Telemetry) {
	t.Helper()
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	tel, err := metadata.NewTelemetryBuilder(tt.NewTelemetrySettings())
	require.NoError(t, err)
	g := newGuard(cfg, tel)
	require.NoError(t, registerInsightTelemetry(g, tel))
	return g, tt
}

// TestRankingFromCollectionWhileDataFlows: the telemetry reader ranks (rankIfDue) while
// batches arrive on other goroutines; -race checks the guard's lock covers both, and the
// collection must neither deadlock with a batch nor miss the ranking.
func TestRankingFromCollectionWhileDataFlows(t *testing.T) {
	cfg := testConfig()
	cfg.ReportInterval = time.Nanosecond // every collection and every batch ranks
	g, tt := newInsightGuard(t, cfg)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for step := range 200 {
			in := newBuilder()
			for u := range 20 {
				in.sum("pod", "reqs_total", false, attrs("service", "api", "user_id", fmt.Sprint("u", step, "-", u)), 1, int64(step+1), 1)
			}
			_, _ = g.processMetrics(context.Background(), in.md)
		}
	}()
	for range 50 {
		var rm metricdata.ResourceMetrics
		require.NoError(t, tt.Reader.Collect(context.Background(), &rm))
	}
	<-done
	var rm metricdata.ResourceMetrics
	require.NoError(t, tt.Reader.Collect(context.Background(), &rm))
	rep := g.ins.report()
	require.NotEmpty(t, rep.ByInput)
	require.Equal(t, "user_id", rep.ByInput[0].Labels[0].Key)
	require.InDelta(t, 4000, float64(rep.ByInput[0].Labels[0].Values), 600)
}

// TestDeltaInputsRecordedOnce: delta series keep no members, so the insight remembers which
// delta input series it recorded (deltaSeen). Repeated points add nothing, the estimate stays
// exact, and a stream the guard forgot and that comes back is recorded afresh.
func TestDeltaInputsRecordedOnce(t *testing.T) {
	cfg := testConfig()
	cfg.StaleAfter = time.Minute
	cfg.ReportInterval = time.Minute
	g, clk := newTestGuard(t, cfg)
	const users = 100
	batch := func(step int64, metric string) {
		in := newBuilder()
		for u := range users {
			in.sum("pod", metric, true, attrs("service", "api", "model", "m1", "user_id", fmt.Sprint("u", u)), 10*step-10, 10*step, 1)
		}
		run(t, g, in.md)
	}
	for step := range int64(3) {
		batch(step+1, "tokens_total")
		clk.advance(10 * time.Second)
	}
	used := 0
	for _, h := range g.ins.deltaSeen {
		if h != 0 {
			used++
		}
	}
	// one slot per delta input series, however many points: never more than users; fewer only
	// by a collision of two series in the 65 536 slots (random hash seed: expected 0.08 here)
	require.LessOrEqual(t, used, users, "one slot per delta input series, however many points")
	require.GreaterOrEqual(t, used, users-5, "one slot per delta input series")
	labels := func() map[string]insightLabel {
		out := map[string]insightLabel{}
		for _, o := range g.ins.report().ByOutput {
			if o.Metric == "tokens_total" {
				for _, l := range o.Labels {
					out[l.Key] = insightLabel{l.Values, l.Added}
				}
			}
		}
		return out
	}
	clk.advance(time.Minute)
	batch(4, "tokens_total")
	require.Equal(t, map[string]insightLabel{"user_id": {users, users}, "model": {1, 1}}, labels())

	// tokens_total goes quiet and is forgotten; another metric keeps the guard busy
	for step := int64(5); step < 20; step++ {
		clk.advance(20 * time.Second)
		batch(step, "other_total")
	}
	require.Empty(t, labels(), "the forgotten stream is gone from the ranking")
	batch(20, "tokens_total")
	clk.advance(time.Minute)
	batch(21, "other_total")
	require.Equal(t, map[string]insightLabel{"user_id": {users, users}, "model": {1, 1}}, labels(),
		"the stream that came back is recorded afresh")
}

type insightLabel struct{ values, added uint64 }
