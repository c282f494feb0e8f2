// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadatatest"
)

// Issue 12, defect 8: invalid UTF-8 reached the file exporter's JSON lines raw (pdata's JSON
// marshaler, which the file exporter uses, copies the bytes). airi_normalize repairs every
// string it passes on and counts them.
func TestInvalidUTF8IsRepaired(t *testing.T) {
	t.Parallel()
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	ctx := context.Background()
	const bad = "caf\xc3 \xff\xfe"

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api"+bad)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetEmptyMap().PutEmptySlice("items").AppendEmpty().SetStr(bad) // nested
	lr.Attributes().PutStr("msg", bad)
	lr.Attributes().PutStr("k"+bad, "v")
	lr.Attributes().PutStr("fine", "ünïcödé")
	logs := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(ctx, metadatatest.NewSettings(tt), createDefaultConfig(), logs)
	require.NoError(t, err)
	require.NoError(t, lp.ConsumeLogs(ctx, ld))
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(logs.AllLogs()[0])
	require.NoError(t, err)
	require.True(t, utf8.Valid(b), "the JSON line is valid UTF-8: %q", b)
	require.True(t, json.Valid(b))
	out := logs.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	require.Equal(t, map[string]any{"msg": "caf\uFFFD \uFFFD", "k" + "caf\uFFFD \uFFFD": "v", "fine": "ünïcödé"}, out.Attributes().AsRaw())

	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("requests")
	m.SetDescription("d" + bad)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetIntValue(1)
	dp.Attributes().PutStr("route", "/x"+bad)
	dp.Attributes().PutStr("k"+bad, "v") // escaped to an ASCII label name (label_keys_replaced)
	metrics := new(consumertest.MetricsSink)
	mp := newMetricsProcessor(t, metadatatest.NewSettings(tt), createDefaultConfig(), metrics)
	require.NoError(t, mp.ConsumeMetrics(ctx, md))
	mb, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(metrics.AllMetrics()[0])
	require.NoError(t, err)
	require.True(t, utf8.Valid(mb), "the JSON line is valid UTF-8: %q", mb)

	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("GET " + bad)
	sp.Attributes().PutStr("http.target", "/p"+bad+"?q=1") // old key: upgraded in the same pass
	traces := new(consumertest.TracesSink)
	tp, err := NewFactory().CreateTraces(ctx, metadatatest.NewSettings(tt), createDefaultConfig(), traces)
	require.NoError(t, err)
	require.NoError(t, tp.ConsumeTraces(ctx, td))
	tb, err := (&ptrace.JSONMarshaler{}).MarshalTraces(traces.AllTraces()[0])
	require.NoError(t, err)
	require.True(t, utf8.Valid(tb), "the JSON line is valid UTF-8: %q", tb)
	got := traces.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	require.Equal(t, "/pcaf\uFFFD \uFFFD", got.Attributes().AsRaw()["url.path"])

	sig := func(s string) attribute.Set { return attribute.NewSet(attribute.String("signal", s)) }
	// traces: span name, http.target value; logs: resource value, nested body string, msg value, one key; metrics: description, label value
	metadatatest.AssertEqualProcessorAiriNormalizeInvalidUtf8Repaired(t, tt, []metricdata.DataPoint[int64]{
		{Value: 4, Attributes: sig("logs")}, {Value: 2, Attributes: sig("metrics")}, {Value: 2, Attributes: sig("traces")},
	}, metricdatatest.IgnoreTimestamp())
}

// FuzzValidUTF8 checks the inline ASCII path against utf8.ValidString on any bytes.
func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"", "http.method", "GET", "é", "abc\xff", "\xff", "0123456789abcdef\xc3", "ab\xe2\x82\xacd", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		require.Equal(t, utf8.ValidString(s), validUTF8(s), "%q", s)
	})
}
