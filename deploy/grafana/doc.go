// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package grafana defines otelcol-airi's Grafana dashboards in Go and writes their JSON:
// otelcol-airi-collector.json (the collector's own telemetry) and airi-services-red.json (the
// services' request rate, errors and latency from the metrics the collector normalized).
// The JSON is generated, never edited by hand: change the definitions in collector.go or
// services.go and run `make dashboards` (or `go generate ./deploy/grafana`); a test fails while
// the committed JSON differs from what the code generates.
//
// Queries lists every panel query with the metrics it needs and Expand turns Grafana's
// variables into values Prometheus accepts, so the end-to-end suite can run every panel against
// a real Prometheus.
package grafana // import "github.com/airi-otel/otelcol-airi/deploy/grafana"

//go:generate go run ./gen -out .
