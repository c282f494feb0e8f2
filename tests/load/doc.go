// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package load holds otelcol-airi's load and correctness tests. It is its own Go module,
// pinned to the contrib testbed v0.157.0, which drives the built distribution
// (bin/otelcol-airi, or $AIRI_BINARY) as a child process over OTLP/gRPC:
//
//   - TestCompare: traces, metrics and logs through bare (memory_limiter + batch), airi (our
//     processors as configured in config/gateway.yaml) and ottl (resource + transform doing
//     the same job), zero loss, data checks, CPU and RAM;
//   - TestHighCardinality: 100 000 user IDs through airi, series within budget, no count lost;
//   - TestCorrectnessTraces / TestCorrectnessLogs: field-by-field comparison of what was sent
//     with what arrived, allowing only what airi documents that it adds or upgrades;
//   - TestStepUp: the highest zero-loss rate per signal on this machine.
//
// Results go to ./results (or $AIRI_LOAD_WORKDIR/results): the testbed's TESTRESULTS.md,
// benchmarks.json, CORRECTNESSRESULTS.md and our SUMMARY.md. Run through `make load` /
// `make load-short`.
//
// testdata/goldendataset holds the testbed's pairwise span definitions, copied unchanged
// from opentelemetry-collector-contrib internal/coreinternal/goldendataset v0.157.0
// (Apache-2.0); the testbed reads them by path.
package load
