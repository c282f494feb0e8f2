// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package cputime // import "github.com/airi-otel/otelcol-airi/internal/cputime"

// Process is 0 where getrusage is not available: benchmarks then report no CPU time.
func Process() int64 { return 0 }
