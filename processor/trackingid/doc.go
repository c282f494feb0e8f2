// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool mdatagen metadata.yaml

// Package trackingid implements the tracking_id processor: one ID that finds every signal of
// one request. Spans get `tracking.id` = their trace ID, logs get `tracking_id` = their trace ID
// (derived from a request ID when they carry none), and metric data points carrying a tracking
// label get an exemplar with that trace ID. See README.md for the exact contract.
package trackingid // import "github.com/airi-otel/otelcol-airi/processor/trackingid"
