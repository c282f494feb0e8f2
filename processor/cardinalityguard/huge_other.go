// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import "unsafe"

func adviseHuge(unsafe.Pointer, uintptr) {}
