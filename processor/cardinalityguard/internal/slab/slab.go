// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package slab

import "unsafe"

// HugePages switches adviseHuge (on unless a benchmark measures without it).
var HugePages = true

// Grow appends one zero element, growing large slabs by 1.25x into memory advised for
// huge pages (see adviseHuge).
func Grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s[:len(s)+1]
	}
	n := max(16, cap(s)+cap(s)/4)
	ns := make([]T, len(s)+1, n)
	var zero T
	adviseHuge(unsafe.Pointer(unsafe.SliceData(ns)), uintptr(n)*unsafe.Sizeof(zero))
	copy(ns, s)
	return ns
}
