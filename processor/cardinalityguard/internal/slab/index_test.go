// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package slab

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestIndexMatchesMap drives the table and a Go map with the same random inserts and
// removals (with colliding tags) and checks they always agree.
func TestIndexMatchesMap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	tbl := NewIndex()
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
			tbl.Insert(k, idx)
			ref[k] = idx
		} else {
			for k, idx := range ref {
				tbl.Remove(k, idx)
				delete(ref, k)
				break
			}
		}
		if step%6000 == 0 {
			require.Equal(t, len(ref), tbl.Len())
			for k, idx := range ref {
				got, ok := tbl.Find(k, keyOf)
				require.True(t, ok)
				require.Equal(t, idx, got)
			}
			_, ok := tbl.Find(rng.Uint64(), keyOf)
			require.False(t, ok)
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Run with:
//
//	go test -run '^$' -bench BenchmarkIndex -benchtime=200ms -count=5 ./processor/cardinalityguard/internal/slab/
//
// BenchmarkIndex compares the index (Index: 8-byte tagged slots, the full key
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
				defer func(h bool) { HugePages = h }(HugePages)
				HugePages = huge
				s := make([]uint64, len(keys)) // advised like the guard's slabs
				adviseHuge(unsafe.Pointer(unsafe.SliceData(s)), uintptr(len(s))*8)
				copy(s, keys)
				keyOf := func(i uint32) uint64 { return s[i] }
				before := heapInUse()
				t := NewIndex()
				for i := 1; i <= n; i++ {
					t.Insert(s[i], uint32(i))
				}
				perEntry := float64(int64(heapInUse())-int64(before)) / float64(n)
				var sink uint64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					idx, ok := t.Find(probe[i%lookups], keyOf)
					if !ok {
						b.Fatal("key not found")
					}
					sink += s[idx]
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

// Removing from full buckets keeps every other key findable: the entries placed beyond a
// bucket because it was full move back when it gets room (backward shift by buckets, across
// the table's end too). Keys of few tags make long runs of full buckets; every key is looked up
// after every removal, at a load near 7/8.
func TestIndexRemoveFromFullBuckets(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	for round := 0; round < 20; round++ {
		tbl := NewIndex()
		keys := []uint64{0}
		tags := []uint64{rng.Uint64() >> 32, rng.Uint64() >> 32, rng.Uint64() >> 32}
		for tbl.Len() < 100 {
			k := tags[rng.IntN(len(tags))]<<32 | uint64(rng.Uint32())
			if rng.IntN(3) == 0 {
				k = rng.Uint64()
			}
			keys = append(keys, k)
			tbl.Insert(k, uint32(len(keys)-1))
		}
		keyOf := func(i uint32) uint64 { return keys[i] }
		live := map[uint32]bool{}
		for i := 1; i < len(keys); i++ {
			live[uint32(i)] = true
		}
		for _, i := range rng.Perm(len(keys) - 1) {
			idx := uint32(i + 1)
			tbl.Remove(keys[idx], idx)
			delete(live, idx)
			require.Equal(t, len(live), tbl.Len())
			for j := range live {
				got, ok := tbl.Find(keys[j], keyOf)
				require.True(t, ok, "round %d: key %d lost after removing %d", round, j, idx)
				require.Equal(t, j, got)
			}
			_, ok := tbl.Find(keys[idx], keyOf)
			require.False(t, ok, "a removed key is gone")
		}
		for _, s := range tbl.slots {
			require.Zero(t, s, "an empty table has empty slots")
		}
	}
}
