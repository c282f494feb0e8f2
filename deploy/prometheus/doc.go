// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package prometheus holds otelcol-airi's Prometheus alert rules (rules.yaml) and their promtool
// unit tests (rules_test.yaml); `make rules-check` runs `promtool check rules` and `promtool test
// rules` on them. It has no Go API: its Go tests keep the two files honest.
package prometheus // import "github.com/airi-otel/otelcol-airi/deploy/prometheus"
