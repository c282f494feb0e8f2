// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool mdatagen metadata.yaml

// Package requestjoin implements the request_join extension: a bounded request ID → (trace ID,
// span ID) store shared by the tracking_id processors of the traces and logs pipelines, so a log
// record without trace context joins the real trace of its request. See README.md.
package requestjoin // import "github.com/airi-otel/otelcol-airi/extension/requestjoin"
