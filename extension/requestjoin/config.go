// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package requestjoin // import "github.com/airi-otel/otelcol-airi/extension/requestjoin"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
)

// maxEntriesLimit bounds max_entries: at roughly 200 bytes per remembered request (README), ten
// million entries are 2 GB, more than any agent should spend on the join.
const maxEntriesLimit = 10_000_000

// Config is the configuration of the request_join extension.
type Config struct {
	// TTL is how long a request ID is remembered after its last span passed. Default 10m;
	// must be positive.
	TTL time.Duration `mapstructure:"ttl"`

	// MaxEntries bounds how many request IDs are remembered; when full, the least recently
	// written one is dropped (and counted). Default 100000; between 1 and 10000000.
	MaxEntries int `mapstructure:"max_entries"`
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{TTL: 10 * time.Minute, MaxEntries: 100_000}
}

// Validate checks the configuration and reports every problem at once.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.TTL <= 0 {
		errs = append(errs, fmt.Errorf("ttl: must be positive, got %s", cfg.TTL))
	}
	if cfg.MaxEntries < 1 || cfg.MaxEntries > maxEntriesLimit {
		errs = append(errs, fmt.Errorf("max_entries: must be between 1 and %d, got %d", maxEntriesLimit, cfg.MaxEntries))
	}
	return errors.Join(errs...)
}
