// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIdxTableMatchesMap drives the table and a Go map with the same random inserts and
// removals (with colliding tags) and checks they always agree.
func TestIdxTableMatchesMap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	tbl := newIdxTable()
	keys := []uint64{0} // slab: index -> key
	ref := map[uint64]uint32{}
	keyOf := func(i uint32) uint64 { return keys[i] }
	for step := 0; step < 60_000; step++ {
		if rng.IntN(3) > 0 || len(ref) == 0 {
			k := rng.Uint64()
			if rng.IntN(4) == 0 {
				k = k&0xffff_ffff | 0x1234_5678<<32 // same tag, different key
			}
			if _, ok := ref[k]; ok {
				continue
			}
			keys = append(keys, k)
			idx := uint32(len(keys) - 1)
			tbl.insert(k, idx)
			ref[k] = idx
		} else {
			for k, idx := range ref {
				tbl.remove(k, idx)
				delete(ref, k)
				break
			}
		}
		if step%6000 == 0 {
			require.Equal(t, len(ref), tbl.len())
			for k, idx := range ref {
				got, ok := tbl.find(k, keyOf)
				require.True(t, ok)
				require.Equal(t, idx, got)
			}
			_, ok := tbl.find(rng.Uint64(), keyOf)
			require.False(t, ok)
		}
	}
}
