// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/metricstransformprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	_ "github.com/airi-otel/otelcol-airi/internal/pdatapooling" // AIRI_PDATA_PROTO_POOLING=1 turns pdata.useProtoPooling on
)

// Run all side by side (numbers in README.md):
//
//	go test -run '^$' -bench BenchmarkCardinality -benchtime=200ms -count=3 ./processor/cardinalityguard/
//
// Every variant processes batches of benchBatch cumulative-sum points of one metric whose
// labels are environment, service, http_route (20 values), method (4) and user_id (one
// per series). guard_strip strips user_id (series collapse into 80 outputs, every input
// series is a tracked member); guard_keep keeps user_id (every input series is its own
// tracked output series). transform_delete_key and metricstransform_aggregate_labels are
// the stateless alternatives (no cross-batch state: delete_key leaves duplicate
// identities, aggregate_labels merges only within one batch). All three mutate their
// input, so each iteration gets a fresh copy (copy time excluded). state_B/series is the heap
// growth of the guard after it has seen every series once, divided by the series count.

const benchBatch = 1000

func benchAttrsBatch(n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "api")
	rm.Resource().Attributes().PutStr("service.instance.id", "pod-1")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("requests_total")
	s := m.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	s.SetIsMonotonic(true)
	for i := 0; i < n; i++ {
		dp := s.DataPoints().AppendEmpty()
		a := dp.Attributes()
		a.PutStr("environment", "prod")
		a.PutStr("service", "api")
		a.PutStr("http_route", "/api/v1/r"+strconv.Itoa(i%20))
		a.PutStr("method", [4]string{"GET", "POST", "PUT", "DELETE"}[i%4])
		a.PutStr("user_id", "")
		dp.SetStartTimestamp(1)
		dp.SetTimestamp(2)
	}
	return md
}

// setUsers points the batch at series ids[k].
func setUsers(md pmetric.Metrics, ids []int) {
	dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
	for k := 0; k < dps.Len(); k++ {
		id := ids[k]
		dp := dps.At(k)
		a := dp.Attributes()
		a.PutStr("http_route", "/api/v1/r"+strconv.Itoa(id%20))
		a.PutStr("method", [4]string{"GET", "POST", "PUT", "DELETE"}[id%4])
		a.PutStr("user_id", "user-"+strconv.FormatInt(int64(id), 36)) // not ID-shaped: never rewritten
		dp.SetIntValue(int64(id % 1000))
	}
}

type benchSetup struct {
	p            processor.Metrics
	bytesPerSer  float64
	pool         []pmetric.Metrics
	mutatesInput bool
}

var benchCache = map[string]*benchSetup{}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// benchGuardConfig lifts the budgets above every benchmark size; guard_keep strips nothing
// that the benchmark sends, so every input series is its own output series.
func benchGuardConfig(kind string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxSeriesPerMetric = 10_000_000
	cfg.MaxMembers = 10_000_000
	if kind == "guard_keep" {
		cfg.StripLabels = []string{"tracking_id"}
	}
	return cfg
}

func newBenchProcessor(b *testing.B, kind string) (processor.Metrics, bool) {
	ctx := context.Background()
	sink := consumertest.NewNop()
	switch kind {
	case "guard_strip", "guard_keep":
		f := NewFactory()
		p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(f.Type()), benchGuardConfig(kind), sink)
		require.NoError(b, err)
		return p, true // moves attributes out of its input
	case "transform_delete_key":
		f := transformprocessor.NewFactory()
		cfg := f.CreateDefaultConfig()
		require.NoError(b, confmap.NewFromStringMap(map[string]any{
			"metric_statements": []any{map[string]any{
				"context":    "datapoint",
				"statements": []any{`delete_key(datapoint.attributes, "user_id")`},
			}},
		}).Unmarshal(cfg))
		p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(f.Type()), cfg, sink)
		require.NoError(b, err)
		return p, true
	case "metricstransform_aggregate_labels":
		f := metricstransformprocessor.NewFactory()
		cfg := f.CreateDefaultConfig()
		require.NoError(b, confmap.NewFromStringMap(map[string]any{
			"transforms": []any{map[string]any{
				"include": "requests_total",
				"action":  "update",
				"operations": []any{map[string]any{
					"action":           "aggregate_labels",
					"label_set":        []any{"environment", "service", "http_route", "method"},
					"aggregation_type": "sum",
				}},
			}},
		}).Unmarshal(cfg))
		p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(f.Type()), cfg, sink)
		require.NoError(b, err)
		return p, true
	}
	b.Fatalf("unknown %s", kind)
	return nil, false
}

func setupBench(b *testing.B, kind string, n int) *benchSetup {
	key := fmt.Sprintf("%s/%d", kind, n)
	if s, ok := benchCache[key]; ok {
		return s
	}
	ctx := context.Background()
	batch := benchAttrsBatch(benchBatch)
	ids := make([]int, benchBatch)
	before := heapInUse()
	p, mutates := newBenchProcessor(b, kind)
	require.NoError(b, p.Start(ctx, nil))
	// every series once: the guard's state reaches n tracked series
	for start := 0; start < n; start += benchBatch {
		for k := range ids {
			ids[k] = (start + k) % n
		}
		setUsers(batch, ids)
		in := batch
		if mutates {
			in = pmetric.NewMetrics()
			batch.CopyTo(in)
		}
		require.NoError(b, p.ConsumeMetrics(ctx, in))
	}
	after := heapInUse()
	s := &benchSetup{p: p, mutatesInput: mutates, bytesPerSer: float64(int64(after)-int64(before)) / float64(n)}
	rng := rand.New(rand.NewPCG(1, 2))
	for j := 0; j < 16; j++ {
		md := benchAttrsBatch(benchBatch)
		for k := range ids {
			ids[k] = rng.IntN(n)
		}
		setUsers(md, ids)
		s.pool = append(s.pool, md)
	}
	benchCache[key] = s
	return s
}

func BenchmarkCardinality(b *testing.B) {
	kinds := []string{"guard_strip", "guard_keep", "transform_delete_key", "metricstransform_aggregate_labels"}
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		for _, kind := range kinds {
			b.Run(fmt.Sprintf("%s/series=%d", kind, n), func(b *testing.B) {
				s := setupBench(b, kind, n)
				runBench(b, s)
				if kind == "guard_strip" || kind == "guard_keep" {
					b.ReportMetric(s.bytesPerSer, "state_B/series")
				}
			})
		}
		// free the largest states before the next size
		for _, kind := range kinds {
			if s, ok := benchCache[fmt.Sprintf("%s/%d", kind, n)]; ok {
				_ = s.p.Shutdown(context.Background())
				delete(benchCache, fmt.Sprintf("%s/%d", kind, n))
			}
		}
	}
}

// runBench feeds s's pool of batches to its processor b.N times (a fresh copy each time when the
// processor mutates its input; copy time excluded).
func runBench(b *testing.B, s *benchSetup) {
	ctx := context.Background()
	copies := make([]pmetric.Metrics, len(s.pool))
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in := s.pool[i%len(s.pool)]
		if s.mutatesInput {
			b.StopTimer()
			copies[i%len(copies)] = pmetric.NewMetrics()
			in.CopyTo(copies[i%len(copies)])
			in = copies[i%len(copies)]
			b.StartTimer()
		}
		c0 := cpuTime()
		if err := s.p.ConsumeMetrics(ctx, in); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.StopTimer()
	// CPU time of the process around ConsumeMetrics only (includes GC work): on a shared
	// machine it is a steadier figure than wall time
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*benchBatch), "cpu_ns/point")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/point")
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "points/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMemberBytes measures the guard's heap per tracked member at a million members,
// the figure max_members is sized by (README, "Memory is bounded"):
//
//	go test -run '^$' -bench BenchmarkMemberBytes -benchtime=1x -count=1 ./processor/cardinalityguard/
//
// strip: one metric whose user_id (stripped) takes 1M values, so 1M members merge into 80
// output series; keep: 1M distinct output series, each with its one member. B/member is the
// heap growth (HeapAlloc after two GCs) from an empty guard to one holding every member,
// divided by the member count. slab_B/member is what the slabs and indexes alone account for
// (capacity, not length: slabs grow in chunks of 64Ki entries, indexes by 1.25x at a 7/8 load
// factor).
// nogc_B/member is HeapAlloc without a forced GC at the end of the feeding: what a process
// metric such as otelcol_process_runtime_heap_alloc_bytes shows, garbage included.
func BenchmarkMemberBytes(b *testing.B) {
	const n = 1_000_000
	for _, kind := range []string{"guard_strip", "guard_keep"} {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				batch := benchAttrsBatch(benchBatch)
				ids := make([]int, benchBatch)
				before := heapInUse()
				g := newGuard(benchGuardConfig(kind), nil)
				var ms runtime.MemStats
				for start := 0; start < n; start += benchBatch {
					for k := range ids {
						ids[k] = start + k
					}
					setUsers(batch, ids)
					in := pmetric.NewMetrics()
					batch.CopyTo(in)
					_, err := g.processMetrics(context.Background(), in)
					require.NoError(b, err)
				}
				runtime.ReadMemStats(&ms)
				noGC := ms.HeapAlloc
				after := heapInUse()
				require.Equal(b, n, g.liveMembers)
				slab := g.members.Bytes() + g.series.Bytes() + g.memberIdx.Bytes() + g.seriesIdx.Bytes()
				b.ReportMetric(float64(int64(after)-int64(before))/n, "B/member")
				b.ReportMetric(float64(slab)/n, "slab_B/member")
				b.ReportMetric(float64(int64(noGC)-int64(before))/n, "nogc_B/member")
				runtime.KeepAlive(g)
			}
		})
	}
}
