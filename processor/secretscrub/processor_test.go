// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub

import (
	"context"
	"strings"
	"testing"

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

	"github.com/airi-otel/otelcol-airi/processor/secretscrub/internal/metadata"
	"github.com/airi-otel/otelcol-airi/processor/secretscrub/internal/metadatatest"
)

var rawSecrets = []string{testJWT, testStripe, testOpenAI, testAnthropic, testAWS, testGitHub, testGoogle, testCard, testBasic, "hunter2", "s3cr3t"}

const traceHex = "4bf92f3577b34da6a3ce929d0e0e4736"

// requireNoSecret fails when any raw secret is left anywhere in the JSON form of the data.
func requireNoSecret(t *testing.T, data []byte) {
	t.Helper()
	for _, s := range rawSecrets {
		require.NotContains(t, string(data), s)
	}
}

func secretSpan(s ptrace.Span) {
	s.SetName("POST /v1/charges")
	s.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36})
	a := s.Attributes()
	a.PutStr("http.request.header.authorization", "Bearer "+testJWT)
	a.PutEmptySlice("http.request.header.x-api-key").AppendEmpty().SetStr(testOpenAI)
	a.PutStr("url.full", "https://api.stripe.com/v1/charges?api_key="+testStripe+"&limit=3")
	a.PutStr("user.email", "jane@example.com")
	a.PutStr("tracking.id", traceHex)
	a.PutStr("order.id", "4242424242424241")
	a.PutInt("password", 123456)
	ev := s.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.message", "anthropic call failed with key "+testAnthropic)
	l := s.Links().AppendEmpty()
	l.Attributes().PutStr("aws.access_key_id", testAWS)
	l.Attributes().PutStr("note", "Basic "+testBasic)
}

func newTestTraces(t *testing.T, cfg *Config) (*componenttest.Telemetry, *consumertest.TracesSink, func(ptrace.Traces)) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return tel, sink, func(td ptrace.Traces) { require.NoError(t, p.ConsumeTraces(context.Background(), td)) }
}

func TestTraces(t *testing.T) {
	t.Parallel()
	tel, sink, consume := newTestTraces(t, createDefaultConfig().(*Config))
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().Resource().Attributes().PutStr("process.command_line", "worker --password=s3cr3t")
	secretSpan(td.ResourceSpans().At(0).ScopeSpans().AppendEmpty().Spans().AppendEmpty())
	consume(td)

	out := sink.AllTraces()[0]
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(out)
	require.NoError(t, err)
	requireNoSecret(t, b)

	s := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	want := map[string]any{
		"http.request.header.authorization": "Bearer ****",
		"http.request.header.x-api-key":     []any{"sk-proj-****"},
		"url.full":                          "https://api.stripe.com/v1/charges?api_key=****&limit=3",
		"user.email":                        "jane@example.com",
		"tracking.id":                       traceHex,
		"order.id":                          "4242424242424241",
		"password":                          "****",
	}
	require.Equal(t, want, s.Attributes().AsRaw())
	require.Equal(t, "POST /v1/charges", s.Name())
	require.Equal(t, "anthropic call failed with key sk-ant-****", s.Events().At(0).Attributes().AsRaw()["exception.message"])
	require.Equal(t, map[string]any{"aws.access_key_id": "AKIA****", "note": "Basic ****"}, s.Links().At(0).Attributes().AsRaw())
	require.Equal(t, "worker --password=****", out.ResourceSpans().At(0).Resource().Attributes().AsRaw()["process.command_line"])

	assertRedactions(t, tel, "traces", map[Rule]int64{
		RuleKey: 3, RuleQueryParam: 2, RuleAnthropic: 1, RuleAWS: 1, RuleBasic: 1,
	})
}

func assertRedactions(t *testing.T, tel *componenttest.Telemetry, sig string, want map[Rule]int64) {
	t.Helper()
	var dps []metricdata.DataPoint[int64]
	for r, n := range want {
		dps = append(dps, metricdata.DataPoint[int64]{Value: n, Attributes: attribute.NewSet(
			attribute.String("rule", string(r)), attribute.String("signal", sig))})
	}
	metadatatest.AssertEqualProcessorSecretScrubRedactions(t, tel, dps, metricdatatest.IgnoreTimestamp())
}

func TestLogs(t *testing.T) {
	t.Parallel()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tel), createDefaultConfig(), sink)
	require.NoError(t, err)

	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	str := lrs.AppendEmpty()
	str.Body().SetStr("stripe charge failed for card " + testCard + " key " + testStripe)
	str.Attributes().PutStr("password", "hunter2")
	str.Attributes().PutStr("tracking_id", traceHex)
	str.Attributes().PutStr("request_id", "req-abc123")
	m := lrs.AppendEmpty().Body().SetEmptyMap()
	m.PutStr("message", "github push with "+testGitHub)
	m.PutStr("level", "ERROR")
	inner := m.PutEmptyMap("request")
	inner.PutStr("url", "/cb?token=abc123&page=2")
	hdrs := inner.PutEmptyMap("headers")
	hdrs.PutStr("Authorization", "Basic "+testBasic)
	hdrs.PutStr("Accept", "application/json")
	m.PutEmptySlice("keys").AppendEmpty().SetStr(testGoogle)

	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	out := sink.AllLogs()[0]
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(out)
	require.NoError(t, err)
	requireNoSecret(t, b)

	got := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, "stripe charge failed for card **** key sk_live_****", got.At(0).Body().Str())
	require.Equal(t, map[string]any{"password": "****", "tracking_id": traceHex, "request_id": "req-abc123"}, got.At(0).Attributes().AsRaw())
	require.Equal(t, map[string]any{
		"message": "github push with ghp_****",
		"level":   "ERROR",
		"request": map[string]any{
			"url":     "/cb?token=****&page=2",
			"headers": map[string]any{"Authorization": "Basic ****", "Accept": "application/json"},
		},
		"keys": []any{"AIza****"},
	}, got.At(1).Body().AsRaw())
	assertRedactions(t, tel, "logs", map[Rule]int64{
		RuleKey: 2, RuleCard: 1, RuleStripe: 1, RuleGitHub: 1, RuleQueryParam: 1, RuleGoogle: 1,
	})
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.MetricsSink)
	p, err := NewFactory().CreateMetrics(context.Background(), metadatatest.NewSettings(tel), createDefaultConfig(), sink)
	require.NoError(t, err)

	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	sum := ms.AppendEmpty()
	sum.SetName("http_requests_total")
	dp := sum.SetEmptySum().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("http_route", "/v1/charges")
	dp.Attributes().PutStr("url_full", "/v1/charges?api_key="+testStripe)
	dp.Attributes().PutStr("token", testOpenAI)
	dp.Attributes().PutStr("tracking_id", traceHex)
	// airi_normalize's label form of http.request.header.cookie keeps the cookie names too.
	dp.Attributes().PutStr("http_request_header_cookie", "session=abc123; theme=dark")
	dp.Attributes().PutStr("HTTP_RESPONSE_HEADER_SET_COOKIE", "id=a3fWa; Path=/")
	dp.Exemplars().AppendEmpty().FilteredAttributes().PutStr("authorization", "Bearer "+testJWT)
	h := ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty()
	h.Attributes().PutStr("customer_card", testCard)
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().Attributes().PutStr("x_api_key", "abc")
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().Attributes().PutStr("aws_key", testAWS)
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().Attributes().PutStr("gh", testGitHub)

	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	out := sink.AllMetrics()[0]
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(out)
	require.NoError(t, err)
	requireNoSecret(t, b)
	got := out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	require.Equal(t, map[string]any{
		"http_route": "/v1/charges", "url_full": "/v1/charges?api_key=****", "token": "sk-proj-****", "tracking_id": traceHex,
		"http_request_header_cookie": "session=****; theme=****", "HTTP_RESPONSE_HEADER_SET_COOKIE": "id=****; Path=****",
	}, got.At(0).Sum().DataPoints().At(0).Attributes().AsRaw())
	assertRedactions(t, tel, "metrics", map[Rule]int64{
		RuleKey: 5, RuleQueryParam: 1, RuleCard: 1, RuleAWS: 1, RuleGitHub: 1,
	})
}

func TestDisabledPassesThrough(t *testing.T) {
	t.Parallel()
	tel, sink, consume := newTestTraces(t, &Config{Enabled: false})
	td := ptrace.NewTraces()
	secretSpan(td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty())
	want := ptrace.NewTraces()
	td.CopyTo(want)
	consume(td)
	require.Equal(t, want, sink.AllTraces()[0])
	_, err := tel.GetMetric("otelcol_processor_secret_scrub_redactions")
	require.Error(t, err, "nothing counted when disabled")
}

func TestEmailSwitch(t *testing.T) {
	t.Parallel()
	_, sink, consume := newTestTraces(t, &Config{Enabled: true, MaskEmails: true})
	td := ptrace.NewTraces()
	secretSpan(td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty())
	consume(td)
	got := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().AsRaw()
	require.Equal(t, "****@example.com", got["user.email"])
	require.False(t, strings.Contains(got["url.full"].(string), testStripe))
}

func nopTelemetry(t testing.TB) *metadata.TelemetryBuilder {
	tb, err := metadata.NewTelemetryBuilder(componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	return tb
}
