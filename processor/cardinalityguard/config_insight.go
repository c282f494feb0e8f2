// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"fmt"
	"slices"
)

// Mode says whether the guard changes the data or only reports what it would do.
type Mode string

const (
	// ModeEnforce strips, rewrites, merges and applies the budgets to the data.
	ModeEnforce Mode = "enforce"
	// ModeReport computes and counts everything enforce would do, and passes the data through
	// unchanged: a dry run before turning the guard on.
	ModeReport Mode = "report"
)

// UnmarshalText rejects unknown modes at start-up.
func (m *Mode) UnmarshalText(text []byte) error {
	switch v := Mode(text); v {
	case ModeEnforce, ModeReport, "":
		*m = v
		return nil
	}
	return fmt.Errorf("unknown mode %q (want enforce or report)", string(text))
}

// validateInsight checks the report and top-offender settings.
func (c *Config) validateInsight() []error {
	var errs []error
	if c.Mode != ModeEnforce && c.Mode != ModeReport {
		errs = append(errs, fmt.Errorf("mode: must be enforce or report, got %q", c.Mode))
	}
	if c.ReportInterval <= 0 {
		errs = append(errs, fmt.Errorf("report_interval: must be > 0, got %s", c.ReportInterval))
	}
	if c.TopOffenders < 0 {
		errs = append(errs, fmt.Errorf("top_offenders: must be >= 0 (0 = off), got %d", c.TopOffenders))
	}
	return append(errs, c.validateProjects()...)
}

// ProjectOverride refines the series budget of one project.
type ProjectOverride struct {
	// MaxSeries overrides max_series_per_project for this project. 0: use the default.
	MaxSeries int `mapstructure:"max_series"`
}

// validateProjects checks the per-project budgets.
func (c *Config) validateProjects() []error {
	var errs []error
	if c.MaxSeriesPerProject < 0 {
		errs = append(errs, fmt.Errorf("max_series_per_project: must be >= 0 (0 = no limit), got %d", c.MaxSeriesPerProject))
	}
	for name, o := range c.Projects {
		if o.MaxSeries < 0 {
			errs = append(errs, fmt.Errorf("projects::%s::max_series: must be >= 0 (0 = max_series_per_project), got %d", name, o.MaxSeries))
		}
	}
	if c.MaxSeriesPerProject > 0 || len(c.Projects) > 0 {
		if !slices.Contains(c.KeepLabels, projectLabel) {
			errs = append(errs, fmt.Errorf("max_series_per_project: budgets by project need %q in keep_labels", projectLabel))
		}
	}
	return errs
}
