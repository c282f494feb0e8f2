// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import "fmt"

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
	return errs
}
