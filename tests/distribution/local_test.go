// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package distribution tests the ocb-built bin/otelcol-airi as a user meets it: started with the
// shipped configs, fed by the OTel Go SDK, looked at through its own endpoints and files.
package distribution

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// localCollector is bin/otelcol-airi running config/local.yaml on free loopback ports.
type localCollector struct {
	proc                            *harness.Process
	grpc, http, prom, health, telem string
	dataDir                         string
}

// newLocal picks free loopback ports and a data directory for one local.yaml collector.
func newLocal(t testing.TB) *localCollector {
	t.Helper()
	return &localCollector{
		grpc:    harness.FreeAddr(t),
		http:    harness.FreeAddr(t),
		prom:    harness.FreeAddr(t),
		health:  harness.FreeAddr(t),
		telem:   harness.FreeAddr(t),
		dataDir: t.TempDir(),
	}
}

// env is what moves local.yaml's listeners and files to c's ports and directory.
func (c *localCollector) env() map[string]string {
	return map[string]string{
		"AIRI_OTLP_GRPC_ENDPOINT":  c.grpc,
		"AIRI_OTLP_HTTP_ENDPOINT":  c.http,
		"AIRI_PROMETHEUS_ENDPOINT": c.prom,
		"AIRI_HEALTH_ENDPOINT":     c.health,
		"AIRI_TELEMETRY_HOST":      "127.0.0.1",
		"AIRI_TELEMETRY_PORT":      c.telem[strings.LastIndexByte(c.telem, ':')+1:],
		"AIRI_DATA_DIR":            c.dataDir,
	}
}

func startLocal(t testing.TB, configArg string) *localCollector {
	t.Helper()
	c := newLocal(t)
	c.proc = harness.Start(t, harness.CollectorBinary(t), []string{"--config", configArg}, c.env())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, harness.WaitHTTP(ctx, c.proc, "http://"+c.health+"/", http.StatusOK, 30*time.Second))
	return c
}

func TestLocalConfigReceivesAndShowsEverySignal(t *testing.T) {
	t.Parallel()
	c := startLocal(t, filepath.Join(harness.RepoRoot(t), "config", "local.yaml"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	res := resource.NewSchemaless(
		semconv.ServiceName("llm-gateway"),
		semconv.ServiceNamespace("airi"),
		attribute.String("deployment.environment.name", "dev"),
	)

	// Traces over OTLP/gRPC.
	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(c.grpc), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(texp), sdktrace.WithResource(res))
	_, span := tp.Tracer("distribution-test").Start(ctx, "POST /v1/chat/completions")
	traceID := span.SpanContext().TraceID().String()
	span.End()
	require.NoError(t, tp.Shutdown(ctx))

	// Metrics over OTLP/gRPC: seed 000's counter and histogram.
	mexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(c.grpc), otlpmetricgrpc.WithInsecure())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(res))
	meter := mp.Meter("distribution-test")
	flux, err := meter.Int64Counter("airi.billing.flux.consumed")
	require.NoError(t, err)
	flux.Add(ctx, 40, metric.WithAttributes(attribute.String("gen_ai.request.model", "gpt-4")))
	flux.Add(ctx, 2, metric.WithAttributes(attribute.String("gen_ai.request.model", "gpt-4")))
	dur, err := meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	require.NoError(t, err)
	dur.Record(ctx, 0.25, metric.WithAttributes(attribute.String("http.route", "/v1/chat/completions")))
	require.NoError(t, mp.Shutdown(ctx))

	// Logs over OTLP/HTTP, shaped like seed 004's gateway log.
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(c.http), otlploghttp.WithInsecure())
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res))
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("request_completed"))
	rec.SetSeverity(otellog.SeverityInfo)
	rec.AddAttributes(attribute.String("trace_id", "req-abc123"), attribute.Int("latency_ms", 1234))
	lp.Logger("distribution-test").Emit(ctx, rec)
	require.NoError(t, lp.Shutdown(ctx))

	// The Prometheus endpoint shows the metrics under their Prometheus names (named by
	// airi_normalize, not suffixed again by the exporter), with the required labels taken from the
	// resource, and the counted value.
	counter := regexp.MustCompile(`(?m)^airi_billing_flux_consumed_total\{environment="dev",gen_ai_request_model="gpt-4",[^}]*project="airi",service="llm-gateway"\} 42$`)
	// The SDK's default buckets (0, 5, 10, ...) put 0.25 s into le="5".
	bucket := regexp.MustCompile(`(?m)^http_server_request_duration_seconds_bucket\{[^}]*http_route="/v1/chat/completions"[^}]*le="5"[^}]*\} 1$`)
	sum := regexp.MustCompile(`(?m)^http_server_request_duration_seconds_sum\{[^}]*http_route="/v1/chat/completions"[^}]*\} 0\.25$`)
	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		body, err := harness.Get(ctx, "http://"+c.prom+"/metrics")
		if err != nil {
			return err
		}
		if !counter.MatchString(body) || !bucket.MatchString(body) || !sum.MatchString(body) {
			return fmt.Errorf("metrics not (yet) exposed; got:\n%s", body)
		}
		return nil
	})

	// The file exporter holds the span and the log as OTLP JSON.
	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		traces, err := os.ReadFile(filepath.Join(c.dataDir, "traces.jsonl"))
		if err != nil {
			return err
		}
		logs, err := os.ReadFile(filepath.Join(c.dataDir, "logs.jsonl"))
		if err != nil {
			return err
		}
		for _, want := range []string{
			`"traceId":"` + traceID + `"`, `"name":"POST /v1/chat/completions"`, `"llm-gateway"`,
			`{"key":"tracking.id","value":{"stringValue":"` + traceID + `"}}`, // tracking_id processor
		} {
			if !strings.Contains(string(traces), want) {
				return fmt.Errorf("traces.jsonl lacks %s:\n%s", want, traces)
			}
		}
		derived := harness.DerivedTraceID("req-abc123") // tracking_id's documented derivation
		derivedID := hex.EncodeToString(derived[:])
		for _, want := range []string{
			`"stringValue":"request_completed"`,
			`"traceId":"` + derivedID + `"`,
			`{"key":"tracking_id","value":{"stringValue":"` + derivedID + `"}}`,
			`{"key":"tracking.id.original","value":{"stringValue":"req-abc123"}}`,
			`{"key":"tracking.id.derived","value":{"boolValue":true}}`,
		} {
			if !strings.Contains(string(logs), want) {
				return fmt.Errorf("logs.jsonl lacks %s:\n%s", want, logs)
			}
		}
		return nil
	})

	// The collector's own metrics count what it accepted, per signal.
	harness.Eventually(t, 20*time.Second, 200*time.Millisecond, func() error {
		body, err := harness.Get(ctx, "http://"+c.telem+"/metrics")
		if err != nil {
			return err
		}
		for metricName, want := range map[string]float64{
			"otelcol_receiver_accepted_spans":         1,
			"otelcol_receiver_accepted_log_records":   1,
			"otelcol_receiver_accepted_metric_points": 2,
		} {
			if got := harness.SumSeries(body, metricName); got < want {
				return fmt.Errorf("%s = %v, want >= %v", metricName, got, want)
			}
		}
		return nil
	})

	// SIGTERM: a clean shutdown with exit code 0.
	require.NoError(t, c.proc.Stop(20*time.Second))
	require.Contains(t, c.proc.Output.String(), "Shutdown complete")
}

// TestEmbeddedConfigs runs the `airi:` provider built into the binary: every shipped config
// validates from inside the binary, and airi:local really runs.
func TestEmbeddedConfigs(t *testing.T) {
	t.Parallel()
	bin := harness.CollectorBinary(t)
	entries, err := filepath.Glob(filepath.Join(harness.RepoRoot(t), "config", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, entries, 4)
	for _, path := range entries {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		out, err := runBinary(t, bin, "validate", "--config", "airi:"+name)
		require.NoError(t, err, "validate airi:%s:\n%s", name, out)
	}
	out, err := runBinary(t, bin, "validate", "--config", "airi:nope")
	require.Error(t, err)
	require.Contains(t, out, `no embedded configuration "nope"`)

	// airi:local really runs: a log record posted to it reaches its file. (Stopping right after
	// the health check turns ready could also hit the moment before the collector listens for
	// SIGTERM: upstream's Run starts the service first, then calls signal.Notify.)
	c := startLocal(t, "airi:local")
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"embedded"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hello from airi:local"}}]}]}]}`
	resp, err := http.Post("http://"+c.http+"/v1/logs", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
		b, err := os.ReadFile(filepath.Join(c.dataDir, "logs.jsonl"))
		if err != nil || !strings.Contains(string(b), "hello from airi:local") {
			return fmt.Errorf("the posted log record is not in logs.jsonl yet (%v)", err)
		}
		return nil
	})
	require.NoError(t, c.proc.Stop(20*time.Second))
}

// TestBadConfigFailsAtStartNamingTheField: a mistake in the config stops the collector before it
// serves anything, and the error names what is wrong.
func TestBadConfigFailsAtStartNamingTheField(t *testing.T) {
	t.Parallel()
	bin := harness.CollectorBinary(t)
	local, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "config", "local.yaml"))
	require.NoError(t, err)

	for name, tc := range map[string]struct{ from, to, want string }{
		"unknown key": {
			from: "        endpoint: ${env:AIRI_OTLP_GRPC_ENDPOINT:-127.0.0.1:4317}",
			to:   "        endpoit: 127.0.0.1:4317",
			want: "endpoit",
		},
		"wrong type": {
			from: "    limit_percentage: 80",
			to:   "    limit_percentage: lots",
			want: "limit_percentage",
		},
		"unknown component": {
			from: "      exporters: [debug, prometheus]",
			to:   "      exporters: [debug, prometheus, prometheusremotewrite/typo]",
			want: "prometheusremotewrite/typo",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, string(local), tc.from, "fixture drifted from config/local.yaml")
			path := filepath.Join(t.TempDir(), "bad.yaml")
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(local), tc.from, tc.to, 1)), 0o600))
			p := harness.Start(t, bin, []string{"--config", path}, newLocal(t).env())
			exited, err := p.Wait(30 * time.Second)
			require.True(t, exited, "collector kept running with a bad config")
			require.Error(t, err, "collector exited 0 with a bad config")
			require.Contains(t, p.Output.String(), tc.want)
		})
	}
}

func runBinary(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	p := harness.Start(t, bin, args, nil)
	exited, err := p.Wait(60 * time.Second)
	require.True(t, exited, "%v did not finish", args)
	return p.Output.String(), err
}
