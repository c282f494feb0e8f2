// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package slab

import (
	"testing"

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

// Peek finds the slab index in a key's home slot: the entry a lookup would confirm first.
func TestPeek(t *testing.T) {
	t.Parallel()
	tbl := NewIndex()
	require.Zero(t, tbl.Peek(0xdead_beef_0000_0001))
	tbl.Insert(0xdead_beef_0000_0001, 7)
	require.Equal(t, uint32(7), tbl.Peek(0xdead_beef_0000_0001))
	require.Equal(t, 16*8, tbl.Bytes())
}
