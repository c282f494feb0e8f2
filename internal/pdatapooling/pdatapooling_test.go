// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package pdatapooling

import (
	"os"
	"testing"
)

// TestSwitch: the gate is on exactly when the environment asks for it, so a benchmark run
// with AIRI_PDATA_PROTO_POOLING=1 really measures pdata with pooling.
func TestSwitch(t *testing.T) {
	if want := os.Getenv(EnvVar) == "1"; Enabled() != want {
		t.Fatalf("%s=%q but %s enabled=%v", EnvVar, os.Getenv(EnvVar), Gate, Enabled())
	}
}
