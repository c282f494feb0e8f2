// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package pdatapooling is a test-only switch: imported (blank) by the processors' benchmark
// files, it turns on pdata's alpha feature gate pdata.useProtoPooling in the test binary when
// AIRI_PDATA_PROTO_POOLING=1, so the same benchmarks can be run with the gate off and on:
//
//	AIRI_PDATA_PROTO_POOLING=1 go test ./processor/airinormalize/ -run '^$' -bench Metrics
//
// The collector binary does not import it. (pdata v1.65.0 has no pdata.useCustomProtoEncoding
// gate any more: it went stable in v0.133.0 and was removed in v0.137.0.)
package pdatapooling

import (
	"fmt"
	"os"

	"go.opentelemetry.io/collector/featuregate"
	_ "go.opentelemetry.io/collector/pdata/pcommon" // registers the gate before init runs
)

// EnvVar turns the gate on when set to 1.
const EnvVar = "AIRI_PDATA_PROTO_POOLING"

// Gate is pdata's feature gate this package switches.
const Gate = "pdata.useProtoPooling"

func init() {
	if os.Getenv(EnvVar) != "1" {
		return
	}
	if err := featuregate.GlobalRegistry().Set(Gate, true); err != nil {
		panic(fmt.Sprintf("%s=1: %v", EnvVar, err))
	}
}

// Enabled reports whether the gate is on in this process.
func Enabled() bool {
	on := false
	featuregate.GlobalRegistry().VisitAll(func(g *featuregate.Gate) {
		if g.ID() == Gate {
			on = g.IsEnabled()
		}
	})
	return on
}
