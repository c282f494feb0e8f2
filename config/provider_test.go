// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package config

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func TestProviderServesEveryShippedConfig(t *testing.T) {
	t.Parallel()
	names := Names()
	require.Subset(t, names, []string{"local", "sidecar", "agent", "gateway"})

	p := NewFactory().Create(confmap.ProviderSettings{})
	require.Equal(t, "airi", p.Scheme())
	for _, name := range names {
		ret, err := p.Retrieve(context.Background(), "airi:"+name, nil)
		require.NoError(t, err, name)
		raw, err := ret.AsRaw()
		require.NoError(t, err, name)
		m, ok := raw.(map[string]any)
		require.True(t, ok, "%s is not a YAML map", name)
		require.Contains(t, m, "service", name)
	}
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestProviderRejectsUnknownNamesAndSchemes(t *testing.T) {
	t.Parallel()
	p := NewFactory().Create(confmap.ProviderSettings{})
	_, err := p.Retrieve(context.Background(), "airi:nope", nil)
	require.ErrorContains(t, err, `no embedded configuration "nope"`)
	require.ErrorContains(t, err, "local")
	_, err = p.Retrieve(context.Background(), "file:local.yaml", nil)
	require.ErrorContains(t, err, "not supported")
}
