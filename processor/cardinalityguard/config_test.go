// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	fileStorage := component.MustNewID("file_storage")
	custom := &Config{
		StripLabels:          []string{"user_id", "session_id"},
		KeepLabels:           []string{"environment", "project", "service"},
		RewriteLabels:        []string{"client"},
		PathLabels:           []string{"url_path"},
		GaugeAggregation:     GaugeMax,
		MaxSeriesPerMetric:   500,
		MaxSeriesTotal:       10000,
		MaxMembers:           50000,
		MaxMembersPerMetric:  20000,
		StaleAfter:           10 * time.Minute,
		MaxFuture:            time.Minute,
		MaxLabelValueLength:  256,
		MaxLabelsPerSeries:   20,
		MaxExemplarsPerPoint: 2,
		Storage:              &fileStorage,
		CheckpointInterval:   10 * time.Second,
		Metrics: map[string]MetricOverride{
			"user_active_sessions":  {GaugeAggregation: GaugeMax},
			"ws_connections_active": {GaugeAggregation: GaugeSum, StripLabels: []string{"pod"}, MaxSeries: 50},
		},
	}
	for _, tc := range []struct {
		id      component.ID
		want    *Config
		wantErr []string
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{id: component.NewIDWithName(metadata.Type, "bad_numbers"), wantErr: []string{
			"max_series_per_metric: must be > 0, got -1",
			"max_series_total: must be >= 0",
			"max_members: must be > 0",
			"max_members_per_metric: must be >= 0",
			"stale_after: must be > 0",
			"max_future: must be > 0, got -1s",
			"max_label_value_length: must be 0 (off) or >= 16, got 3",
			"max_labels_per_series: must be >= 0",
			"max_exemplars_per_point: must be >= 0",
			"checkpoint_interval: must be > 0 with storage set, got 0s",
		}},
		{id: component.NewIDWithName(metadata.Type, "bad_labels"), wantErr: []string{
			`strip_labels[0]: "environment" is also in keep_labels`,
			"strip_labels[1]: must not be empty",
			"metrics::foo::max_series: must be >= 0",
			`metrics::foo::strip_labels[0]: "service" is also in keep_labels`,
		}},
		{id: component.NewIDWithName(metadata.Type, "bad_enum"), wantErr: []string{"gauge_aggregation", `unknown gauge aggregation "median"`}},
	} {
		t.Run(tc.id.String(), func(t *testing.T) {
			t.Parallel()
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tc.id.String())
			require.NoError(t, err)
			err = sub.Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tc.wantErr {
					require.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg)
		})
	}
}

func TestDefaultStripListHasBothForms(t *testing.T) {
	t.Parallel()
	cfg := createDefaultConfig().(*Config)
	for _, k := range []string{"tracking_id", "tracking.id", "trace_id", "user_id", "user.id", "session_id", "session.id", "request_id", "api_key_id"} {
		assert.Contains(t, cfg.StripLabels, k)
	}
	for _, k := range []string{"url.path", "url_path", "http.route", "http_route", "http.target", "http_target", "endpoint", "path"} {
		assert.Contains(t, cfg.PathLabels, k)
	}
	assert.NoError(t, cfg.Validate())
}

func TestReadmeExampleValidates(t *testing.T) {
	t.Parallel()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "readme_example").String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, 10000, cfg.MaxSeriesTotal)
	assert.Equal(t, GaugeMax, cfg.Metrics["user_active_sessions"].GaugeAggregation)
	assert.Equal(t, 500, cfg.Metrics["api_key_usage_total"].MaxSeries)
}
