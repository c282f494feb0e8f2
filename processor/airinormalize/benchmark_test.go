// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/airi-otel/otelcol-airi/internal/cputime"
	_ "github.com/airi-otel/otelcol-airi/internal/pdatapooling" // AIRI_PDATA_PROTO_POOLING=1 turns pdata.useProtoPooling on
	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadata"
)

// The benchmarks compare airi_normalize with the transform processor running OTTL statements
// that do the same work, on the same batch, in one `go test -bench` run:
//
//	go test ./processor/airinormalize/ -run '^$' -bench . -benchtime=200ms -count=3
//
// Each iteration processes a fresh copy of the batch (made with the timer stopped), so the
// labels really are added every time. Besides wall-clock ns/item the benchmarks report
// cpu-ns/item, the process CPU time spent in the processor call (GC included), which a busy
// shared machine distorts much less. The *_relabel variants feed an already-normalized batch
// (a gateway behind a sidecar, or a second pass): the steady state, where the labels are there
// and only have to be checked.

const (
	benchMetrics       = 10
	benchPointsPerMet  = 10
	benchPoints        = benchMetrics * benchPointsPerMet
	benchSpansOrLogs   = 100
	benchEnvironment   = "prod"
	benchProject       = "airi"
	benchServiceName   = "airi-server"
	benchMetricsPrefix = "airi.bench.metric"
)

// otelMetricStatements do in OTTL what airi_normalize does to the benchmark batch: the three
// labels from the resource (or a default), dots to underscores in names and label keys, _total
// on monotonic sums, _seconds for unit s.
var otelMetricStatements = []any{
	map[string]any{"context": "datapoint", "statements": []any{
		`set(datapoint.attributes["environment"], resource.attributes["deployment.environment.name"]) where resource.attributes["deployment.environment.name"] != nil`,
		`set(datapoint.attributes["environment"], "unknown") where datapoint.attributes["environment"] == nil`,
		`set(datapoint.attributes["project"], resource.attributes["service.namespace"]) where resource.attributes["service.namespace"] != nil`,
		`set(datapoint.attributes["project"], "unknown") where datapoint.attributes["project"] == nil`,
		`set(datapoint.attributes["service"], resource.attributes["service.name"]) where resource.attributes["service.name"] != nil`,
		`set(datapoint.attributes["service"], "unknown") where datapoint.attributes["service"] == nil`,
		`replace_all_patterns(datapoint.attributes, "key", "\\.", "_")`,
	}},
	map[string]any{"context": "metric", "statements": []any{
		`replace_pattern(metric.name, "\\.", "_")`,
		`set(metric.name, Concat([metric.name, "seconds"], "_")) where metric.unit == "s" and not IsMatch(metric.name, "_seconds$")`,
		`set(metric.name, Concat([metric.name, "total"], "_")) where metric.type == METRIC_DATA_TYPE_SUM and metric.is_monotonic == true and not IsMatch(metric.name, "_total$")`,
	}},
}

// otelResourceStatements and otelHTTPStatements are the traces/logs equivalent: labels on the
// resource, and two old HTTP keys upgraded on every item.
var otelResourceStatements = []any{
	`set(resource.attributes["environment"], resource.attributes["deployment.environment.name"]) where resource.attributes["deployment.environment.name"] != nil`,
	`set(resource.attributes["environment"], "unknown") where resource.attributes["environment"] == nil`,
	`set(resource.attributes["project"], resource.attributes["service.namespace"]) where resource.attributes["service.namespace"] != nil`,
	`set(resource.attributes["project"], "unknown") where resource.attributes["project"] == nil`,
	`set(resource.attributes["service"], resource.attributes["service.name"]) where resource.attributes["service.name"] != nil`,
	`set(resource.attributes["service"], "unknown") where resource.attributes["service"] == nil`,
}

func otelHTTPStatements(ctx string) []any {
	return []any{
		fmt.Sprintf(`set(%[1]s.attributes["http.request.method"], %[1]s.attributes["http.method"]) where %[1]s.attributes["http.method"] != nil and %[1]s.attributes["http.request.method"] == nil`, ctx),
		fmt.Sprintf(`delete_key(%s.attributes, "http.method")`, ctx),
		fmt.Sprintf(`set(%[1]s.attributes["http.response.status_code"], %[1]s.attributes["http.status_code"]) where %[1]s.attributes["http.status_code"] != nil and %[1]s.attributes["http.response.status_code"] == nil`, ctx),
		fmt.Sprintf(`delete_key(%s.attributes, "http.status_code")`, ctx),
	}
}

func fillResource(res pcommon.Map) {
	res.PutStr(attrServiceName, benchServiceName)
	res.PutStr(attrServiceNamespace, benchProject)
	res.PutStr(attrDeploymentEnvironmentName, benchEnvironment)
}

func benchMetricsBatch() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	fillResource(rm.Resource().Attributes())
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	for i := range benchMetrics {
		m := ms.AppendEmpty()
		m.SetName(fmt.Sprintf("%s.%d", benchMetricsPrefix, i))
		var attrsOf func(int) pcommon.Map
		switch i % 3 {
		case 0:
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			for range benchPointsPerMet {
				s.DataPoints().AppendEmpty().SetIntValue(1)
			}
			attrsOf = func(j int) pcommon.Map { return s.DataPoints().At(j).Attributes() }
		case 1:
			m.SetUnit("s")
			h := m.SetEmptyHistogram()
			for range benchPointsPerMet {
				dp := h.DataPoints().AppendEmpty()
				dp.ExplicitBounds().FromRaw([]float64{0.1, 0.5, 1})
				dp.BucketCounts().FromRaw([]uint64{1, 0, 0, 0})
				dp.SetCount(1)
				dp.SetSum(0.05)
			}
			attrsOf = func(j int) pcommon.Map { return h.DataPoints().At(j).Attributes() }
		default:
			g := m.SetEmptyGauge()
			for range benchPointsPerMet {
				g.DataPoints().AppendEmpty().SetDoubleValue(0.5)
			}
			attrsOf = func(j int) pcommon.Map { return g.DataPoints().At(j).Attributes() }
		}
		for j := range benchPointsPerMet {
			a := attrsOf(j)
			a.PutStr("http.request.method", "GET")
			a.PutStr("http.route", "/api/v1/chat")
			a.PutInt("http.response.status_code", int64(200+j))
		}
	}
	return md
}

func itemAttrs(a pcommon.Map, j int) {
	a.PutStr("http.method", "GET")
	a.PutInt("http.status_code", int64(200+j%5))
	a.PutStr("http.route", "/api/v1/chat")
}

func benchTracesBatch() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	fillResource(rs.Resource().Attributes())
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	for j := range benchSpansOrLogs {
		s := ss.AppendEmpty()
		s.SetName("GET /api/v1/chat")
		itemAttrs(s.Attributes(), j)
	}
	return td
}

func benchLogsBatch() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	fillResource(rl.Resource().Attributes())
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for j := range benchSpansOrLogs {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr("request done")
		itemAttrs(lr.Attributes(), j)
	}
	return ld
}

func transformConfig(b *testing.B, raw map[string]any) (processor.Factory, component.Config) {
	f := transformprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(b, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	require.NoError(b, confmap.Validate(cfg))
	return f, cfg
}

// runBench times consume over fresh copies of a batch of n items. Copies are made off the clock
// in chunks, so stopping the timer (which reads memory statistics) does not swamp the result.
// After each chunk a full GC runs off the clock too: otherwise the collection the copies
// triggered would still be marking and sweeping while the processor runs, and cpu-ns/item would
// charge both sides of a comparison the harness's garbage. The collections the processor's own
// allocations trigger are counted. The CPU clock is read around each chunk of consumes, not
// each consume, so its two system calls do not add ~10 ns to every item.
func runBench[T any](b *testing.B, n int, fresh func() T, consume func(T) error) {
	const chunk = 64
	pool := make([]T, 0, chunk)
	var cpu, start int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(pool) == 0 {
			b.StopTimer()
			if i > 0 {
				cpu += cputime.Process() - start
			}
			for range min(chunk, b.N-i) {
				pool = append(pool, fresh())
			}
			runtime.GC()
			start = cputime.Process()
			b.StartTimer()
		}
		batch := pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		if err := consume(batch); err != nil {
			b.Fatal(err)
		}
	}
	cpu += cputime.Process() - start
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
	b.ReportMetric(float64(cpu)/float64(b.N*n), "cpu-ns/item")
}

// reportAllocsPerItem measures allocations per item of one consume outside the benchmark clock.
func reportAllocsPerItem[T any](b *testing.B, n int, fresh func() T, consume func(T) error) {
	batches := make([]T, 21)
	for i := range batches {
		batches[i] = fresh()
	}
	i := 0
	allocs := testing.AllocsPerRun(20, func() {
		_ = consume(batches[i])
		i++
	})
	b.ReportMetric(allocs/float64(n), "allocs/item")
}

func BenchmarkMetrics(b *testing.B) {
	ctx := context.Background()
	base := benchMetricsBatch()
	fresh := func() pmetric.Metrics {
		md := pmetric.NewMetrics()
		base.CopyTo(md)
		return md
	}

	ours, err := NewFactory().CreateMetrics(ctx, processortest.NewNopSettings(metadata.Type), createDefaultConfig(), consumertest.NewNop())
	require.NoError(b, err)
	normalized := fresh()
	require.NoError(b, ours.ConsumeMetrics(ctx, normalized)) // also warms the name caches
	relabel := func() pmetric.Metrics {
		md := pmetric.NewMetrics()
		normalized.CopyTo(md)
		return md
	}

	tf, tcfg := transformConfig(b, map[string]any{"metric_statements": otelMetricStatements})
	theirs, err := tf.CreateMetrics(ctx, processortest.NewNopSettings(tf.Type()), tcfg, consumertest.NewNop())
	require.NoError(b, err)
	require.NoError(b, theirs.Start(ctx, nil))

	// The OTTL statements must do the same job, or the comparison means nothing.
	viaOTTL := fresh()
	require.NoError(b, theirs.ConsumeMetrics(ctx, viaOTTL))
	requireSameMetricNamesAndLabels(b, normalized, viaOTTL)

	consumeOurs := func(md pmetric.Metrics) error { return ours.ConsumeMetrics(ctx, md) }
	consumeTheirs := func(md pmetric.Metrics) error { return theirs.ConsumeMetrics(ctx, md) }
	b.Run("airi_normalize", func(b *testing.B) {
		runBench(b, benchPoints, fresh, consumeOurs)
		reportAllocsPerItem(b, benchPoints, fresh, consumeOurs)
	})
	b.Run("airi_normalize_relabel", func(b *testing.B) {
		runBench(b, benchPoints, relabel, consumeOurs)
		reportAllocsPerItem(b, benchPoints, relabel, consumeOurs)
	})
	b.Run("transform_ottl", func(b *testing.B) {
		runBench(b, benchPoints, fresh, consumeTheirs)
		reportAllocsPerItem(b, benchPoints, fresh, consumeTheirs)
	})
	// floor_putlabels is the least any implementation must do to a fresh point: write the three
	// label values (ready strings) into its attribute map. pdata allocates once to grow the map
	// and once per string value (its one-of wrapper), so 4 allocations a point is the floor.
	floor := func(md pmetric.Metrics) error {
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := 0; i < ms.Len(); i++ {
			pmetricutil.EachAttributes(ms.At(i), func(a pcommon.Map) {
				a.EnsureCapacity(a.Len() + 3)
				a.PutStr("environment", benchEnvironment)
				a.PutStr("project", benchProject)
				a.PutStr("service", benchServiceName)
			})
		}
		return nil
	}
	b.Run("floor_putlabels", func(b *testing.B) {
		runBench(b, benchPoints, fresh, floor)
		reportAllocsPerItem(b, benchPoints, fresh, floor)
	})
	// The *_released variants hand each processed batch back to pdata (MoveTo onto it deletes
	// its contents), as something downstream would have to for pdata.useProtoPooling's pools to
	// be refilled; the collector v0.159 itself never does. With the gate off the release only
	// zeroes the batch; with it on (AIRI_PDATA_PROTO_POOLING=1) the next batch's label
	// wrappers come from the pools.
	released := func(consume func(pmetric.Metrics) error) func(pmetric.Metrics) error {
		return func(md pmetric.Metrics) error {
			err := consume(md)
			pmetric.NewMetrics().MoveTo(md)
			return err
		}
	}
	b.Run("airi_normalize_released", func(b *testing.B) {
		runBench(b, benchPoints, fresh, released(consumeOurs))
		reportAllocsPerItem(b, benchPoints, fresh, released(consumeOurs))
	})
	b.Run("floor_putlabels_released", func(b *testing.B) {
		runBench(b, benchPoints, fresh, released(floor))
		reportAllocsPerItem(b, benchPoints, fresh, released(floor))
	})
	// The other ways pdata's public API offers to write three string labels, each as an
	// allocation floor of its own (TestFreshPointAllocFloor pins that none goes below 4).
	for _, w := range labelWriters {
		consume := writeLabels(w.write)
		b.Run("floor_"+w.name, func(b *testing.B) {
			runBench(b, benchPoints, fresh, consume)
			reportAllocsPerItem(b, benchPoints, fresh, consume)
		})
	}
}

// labelWriters are the ways to write the three labels of a fresh point with pdata v1.65's
// public API: PutStr with and without growing the map first, PutEmpty + SetStr, and copying
// (or moving) the values of a prepared map. Each string value needs its own one-of wrapper
// (pdata allocates it unless the alpha pdata.useProtoPooling gate is on and its pool holds
// one), and the map's slice grows once, so every one of them allocates 4 times a point.
var labelWriters = []struct {
	name  string
	write func(a pcommon.Map, prepared pcommon.Map)
}{
	{"putstr_no_ensure", func(a, _ pcommon.Map) {
		a.PutStr("environment", benchEnvironment)
		a.PutStr("project", benchProject)
		a.PutStr("service", benchServiceName)
	}},
	{"putempty_setstr", func(a, _ pcommon.Map) {
		a.EnsureCapacity(a.Len() + 3)
		a.PutEmpty("environment").SetStr(benchEnvironment)
		a.PutEmpty("project").SetStr(benchProject)
		a.PutEmpty("service").SetStr(benchServiceName)
	}},
	{"copy_prepared", func(a, prepared pcommon.Map) {
		a.EnsureCapacity(a.Len() + prepared.Len())
		for k, v := range prepared.All() {
			v.CopyTo(a.PutEmpty(k))
		}
	}},
	{"move_prepared", func(a, _ pcommon.Map) {
		// A map prepared per point (as a pool of them would be) and moved in: the moved-in
		// map replaces the point's own labels, so they are first moved into it. The prepared
		// map's values cost the same wrappers, just earlier.
		p := pcommon.NewMap()
		p.EnsureCapacity(a.Len() + 3)
		a.MoveTo(p)
		p.PutStr("environment", benchEnvironment)
		p.PutStr("project", benchProject)
		p.PutStr("service", benchServiceName)
		p.MoveTo(a)
	}},
}

// writeLabels runs write over every point of a benchmark batch.
func writeLabels(write func(a, prepared pcommon.Map)) func(pmetric.Metrics) error {
	prepared := pcommon.NewMap()
	prepared.PutStr("environment", benchEnvironment)
	prepared.PutStr("project", benchProject)
	prepared.PutStr("service", benchServiceName)
	return func(md pmetric.Metrics) error {
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		for i := 0; i < ms.Len(); i++ {
			pmetricutil.EachAttributes(ms.At(i), func(a pcommon.Map) { write(a, prepared) })
		}
		return nil
	}
}

func requireSameMetricNamesAndLabels(b *testing.B, want, got pmetric.Metrics) {
	wm := want.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	gm := got.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	require.Equal(b, wm.Len(), gm.Len())
	for i := 0; i < wm.Len(); i++ {
		require.Equal(b, wm.At(i).Name(), gm.At(i).Name())
		var w, g []map[string]any
		pmetricutil.EachAttributes(wm.At(i), func(m pcommon.Map) { w = append(w, m.AsRaw()) })
		pmetricutil.EachAttributes(gm.At(i), func(m pcommon.Map) { g = append(g, m.AsRaw()) })
		require.Equal(b, w, g)
	}
}

func BenchmarkTraces(b *testing.B) {
	ctx := context.Background()
	base := benchTracesBatch()
	fresh := func() ptrace.Traces {
		td := ptrace.NewTraces()
		base.CopyTo(td)
		return td
	}
	ours, err := NewFactory().CreateTraces(ctx, processortest.NewNopSettings(metadata.Type), createDefaultConfig(), consumertest.NewNop())
	require.NoError(b, err)
	tf, tcfg := transformConfig(b, map[string]any{"trace_statements": []any{
		map[string]any{"context": "resource", "statements": otelResourceStatements},
		map[string]any{"context": "span", "statements": otelHTTPStatements("span")},
	}})
	theirs, err := tf.CreateTraces(ctx, processortest.NewNopSettings(tf.Type()), tcfg, consumertest.NewNop())
	require.NoError(b, err)
	require.NoError(b, theirs.Start(ctx, nil))

	a, o := fresh(), fresh()
	require.NoError(b, ours.ConsumeTraces(ctx, a))
	require.NoError(b, theirs.ConsumeTraces(ctx, o))
	require.Equal(b, o.ResourceSpans().At(0).Resource().Attributes().AsRaw(), a.ResourceSpans().At(0).Resource().Attributes().AsRaw())
	require.Equal(b, o.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(3).Attributes().AsRaw(),
		a.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(3).Attributes().AsRaw())

	consumeOurs := func(td ptrace.Traces) error { return ours.ConsumeTraces(ctx, td) }
	consumeTheirs := func(td ptrace.Traces) error { return theirs.ConsumeTraces(ctx, td) }
	b.Run("airi_normalize", func(b *testing.B) {
		runBench(b, benchSpansOrLogs, fresh, consumeOurs)
		reportAllocsPerItem(b, benchSpansOrLogs, fresh, consumeOurs)
	})
	b.Run("transform_ottl", func(b *testing.B) {
		runBench(b, benchSpansOrLogs, fresh, consumeTheirs)
		reportAllocsPerItem(b, benchSpansOrLogs, fresh, consumeTheirs)
	})
}

func BenchmarkLogs(b *testing.B) {
	ctx := context.Background()
	base := benchLogsBatch()
	fresh := func() plog.Logs {
		ld := plog.NewLogs()
		base.CopyTo(ld)
		return ld
	}
	ours, err := NewFactory().CreateLogs(ctx, processortest.NewNopSettings(metadata.Type), createDefaultConfig(), consumertest.NewNop())
	require.NoError(b, err)
	tf, tcfg := transformConfig(b, map[string]any{"log_statements": []any{
		map[string]any{"context": "resource", "statements": otelResourceStatements},
		map[string]any{"context": "log", "statements": otelHTTPStatements("log")},
	}})
	theirs, err := tf.CreateLogs(ctx, processortest.NewNopSettings(tf.Type()), tcfg, consumertest.NewNop())
	require.NoError(b, err)
	require.NoError(b, theirs.Start(ctx, nil))

	a, o := fresh(), fresh()
	require.NoError(b, ours.ConsumeLogs(ctx, a))
	require.NoError(b, theirs.ConsumeLogs(ctx, o))
	require.Equal(b, o.ResourceLogs().At(0).Resource().Attributes().AsRaw(), a.ResourceLogs().At(0).Resource().Attributes().AsRaw())
	require.Equal(b, o.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(3).Attributes().AsRaw(),
		a.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(3).Attributes().AsRaw())

	consumeOurs := func(ld plog.Logs) error { return ours.ConsumeLogs(ctx, ld) }
	consumeTheirs := func(ld plog.Logs) error { return theirs.ConsumeLogs(ctx, ld) }
	b.Run("airi_normalize", func(b *testing.B) {
		runBench(b, benchSpansOrLogs, fresh, consumeOurs)
		reportAllocsPerItem(b, benchSpansOrLogs, fresh, consumeOurs)
	})
	b.Run("transform_ottl", func(b *testing.B) {
		runBench(b, benchSpansOrLogs, fresh, consumeTheirs)
		reportAllocsPerItem(b, benchSpansOrLogs, fresh, consumeTheirs)
	})
}

// TestSteadyStateLabellingDoesNotAllocate pins the zero-allocation claim for the label path: a
// batch that already carries the labels and final names is processed without one allocation.
func TestSteadyStateLabellingDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	p, err := newNormalizer(processortest.NewNopSettings(metadata.Type), createDefaultConfig())
	require.NoError(t, err)
	md := benchMetricsBatch()
	_, err = p.processMetrics(ctx, md)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(50, func() {
		_, _ = p.processMetrics(ctx, md)
	})
	require.Zero(t, allocs)
}

// TestFreshPointAllocFloor pins why a fresh metric point costs airi_normalize 4 allocations:
// every way pdata's public API offers to write three string labels into a point's map (and
// the benchmark's floor_* cases time each one) allocates at least 4 times a point, and the
// processor makes no more than the cheapest of them.
func TestFreshPointAllocFloor(t *testing.T) {
	ctx := context.Background()
	p, err := newNormalizer(processortest.NewNopSettings(metadata.Type), createDefaultConfig())
	require.NoError(t, err)
	base := benchMetricsBatch()
	_, err = p.processMetrics(ctx, base) // warm the name caches, as in the benchmark
	require.NoError(t, err)
	perPoint := func(consume func(pmetric.Metrics)) float64 {
		batches := make([]pmetric.Metrics, 11)
		for i := range batches {
			batches[i] = pmetric.NewMetrics()
			benchMetricsBatch().CopyTo(batches[i])
		}
		i := 0
		return testing.AllocsPerRun(10, func() { consume(batches[i]); i++ }) / benchPoints
	}
	floor := math.Inf(1)
	for _, w := range labelWriters {
		write := writeLabels(w.write)
		got := perPoint(func(md pmetric.Metrics) { _ = write(md) })
		require.GreaterOrEqual(t, got, 4.0, "%s: pdata writes three labels with fewer than 4 allocations; the floor moved", w.name)
		floor = math.Min(floor, got)
	}
	ours := perPoint(func(md pmetric.Metrics) { _, _ = p.processMetrics(ctx, md) })
	require.LessOrEqual(t, ours, floor+0.1, "airi_normalize allocates more per fresh point than the pdata floor (%.2f)", floor)
}
