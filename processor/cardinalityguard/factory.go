// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
)

// NewFactory returns the factory of the cardinality_guard processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetricsProcessor, metadata.MetricsStability),
	)
}

func createMetricsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	pcfg, ok := cfg.(*Config)
	if !ok {
		return nil, errors.New("cardinality_guard: unexpected configuration type")
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	g := newGuard(pcfg, tel)
	ck := &checkpointer{g: g, self: set.ID, logger: set.Logger, tel: tel}
	return processorhelper.NewMetrics(ctx, set, cfg, next, g.processMetrics,
		// output points are built fresh, but the attributes of the first point of each
		// output series are moved out of the input instead of copied
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithStart(func(ctx context.Context, host component.Host) error {
			if pcfg.Storage == nil {
				return nil
			}
			return ck.start(ctx, host, *pcfg.Storage)
		}),
		processorhelper.WithShutdown(func(ctx context.Context) error {
			err := ck.shutdown(ctx)
			tel.Shutdown()
			return err
		}),
	)
}
