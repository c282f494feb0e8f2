// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// TestSecretsNeverLeaveLocal is issue 21's report turned into a test: a span, two log records
// and a metric carrying every kind of secret go through `--config airi:local` as the OTel Go SDK
// sends them; the files and the Prometheus endpoint hold none of the raw values, the masked
// shapes instead, and everything else unchanged.
func TestSecretsNeverLeaveLocal(t *testing.T) {
	t.Parallel()
	c := startLocal(t, "airi:local")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := resource.NewSchemaless(semconv.ServiceName("billing-api"), semconv.ServiceNamespace("airi"),
		attribute.String("deployment.environment.name", "prod"))

	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(c.grpc), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(texp), sdktrace.WithResource(res))
	linked := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	})
	_, span := tp.Tracer("secrets-test").Start(ctx, "POST /v1/charges", trace.WithLinks(trace.Link{
		SpanContext: linked, Attributes: []attribute.KeyValue{attribute.String("aws.access_key_id", harness.SecretAWS)},
	}))
	span.SetAttributes(harness.SecretSpanAttributes()...)
	span.AddEvent("llm.error", trace.WithAttributes(attribute.String("error.message",
		"openai rejected "+harness.SecretOpenAI+", falling back to anthropic "+harness.SecretAnthropic)))
	traceID := span.SpanContext().TraceID().String()
	span.End()
	require.NoError(t, tp.Shutdown(ctx))

	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(c.http), otlploghttp.WithInsecure())
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res))
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("stripe charge failed for card " + harness.SecretCard + " key " + harness.SecretStripe))
	rec.SetSeverity(otellog.SeverityError)
	rec.AddAttributes(
		attribute.String("password", harness.SecretPassword),
		attribute.String("http.request.header.authorization", "Basic "+harness.SecretBasic),
		attribute.String("user.email", "jane.doe@example.com"),
		attribute.String("trace_id", "req-abc123"),
	)
	lp.Logger("secrets-test").Emit(ctx, rec)
	var rec2 otellog.Record
	rec2.SetBody(attribute.MapValue(
		attribute.String("message", "upstream call"),
		attribute.Map("headers", attribute.String("Authorization", "Bearer "+harness.SecretJWT), attribute.String("Accept", "application/json")),
		attribute.String("order", "4242424242424241"),
		attribute.String("curl", "curl -H 'Authorization: Bearer "+harness.SecretCookie+"' https://api.example.com"),
	))
	lp.Logger("secrets-test").Emit(ctx, rec2)
	require.NoError(t, lp.Shutdown(ctx))

	mexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(c.grpc), otlpmetricgrpc.WithInsecure())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(res))
	calls, err := mp.Meter("secrets-test").Int64Counter("llm.calls")
	require.NoError(t, err)
	calls.Add(ctx, 3, metric.WithAttributes(
		attribute.String("http.request.header.x-api-key", harness.SecretOpenAI),
		attribute.String("url.query", "model=gpt-4o&api_key="+harness.SecretQueryKey),
		attribute.String("gen_ai.request.model", "gpt-4o"),
	))
	require.NoError(t, mp.Shutdown(ctx))

	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		traces, err := os.ReadFile(filepath.Join(c.dataDir, "traces.jsonl"))
		if err != nil {
			return err
		}
		logs, err := os.ReadFile(filepath.Join(c.dataDir, "logs.jsonl"))
		if err != nil {
			return err
		}
		if !strings.Contains(string(logs), "stripe charge failed") || !strings.Contains(string(logs), "upstream call") {
			return fmt.Errorf("logs not (yet) written:\n%s", logs)
		}
		for name, body := range map[string]string{"traces.jsonl": string(traces), "logs.jsonl": string(logs)} {
			if err := harness.FindSecrets(name, body); err != nil {
				return err
			}
		}
		return requireAll("traces.jsonl", string(traces),
			`"traceId":"`+traceID+`"`, `"name":"POST /v1/charges"`, `"stringValue":"Bearer ****"`,
			`"stringValue":"session=****"`, `api_key=****`, `"stringValue":"jane.doe@example.com"`,
			`"stringValue":"4242424242424241"`, `whsec_****`, `ghp_****`, `AIza****`, `sk-proj-****`, `sk-ant-****`,
			`"stringValue":"AKIA****"`, `"stringValue":"refreshed id token eyJ****"`, `"stringValue":"retried with Basic ****"`, `{"key":"tracking.id","value":{"stringValue":"`+traceID+`"}}`)
	})
	logs, err := os.ReadFile(filepath.Join(c.dataDir, "logs.jsonl"))
	require.NoError(t, err)
	require.NoError(t, requireAll("logs.jsonl", string(logs),
		`"stringValue":"stripe charge failed for card **** key sk_live_****"`, `{"key":"password","value":{"stringValue":"****"}}`,
		`"stringValue":"Basic ****"`, `"stringValue":"jane.doe@example.com"`, `"stringValue":"4242424242424241"`,
		`{"key":"tracking.id.original","value":{"stringValue":"req-abc123"}}`, `"stringValue":"application/json"`,
		`Authorization: Bearer ****'`))

	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		body, err := harness.Get(ctx, "http://"+c.prom+"/metrics")
		if err != nil {
			return err
		}
		if !strings.Contains(body, "llm_calls") {
			return fmt.Errorf("llm_calls not (yet) exposed")
		}
		if err := harness.FindSecrets("the Prometheus endpoint", body); err != nil {
			return err
		}
		return requireAll("the Prometheus endpoint", body, `="sk-proj-****"`, `="model=gpt-4o&api_key=****"`, `gen_ai_request_model="gpt-4o"`)
	})

	// The collector's own telemetry counts the masked values by rule.
	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		body, err := harness.Get(ctx, "http://"+c.telem+"/metrics")
		if err != nil {
			return err
		}
		for _, rule := range []string{"key", "jwt", "bearer", "basic", "stripe", "openai", "anthropic", "aws", "github", "google", "card", "query_param"} {
			if harness.SumSeries(body, "otelcol_processor_secret_scrub_redactions", `rule="`+rule+`"`) < 1 {
				return fmt.Errorf("no redaction counted for rule %s:\n%s", rule, body)
			}
		}
		return nil
	})
	require.NoError(t, c.proc.Stop(20*time.Second))
}

func requireAll(where, body string, wants ...string) error {
	for _, w := range wants {
		if !strings.Contains(body, w) {
			return fmt.Errorf("%s lacks %s:\n%s", where, w, body)
		}
	}
	return nil
}
