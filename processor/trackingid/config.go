// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid // import "github.com/airi-otel/otelcol-airi/processor/trackingid"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
)

// maxBodyDepthLimit bounds body_max_depth: JSON log lines nest a request ID one or two levels
// down (`tracing.trace_id`), never ten; the bound keeps the body scan cheap and predictable.
const maxBodyDepthLimit = 5

// maxJoinHold bounds join_hold: a hold is for a span that ends moments after its log line,
// not for logs written minutes before (those stay derived).
const maxJoinHold = time.Minute

// Config is the configuration of the tracking_id processor.
type Config struct {
	// RequestIDKeys are the attribute keys (and, with SearchBody, map-body keys) whose value is
	// a request ID, in priority order: when several are present the earlier key wins. Matched
	// ASCII-case-insensitively. On spans every key also matches its HTTP header form
	// `http.request.header.<key>` / `http.response.header.<key>` (with `-` and with `_`).
	// A key with a dot also matches as a path of nested maps ("req.id": {"req": {"id": …}},
	// segments matched exactly), in attributes and map bodies; maps nested in attributes are
	// searched like a map body's (down to BodyMaxDepth) when the top level holds no ID.
	// Default: tracking_id, tracking.id, trace_id, traceId, x-tracking-id, x-trace-id,
	// x-request-id, request_id, reqId (pino / Fastify), req.id (pino-http). Must not be empty,
	// hold empty or duplicate keys, or hold OriginalAttribute.
	RequestIDKeys []string `mapstructure:"request_id_keys"`

	// SearchBody looks for RequestIDKeys inside a log record's map body (a JSON log line parsed
	// into the body) after its attributes. Default true.
	SearchBody bool `mapstructure:"search_body"`

	// BodyMaxDepth is how many levels of nested maps below the body's top level are searched:
	// 0 = top-level keys only, 2 (default) also finds `tracing.trace_id` and
	// `a.b.trace_id`. At most 5.
	BodyMaxDepth int `mapstructure:"body_max_depth"`

	// SpanAttribute is the span attribute that receives the lower-case 32-hex trace ID.
	// Default `tracking.id`; must not be empty.
	SpanAttribute string `mapstructure:"span_attribute"`

	// LogAttribute is the log record attribute that receives the lower-case 32-hex trace ID.
	// Default `tracking_id`; must not be empty.
	LogAttribute string `mapstructure:"log_attribute"`

	// OriginalAttribute is the span / log attribute that keeps the raw request-ID value (or a
	// replaced, different tracking ID). Default `tracking.id.original`; must not be empty and
	// must differ from SpanAttribute and LogAttribute.
	OriginalAttribute string `mapstructure:"original_attribute"`

	// MetricLabelKeys are the data-point label keys whose value becomes an exemplar's trace ID,
	// in priority order, matched ASCII-case-insensitively. Default: tracking_id, tracking.id,
	// trace_id. Must not be empty or hold empty or duplicate keys.
	MetricLabelKeys []string `mapstructure:"metric_label_keys"`

	// DeriveLogTraceID sets the trace ID of log records without trace context from their
	// request ID. false leaves such records untouched. Default true.
	DeriveLogTraceID bool `mapstructure:"derive_log_trace_id"`

	// RequestJoin names a request_join extension (issue 22) shared with the tracking_id
	// processors of the other pipelines: spans carrying a request ID remember request ID →
	// (trace ID, span ID) there, and a log record without trace context whose request ID is
	// known takes that real trace ID and span ID instead of a derived one. Empty (default):
	// no join.
	RequestJoin string `mapstructure:"request_join"`

	// JoinHold holds a log record without trace context whose request ID is not (yet) known
	// for up to this long, so a span that arrives a little later can still give it the real
	// trace ID; then it is derived. 0 (default): no hold. At most 1m; needs RequestJoin.
	// Held records are acknowledged before they are forwarded: a crash loses them.
	JoinHold time.Duration `mapstructure:"join_hold"`

	// JoinHoldMaxRecords bounds how many records are held at once; beyond it a record is
	// derived at once. Default 10000; at least 1 when JoinHold is set.
	JoinHoldMaxRecords int `mapstructure:"join_hold_max_records"`

	// MetricExemplars adds exemplars to metric data points with a tracking label. false makes
	// the processor pass metrics through untouched. Default true.
	MetricExemplars bool `mapstructure:"metric_exemplars"`
}

var _ component.Config = (*Config)(nil)

func defaultRequestIDKeys() []string {
	return []string{
		"tracking_id", "tracking.id", "trace_id", "traceId",
		"x-tracking-id", "x-trace-id", "x-request-id", "request_id", "reqId", "req.id",
		"request.id",
	}
}

func defaultMetricLabelKeys() []string {
	return []string{"tracking_id", "tracking.id", "trace_id"}
}

func createDefaultConfig() component.Config {
	return &Config{
		RequestIDKeys:      defaultRequestIDKeys(),
		SearchBody:         true,
		BodyMaxDepth:       2,
		SpanAttribute:      "tracking.id",
		LogAttribute:       "tracking_id",
		OriginalAttribute:  "tracking.id.original",
		MetricLabelKeys:    defaultMetricLabelKeys(),
		DeriveLogTraceID:   true,
		MetricExemplars:    true,
		JoinHoldMaxRecords: 10_000,
	}
}

// Validate checks the configuration and reports every problem at once.
func (cfg *Config) Validate() error {
	var errs []error
	errs = append(errs, validateKeys("request_id_keys", cfg.RequestIDKeys)...)
	errs = append(errs, validateKeys("metric_label_keys", cfg.MetricLabelKeys)...)
	if cfg.BodyMaxDepth < 0 || cfg.BodyMaxDepth > maxBodyDepthLimit {
		errs = append(errs, fmt.Errorf("body_max_depth: must be between 0 and %d, got %d", maxBodyDepthLimit, cfg.BodyMaxDepth))
	}
	for _, f := range []struct{ name, value string }{
		{"span_attribute", cfg.SpanAttribute},
		{"log_attribute", cfg.LogAttribute},
		{"original_attribute", cfg.OriginalAttribute},
	} {
		if strings.TrimSpace(f.value) == "" {
			errs = append(errs, fmt.Errorf("%s: must not be empty", f.name))
		}
	}
	if cfg.OriginalAttribute != "" && cfg.OriginalAttribute == cfg.SpanAttribute {
		errs = append(errs, fmt.Errorf("original_attribute: must differ from span_attribute, both are %q", cfg.OriginalAttribute))
	}
	if cfg.OriginalAttribute != "" && cfg.OriginalAttribute == cfg.LogAttribute {
		errs = append(errs, fmt.Errorf("original_attribute: must differ from log_attribute, both are %q", cfg.OriginalAttribute))
	}
	if cfg.RequestJoin != "" {
		if _, err := cfg.requestJoinID(); err != nil {
			errs = append(errs, fmt.Errorf("request_join: %w", err))
		}
	}
	if cfg.JoinHold < 0 || cfg.JoinHold > maxJoinHold {
		errs = append(errs, fmt.Errorf("join_hold: must be between 0s and %s, got %s", maxJoinHold, cfg.JoinHold))
	}
	if cfg.JoinHold > 0 && cfg.RequestJoin == "" {
		errs = append(errs, errors.New("join_hold: needs request_join (nothing can join a held record without it)"))
	}
	if cfg.JoinHold > 0 && cfg.JoinHoldMaxRecords < 1 {
		errs = append(errs, fmt.Errorf("join_hold_max_records: must be at least 1 when join_hold is set, got %d", cfg.JoinHoldMaxRecords))
	}
	if cfg.OriginalAttribute != "" && containsFold(cfg.RequestIDKeys, cfg.OriginalAttribute) {
		errs = append(errs, fmt.Errorf("request_id_keys: must not contain original_attribute %q (the processor's own output would be read back as a request ID)", cfg.OriginalAttribute))
	}
	return errors.Join(errs...)
}

// requestJoinID parses RequestJoin as a component ID ("request_join" or "request_join/name").
func (cfg *Config) requestJoinID() (component.ID, error) {
	var id component.ID
	err := id.UnmarshalText([]byte(cfg.RequestJoin))
	return id, err
}

func validateKeys(field string, keys []string) []error {
	var errs []error
	if len(keys) == 0 {
		errs = append(errs, fmt.Errorf("%s: must list at least one key", field))
	}
	seen := make(map[string]int, len(keys))
	for i, k := range keys {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("%s[%d]: must not be empty", field, i))
			continue
		}
		if k != strings.TrimSpace(k) {
			errs = append(errs, fmt.Errorf("%s[%d]: %q has surrounding whitespace", field, i, k))
		}
		lk := asciiLower(k)
		if j, dup := seen[lk]; dup {
			errs = append(errs, fmt.Errorf("%s[%d]: %q duplicates %s[%d] (keys match case-insensitively)", field, i, k, field, j))
			continue
		}
		seen[lk] = i
	}
	return errs
}

func containsFold(keys []string, k string) bool {
	lk := asciiLower(k)
	for _, key := range keys {
		if asciiLower(key) == lk {
			return true
		}
	}
	return false
}
