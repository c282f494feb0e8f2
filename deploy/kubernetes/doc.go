// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package kubernetes holds otelcol-airi's Kubernetes manifests (sidecar.yaml, agent.yaml,
// gateway.yaml) and Helm values for the official opentelemetry-collector chart (helm/). It has
// no Go API: its tests decode every manifest strictly into the Kubernetes API types and hold it
// to the configs, config/.env.example and the Dockerfile.
package kubernetes // import "github.com/airi-otel/otelcol-airi/deploy/kubernetes"
