// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package slab holds the cardinality guard's storage tricks: an index from 64-bit identity
// hashes to slab indexes, slabs grown in fixed chunks, and huge-page advice for both. Each is measured
// by a benchmark (here and in the guard's tricks_test.go) whose figure is quoted beside it.
package slab // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/slab"

import "unsafe"

// Index maps a 64-bit identity hash to a slab index. It is a table of 8-byte slots (the upper
// 32 bits of the key as a tag, the slab index below, 0 = empty) in buckets of 8 slots, one
// cache line each: a key lives in its home bucket, or when that is full in the next bucket
// with room (linear probing by buckets), and a bucket's entries sit at its front. A lookup
// reads one cache line for about 9 in 10 keys at the highest load (Guess), where a window of 8
// slots from a home slot spread over two lines. The home bucket depends on the tag only, so
// growing and deleting (backward shift by buckets, no tombstones) never touch the slab; a
// lookup confirms a tag match against the full key stored in the slab entry it is about to
// use anyway. The table is filled up to 7/8 and then grown by 1.25x (any size: the home
// bucket is the tag scaled to the table, not masked), so it holds 9.1-11.4 bytes per entry,
// against about 30 bytes and two misses for a map[uint64]uint32. BenchmarkIndex (lone lookups,
// no warming; 4 runs on 2 shared cores, medians): 9.6 B/entry at 1M (the map 37.8), 104-112 ns
// per lookup against the map's 130-160 (all runs 71-155); at 100k 21-24 ns. The table of 8
// slots from a home slot it replaced (10.4 B/entry) looked up lone keys faster (84-90 ns at
// 1M, 17-20 at 100k): its key is usually in the first slot or two, where a bucket is scanned
// whole; the guard's warmed lookups are what the buckets are for (BenchmarkLookup).
type Index struct {
	slots []uint64
	n     int
}

// bucketLen is the number of slots of a bucket (a 64-byte cache line).
const bucketLen = 8

// NewIndex returns an empty index.
func NewIndex() Index {
	return Index{slots: make([]uint64, 2*bucketLen)}
}

// home returns the first slot of tag's home bucket: the (mixed) tag scaled to the number of
// buckets, a multiply and a shift, as a mask would cost, for a table of any size.
func (t *Index) home(tag uint32) int {
	return int((uint64(tag*0x9E3779B9)*uint64(len(t.slots)/bucketLen))>>32) * bucketLen
}

// next returns the first slot of the bucket after the one starting at b (wrapping around).
func (t *Index) next(b int) int {
	if b += bucketLen; b == len(t.slots) {
		return 0
	}
	return b
}

// Len returns the number of entries.
func (t *Index) Len() int { return t.n }

// Bytes returns the memory of the index's slots.
func (t *Index) Bytes() int { return len(t.slots) * 8 }

// Guess returns the slab index in the first slot of the bucket hop buckets after key's home
// bucket that holds key's tag (0 if none), and whether that bucket is full (so that key may lie
// further on): without confirming it, the slab entry a lookup of key is likely to use, for
// touching it ahead of the lookup. It reads the bucket without branching on the slots'
// contents, so that guesses for many keys issued back to back overlap their cache misses
// (Line names the bucket's line).
func (t *Index) Guess(key uint64, hop int) (idx uint32, full bool) {
	tag := uint32(key >> 32)
	return t.pick(t.bucket(tag, hop), tag)
}

// pick returns the slab index in the first slot of the bucket starting at b that holds tag (0
// if none) and whether the bucket is full, without a branch on the slots' contents: which slot
// holds a key is random, so a branch per slot would be mispredicted on nearly every lookup.
func (t *Index) pick(b int, tag uint32) (idx uint32, full bool) {
	w := (*[bucketLen]uint64)(t.slots[b : b+bucketLen])
	// unrolled, last to first so that the first match wins; each step a compare and a
	// conditional move
	p := func(s uint64) {
		if uint32(s>>32) == tag {
			idx = uint32(s)
		}
	}
	p(w[7])
	p(w[6])
	p(w[5])
	p(w[4])
	p(w[3])
	p(w[2])
	p(w[1])
	p(w[0])
	return idx, uint32(w[7]) != 0
}

// Line returns the address of the bucket hop buckets after key's home bucket, the cache line
// Guess reads, for touching it ahead of Guess (Lines).
func (t *Index) Line(key uint64, hop int) unsafe.Pointer {
	return unsafe.Pointer(&t.slots[t.bucket(uint32(key>>32), hop)])
}

// bucket returns the first slot of the bucket hop buckets after tag's home bucket.
func (t *Index) bucket(tag uint32, hop int) int {
	b := t.home(tag) + hop*bucketLen
	if b >= len(t.slots) {
		b %= len(t.slots)
	}
	return b
}

// Find returns the index stored for key; keyOf returns the full key of a slab index. In each
// bucket the first slot of key's tag is picked without branching (pick); only when its entry
// is another key's of the same tag (1 in 2^32 per entry) are the bucket's other slots checked.
func (t *Index) Find(key uint64, keyOf func(uint32) uint64) (uint32, bool) {
	tag := uint32(key >> 32)
	for b := t.home(tag); ; b = t.next(b) {
		idx, full := t.pick(b, tag)
		if idx != 0 {
			if keyOf(idx) == key {
				return idx, true
			}
			for _, s := range t.slots[b : b+bucketLen] {
				if i := uint32(s); i != 0 && i != idx && uint32(s>>32) == tag && keyOf(i) == key {
					return i, true
				}
			}
		}
		if !full {
			return 0, false // a bucket with room: the key would be here
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

// put stores an entry in the first slot with room from tag's home bucket on.
func (t *Index) put(tag, idx uint32) {
	for b := t.home(tag); ; b = t.next(b) {
		if i := t.room(b); i >= 0 {
			t.slots[i] = uint64(tag)<<32 | uint64(idx)
			return
		}
	}
}

// room returns the first empty slot of the bucket starting at b, or -1 if it is full.
func (t *Index) room(b int) int {
	for i := b; i < b+bucketLen; i++ {
		if uint32(t.slots[i]) == 0 {
			return i
		}
	}
	return -1
}

func (t *Index) grow() {
	old := t.slots
	nb := len(old) / bucketLen
	t.slots = make([]uint64, (nb+max(nb/4, 1))*bucketLen)
	adviseHuge(unsafe.Pointer(unsafe.SliceData(t.slots)), uintptr(len(t.slots))*8)
	for _, s := range old {
		if uint32(s) != 0 {
			t.put(uint32(s>>32), uint32(s))
		}
	}
}

// Remove deletes the entry holding idx for key. The hole is filled by backward shift at the
// granularity of buckets: while the bucket of the hole was full, an entry of a later bucket
// whose home lies cyclically at or before the hole's bucket may have been placed there only
// because of it, and is moved back.
func (t *Index) Remove(key uint64, idx uint32) {
	hole := -1
	for b := t.home(uint32(key >> 32)); hole < 0; b = t.next(b) {
		for i := b; i < b+bucketLen; i++ {
			s := t.slots[i]
			if uint32(s) == 0 {
				return // not present
			}
			if uint32(s) == idx {
				hole = i
				break
			}
		}
	}
	t.n--
	for {
		hb := hole - hole%bucketLen
		full := uint32(t.slots[hb+bucketLen-1]) != 0
		t.closeUp(hb, hole)
		if !full {
			return // no later entry can have needed this bucket full
		}
		from := t.displaced(hb)
		if from < 0 {
			return
		}
		t.slots[hb+bucketLen-1] = t.slots[from]
		hole = from
	}
}

// closeUp empties slot i of the bucket starting at b, moving the bucket's last entry into it
// so that the bucket's entries stay at its front; the bucket's last slot is left empty.
func (t *Index) closeUp(b, i int) {
	last := b + bucketLen - 1
	for last > i && uint32(t.slots[last]) == 0 {
		last--
	}
	t.slots[i] = t.slots[last]
	t.slots[last] = 0
}

// displaced returns the slot of an entry after the bucket starting at hb whose home bucket
// lies cyclically at or before hb (it may move into hb), or -1 when none can: the search ends
// at the first bucket with room, since no entry beyond a bucket with room needed it full.
func (t *Index) displaced(hb int) int {
	for b := t.next(hb); b != hb; b = t.next(b) {
		for i := b; i < b+bucketLen; i++ {
			s := t.slots[i]
			if uint32(s) == 0 {
				return -1
			}
			h := t.home(uint32(s >> 32))
			// h not cyclically in (hb, b]
			if (hb < b && (h <= hb || h > b)) || (hb > b && h <= hb && h > b) {
				return i
			}
		}
	}
	return -1
}
