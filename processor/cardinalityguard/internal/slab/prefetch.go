// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package slab

import "unsafe"

// Lines collects the addresses of cache lines about to be read and asks the CPU to fetch them
// all at once (Prefetch). A software prefetch retires without waiting for its line, so a
// thousand of them are issued in a few microseconds and their misses overlap, where plain
// loads of the same lines stall as soon as the out-of-order window is full of waiting loads
// (a few dozen at most). On amd64 it is PREFETCHT0; elsewhere the lines are read (prefetchAll
// in prefetch_other.go), which is what warming did before.
type Lines struct {
	p []unsafe.Pointer
}

// Add queues the line holding p.
func (l *Lines) Add(p unsafe.Pointer) { l.p = append(l.p, p) }

// Prefetch fetches the queued lines and empties the queue.
func (l *Lines) Prefetch() {
	prefetchAll(l.p)
	clear(l.p) // no reference kept to the slabs between batches
	l.p = l.p[:0]
}

// Addr returns the address of entry i (i < Len()) and of its last byte, the one or two lines
// an entry that straddles a cache-line boundary occupies.
func (s *Chunked[T]) Addr(i uint32) (first, last unsafe.Pointer) {
	p := unsafe.Pointer(s.At(i))
	var zero T
	return p, unsafe.Add(p, unsafe.Sizeof(zero)-1)
}
