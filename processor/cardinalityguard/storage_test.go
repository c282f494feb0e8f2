// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadatatest"
)

// memStorage is a storage extension keeping one map per client; it outlives the processors
// built on it, as a file_storage directory outlives a process. (The real file_storage runs in
// the end-to-end suite, where a gateway replica is killed and restarted.)
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc
	mu   sync.Mutex
	data map[string][]byte
}

func (s *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return memClient{s}, nil
}

type memClient struct{ s *memStorage }

func (c memClient) Get(_ context.Context, key string) ([]byte, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return append([]byte(nil), c.s.data[key]...), nil
}

func (c memClient) Set(_ context.Context, key string, v []byte) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.data[key] = append([]byte(nil), v...)
	return nil
}

func (c memClient) Delete(_ context.Context, key string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	delete(c.s.data, key)
	return nil
}

func (memClient) Batch(context.Context, ...*storage.Operation) error { return nil }
func (memClient) Close(context.Context) error                        { return nil }

type hostWith map[component.ID]component.Component

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h }

var storageID = component.MustNewID("file_storage")

func startWithStorage(t *testing.T, st *memStorage, set processor.Settings, cfg *Config, sink *consumertest.MetricsSink) processor.Metrics {
	t.Helper()
	p, err := NewFactory().CreateMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), hostWith{storageID: st}))
	return p
}

// TestStorageRestartContinues: a processor with storage is stopped after one batch and a new
// one started on the same storage; the next batch's output equals that of a processor that
// ran through both, and the checkpoints are counted.
func TestStorageRestartContinues(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(NewFactory().Type())
	set.TelemetrySettings = tt.NewTelemetrySettings()
	cfg := checkpointConfig(func(c *Config) { c.MaxSeriesPerMetric = 2; c.Storage = &storageID; c.CheckpointInterval = time.Hour })
	batches := checkpointBatches(t, "overflow")
	copyOf := func(md pmetric.Metrics) pmetric.Metrics {
		c := pmetric.NewMetrics()
		md.CopyTo(c)
		return c
	}

	steadySink := new(consumertest.MetricsSink)
	steadyCfg := *cfg
	steadyCfg.Storage = nil
	steady, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(NewFactory().Type()), &steadyCfg, steadySink)
	require.NoError(t, err)
	require.NoError(t, steady.Start(context.Background(), componenttest.NewNopHost()))

	st := &memStorage{data: map[string][]byte{}}
	sink := new(consumertest.MetricsSink)
	first := startWithStorage(t, st, set, cfg, sink)
	for _, p := range []processor.Metrics{steady, first} {
		require.NoError(t, p.ConsumeMetrics(context.Background(), copyOf(batches[0])))
	}
	require.NoError(t, first.Shutdown(context.Background()))
	require.NotEmpty(t, st.data[storageStateKey], "nothing checkpointed at shutdown")

	second := startWithStorage(t, st, set, cfg, sink)
	for _, p := range []processor.Metrics{steady, second} {
		require.NoError(t, p.ConsumeMetrics(context.Background(), copyOf(batches[1])))
	}
	want, got := steadySink.AllMetrics()[1], sink.AllMetrics()[1]
	require.Positive(t, want.DataPointCount())
	require.NoError(t, pmetrictest.CompareMetrics(want, got,
		pmetrictest.IgnoreResourceMetricsOrder(), pmetrictest.IgnoreMetricsOrder(), pmetrictest.IgnoreMetricDataPointsOrder()))
	require.NoError(t, second.Shutdown(context.Background()))
	require.NoError(t, steady.Shutdown(context.Background()))

	// A damaged checkpoint: logged, counted, ignored; the processor starts empty and works.
	st.data[storageStateKey][len(st.data[storageStateKey])/2] ^= 0x10
	third := startWithStorage(t, st, set, cfg, sink)
	require.NoError(t, third.ConsumeMetrics(context.Background(), copyOf(batches[0])))
	require.NoError(t, third.Shutdown(context.Background()))

	metadatatest.AssertEqualProcessorCardinalityGuardCheckpoints(t, tt, []metricdata.DataPoint[int64]{
		{Value: 3, Attributes: attribute.NewSet(attribute.String("result", "saved"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("result", "restored"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("result", "refused"))},
	}, metricdatatest.IgnoreTimestamp())
}

// TestStorageMissingFailsStart: a storage name that is not a configured extension, or not a
// storage extension, fails at start naming it.
func TestStorageMissingFailsStart(t *testing.T) {
	cfg := checkpointConfig(func(c *Config) { c.Storage = &storageID })
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(NewFactory().Type()), cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	require.ErrorContains(t, p.Start(context.Background(), hostWith{}), `storage: extension "file_storage" not found`)
	require.NoError(t, p.Shutdown(context.Background()))
	p, err = NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(NewFactory().Type()), cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	require.ErrorContains(t, p.Start(context.Background(), hostWith{storageID: &struct {
		component.StartFunc
		component.ShutdownFunc
	}{}}), "not a storage extension")
	require.NoError(t, p.Shutdown(context.Background()))
}
