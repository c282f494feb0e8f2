// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool mdatagen metadata.yaml

// Package secretscrub implements the secret_scrub processor: credentials, API keys and card
// numbers are masked in spans, logs and metric labels before anything leaves the collector,
// with a readable replacement (`Bearer ****`, `sk_live_****`, `api_key=****`). The value rules
// are byte scanners, not regular expressions. See README.md for the rules and their limits.
package secretscrub // import "github.com/airi-otel/otelcol-airi/processor/secretscrub"
