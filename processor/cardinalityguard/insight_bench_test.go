// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// BenchmarkInsightPath is the cost of the top-offender insight per point on the guard's path,
// insight on (top_offenders 20) and off (0), 10 000 series (user_id stripped) in batches of
// 1000 points: cumulative points are recorded only when their member is new (here never, after
// the warm-up); delta points, whose series keep no members, when deltaSeen does not hold their
// series. Wall time is noisy on a shared machine; compare CPU profiles:
//
//	go test -c -o /tmp/cg.test ./processor/cardinalityguard/
//	/tmp/cg.test -test.run '^$' -test.bench 'BenchmarkInsightPath/Delta' -test.benchtime=2000x -test.cpuprofile cpu.out
func BenchmarkInsightPath(b *testing.B) {
	const series = 10_000
	for _, temporality := range []pmetric.AggregationTemporality{pmetric.AggregationTemporalityCumulative, pmetric.AggregationTemporalityDelta} {
		for _, top := range []int{0, 20} {
			b.Run(fmt.Sprintf("%s/top_offenders=%d", temporality, top), func(b *testing.B) {
				cfg := benchGuardConfig("guard_strip")
				cfg.TopOffenders = top
				g := newGuard(cfg, nil)
				batch := func(ids []int) pmetric.Metrics {
					md := benchAttrsBatch(benchBatch)
					md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().SetAggregationTemporality(temporality)
					setUsers(md, ids)
					return md
				}
				ids := make([]int, benchBatch)
				for start := 0; start < series; start += benchBatch {
					for k := range ids {
						ids[k] = start + k
					}
					if _, err := g.processMetrics(context.Background(), batch(ids)); err != nil {
						b.Fatal(err)
					}
				}
				rng := rand.New(rand.NewPCG(1, 2))
				pool := make([]pmetric.Metrics, 16)
				for i := range pool {
					for k := range ids {
						ids[k] = rng.IntN(series)
					}
					pool[i] = batch(ids)
				}
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					in := pmetric.NewMetrics()
					pool[i%len(pool)].CopyTo(in)
					b.StartTimer()
					if _, err := g.processMetrics(context.Background(), in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/point")
			})
		}
	}
}
