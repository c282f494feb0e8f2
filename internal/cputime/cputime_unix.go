// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:build unix

package cputime // import "github.com/airi-otel/otelcol-airi/internal/cputime"

import "syscall"

// Process is the user+system CPU time of the whole process (GC workers included), in
// nanoseconds. On a shared machine it measures the work done, where wall time also counts
// waiting for a CPU.
func Process() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
