// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package slab

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Grow appends one zero element, keeps the contents and grows large slabs by 1.25x (not 2x:
// the slabs are most of the guard's memory).
func TestGrow(t *testing.T) {
	t.Parallel()
	var s []uint64
	for i := range 100_000 {
		s = Grow(s)
		require.Zero(t, s[i])
		s[i] = uint64(i) + 1
	}
	for i := range s {
		require.Equal(t, uint64(i)+1, s[i])
	}
	c := cap(s)
	for len(s) < c {
		s = Grow(s)
	}
	s = Grow(s)
	require.Equal(t, c+c/4, cap(s))
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
