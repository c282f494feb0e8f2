// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
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
