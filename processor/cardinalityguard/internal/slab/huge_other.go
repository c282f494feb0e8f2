// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package slab

import "unsafe"

func adviseHuge(unsafe.Pointer, uintptr) {}
