// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package cputime reads the process's own CPU time, which the processor benchmarks report
// next to wall-clock time (cpu-ns/item).
package cputime // import "github.com/airi-otel/otelcol-airi/internal/cputime"
