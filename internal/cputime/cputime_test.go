// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:build unix

package cputime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProcessCountsWork spins until the process has used 10 ms more CPU: a reading that does not
// advance with work fails by the 10 s bound.
func TestProcessCountsWork(t *testing.T) {
	start := Process()
	require.Positive(t, start, "a running test process has used CPU")
	deadline := time.Now().Add(10 * time.Second)
	for Process()-start < int64(10*time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "process CPU time did not advance while spinning")
	}
}
