// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
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

// TestLocalOTLPHTTPProtobufGzip sends all three signals the way seed 001's Node.js service and
// its imgproxy do (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, gzip on), with the OTel Go SDK's
// HTTP exporters (protobuf is the only encoding they send), into the embedded airi:local. The
// resource names no environment, so local.yaml's laptop default `dev` must show.
func TestLocalOTLPHTTPProtobufGzip(t *testing.T) {
	t.Parallel()
	c := startLocal(t, "airi:local")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := resource.NewSchemaless(semconv.ServiceName("kira-be"), semconv.ServiceNamespace("kira"))

	texp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(c.http), otlptracehttp.WithInsecure(),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(texp), sdktrace.WithResource(res))
	_, span := tp.Tracer("kira").Start(ctx, "generateImageWithAI",
		// Seed 001's span attribute for calls to outside services.
		trace.WithAttributes(attribute.String("external.service", "imgproxy")))
	traceID := span.SpanContext().TraceID().String()
	span.End()
	require.NoError(t, tp.Shutdown(ctx))

	mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(c.http), otlpmetrichttp.WithInsecure(),
		otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(res))
	tools, err := mp.Meter("kira").Int64Counter("ai_tool_executions")
	require.NoError(t, err)
	tools.Add(ctx, 3, metric.WithAttributes(attribute.String("tool_name", "generateImageWithAI"), attribute.String("success", "true")))
	require.NoError(t, mp.Shutdown(ctx))

	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(c.http), otlploghttp.WithInsecure(),
		otlploghttp.WithCompression(otlploghttp.GzipCompression))
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res))
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("ai tool executed"))
	rec.SetSeverity(otellog.SeverityInfo)
	rec.AddAttributes(attribute.String("tool_name", "generateImageWithAI"))
	lp.Logger("kira").Emit(ctx, rec)
	require.NoError(t, lp.Shutdown(ctx))

	counter := regexp.MustCompile(`(?m)^ai_tool_executions_total\{environment="dev",[^}]*project="kira",service="kira-be",success="true",tool_name="generateImageWithAI"\} 3$`)
	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		body, err := harness.Get(ctx, "http://"+c.prom+"/metrics")
		if err != nil {
			return err
		}
		if !counter.MatchString(body) {
			return fmt.Errorf("ai_tool_executions_total not (yet) exposed as wanted; got:\n%s", body)
		}
		return nil
	})

	devLabel := `{"key":"environment","value":{"stringValue":"dev"}}`
	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		for file, wants := range map[string][]string{
			"traces.jsonl": {`"traceId":"` + traceID + `"`, `"name":"generateImageWithAI"`, `"stringValue":"imgproxy"`, devLabel},
			"logs.jsonl":   {`"stringValue":"ai tool executed"`, `"stringValue":"generateImageWithAI"`, devLabel},
		} {
			b, err := os.ReadFile(filepath.Join(c.dataDir, file))
			if err != nil {
				return err
			}
			for _, want := range wants {
				if !strings.Contains(string(b), want) {
					return fmt.Errorf("%s lacks %s:\n%s", file, want, b)
				}
			}
		}
		return nil
	})

	// All three arrived over HTTP: the receiver counts them under transport="http".
	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		body, err := harness.Get(ctx, "http://"+c.telem+"/metrics")
		if err != nil {
			return err
		}
		for _, name := range []string{"otelcol_receiver_accepted_spans", "otelcol_receiver_accepted_metric_points", "otelcol_receiver_accepted_log_records"} {
			if !regexp.MustCompile(`(?m)^` + name + `\{[^}]*transport="http"[^}]*\} [1-9]`).MatchString(body) {
				return fmt.Errorf("%s has no transport=\"http\" count", name)
			}
		}
		return nil
	})
}
