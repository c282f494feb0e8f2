// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
)

// GaugeAggregation says how the latest values of the members of a merged gauge series combine.
type GaugeAggregation string

const (
	// GaugeSum adds the members' latest values (per-process gauges such as open connections).
	GaugeSum GaugeAggregation = "sum"
	// GaugeMax takes the largest latest value (cluster-wide gauges every replica reports alike).
	GaugeMax GaugeAggregation = "max"
	// GaugeMin takes the smallest latest value.
	GaugeMin GaugeAggregation = "min"
	// GaugeLast takes the value of the most recent point (by timestamp) among the members.
	GaugeLast GaugeAggregation = "last"
)

// UnmarshalText rejects unknown aggregations at start-up.
func (g *GaugeAggregation) UnmarshalText(text []byte) error {
	switch v := GaugeAggregation(text); v {
	case GaugeSum, GaugeMax, GaugeMin, GaugeLast:
		*g = v
		return nil
	case "":
		*g = ""
		return nil
	default:
		return fmt.Errorf("unknown gauge aggregation %q (want sum, max, min or last)", string(text))
	}
}

func (g GaugeAggregation) valid() bool {
	switch g {
	case GaugeSum, GaugeMax, GaugeMin, GaugeLast:
		return true
	}
	return false
}

// RewriteAll is the rewrite_labels entry that selects every label except keep_labels.
const RewriteAll = "*"

// MetricOverride refines the behaviour for one metric, selected by its exact name as the
// processor sees it (after airi_normalize, i.e. the Prometheus form).
type MetricOverride struct {
	// GaugeAggregation overrides gauge_aggregation for this metric. Empty: use the default.
	GaugeAggregation GaugeAggregation `mapstructure:"gauge_aggregation"`
	// StripLabels are stripped from this metric in addition to the global strip_labels.
	StripLabels []string `mapstructure:"strip_labels"`
	// MaxSeries overrides max_series_per_metric for this metric. 0: use the default.
	MaxSeries int `mapstructure:"max_series"`
}

// Config is the configuration of the cardinality_guard processor.
type Config struct {
	// StripLabels are data-point label keys removed from every metric; the series that then
	// collapse are re-aggregated. Both the dotted and the Prometheus (underscore) form are
	// listed by default because airi_normalize runs first. An empty list strips nothing.
	StripLabels []string `mapstructure:"strip_labels"`
	// KeepLabels are the required labels: never stripped, rewritten or dropped by the
	// labels-per-series limit, and copied onto the overflow series. Default: environment,
	// project, service.
	KeepLabels []string `mapstructure:"keep_labels"`
	// RewriteLabels are label keys whose values have ID-shaped parts replaced by placeholders
	// ({uuid}, {hex}, {num}, {email}). "*" (the default) means every label except
	// keep_labels and path_labels. Empty: no ID rewriting.
	RewriteLabels []string `mapstructure:"rewrite_labels"`
	// PathLabels are label keys holding URL paths, rewritten segment-wise into templates
	// (/users/123 -> /users/{id}); a query string is dropped. Empty: no path templating.
	PathLabels []string `mapstructure:"path_labels"`
	// GaugeAggregation is the default aggregation for merged gauges. Default: sum.
	GaugeAggregation GaugeAggregation `mapstructure:"gauge_aggregation"`
	// Metrics holds per-metric overrides keyed by metric name.
	Metrics map[string]MetricOverride `mapstructure:"metrics"`
	// MaxSeriesPerMetric is the number of output series one metric name may have (across all
	// producers); later new series go to the overflow series. Must be > 0. Default 2000.
	MaxSeriesPerMetric int `mapstructure:"max_series_per_metric"`
	// MaxSeriesTotal is the number of output series over all metrics. 0 (default): no limit.
	MaxSeriesTotal int `mapstructure:"max_series_total"`
	// MaxMembers bounds the input series tracked for cumulative, gauge and summary merging
	// (over all output series). A point of a new member while it is full is dropped and
	// counted. Must be > 0. Default 1000000.
	MaxMembers int `mapstructure:"max_members"`
	// MaxMembersPerMetric is the share of max_members of each metric name and producer (its
	// keep_labels values, normally one service): a point of a new member of a metric and
	// producer that has this many is dropped and counted, while other producers of the same
	// metric and other metrics keep creating theirs. 0 (the default) means a fifth of
	// max_members. Must be >= 0 and <= max_members.
	MaxMembersPerMetric int `mapstructure:"max_members_per_metric"`
	// StaleAfter is how long an input or output series may go unseen before it is forgotten.
	// Must be > 0. Default 5m.
	StaleAfter time.Duration `mapstructure:"stale_after"`
	// MaxFuture is how far past the collector's clock a data point's timestamp may be. A point
	// further ahead is dropped and counted (reason "future"): accepted, it would make every
	// later point of its series look out of order and freeze the series. Must be > 0.
	// Default 5m.
	MaxFuture time.Duration `mapstructure:"max_future"`
	// MaxLabelValueLength truncates longer label values (bytes) with the "[truncated]"
	// marker. 0 disables truncation; otherwise must be >= 16. Default 2048.
	MaxLabelValueLength int `mapstructure:"max_label_value_length"`
	// MaxLabelsPerSeries drops labels beyond this count (keep_labels first, then by key in
	// ascending byte order). 0 disables the limit. Default 30.
	MaxLabelsPerSeries int `mapstructure:"max_labels_per_series"`
	// MaxExemplarsPerPoint bounds the exemplars kept on each output point (newest kept).
	// 0 drops all exemplars. Default 4.
	MaxExemplarsPerPoint int `mapstructure:"max_exemplars_per_point"`
	// Storage is a storage extension (file_storage) where the guard checkpoints its state
	// every checkpoint_interval and at shutdown, and restores it from at start, so a restart
	// continues every merged series and budget (checkpoint.go). nil (default): memory only.
	Storage *component.ID `mapstructure:"storage"`
	// CheckpointInterval is how often the state is checkpointed into storage. Must be > 0
	// when storage is set. Default 5s.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
}

var _ component.Config = (*Config)(nil)

// DefaultStripLabels is the default strip_labels list.
var DefaultStripLabels = []string{
	"tracking_id", "tracking.id", "trace_id", "trace.id", "user_id", "user.id",
	"session_id", "session.id", "request_id", "request.id", "api_key_id", "api_key.id",
}

// DefaultPathLabels is the default path_labels list (dotted and Prometheus forms).
var DefaultPathLabels = []string{
	"http.route", "http_route", "url.path", "url_path", "http.target", "http_target",
	"endpoint", "path",
}

func createDefaultConfig() component.Config {
	return &Config{
		StripLabels:          append([]string(nil), DefaultStripLabels...),
		KeepLabels:           []string{"environment", "project", "service"},
		RewriteLabels:        []string{RewriteAll},
		PathLabels:           append([]string(nil), DefaultPathLabels...),
		GaugeAggregation:     GaugeSum,
		MaxSeriesPerMetric:   2000,
		MaxSeriesTotal:       0,
		MaxMembers:           1_000_000,
		StaleAfter:           5 * time.Minute,
		MaxFuture:            5 * time.Minute,
		MaxLabelValueLength:  2048,
		MaxLabelsPerSeries:   30,
		MaxExemplarsPerPoint: 4,
		CheckpointInterval:   5 * time.Second,
	}
}

// membersPerMetric is the effective max_members_per_metric.
func (c *Config) membersPerMetric() int {
	if c.MaxMembersPerMetric > 0 {
		return c.MaxMembersPerMetric
	}
	return max(1, c.MaxMembers/5)
}

// Validate checks the configuration and reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.MaxSeriesPerMetric <= 0 {
		errs = append(errs, fmt.Errorf("max_series_per_metric: must be > 0, got %d", c.MaxSeriesPerMetric))
	}
	if c.MaxSeriesTotal < 0 {
		errs = append(errs, fmt.Errorf("max_series_total: must be >= 0 (0 = no limit), got %d", c.MaxSeriesTotal))
	}
	if c.MaxMembers <= 0 {
		errs = append(errs, fmt.Errorf("max_members: must be > 0, got %d", c.MaxMembers))
	}
	if c.MaxMembersPerMetric < 0 || (c.MaxMembers > 0 && c.MaxMembersPerMetric > c.MaxMembers) {
		errs = append(errs, fmt.Errorf("max_members_per_metric: must be >= 0 (0 = a fifth of max_members) and <= max_members (%d), got %d", c.MaxMembers, c.MaxMembersPerMetric))
	}
	if c.StaleAfter <= 0 {
		errs = append(errs, fmt.Errorf("stale_after: must be > 0, got %s", c.StaleAfter))
	}
	if c.MaxFuture <= 0 {
		errs = append(errs, fmt.Errorf("max_future: must be > 0, got %s", c.MaxFuture))
	}
	if c.MaxLabelValueLength != 0 && c.MaxLabelValueLength < 16 {
		errs = append(errs, fmt.Errorf("max_label_value_length: must be 0 (off) or >= 16, got %d", c.MaxLabelValueLength))
	}
	if c.MaxLabelsPerSeries < 0 {
		errs = append(errs, fmt.Errorf("max_labels_per_series: must be >= 0 (0 = no limit), got %d", c.MaxLabelsPerSeries))
	}
	if c.MaxExemplarsPerPoint < 0 {
		errs = append(errs, fmt.Errorf("max_exemplars_per_point: must be >= 0, got %d", c.MaxExemplarsPerPoint))
	}
	if !c.GaugeAggregation.valid() {
		errs = append(errs, fmt.Errorf("gauge_aggregation: must be sum, max, min or last, got %q", c.GaugeAggregation))
	}
	keep := map[string]bool{}
	for i, k := range c.KeepLabels {
		if k == "" {
			errs = append(errs, fmt.Errorf("keep_labels[%d]: must not be empty", i))
		}
		keep[k] = true
	}
	for i, k := range c.StripLabels {
		if k == "" {
			errs = append(errs, fmt.Errorf("strip_labels[%d]: must not be empty", i))
		}
		if keep[k] {
			errs = append(errs, fmt.Errorf("strip_labels[%d]: %q is also in keep_labels", i, k))
		}
	}
	for i, k := range c.RewriteLabels {
		if k == "" {
			errs = append(errs, fmt.Errorf("rewrite_labels[%d]: must not be empty", i))
		}
	}
	for i, k := range c.PathLabels {
		if k == "" {
			errs = append(errs, fmt.Errorf("path_labels[%d]: must not be empty", i))
		}
	}
	for name, o := range c.Metrics {
		if name == "" {
			errs = append(errs, errors.New("metrics: metric name must not be empty"))
		}
		if o.GaugeAggregation != "" && !o.GaugeAggregation.valid() {
			errs = append(errs, fmt.Errorf("metrics::%s::gauge_aggregation: must be sum, max, min or last, got %q", name, o.GaugeAggregation))
		}
		if o.MaxSeries < 0 {
			errs = append(errs, fmt.Errorf("metrics::%s::max_series: must be >= 0 (0 = max_series_per_metric), got %d", name, o.MaxSeries))
		}
		for i, k := range o.StripLabels {
			if keep[k] {
				errs = append(errs, fmt.Errorf("metrics::%s::strip_labels[%d]: %q is also in keep_labels", name, i, k))
			}
		}
	}
	if c.Storage != nil && c.CheckpointInterval <= 0 {
		errs = append(errs, fmt.Errorf("checkpoint_interval: must be > 0 with storage set, got %s", c.CheckpointInterval))
	}
	return errors.Join(errs...)
}
