// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package image tests the repository's Dockerfile without a Docker engine: the binary it copies
// is ocb's static output, the config it runs by default exists and validates, it runs as a
// non-root user, and it exposes the ports the configs listen on. It has no Go API.
package image // import "github.com/airi-otel/otelcol-airi/deploy/image"
