// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id          component.ID
		expected    *Config
		errContains []string
		unmarshal   string
	}{
		{
			id:       component.NewID(metadata.Type),
			expected: createDefaultConfig(),
		},
		{
			id: component.NewIDWithName(metadata.Type, "full"),
			expected: &Config{
				Environment:         "prod",
				Project:             "starmates-ai-team",
				Service:             "api-gateway",
				LabelNames:          LabelNames{Environment: "env", Project: "proj", Service: "svc"},
				Override:            true,
				AllowedEnvironments: []string{"dev", "staging", "prod", "qa"},
				InvalidEnvironment:  InvalidEnvironmentKeep,
				DefaultValue:        "none",
				PrometheusNames:     false,
				SemconvUpgrade:      false,
				MaxTrackedNames:     500,
			},
		},
		{
			id:          component.NewIDWithName(metadata.Type, "bad_environment"),
			errContains: []string{`environment: "production" is not one of allowed_environments [dev staging prod]`},
		},
		{
			id:        component.NewIDWithName(metadata.Type, "bad_action"),
			unmarshal: `unknown invalid_environment action "drop"`,
		},
		{
			id: component.NewIDWithName(metadata.Type, "empty_fields"),
			errContains: []string{
				"label_names::environment: must not be empty",
				"allowed_environments: must list at least one environment",
				"default_value: must not be empty",
				"max_tracked_names: must be > 0, got 0",
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "bad_label_names"),
			errContains: []string{
				`label_names::environment: "deployment.environment.name" is a semantic-convention key`,
				`label_names::project: "my.project" is not a valid Prometheus label name (would become "my_project")`,
				`label_names::service: "my.project" is already used by label_names::project`,
			},
		},
		{
			id:          component.NewIDWithName(metadata.Type, "reserved_label_name"),
			errContains: []string{`label_names::service: "job" is not a valid Prometheus label name (would become "exported_job")`},
		},
		{
			id:          component.NewIDWithName(metadata.Type, "empty_allowed_entry"),
			errContains: []string{"allowed_environments[1]: must not be empty"},
		},
	}
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			t.Parallel()
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			err = sub.Unmarshal(cfg)
			if tt.unmarshal != "" {
				require.ErrorContains(t, err, tt.unmarshal)
				return
			}
			require.NoError(t, err)
			err = confmap.Validate(cfg)
			if len(tt.errContains) > 0 {
				require.Error(t, err)
				for _, want := range tt.errContains {
					assert.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestValidateRejectsUnknownActionSetInCode(t *testing.T) {
	t.Parallel()
	cfg := createDefaultConfig()
	cfg.InvalidEnvironment = "drop"
	require.ErrorContains(t, cfg.Validate(), `invalid_environment: unknown action "drop"`)
}
