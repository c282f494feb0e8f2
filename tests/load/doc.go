// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package load holds otelcol-airi's load and correctness tests. It is its own Go module,
// pinned to the contrib testbed v0.157.0, which drives the built distribution
// (bin/otelcol-airi, or $AIRI_BINARY) as a child process. Every scenario runs the shipped
// config/gateway.yaml — its otlp receiver, its exporters with their sending_queue batching and
// file_storage (traces to the testbed's OTLP/gRPC receiver as Jaeger, logs to its OTLP/HTTP
// receiver as Loki) or remote-write queue and WAL (metrics, to prwReceiver as Mimir), its
// extensions and telemetry — with the endpoints set through its ${env:...} variables
// (gatewayEnv) and, for bare and ottl, other processors in the pipeline (gatewayConfig):
//
//   - TestCompare: traces, metrics and logs through bare (memory_limiter alone), airi (the
//     shipped pipeline) and ottl (memory_limiter + resource + transform doing the same job),
//     at today's rate and with AIRI_LOAD_HIGH=1 at the high rate, AIRI_LOAD_ROUNDS interleaved
//     rounds; zero loss, data checks, CPU (the collector's utime+stime per million items),
//     RSS and Go heap;
//   - TestHighCardinality: 100 000 user IDs through airi, series within budget, no count lost;
//   - TestGuardMemory: the guard holding 100 000 and 1 000 000 members, live heap per member;
//   - TestCorrectnessTraces / TestCorrectnessLogs: field-by-field comparison of what was sent
//     with what arrived, allowing only what airi documents that it adds or upgrades;
//   - TestStepUp: the highest zero-loss rate per signal on this machine, bare and airi.
//
// Results go to ./results (or $AIRI_LOAD_WORKDIR/results): the testbed's TESTRESULTS.md,
// benchmarks.json, CORRECTNESSRESULTS.md and our SUMMARY.md. Run through `make load` /
// `make load-short`.
//
// testdata/goldendataset holds the testbed's pairwise span definitions, copied unchanged
// from opentelemetry-collector-contrib internal/coreinternal/goldendataset v0.157.0
// (Apache-2.0); the testbed reads them by path.
package load
