// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadata"
)

func newMetricsProcessor(t testing.TB, set processor.Settings, cfg *Config, sink *consumertest.MetricsSink) processor.Metrics {
	t.Helper()
	require.NoError(t, cfg.Validate())
	p, err := NewFactory().CreateMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p
}

func TestGoldenMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir string
		cfg func(*Config)
	}{
		{dir: "seed000_names"},
		{dir: "semconv_upgrade"},
		{dir: "labels_defaults"},
		{dir: "collision"},
		{dir: "config_override", cfg: func(c *Config) {
			c.Environment = "staging"
			c.Project = "starmates-ai-team"
			c.Service = "api-gateway"
			c.Override = true
			c.LabelNames = LabelNames{Environment: "env", Project: "proj", Service: "svc"}
			c.PrometheusNames = false
			c.SemconvUpgrade = false
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			cfg := createDefaultConfig()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			input, err := golden.ReadMetrics(filepath.Join("testdata", tt.dir, "input.yaml"))
			require.NoError(t, err)
			expected, err := golden.ReadMetrics(filepath.Join("testdata", tt.dir, "expected.yaml"))
			require.NoError(t, err)

			sink := new(consumertest.MetricsSink)
			p := newMetricsProcessor(t, processortest.NewNopSettings(metadata.Type), cfg, sink)
			require.NoError(t, p.ConsumeMetrics(context.Background(), input))
			require.Len(t, sink.AllMetrics(), 1)
			got := sink.AllMetrics()[0]
			require.NoError(t, pmetrictest.CompareMetrics(expected, got, pmetrictest.IgnoreDatapointAttributesOrder()))

			// Idempotent: a second pass (a gateway behind a sidecar) changes nothing.
			again := pmetric.NewMetrics()
			got.CopyTo(again)
			require.NoError(t, p.ConsumeMetrics(context.Background(), again))
			require.NoError(t, pmetrictest.CompareMetrics(expected, sink.AllMetrics()[1], pmetrictest.IgnoreDatapointAttributesOrder()))
		})
	}
}

func TestGoldenTraces(t *testing.T) {
	t.Parallel()
	input, err := golden.ReadTraces(filepath.Join("testdata", "traces", "input.yaml"))
	require.NoError(t, err)
	expected, err := golden.ReadTraces(filepath.Join("testdata", "traces", "expected.yaml"))
	require.NoError(t, err)

	cfg := createDefaultConfig()
	cfg.Project = "starmates-ai-team"
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeTraces(context.Background(), input))
	require.Len(t, sink.AllTraces(), 1)
	require.NoError(t, ptracetest.CompareTraces(expected, sink.AllTraces()[0]))
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestGoldenLogs(t *testing.T) {
	t.Parallel()
	input, err := golden.ReadLogs(filepath.Join("testdata", "logs", "input.yaml"))
	require.NoError(t, err)
	expected, err := golden.ReadLogs(filepath.Join("testdata", "logs", "expected.yaml"))
	require.NoError(t, err)

	cfg := createDefaultConfig()
	cfg.Environment = "dev"
	cfg.InvalidEnvironment = InvalidEnvironmentKeep
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.ConsumeLogs(context.Background(), input))
	require.Len(t, sink.AllLogs(), 1)
	require.NoError(t, plogtest.CompareLogs(expected, sink.AllLogs()[0]))
	require.NoError(t, p.Shutdown(context.Background()))
}

// TestCollisionAcrossBatches checks the per-name type memory: a later batch cannot bring a
// second type under a name an earlier batch gave to another type, and the collision is logged
// once however often it happens.
func TestCollisionAcrossBatches(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	set := processortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	sink := new(consumertest.MetricsSink)
	p := newMetricsProcessor(t, set, createDefaultConfig(), sink)

	counter := func() pmetric.Metrics {
		md := pmetric.NewMetrics()
		m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("jobs.done")
		m.SetEmptySum().SetIsMonotonic(true)
		m.Sum().DataPoints().AppendEmpty().SetIntValue(1)
		return md
	}
	gauge := func() pmetric.Metrics {
		md := pmetric.NewMetrics()
		m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("jobs_done_total") // escapes to the counter's output name, but is a gauge
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(3)
		return md
	}
	require.NoError(t, p.ConsumeMetrics(context.Background(), counter()))
	require.NoError(t, p.ConsumeMetrics(context.Background(), gauge()))
	require.NoError(t, p.ConsumeMetrics(context.Background(), gauge()))
	require.NoError(t, p.ConsumeMetrics(context.Background(), counter()))

	var names []string
	var types []pmetric.MetricType
	for _, md := range sink.AllMetrics() {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			ms := rms.At(i).ScopeMetrics().At(0).Metrics()
			for j := 0; j < ms.Len(); j++ {
				names = append(names, ms.At(j).Name())
				types = append(types, ms.At(j).Type())
			}
		}
	}
	assert.Equal(t, []string{"jobs_done_total", "jobs_done_total"}, names)
	assert.Equal(t, []pmetric.MetricType{pmetric.MetricTypeSum, pmetric.MetricTypeSum}, types)
	require.Equal(t, 1, logs.FilterMessageSnippet("metric name collision").Len())
	entry := logs.FilterMessageSnippet("metric name collision").All()[0]
	assert.Equal(t, "jobs_done_total", entry.ContextMap()["name"])
	assert.Equal(t, "counter", entry.ContextMap()["kept_type"])
	assert.Equal(t, "gauge", entry.ContextMap()["dropped_type"])
}
