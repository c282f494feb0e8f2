// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadata"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         func(*Config)
		resource    map[string]any
		want        [numLabels]string
		defaulted   [numLabels]bool
		invalidEnv  bool
		wantRes     map[string]any
		writeLabels bool
	}{
		{
			name:     "application values win by default",
			cfg:      func(c *Config) { c.Environment, c.Project, c.Service = "prod", "cfg-project", "cfg-service" },
			resource: map[string]any{"deployment.environment.name": "dev", "service.namespace": "app-ns", "service.name": "app"},
			want:     [numLabels]string{"dev", "app-ns", "app"},
			wantRes:  map[string]any{"deployment.environment.name": "dev", "service.namespace": "app-ns", "service.name": "app"},
		},
		{
			name:     "config fills gaps",
			cfg:      func(c *Config) { c.Environment, c.Project = "prod", "cfg-project" },
			resource: map[string]any{"service.name": "app"},
			want:     [numLabels]string{"prod", "cfg-project", "app"},
			wantRes:  map[string]any{"deployment.environment.name": "prod", "service.namespace": "cfg-project", "service.name": "app"},
		},
		{
			name:     "override replaces application values",
			cfg:      func(c *Config) { c.Environment, c.Service, c.Override = "staging", "cfg-service", true },
			resource: map[string]any{"deployment.environment.name": "dev", "service.namespace": "app-ns", "service.name": "app"},
			want:     [numLabels]string{"staging", "app-ns", "cfg-service"},
			wantRes:  map[string]any{"deployment.environment.name": "staging", "service.namespace": "app-ns", "service.name": "cfg-service"},
		},
		{
			name:      "defaults when nothing is known",
			resource:  map[string]any{"service.name": ""},
			want:      [numLabels]string{"unknown", "unknown", "unknown"},
			defaulted: [numLabels]bool{true, true, true},
			wantRes: map[string]any{
				"deployment.environment.name": "unknown", "service.namespace": "unknown", "service.name": "unknown",
				"environment": "unknown", "project": "unknown", "service": "unknown",
			},
			writeLabels: true,
		},
		{
			name:       "invalid environment replaced by the configured one",
			cfg:        func(c *Config) { c.Environment = "prod" },
			resource:   map[string]any{"deployment.environment.name": "production", "service.namespace": "p", "service.name": "s"},
			want:       [numLabels]string{"prod", "p", "s"},
			invalidEnv: true,
			wantRes:    map[string]any{"deployment.environment.name": "prod", "service.namespace": "p", "service.name": "s"},
		},
		{
			name:       "invalid environment replaced by default_value",
			cfg:        func(c *Config) { c.DefaultValue = "n/a" },
			resource:   map[string]any{"deployment.environment.name": "Prod", "service.namespace": "p", "service.name": "s"},
			want:       [numLabels]string{"n/a", "p", "s"},
			invalidEnv: true,
			wantRes:    map[string]any{"deployment.environment.name": "n/a", "service.namespace": "p", "service.name": "s"},
		},
		{
			name:       "invalid environment kept",
			cfg:        func(c *Config) { c.InvalidEnvironment = InvalidEnvironmentKeep },
			resource:   map[string]any{"deployment.environment.name": "qa", "service.namespace": "p", "service.name": "s"},
			want:       [numLabels]string{"qa", "p", "s"},
			invalidEnv: true,
			wantRes:    map[string]any{"deployment.environment.name": "qa", "service.namespace": "p", "service.name": "s"},
		},
		{
			name:     "old deployment.environment upgraded",
			resource: map[string]any{"deployment.environment": "staging", "service.namespace": "p", "service.name": "s"},
			want:     [numLabels]string{"staging", "p", "s"},
			wantRes:  map[string]any{"deployment.environment.name": "staging", "service.namespace": "p", "service.name": "s"},
		},
		{
			name:     "old deployment.environment loses to the stable key and is removed",
			resource: map[string]any{"deployment.environment": "staging", "deployment.environment.name": "prod", "service.namespace": "p", "service.name": "s"},
			want:     [numLabels]string{"prod", "p", "s"},
			wantRes:  map[string]any{"deployment.environment.name": "prod", "service.namespace": "p", "service.name": "s"},
		},
		{
			name:     "without semconv upgrade the old key is kept in step",
			cfg:      func(c *Config) { c.SemconvUpgrade = false },
			resource: map[string]any{"deployment.environment": "dev", "service.namespace": "p", "service.name": "s"},
			want:     [numLabels]string{"dev", "p", "s"},
			wantRes: map[string]any{
				"deployment.environment": "dev", "deployment.environment.name": "dev", "service.namespace": "p", "service.name": "s",
			},
		},
		{
			name:     "label keys on the resource are a last source, and non-string values are read as strings",
			resource: map[string]any{"environment": "dev", "project": "p", "service.name": int64(42)},
			want:     [numLabels]string{"dev", "p", "42"},
			wantRes: map[string]any{
				"environment": "dev", "project": "p",
				"deployment.environment.name": "dev", "service.namespace": "p", "service.name": "42",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := createDefaultConfig()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			require.NoError(t, cfg.Validate())
			p, err := newNormalizer(processortest.NewNopSettings(metadata.Type), cfg)
			require.NoError(t, err)
			res := pcommon.NewMap()
			require.NoError(t, res.FromRaw(tt.resource))
			lv := p.resolve(res, tt.writeLabels, &scratch{})
			assert.Equal(t, tt.want, lv.vals)
			assert.Equal(t, tt.defaulted, lv.defaulted)
			assert.Equal(t, tt.invalidEnv, lv.invalidEnv)
			assert.Equal(t, tt.wantRes, res.AsRaw())
		})
	}
}

func TestSplitHostPort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		host string
		port int
	}{
		"example.com:8080": {"example.com", 8080},
		"example.com":      {"example.com", -1},
		"[::1]:9000":       {"::1", 9000},
		"[::1]":            {"::1", -1},
		"host:http":        {"host", -1},
		"host:99999":       {"host", -1},
		"":                 {"", -1},
	} {
		h, p := splitHostPort(in)
		assert.Equal(t, want.host, h, in)
		assert.Equal(t, want.port, p, in)
	}
}

func TestUpgradeHTTPAttrsStableWins(t *testing.T) {
	t.Parallel()
	m := pcommon.NewMap()
	require.NoError(t, m.FromRaw(map[string]any{
		"http.method": "GET", "http.request.method": "POST",
		"http.host": "a.example:1", "net.peer.name": "b.example", "net.host.name": "c.example", "net.peer.port": int64(2),
		"http.target": "/p?q=1", "url.query": "kept",
	}))
	assert.True(t, upgradeHTTPAttrs(m, &scratch{}))
	assert.Equal(t, map[string]any{
		"http.request.method": "POST",
		"server.address":      "a.example",
		"server.port":         int64(1),
		"url.path":            "/p",
		"url.query":           "kept",
	}, m.AsRaw())
	assert.False(t, upgradeHTTPAttrs(m, &scratch{}), "nothing left to upgrade")
}

// TestConcurrentBatches runs one processor from several goroutines, as several receivers feeding
// one pipeline do; with -race it checks the shared name tables.
func TestConcurrentBatches(t *testing.T) {
	t.Parallel()
	p, err := newNormalizer(processortest.NewNopSettings(metadata.Type), createDefaultConfig())
	require.NoError(t, err)
	base := benchMetricsBatch()
	var wg sync.WaitGroup
	results := make([]pmetric.Metrics, 8)
	for i := range results {
		md := pmetric.NewMetrics()
		base.CopyTo(md)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = p.processMetrics(context.Background(), md)
		}()
	}
	wg.Wait()
	for _, md := range results {
		ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
		require.Equal(t, benchMetrics, ms.Len())
		assert.Equal(t, "airi_bench_metric_0_total", ms.At(0).Name())
		assert.Equal(t, "airi_bench_metric_1_seconds", ms.At(1).Name())
		assert.Equal(t, "airi_bench_metric_2", ms.At(2).Name())
	}
}
