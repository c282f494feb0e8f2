// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package slab

import "unsafe"

// HugePages switches adviseHuge (on unless a benchmark measures without it).
var HugePages = true

const (
	chunkBits = 16
	// ChunkLen is the number of entries of every chunk of a Chunked slab but a small first one.
	ChunkLen  = 1 << chunkBits
	chunkMask = ChunkLen - 1
)

// Chunked is a slab of entries addressed by uint32 index, grown in chunks of ChunkLen
// entries: entry i is entry i%ChunkLen of chunk i/ChunkLen. Growing never copies an entry or
// leaves an old array behind as garbage, and the capacity beyond the entries in use is less
// than one chunk (re-allocating one slice by 1.25x left up to 25% unused, and the old slice's
// garbage doubled the heap for a while at every step). The first chunk grows like a slice up
// to ChunkLen, so that a guard tracking a few series holds a few entries. Pointers to entries
// stay valid while the slab grows, but for the first chunk's until it is ChunkLen long (it
// moves when it grows), as a slice's would.
type Chunked[T any] struct {
	chunks [][]T
	n      int
}

// At returns entry i (i < Len()).
func (s *Chunked[T]) At(i uint32) *T { return &s.chunks[i>>chunkBits][i&chunkMask] }

// Len returns the number of entries.
func (s *Chunked[T]) Len() int { return s.n }

// Bytes returns the memory of the slab's chunks (their capacity).
func (s *Chunked[T]) Bytes() int {
	var zero T
	total := 0
	for _, c := range s.chunks {
		total += cap(c)
	}
	return total * int(unsafe.Sizeof(zero))
}

// Append adds a zero entry and returns its index.
func (s *Chunked[T]) Append() uint32 {
	i := s.n
	c := i >> chunkBits
	switch {
	case c == len(s.chunks):
		// a new chunk: the first one starts small, every later one is allocated whole
		size := ChunkLen
		if c == 0 {
			size = 16
		}
		s.chunks = append(s.chunks, newChunk[T](size))
	case c == 0 && i == cap(s.chunks[0]):
		s.growFirst(min(2*i, ChunkLen))
	}
	ch := &s.chunks[c]
	*ch = (*ch)[:i&chunkMask+1]
	s.n++
	return uint32(i)
}

// Reserve grows the slab's capacity to at least n entries (a checkpoint's known size), so
// that restoring does not grow the first chunk step by step.
func (s *Chunked[T]) Reserve(n int) {
	if len(s.chunks) == 0 && n > 0 {
		s.chunks = append(s.chunks, newChunk[T](min(max(n, 16), ChunkLen)))
	} else if len(s.chunks) == 1 && cap(s.chunks[0]) < min(n, ChunkLen) {
		s.growFirst(min(n, ChunkLen))
	}
}

// growFirst moves the first chunk into a new one of capacity size.
func (s *Chunked[T]) growFirst(size int) {
	s.chunks[0] = append(newChunk[T](size), s.chunks[0]...)
}

func newChunk[T any](size int) []T {
	c := make([]T, 0, size)
	var zero T
	adviseHuge(unsafe.Pointer(unsafe.SliceData(c)), uintptr(size)*unsafe.Sizeof(zero))
	return c
}
