// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkCheckpoint measures a checkpoint of 100k input series (numbers in README.md):
//
//	go test -run '^$' -bench BenchmarkCheckpoint -benchtime=20x ./processor/cardinalityguard/
//
// guard_keep: 100k output series of one member each; guard_strip: 100k members merged into
// 80 output series (the batches of BenchmarkCardinality). encode is what the guard's lock is
// held for (ms/100k = per 100k input series), restore is decode plus installing the state;
// B/series is the checkpoint's size per input series.
func BenchmarkCheckpoint(b *testing.B) {
	const n = 100_000
	for _, kind := range []string{"guard_keep", "guard_strip"} {
		g, _ := newTestGuard(b, benchGuardConfig(kind))
		g.now = func() time.Time { return time.Unix(1_700_000_000, 0) }
		md := benchAttrsBatch(benchBatch)
		ids := make([]int, benchBatch)
		for done := 0; done < n; done += benchBatch {
			for k := range ids {
				ids[k] = done + k
			}
			setUsers(md, ids)
			_, err := g.processMetrics(context.Background(), md)
			require.NoError(b, err)
		}
		require.Equal(b, n, g.liveMembers)
		data := g.encodeCheckpoint(nil, g.now().UnixNano())
		b.Run(kind+"/encode", func(b *testing.B) {
			buf := make([]byte, 0, len(data))
			for b.Loop() {
				buf = g.encodeCheckpoint(buf[:0], g.now().UnixNano())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N)*100_000/n, "ms/100k")
			b.ReportMetric(float64(len(data))/n, "B/series")
		})
		b.Run(kind+"/restore", func(b *testing.B) {
			r, _ := newTestGuard(b, benchGuardConfig(kind))
			r.now = g.now
			for b.Loop() {
				r.restoreFrom(context.Background(), data, nil)
			}
			require.Equal(b, n, r.liveMembers)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N)*100_000/n, "ms/100k")
		})
	}
}
