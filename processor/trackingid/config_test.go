// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/airi-otel/otelcol-airi/processor/trackingid/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	for _, tc := range []struct {
		name        string
		want        *Config
		errContains []string
		unmarshal   string // error expected already from Unmarshal
	}{
		{name: "", want: createDefaultConfig().(*Config)},
		{name: "custom", want: &Config{
			RequestIDKeys:      []string{"correlation_id", "X-Correlation-ID"},
			SearchBody:         false,
			BodyMaxDepth:       1,
			SpanAttribute:      "tid",
			LogAttribute:       "tid",
			OriginalAttribute:  "tid.raw",
			MetricLabelKeys:    []string{"corr"},
			DeriveLogTraceID:   false,
			MetricExemplars:    false,
			RequestJoin:        "request_join/shared",
			JoinHold:           2 * time.Second,
			JoinHoldMaxRecords: 50,
		}},
		{name: "bad_hold", errContains: []string{
			"join_hold: must be between 0s and 1m0s, got 2m0s",
			"join_hold: needs request_join",
			"join_hold_max_records: must be at least 1 when join_hold is set, got 0",
		}},
		{name: "bad_request_join", errContains: []string{"request_join: "}},
		{name: "empty_keys", errContains: []string{
			"request_id_keys: must list at least one key",
			"metric_label_keys: must list at least one key",
		}},
		{name: "bad_keys", errContains: []string{
			"request_id_keys[1]: must not be empty",
			`request_id_keys[2]: "Trace_ID" duplicates request_id_keys[0]`,
			`request_id_keys[3]: " x " has surrounding whitespace`,
			`metric_label_keys[1]: "TRACKING_ID" duplicates metric_label_keys[0]`,
		}},
		{name: "bad_depth", errContains: []string{"body_max_depth: must be between 0 and 5, got 9"}},
		{name: "negative_depth", errContains: []string{"body_max_depth: must be between 0 and 5, got -1"}},
		{name: "empty_attributes", errContains: []string{
			"span_attribute: must not be empty",
			"log_attribute: must not be empty",
			"original_attribute: must not be empty",
		}},
		{name: "same_attributes", errContains: []string{
			"original_attribute: must differ from span_attribute",
			"original_attribute: must differ from log_attribute",
		}},
		{name: "original_in_keys", errContains: []string{`request_id_keys: must not contain original_attribute "tracking.id.original"`}},
		{name: "unknown_field", unmarshal: "request_id_key"},
	} {
		t.Run("tracking_id/"+tc.name, func(t *testing.T) {
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
			err = confmap.Validate(cfg)
			if tc.want != nil {
				require.NoError(t, err)
				require.Equal(t, tc.want, cfg)
				return
			}
			require.Error(t, err)
			for _, msg := range tc.errContains {
				require.ErrorContains(t, err, msg)
			}
		})
	}
}
