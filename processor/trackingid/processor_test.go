// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/processor/trackingid/internal/metadatatest"
)

// wantCounts is the processor's own telemetry after one golden case; zero means "not
// recorded at all" for that counter.
type wantCounts struct {
	fromContext, derived, invalid int64
}

func assertCounts(t *testing.T, tel *componenttest.Telemetry, signal string, want wantCounts) {
	t.Helper()
	attrs := attribute.NewSet(attribute.String("signal", signal))
	check := func(name string, v int64, assert func(*testing.T, *componenttest.Telemetry, []metricdata.DataPoint[int64], ...metricdatatest.Option)) {
		if v == 0 {
			_, err := tel.GetMetric(name)
			require.Error(t, err, "%s must not be recorded", name)
			return
		}
		assert(t, tel, []metricdata.DataPoint[int64]{{Value: v, Attributes: attrs}}, metricdatatest.IgnoreTimestamp())
	}
	check("otelcol_processor_tracking_id_ids_from_context", want.fromContext, metadatatest.AssertEqualProcessorTrackingIDIdsFromContext)
	check("otelcol_processor_tracking_id_ids_derived", want.derived, metadatatest.AssertEqualProcessorTrackingIDIdsDerived)
	check("otelcol_processor_tracking_id_ids_invalid", want.invalid, metadatatest.AssertEqualProcessorTrackingIDIdsInvalid)
}

func TestGoldenTraces(t *testing.T) {
	t.Parallel()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(tel), createDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	dir := filepath.Join("testdata", "traces")
	input, err := golden.ReadTraces(filepath.Join(dir, "input.yaml"))
	require.NoError(t, err)
	expected, err := golden.ReadTraces(filepath.Join(dir, "expected.yaml"))
	require.NoError(t, err)

	require.NoError(t, p.ConsumeTraces(context.Background(), input))
	require.Len(t, sink.AllTraces(), 1)
	require.NoError(t, ptracetest.CompareTraces(expected, sink.AllTraces()[0]))
	assertCounts(t, tel, "traces", wantCounts{fromContext: 13, invalid: 1})
}

func TestGoldenLogs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want wantCounts
	}{
		{name: "logs_context", want: wantCounts{fromContext: 5}},
		{name: "logs_derive", want: wantCounts{derived: 11, invalid: 5}},
		{name: "logs_body", want: wantCounts{derived: 7}},
		{name: "logs_nested", want: wantCounts{derived: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			sink := new(consumertest.LogsSink)
			p, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tel), createDefaultConfig(), sink)
			require.NoError(t, err)
			require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
			t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

			dir := filepath.Join("testdata", tc.name)
			input, err := golden.ReadLogs(filepath.Join(dir, "input.yaml"))
			require.NoError(t, err)
			expected, err := golden.ReadLogs(filepath.Join(dir, "expected.yaml"))
			require.NoError(t, err)

			require.NoError(t, p.ConsumeLogs(context.Background(), input))
			require.Len(t, sink.AllLogs(), 1)
			require.NoError(t, plogtest.CompareLogs(expected, sink.AllLogs()[0]))
			assertCounts(t, tel, "logs", tc.want)
		})
	}
}

func TestGoldenMetrics(t *testing.T) {
	t.Parallel()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), metadatatest.NewSettings(tel), createDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	dir := filepath.Join("testdata", "metrics")
	input, err := golden.ReadMetrics(filepath.Join(dir, "input.yaml"))
	require.NoError(t, err)
	expected, err := golden.ReadMetrics(filepath.Join(dir, "expected.yaml"))
	require.NoError(t, err)

	require.NoError(t, p.ConsumeMetrics(context.Background(), input))
	require.Len(t, sink.AllMetrics(), 1)
	require.NoError(t, pmetrictest.CompareMetrics(expected, sink.AllMetrics()[0]))
	assertCounts(t, tel, "metrics", wantCounts{derived: 11, invalid: 1})
}

// TestIdempotent runs every golden output through the processor again: a second tracking_id
// stage (agent, then gateway) must change nothing.
func TestIdempotent(t *testing.T) {
	t.Parallel()
	p := newTestProcessor(t, createDefaultConfig().(*Config))
	ctx := context.Background()

	expTraces, err := golden.ReadTraces(filepath.Join("testdata", "traces", "expected.yaml"))
	require.NoError(t, err)
	again := ptrace.NewTraces()
	expTraces.CopyTo(again)
	_, err = p.processTraces(ctx, again)
	require.NoError(t, err)
	require.NoError(t, ptracetest.CompareTraces(expTraces, again))

	for _, name := range []string{"logs_context", "logs_derive", "logs_body"} {
		exp, err := golden.ReadLogs(filepath.Join("testdata", name, "expected.yaml"))
		require.NoError(t, err)
		again := plog.NewLogs()
		exp.CopyTo(again)
		_, err = p.processLogs(ctx, again)
		require.NoError(t, err)
		require.NoError(t, plogtest.CompareLogs(exp, again), name)
	}

	expMetrics, err := golden.ReadMetrics(filepath.Join("testdata", "metrics", "expected.yaml"))
	require.NoError(t, err)
	againM := pmetric.NewMetrics()
	expMetrics.CopyTo(againM)
	_, err = p.processMetrics(ctx, againM)
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(expMetrics, againM))
}

func newTestProcessor(t testing.TB, cfg *Config) *trackingProcessor {
	t.Helper()
	tel := componenttest.NewTelemetry()
	p, err := newProcessor(metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	return p
}

func logWith(body pcommon.Value, attrs map[string]any) plog.Logs {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	body.CopyTo(lr.Body())
	_ = lr.Attributes().FromRaw(attrs)
	return ld
}

func mapBody(m map[string]any) pcommon.Value {
	v := pcommon.NewValueMap()
	_ = v.Map().FromRaw(m)
	return v
}

func firstLog(ld plog.Logs) plog.LogRecord {
	return ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
}

func TestConfigOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hashed := "9bf2d37415ca057cdbb0a0cecfa5ab9c" // sha256("req-abc123")[:16]

	t.Run("search_body false ignores a map body", func(t *testing.T) {
		cfg := createDefaultConfig().(*Config)
		cfg.SearchBody = false
		p := newTestProcessor(t, cfg)
		ld := logWith(mapBody(map[string]any{"trace_id": "req-abc123"}), nil)
		_, err := p.processLogs(ctx, ld)
		require.NoError(t, err)
		require.True(t, firstLog(ld).TraceID().IsEmpty())
		require.Equal(t, 0, firstLog(ld).Attributes().Len())
	})

	t.Run("body_max_depth 0 searches only the top level", func(t *testing.T) {
		cfg := createDefaultConfig().(*Config)
		cfg.BodyMaxDepth = 0
		p := newTestProcessor(t, cfg)
		nested := logWith(mapBody(map[string]any{"tracing": map[string]any{"trace_id": "req-abc123"}}), nil)
		top := logWith(mapBody(map[string]any{"trace_id": "req-abc123"}), nil)
		_, err := p.processLogs(ctx, nested)
		require.NoError(t, err)
		_, err = p.processLogs(ctx, top)
		require.NoError(t, err)
		require.True(t, firstLog(nested).TraceID().IsEmpty())
		require.Equal(t, hashed, traceHex(firstLog(top).TraceID()))
	})

	t.Run("derive_log_trace_id false leaves logs without context alone", func(t *testing.T) {
		cfg := createDefaultConfig().(*Config)
		cfg.DeriveLogTraceID = false
		p := newTestProcessor(t, cfg)
		ld := logWith(pcommon.NewValueStr("x"), map[string]any{"trace_id": "req-abc123"})
		_, err := p.processLogs(ctx, ld)
		require.NoError(t, err)
		require.True(t, firstLog(ld).TraceID().IsEmpty())
		require.Equal(t, map[string]any{"trace_id": "req-abc123"}, firstLog(ld).Attributes().AsRaw())
	})

	t.Run("metric_exemplars false passes metrics through", func(t *testing.T) {
		cfg := createDefaultConfig().(*Config)
		cfg.MetricExemplars = false
		p := newTestProcessor(t, cfg)
		md := pmetric.NewMetrics()
		dp := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
		dp.Attributes().PutStr("tracking_id", "req-abc123")
		_, err := p.processMetrics(ctx, md)
		require.NoError(t, err)
		require.Equal(t, 0, dp.Exemplars().Len())
	})

	t.Run("custom keys and attribute names", func(t *testing.T) {
		cfg := createDefaultConfig().(*Config)
		cfg.RequestIDKeys = []string{"correlation_id"}
		cfg.LogAttribute = "tid"
		cfg.SpanAttribute = "tid"
		cfg.OriginalAttribute = "tid.raw"
		cfg.MetricLabelKeys = []string{"corr"}
		p := newTestProcessor(t, cfg)

		ld := logWith(pcommon.NewValueStr("x"), map[string]any{"trace_id": "ignored", "Correlation_ID": "req-abc123"})
		_, err := p.processLogs(ctx, ld)
		require.NoError(t, err)
		require.Equal(t, map[string]any{
			"trace_id": "ignored", "Correlation_ID": "req-abc123", "tid": hashed, "tid.raw": "req-abc123",
			DerivedAttribute: true,
		}, firstLog(ld).Attributes().AsRaw())

		td := ptrace.NewTraces()
		span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		span.SetTraceID(pcommon.TraceID{1, 2, 3})
		span.Attributes().PutStr("http.request.header.correlation-id", "req-abc123")
		_, err = p.processTraces(ctx, td)
		require.NoError(t, err)
		require.Equal(t, map[string]any{
			"http.request.header.correlation-id": "req-abc123",
			"tid":                                "01020300000000000000000000000000",
			"tid.raw":                            "req-abc123",
		}, span.Attributes().AsRaw())
	})
}

// traceHex is the lower-case hex form of id, as pdata prints it.
func traceHex(id pcommon.TraceID) string {
	return id.String()
}

func TestDeriveTraceID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // "" = invalid
	}{
		{"4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b8109dad11d180b400c04fd430c8"},
		{"6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7b8109dad11d180b400c04fd430c8"},
		// 36 characters with dashes in place but not hex: hashed like any other string.
		{"6ba7b810-9dad-11d1-80b4-00c04fd430cz", "5c8c5c0bb455952bd5d73629a08818cb"},
		// 32 characters, not all hex: hashed.
		{"4bf92f3577b34da6a3ce929d0e0e473g", "30756b6eba3e4e2d676dd0ede4f65a45"},
		{"req-abc123", "9bf2d37415ca057cdbb0a0cecfa5ab9c"},
		{"00000000000000000000000000000000", ""},
		{"00000000-0000-0000-0000-000000000000", ""},
	} {
		id, ok := deriveTraceID(rawID{s: tc.in})
		if tc.want == "" {
			require.False(t, ok, tc.in)
			continue
		}
		require.True(t, ok, tc.in)
		require.Equal(t, tc.want, traceHex(id), tc.in)
	}
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a'
	}
	// Longer than the stack buffer: same hash as a short string would get.
	id, ok := deriveTraceID(rawID{s: string(long)})
	require.True(t, ok)
	require.Equal(t, "9835fa6bf4e20a9b9ea812506302e989", traceHex(id))
}
