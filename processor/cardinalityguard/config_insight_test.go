// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
)

func TestInsightConfig(t *testing.T) {
	t.Parallel()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config_insight.yaml"))
	require.NoError(t, err)
	load := func(name string) (*Config, error) {
		cfg := createDefaultConfig().(*Config)
		sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
		require.NoError(t, err)
		if err := sub.Unmarshal(cfg); err != nil {
			return cfg, err
		}
		return cfg, confmap.Validate(cfg)
	}
	cfg, err := load("report")
	require.NoError(t, err)
	require.Equal(t, ModeReport, cfg.Mode)
	require.Equal(t, 30*time.Second, cfg.ReportInterval)
	require.Equal(t, 5, cfg.TopOffenders)
	require.Equal(t, 100, cfg.MaxSeriesPerProject)
	require.Equal(t, map[string]ProjectOverride{"paid": {MaxSeries: 500}}, cfg.Projects)

	cfg, err = load("off")
	require.NoError(t, err)
	require.Equal(t, ModeEnforce, cfg.Mode, "enforce is the default")
	require.Zero(t, cfg.TopOffenders)

	_, err = load("bad_insight")
	require.ErrorContains(t, err, "report_interval: must be > 0, got 0s")
	require.ErrorContains(t, err, "top_offenders: must be >= 0 (0 = off), got -1")

	_, err = load("bad_project")
	require.ErrorContains(t, err, "projects::paid::max_series: must be >= 0 (0 = max_series_per_project), got -3")

	_, err = load("bad_mode")
	require.ErrorContains(t, err, "mode")
	require.ErrorContains(t, err, `unknown mode "dry-run" (want enforce or report)`)
}
