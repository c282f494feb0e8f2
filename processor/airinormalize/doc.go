// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool mdatagen metadata.yaml

// Package airinormalize implements the airi_normalize processor. It gives every span, log
// record and metric data point the required environment, project and service labels, turns
// metric names and metric label keys into their final Prometheus form with the rules of
// github.com/prometheus/otlptranslator, and upgrades old HTTP semantic conventions to the
// stable ones, so that every later stage of the pipeline sees final names and labels.
package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"
