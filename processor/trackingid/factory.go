// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid // import "github.com/airi-otel/otelcol-airi/processor/trackingid"

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/airi-otel/otelcol-airi/extension/requestjoin"
	"github.com/airi-otel/otelcol-airi/processor/trackingid/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the tracking_id processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func newProcessor(set processor.Settings, cfg component.Config) (*trackingProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return newTrackingProcessor(cfg.(*Config), tb), nil
}

// start looks the request_join extension up, when one is configured.
func (p *trackingProcessor) start(_ context.Context, host component.Host) error {
	if p.cfg.RequestJoin == "" {
		return nil
	}
	id, err := p.cfg.requestJoinID()
	if err != nil {
		return fmt.Errorf("request_join: %w", err)
	}
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return fmt.Errorf("request_join: extension %q not found; configure it under extensions and list it in service.extensions", id)
	}
	j, ok := ext.(requestjoin.Joiner)
	if !ok {
		return fmt.Errorf("request_join: extension %q is not a request_join extension", id)
	}
	p.join = j
	if p.hold != nil {
		p.hold.start()
	}
	return nil
}

func (p *trackingProcessor) shutdown(context.Context) error {
	if p.hold != nil && p.join != nil {
		p.hold.shutdown() // forwards what is still held, before the telemetry goes
	}
	p.telemetry.Shutdown()
	return nil
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newProcessor(set, cfg)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newProcessor(set, cfg)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newProcessor(set, cfg)
	if err != nil {
		return nil, err
	}
	if p.cfg.JoinHold > 0 {
		p.hold = newHolder(p, next, set.Logger)
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}
