// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:build !amd64

package slab

import (
	"runtime"
	"unsafe"
)

// prefetchAll reads a byte of every address of p (no prefetch instruction here): the loads
// still overlap as far as the out-of-order window allows.
func prefetchAll(p []unsafe.Pointer) {
	var sink byte
	for _, a := range p {
		sink += *(*byte)(a)
	}
	runtime.KeepAlive(sink)
}
