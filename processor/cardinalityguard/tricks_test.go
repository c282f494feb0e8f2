// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"
)

// What each of the store's performance tricks buys (figures in the comments beside them):
//
//	go test -run '^$' -bench 'BenchmarkTricks|BenchmarkIndex' -benchtime=200ms -count=5 ./processor/cardinalityguard/
//
// BenchmarkTricks runs guard_strip of BenchmarkCardinality (1000-point batches of a
// cumulative sum whose stripped user_id makes every input series a tracked member) with every
// trick on, then with one switched off: no_warm skips warmMembers (the index slots and member
// entries of a batch's points touched in one tight loop first), no_huge skips adviseHuge
// (MADV_HUGEPAGE on the slabs and index; matters when THP is in "madvise" mode). Each variant
// builds its own state, so the advice applies to its slabs from the start.
func BenchmarkTricks(b *testing.B) {
	for _, n := range []int{1_000_000} {
		for _, v := range []struct {
			name       string
			warm, huge bool
		}{{"all", true, true}, {"no_warm", false, true}, {"no_huge", true, false}} {
			b.Run(fmt.Sprintf("%s/series=%d", v.name, n), func(b *testing.B) {
				defer func(w, h bool) { warmIndex, hugePages = w, h }(warmIndex, hugePages)
				warmIndex, hugePages = v.warm, v.huge
				s := setupBench(b, "guard_strip", n)
				defer func() {
					_ = s.p.Shutdown(context.Background())
					delete(benchCache, fmt.Sprintf("guard_strip/%d", n))
				}()
				runBench(b, s)
			})
		}
	}
}

// BenchmarkIndex compares the store's index (idxTable: 8-byte tagged slots, the full key
// confirmed in the slab entry) with a map[uint64]uint32, looking up random present keys among n
// and reading the slab entry found (as the guard does next), with and without huge-page advice.
// B/entry is the index's own heap (the slab excluded).
func BenchmarkIndex(b *testing.B) {
	const lookups = 1 << 16
	for _, n := range []int{100_000, 1_000_000} {
		rng := rand.New(rand.NewPCG(3, 4))
		keys := make([]uint64, n+1) // a slab: index 0 unused
		for i := 1; i <= n; i++ {
			keys[i] = rng.Uint64()
		}
		probe := make([]uint64, lookups)
		for i := range probe {
			probe[i] = keys[1+rng.IntN(n)]
		}
		for _, huge := range []bool{true, false} {
			name := "idxtable"
			if !huge {
				name = "idxtable_no_huge"
			}
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				defer func(h bool) { hugePages = h }(hugePages)
				hugePages = huge
				slab := make([]uint64, len(keys)) // advised like the guard's slabs
				adviseHuge(unsafe.Pointer(unsafe.SliceData(slab)), uintptr(len(slab))*8)
				copy(slab, keys)
				keyOf := func(i uint32) uint64 { return slab[i] }
				before := heapInUse()
				t := newIdxTable()
				for i := 1; i <= n; i++ {
					t.insert(slab[i], uint32(i))
				}
				perEntry := float64(int64(heapInUse())-int64(before)) / float64(n)
				var sink uint64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					idx, ok := t.find(probe[i%lookups], keyOf)
					if !ok {
						b.Fatal("key not found")
					}
					sink += slab[idx]
				}
				b.ReportMetric(perEntry, "B/entry")
				runtime.KeepAlive(sink)
				runtime.KeepAlive(&t)
			})
		}
		b.Run(fmt.Sprintf("map/n=%d", n), func(b *testing.B) {
			before := heapInUse()
			m := make(map[uint64]uint32)
			for i := 1; i <= n; i++ {
				m[keys[i]] = uint32(i)
			}
			perEntry := float64(int64(heapInUse())-int64(before)) / float64(n)
			var sink uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				idx, ok := m[probe[i%lookups]]
				if !ok {
					b.Fatal("key not found")
				}
				sink += keys[idx]
			}
			b.ReportMetric(perEntry, "B/entry")
			runtime.KeepAlive(sink)
			runtime.KeepAlive(m)
		})
	}
}
