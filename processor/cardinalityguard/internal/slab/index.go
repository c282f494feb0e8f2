// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package slab holds the cardinality guard's storage tricks: an index from 64-bit identity
// hashes to slab indexes, slabs grown in fixed chunks, and huge-page advice for both. Each is measured
// by a benchmark (here and in the guard's tricks_test.go) whose figure is quoted beside it.
package slab // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/slab"

import "unsafe"

// Index maps a 64-bit identity hash to a slab index. It is a linear-probing table of
// 8-byte slots: the upper 32 bits of the key as a tag, the slab index (0 = empty) below.
// The home slot depends on the tag only, so growing and deleting (backward shift, no
// tombstones) never touch the slab; a lookup confirms a tag match against the full key
// stored in the slab entry it is about to use anyway. The table is filled up to 7/8 and then
// grown by 1.25x (any size: the home slot is the tag scaled to the table, not masked), so it
// holds 9.1-11.4 bytes per entry and a lookup costs one cache miss, against about 30 bytes
// and two misses for a map[uint64]uint32. BenchmarkIndex at 1M entries (3 runs, 2 shared
// cores): 10.4 against 37.8 bytes per entry, lookups 40-44 against 83-113 ns (the table it
// replaced, a power of two at most 3/4 full: 16.8 bytes, 29-69 ns).
type Index struct {
	slots []uint64
	n     int
}

// NewIndex returns an empty index.
func NewIndex() Index {
	return Index{slots: make([]uint64, 16)}
}

// home scales the (mixed) tag to the table: a multiply and a shift, as a mask would cost, for
// a table of any size.
func (t *Index) home(tag uint32) int {
	return int((uint64(tag*0x9E3779B9) * uint64(len(t.slots))) >> 32)
}

// Len returns the number of entries.
func (t *Index) Len() int { return t.n }

// Bytes returns the memory of the index's slots.
func (t *Index) Bytes() int { return len(t.slots) * 8 }

// Guess returns the slab index in the first of the 8 slots from key's home that holds key's
// tag (0 if none): without confirming it, the slab entry a lookup of key is likely to use, for
// touching it ahead of the lookup. At a 7/8 load an entry is often a few slots past its home,
// where the home slot alone points at another key's entry. It reads the window without
// branching on the slots' contents, so that guesses for many keys issued back to back overlap
// their cache misses; the window may reach into the next cache line (Window names both).
func (t *Index) Guess(key uint64) uint32 {
	tag := uint32(key >> 32)
	i := t.home(tag)
	if i+8 > len(t.slots) { // the last slots: their home slot only
		if s := t.slots[i]; uint32(s>>32) == tag {
			return uint32(s)
		}
		return 0
	}
	w := (*[8]uint64)(t.slots[i : i+8])
	var idx uint32
	// unrolled, last to first so that the first match wins; each step a compare and a
	// conditional move
	pick := func(s uint64) {
		if uint32(s>>32) == tag {
			idx = uint32(s)
		}
	}
	pick(w[7])
	pick(w[6])
	pick(w[5])
	pick(w[4])
	pick(w[3])
	pick(w[2])
	pick(w[1])
	pick(w[0])
	return idx
}

// Window returns the addresses of the first and the last slot of Guess's window for key: the
// one or two cache lines Guess (and mostly Find) read for key, for prefetching them.
func (t *Index) Window(key uint64) (first, last unsafe.Pointer) {
	i := t.home(uint32(key >> 32))
	j := i + 7
	if j >= len(t.slots) {
		j -= len(t.slots)
	}
	return unsafe.Pointer(&t.slots[i]), unsafe.Pointer(&t.slots[j])
}

// Find returns the index stored for key; keyOf returns the full key of a slab index.
func (t *Index) Find(key uint64, keyOf func(uint32) uint64) (uint32, bool) {
	tag := uint32(key >> 32)
	slots := t.slots
	for i := t.home(tag); ; {
		s := slots[i]
		idx := uint32(s)
		if idx == 0 {
			return 0, false
		}
		if uint32(s>>32) == tag && keyOf(idx) == key {
			return idx, true
		}
		if i++; i == len(slots) {
			i = 0
		}
	}
}

// Insert adds key -> idx; the key must not be present.
func (t *Index) Insert(key uint64, idx uint32) {
	if (t.n+1)*8 > len(t.slots)*7 {
		t.grow()
	}
	t.put(uint32(key>>32), idx)
	t.n++
}

func (t *Index) put(tag, idx uint32) {
	i := t.home(tag)
	for uint32(t.slots[i]) != 0 {
		i = t.next(i)
	}
	t.slots[i] = uint64(tag)<<32 | uint64(idx)
}

// next is the slot after i (wrapping around).
func (t *Index) next(i int) int {
	if i++; i == len(t.slots) {
		return 0
	}
	return i
}

func (t *Index) grow() {
	old := t.slots
	t.slots = make([]uint64, len(old)+len(old)/4)
	adviseHuge(unsafe.Pointer(unsafe.SliceData(t.slots)), uintptr(len(t.slots))*8)
	for _, s := range old {
		if uint32(s) != 0 {
			t.put(uint32(s>>32), uint32(s))
		}
	}
}

// Remove deletes the entry holding idx for key (backward-shift deletion).
func (t *Index) Remove(key uint64, idx uint32) {
	i := t.home(uint32(key >> 32))
	for {
		s := t.slots[i]
		if uint32(s) == 0 {
			return // not present
		}
		if uint32(s) == idx {
			break
		}
		i = t.next(i)
	}
	j := i
	for {
		j = t.next(j)
		s := t.slots[j]
		if uint32(s) == 0 {
			break
		}
		h := t.home(uint32(s >> 32))
		// move s back into the hole at i unless its home lies cyclically in (i, j]
		if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			t.slots[i] = s
			i = j
		}
	}
	t.slots[i] = 0
	t.n--
}
