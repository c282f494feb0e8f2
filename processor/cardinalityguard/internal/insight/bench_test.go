// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package insight

import (
	"fmt"
	"runtime"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkStreamBytes measures the tracker's heap per tracked stream (metric and producer):
//
//	go test -run '^$' -bench BenchmarkStreamBytes -benchtime=1x ./processor/cardinalityguard/internal/insight/
//
// Each stream has `labels` label keys with `values` distinct values each, fed as that many
// new input series. B/stream is the heap growth (after two GCs) divided by the stream count.
func BenchmarkStreamBytes(b *testing.B) {
	for _, tc := range []struct{ streams, labels, values int }{
		{10_000, 5, 4},     // a typical service metric: method, status, route, ...
		{10_000, 5, 100},   // a hundred values per label
		{1_000, 5, 2_000},  // every label past the sparse form (dense, 1 KiB)
		{1_000, 16, 2_000}, // the worst case: 16 labels, all dense
	} {
		b.Run(fmt.Sprintf("labels=%d/values=%d", tc.labels, tc.values), func(b *testing.B) {
			for range b.N {
				attrs := pcommon.NewMap()
				keys := make([]string, tc.labels)
				for l := range keys {
					keys[l] = fmt.Sprint("label_", l)
				}
				values := make([]string, tc.values)
				for v := range values {
					values[v] = fmt.Sprint("v", v)
				}
				before := heapAlloc()
				tr := New(Settings{TopN: 20, MaxLabels: 16})
				for s := range tc.streams {
					for v := range tc.values {
						for _, k := range keys {
							attrs.PutStr(k, values[v])
						}
						tr.Observe(uint64(s+1), "m", attrs)
					}
				}
				after := heapAlloc()
				b.ReportMetric(float64(int64(after)-int64(before))/float64(tc.streams), "B/stream")
				runtime.KeepAlive(tr)
			}
		})
	}
}

// BenchmarkReport is the cost of one ranking (every report_interval, under the guard's lock):
//
//	go test -run '^$' -bench BenchmarkReport -benchtime=20x ./processor/cardinalityguard/internal/insight/
//
// quiet: no stream got a new input series since the previous report (nothing to estimate);
// all_fed: every stream got one with new values in all five labels (every sketch estimated,
// the worst case).
func BenchmarkReport(b *testing.B) {
	for _, streams := range []int{1_000, 10_000} {
		for _, fed := range []bool{false, true} {
			name := fmt.Sprintf("streams=%d/quiet", streams)
			if fed {
				name = fmt.Sprintf("streams=%d/all_fed", streams)
			}
			b.Run(name, func(b *testing.B) {
				tr := New(Settings{TopN: 20, MaxLabels: 16})
				attrs := pcommon.NewMap()
				feed := func(v int) {
					for s := range streams {
						attrs.PutStr("method", fmt.Sprint("m", v%4))
						attrs.PutStr("route", fmt.Sprint("/r", v))
						attrs.PutStr("status", fmt.Sprint(v%5))
						attrs.PutStr("customer", fmt.Sprint("c", v+s))
						attrs.PutStr("region", fmt.Sprint("eu", v))
						tr.Observe(uint64(s+1), fmt.Sprint("m", s), attrs)
					}
				}
				for v := range 10 {
					feed(v)
				}
				counts := func(k uint64) (int, int, bool) { return int(k % 97), int(k % 89), true }
				tr.Report(counts)
				b.ResetTimer()
				for i := range b.N {
					if fed {
						b.StopTimer()
						feed(10 + i)
						b.StartTimer()
					}
					tr.Report(counts)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*streams), "ns/stream")
			})
		}
	}
}

// BenchmarkObserve is the cost of recording one new input series with five labels (paid when
// the guard creates a member, never on a known member's point):
//
//	go test -run '^$' -bench BenchmarkObserve ./processor/cardinalityguard/internal/insight/
func BenchmarkObserve(b *testing.B) {
	tr := New(Settings{TopN: 20, MaxLabels: 16, Skip: []string{"service"}})
	attrs := pcommon.NewMap()
	attrs.PutStr("service", "api")
	attrs.PutStr("method", "GET")
	attrs.PutStr("route", "/v1/chat")
	attrs.PutStr("status", "200")
	attrs.PutStr("region", "eu")
	user := attrs.PutEmpty("user_id")
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprint("user-", i)
	}
	b.ResetTimer()
	for i := range b.N {
		user.SetStr(ids[i%len(ids)])
		tr.Observe(uint64(i%64+1), "requests_total", attrs)
	}
}
