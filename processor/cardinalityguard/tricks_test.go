// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/slab"
)

// What each of the store's performance tricks buys (figures in the comments beside them):
//
//	go test -run '^$' -bench BenchmarkTricks -benchtime=200ms -count=5 ./processor/cardinalityguard/
//
// BenchmarkTricks runs guard_strip of BenchmarkCardinality (1000-point batches of a
// cumulative sum whose stripped user_id makes every input series a tracked member) with every
// trick on, then with one switched off: no_warm skips warmMembers (the index slots and member
// entries of a batch's points touched in one tight loop first), no_huge skips adviseHuge
// (MADV_HUGEPAGE on the slabs and index; matters when THP is in "madvise" mode). Each variant
// builds its own state, so the advice applies to its slabs from the start. The index alone is
// measured against a map by slab.BenchmarkIndex.
func BenchmarkTricks(b *testing.B) {
	for _, n := range []int{1_000_000} {
		for _, v := range []struct {
			name       string
			warm, huge bool
		}{{"all", true, true}, {"no_warm", false, true}, {"no_huge", true, false}} {
			b.Run(fmt.Sprintf("%s/series=%d", v.name, n), func(b *testing.B) {
				defer func(w, h bool) { warmIndex, slab.HugePages = w, h }(warmIndex, slab.HugePages)
				warmIndex, slab.HugePages = v.warm, v.huge
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

// BenchmarkLookup measures the member lookup of a point alone (what warmMembers and the index
// layout are for), without the pdata work around it: batches of 1000 random keys of n tracked
// members are warmed (warmMembers), then looked up one by one as resolve does (the guess
// confirmed by the member's key, else the index probed) and the member's value updated.
// ns/key is per key; warm=false skips warmMembers.
//
//	go test -run '^$' -bench BenchmarkLookup -benchtime=200ms -count=3 ./processor/cardinalityguard/
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		st := newStore()
		si := st.newSeries(1, st.metricState(1, 10), 7, kCumSum, true, aggSum, false)
		rng := rand.New(rand.NewPCG(1, 2))
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = rng.Uint64()
			st.newMember(keys[i], si, 0)
		}
		batches := make([][]uint64, 64)
		for i := range batches {
			for range benchBatch {
				batches[i] = append(batches[i], keys[rng.IntN(n)])
			}
		}
		for _, warm := range []bool{true, false} {
			b.Run(fmt.Sprintf("warm=%v/members=%d", warm, n), func(b *testing.B) {
				defer func(w bool) { warmIndex = w }(warmIndex)
				warmIndex = warm
				var guess []uint32
				for i := 0; i < b.N; i++ {
					batch := batches[i%len(batches)]
					guess = st.warmMembers(batch, guess)
					for k, h := range batch {
						var mi uint32
						ok := false
						if k < len(guess) {
							mi = guess[k]
							ok = st.guessedMember(mi, h)
						}
						if !ok {
							if mi, ok = st.findMember(h); !ok {
								b.Fatal("member not found")
							}
						}
						st.members.At(mi).val++
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/key")
			})
		}
	}
}
