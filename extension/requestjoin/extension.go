// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package requestjoin // import "github.com/airi-otel/otelcol-airi/extension/requestjoin"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/airi-otel/otelcol-airi/extension/requestjoin/internal/metadata"
)

// joinExtension is the request_join extension: a store and its telemetry.
type joinExtension struct {
	*store
	telemetry *metadata.TelemetryBuilder
}

var (
	_ extension.Extension = (*joinExtension)(nil)
	_ Joiner              = (*joinExtension)(nil)
)

// NewFactory returns the factory of the request_join extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	c := cfg.(*Config)
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	x := &joinExtension{telemetry: tb}
	x.store = newStore(c.TTL, c.MaxEntries, func(n int64) {
		tb.RequestJoinEvicted.Add(context.Background(), n)
	})
	return x, nil
}

func (*joinExtension) Start(context.Context, component.Host) error { return nil }

func (x *joinExtension) Shutdown(context.Context) error {
	x.telemetry.Shutdown()
	return nil
}
