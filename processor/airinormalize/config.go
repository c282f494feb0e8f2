// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"

import (
	"errors"
	"fmt"
	"slices"
)

// InvalidEnvironmentAction says what happens to an environment value, arriving in data, that is
// not in AllowedEnvironments.
type InvalidEnvironmentAction string

const (
	// InvalidEnvironmentKeep keeps the value as it came; it is still counted.
	InvalidEnvironmentKeep InvalidEnvironmentAction = "keep"
	// InvalidEnvironmentReplaceWithDefault replaces the value with Config.Environment when that is
	// set, else with Config.DefaultValue; it is counted.
	InvalidEnvironmentReplaceWithDefault InvalidEnvironmentAction = "replace_with_default"
)

// UnmarshalText rejects unknown actions so a typo fails at start-up.
func (a *InvalidEnvironmentAction) UnmarshalText(text []byte) error {
	switch v := InvalidEnvironmentAction(text); v {
	case InvalidEnvironmentKeep, InvalidEnvironmentReplaceWithDefault:
		*a = v
		return nil
	default:
		return fmt.Errorf("unknown invalid_environment action %q, want %q or %q",
			string(text), InvalidEnvironmentKeep, InvalidEnvironmentReplaceWithDefault)
	}
}

// LabelNames are the keys under which the three required labels are written.
type LabelNames struct {
	// Environment is the key of the environment label. Empty is invalid; default "environment".
	Environment string `mapstructure:"environment"`
	// Project is the key of the project label. Empty is invalid; default "project".
	Project string `mapstructure:"project"`
	// Service is the key of the service label. Empty is invalid; default "service".
	Service string `mapstructure:"service"`
}

// Config is the configuration of the airi_normalize processor.
type Config struct {
	// Environment is the environment value, usually "${env:ENVIRONMENT}". Empty means: take it
	// from the resource (deployment.environment.name, then deployment.environment). When set, it
	// must be one of AllowedEnvironments.
	Environment string `mapstructure:"environment"`
	// Project is the project value. Empty means: take it from the resource's service.namespace.
	Project string `mapstructure:"project"`
	// Service is the service value. Empty means: take it from the resource's service.name.
	Service string `mapstructure:"service"`

	// LabelNames are the keys the three labels are written under (data-point attributes on
	// metrics, resource attributes on spans and logs).
	LabelNames LabelNames `mapstructure:"label_names"`

	// Override, when true, makes a non-empty configured value replace the value the application
	// set on its resource. False (the default) means the application's own value wins and the
	// configured value only fills gaps.
	Override bool `mapstructure:"override"`

	// AllowedEnvironments is the set of valid environment values. Empty is invalid; default
	// [dev, staging, prod].
	AllowedEnvironments []string `mapstructure:"allowed_environments"`

	// InvalidEnvironment is what happens to an environment value from the data that is not in
	// AllowedEnvironments: "replace_with_default" (the default) or "keep". Either way it is counted.
	InvalidEnvironment InvalidEnvironmentAction `mapstructure:"invalid_environment"`

	// DefaultValue is written for a required label that has no value in config or data. Empty is
	// invalid; default "unknown".
	DefaultValue string `mapstructure:"default_value"`

	// PrometheusNames, when true (the default), renames metrics and metric label keys to their final
	// Prometheus form. False leaves names and keys alone.
	PrometheusNames bool `mapstructure:"prometheus_names"`

	// SemconvUpgrade, when true (the default), maps old HTTP attribute keys to the stable ones and
	// old millisecond HTTP duration histograms to the stable ones in seconds.
	SemconvUpgrade bool `mapstructure:"semconv_upgrade"`

	// MaxTrackedNames bounds the processor's memory: the metric-name translation cache, the
	// per-name type memory used for collision detection, and the label-key cache each hold at
	// most this many entries. Must be > 0; default 10000.
	MaxTrackedNames int `mapstructure:"max_tracked_names"`
}

func createDefaultConfig() *Config {
	return &Config{
		LabelNames: LabelNames{
			Environment: "environment",
			Project:     "project",
			Service:     "service",
		},
		AllowedEnvironments: []string{"dev", "staging", "prod"},
		InvalidEnvironment:  InvalidEnvironmentReplaceWithDefault,
		DefaultValue:        "unknown",
		PrometheusNames:     true,
		SemconvUpgrade:      true,
		MaxTrackedNames:     10000,
	}
}

// reservedResourceKeys are the semantic-convention keys the processor keeps in step itself; a
// label name equal to one of them would fight with that.
var reservedResourceKeys = []string{
	attrDeploymentEnvironmentName, attrDeploymentEnvironment, attrServiceNamespace, attrServiceName,
}

// Validate checks the configuration and reports every problem at once.
func (c *Config) Validate() error {
	var errs []error

	names := []struct{ field, value string }{
		{"label_names::environment", c.LabelNames.Environment},
		{"label_names::project", c.LabelNames.Project},
		{"label_names::service", c.LabelNames.Service},
	}
	seen := map[string]string{}
	for _, n := range names {
		switch {
		case n.value == "":
			errs = append(errs, fmt.Errorf("%s: must not be empty", n.field))
			continue
		case slices.Contains(reservedResourceKeys, n.value):
			errs = append(errs, fmt.Errorf("%s: %q is a semantic-convention key the processor maintains itself; choose another name", n.field, n.value))
		case c.PrometheusNames:
			// The label is written on metric data points after key escaping, so it must already
			// be in Prometheus form or Prometheus would show a different name.
			if out, _ := promLabelKey(n.value); out != n.value {
				errs = append(errs, fmt.Errorf("%s: %q is not a valid Prometheus label name (would become %q)", n.field, n.value, out))
			}
		}
		if other, dup := seen[n.value]; dup {
			errs = append(errs, fmt.Errorf("%s: %q is already used by %s", n.field, n.value, other))
		}
		seen[n.value] = n.field
	}

	if len(c.AllowedEnvironments) == 0 {
		errs = append(errs, errors.New("allowed_environments: must list at least one environment"))
	}
	for i, e := range c.AllowedEnvironments {
		if e == "" {
			errs = append(errs, fmt.Errorf("allowed_environments[%d]: must not be empty", i))
		}
	}
	if c.Environment != "" && len(c.AllowedEnvironments) > 0 && !slices.Contains(c.AllowedEnvironments, c.Environment) {
		errs = append(errs, fmt.Errorf("environment: %q is not one of allowed_environments %v", c.Environment, c.AllowedEnvironments))
	}

	switch c.InvalidEnvironment {
	case InvalidEnvironmentKeep, InvalidEnvironmentReplaceWithDefault:
	default:
		errs = append(errs, fmt.Errorf("invalid_environment: unknown action %q, want %q or %q",
			c.InvalidEnvironment, InvalidEnvironmentKeep, InvalidEnvironmentReplaceWithDefault))
	}

	if c.DefaultValue == "" {
		errs = append(errs, errors.New("default_value: must not be empty"))
	}
	if c.MaxTrackedNames <= 0 {
		errs = append(errs, fmt.Errorf("max_tracked_names: must be > 0, got %d", c.MaxTrackedNames))
	}
	return errors.Join(errs...)
}
