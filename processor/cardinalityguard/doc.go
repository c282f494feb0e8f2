// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool mdatagen metadata.yaml

// Package cardinalityguard implements the cardinality_guard processor: it strips and
// rewrites high-cardinality metric labels, re-aggregates the series that collapse (across
// batches and over time, for every metric type), and keeps every metric within a series
// budget by folding excess series into one overflow series per metric and producer.
package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"
