// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package slab

import "unsafe"

// prefetchAll issues PREFETCHT0 for every address of p (prefetch_amd64.s).
//
//go:noescape
func prefetchAll(p []unsafe.Pointer)
