// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package slab

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// Append adds zero entries, keeps the contents and the entries' addresses, and holds less than
// one chunk beyond its entries; Reserve sizes the first chunk.
func TestChunked(t *testing.T) {
	t.Parallel()
	var s Chunked[uint64]
	const n = 3*ChunkLen + 5
	var first *uint64
	for i := range n {
		require.Equal(t, uint32(i), s.Append())
		require.Zero(t, *s.At(uint32(i)))
		*s.At(uint32(i)) = uint64(i) + 1
		if i == ChunkLen {
			first = s.At(uint32(i))
		}
	}
	require.Equal(t, n, s.Len())
	for i := range n {
		require.Equal(t, uint64(i)+1, *s.At(uint32(i)))
	}
	require.Same(t, first, s.At(ChunkLen), "entries past the first chunk never move")
	require.Equal(t, 4*ChunkLen*8, s.Bytes(), "four whole chunks, no more")

	var small Chunked[uint64]
	small.Append()
	require.Equal(t, 16*8, small.Bytes(), "a small slab holds a small first chunk")

	var r Chunked[uint64]
	r.Reserve(1000)
	require.Equal(t, 1000*8, r.Bytes())
	for range 1001 {
		r.Append()
	}
	require.Equal(t, 2000*8, r.Bytes())
}

// Guess finds the slab index a lookup of a key will confirm in the key's home bucket for about
// 9 in 10 present keys at the table's highest load, and in the next bucket (when the home one
// is full) for nearly all the others, without ever naming an entry of another tag; Line names
// the bucket's line, wrapping at the table's end.
func TestGuess(t *testing.T) {
	t.Parallel()
	tbl := NewIndex()
	idx, full := tbl.Guess(0xdead_beef_0000_0001, 0)
	require.Zero(t, idx)
	require.False(t, full)
	require.Equal(t, 16*8, tbl.Bytes())
	rng := rand.New(rand.NewPCG(5, 6))
	keys := []uint64{0}
	for len(keys) < 100_000 || tbl.Len()*8 < len(tbl.slots)*7-8 { // up to the 7/8 load
		keys = append(keys, rng.Uint64())
		tbl.Insert(keys[len(keys)-1], uint32(len(keys)-1))
	}
	home, next := 0, 0
	for i := 1; i < len(keys); i++ {
		g, full := tbl.Guess(keys[i], 0)
		switch {
		case g == uint32(i):
			home++
		case g != 0:
			require.Equal(t, keys[i]>>32, keys[g]>>32, "a guess names an entry of the key's tag or none")
		case full:
			if g, _ = tbl.Guess(keys[i], 1); g == uint32(i) {
				next++
			}
		}
		require.Equal(t, unsafe.Pointer(&tbl.slots[tbl.home(uint32(keys[i]>>32))]), tbl.Line(keys[i], 0))
		require.NotPanics(t, func() { tbl.Line(keys[i], 1) })
	}
	load := float64(tbl.Len()) / float64(len(tbl.slots))
	n := float64(len(keys) - 1)
	require.Greater(t, float64(home)/n, 0.85, "load %.3f", load)
	require.Greater(t, float64(home+next)/n, 0.93, "load %.3f", load)
	t.Logf("load %.3f: %.3f in the home bucket, %.3f in the next", load, float64(home)/n, float64(next)/n)
	idx, _ = tbl.Guess(rng.Uint64()&0xffff_ffff|0x0123_4567<<32, 0)
	require.Zero(t, idx, "an absent tag")
}
