// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package requestjoin

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/extension/requestjoin/internal/metadatatest"
)

func TestValidate(t *testing.T) {
	require.NoError(t, createDefaultConfig().(*Config).Validate())
	err := (&Config{TTL: 0, MaxEntries: 0}).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ttl: must be positive")
	assert.Contains(t, err.Error(), "max_entries: must be between 1 and")
	assert.ErrorContains(t, (&Config{TTL: time.Second, MaxEntries: maxEntriesLimit + 1}).Validate(), "max_entries")
}

func TestExtensionIsAJoiner(t *testing.T) {
	f := NewFactory()
	x, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), f.CreateDefaultConfig())
	require.NoError(t, err)
	require.NoError(t, x.Start(context.Background(), componenttest.NewNopHost()))
	j, ok := x.(Joiner)
	require.True(t, ok)
	j.Remember("r", tid(1), sid(1), true)
	tr, _, ok := j.Lookup("r")
	assert.True(t, ok)
	assert.Equal(t, tid(1), tr)
	require.NoError(t, x.Shutdown(context.Background()))
}

func TestEvictionsAreCounted(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := &Config{TTL: time.Hour, MaxEntries: 2}
	x, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	j := x.(Joiner)
	for _, k := range []string{"a", "b", "c", "b", "d"} { // c evicts a, d evicts c
		j.Remember(k, tid(1), sid(1), false)
	}
	for k, want := range map[string]bool{"a": false, "b": true, "c": false, "d": true} {
		_, _, ok := j.Lookup(k)
		assert.Equal(t, want, ok, k)
	}
	metadatatest.AssertEqualRequestJoinEvicted(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	require.NoError(t, x.Shutdown(context.Background()))
}
