// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/airi-otel/otelcol-airi/processor/secretscrub/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	for _, tc := range []struct {
		name        string
		want        *Config
		errContains []string
		unmarshal   string
	}{
		{name: "", want: &Config{Enabled: true}},
		{name: "custom", want: &Config{
			Enabled:       false,
			MaskEmails:    true,
			ExtraKeys:     []string{"x-stripe-signature", "db.connection_string"},
			ExtraPrefixes: []string{"xoxb-"},
			ExtraPatterns: []string{`\bcust_[0-9]{6}\b`},
			AllowKeys:     []string{"token"},
			AllowValues:   []string{"4242424242424242"},
			DisabledRules: []Rule{RuleCard, RuleAWS},
		}},
		{name: "bad_lists", errContains: []string{
			"extra_keys[0]: must not be empty",
			`extra_keys[2]: "x_api_key" duplicates extra_keys[1]`,
			`extra_keys[3]: " pin " has surrounding whitespace`,
			`extra_prefixes[0]: "ab" is shorter than 3 characters`,
			`extra_prefixes[2]: "xoxb-" duplicates extra_prefixes[1]`,
			"allow_keys[0]: must not be empty",
			"allow_values[0]: must not be empty",
		}},
		{name: "bad_pattern", errContains: []string{
			"extra_patterns[0]: error parsing regexp",
			"extra_patterns[1]: must not be empty",
			`extra_patterns[2]: "a*" matches the empty string`,
		}},
		{name: "bad_rule", unmarshal: `unknown rule "luhn", known rules are key, bearer, basic, jwt`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tc.name).String())
			require.NoError(t, err)
			err = sub.Unmarshal(cfg)
			if tc.unmarshal != "" {
				require.ErrorContains(t, err, tc.unmarshal)
				return
			}
			require.NoError(t, err)
			if len(tc.errContains) > 0 {
				err := confmap.Validate(cfg)
				require.Error(t, err)
				for _, want := range tc.errContains {
					require.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, confmap.Validate(cfg))
			require.Equal(t, tc.want, cfg)
		})
	}
}
