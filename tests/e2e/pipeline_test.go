// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package e2e proves the shipped configs against the real backends they exist for: Jaeger,
// Prometheus, Mimir and Loki, built from their pinned versions and started as processes on
// 127.0.0.1, fed by real clients (the OTel Go SDK, a Prometheus Go client /metrics endpoint, JSON
// log files), and looked at through each backend's own query API.
package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"sort"
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
	"go.opentelemetry.io/otel/trace"

	"github.com/airi-otel/otelcol-airi/deploy/grafana"
	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// The series budget the e2e collectors run with (AIRI_MAX_SERIES_PER_METRIC), small enough for
// a client with thousands of customers to exceed it.
const e2eSeriesBudget = 100

// serviceResource is the resource of a service like seed 000's llm-gateway.
func serviceResource(service, instance string) *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.namespace", "airi"),
		attribute.String("service.instance.id", instance),
		attribute.String("deployment.environment.name", "dev"),
	)
}

// randomLetters returns n random lower-case letters: a label value no rewriting rule of
// cardinality_guard takes for an ID.
func randomLetters(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b)
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// TestAgentAndGatewayIntoEveryBackend runs the shipped topology: services send OTLP to
// config/agent.yaml, which also scrapes a Prometheus /metrics endpoint and tails JSON log files,
// and forwards through load_balancing to config/gateway.yaml, which exports to Jaeger, Loki and
// Mimir and serves Prometheus. Everything is then read back through each backend's API.
func TestAgentAndGatewayIntoEveryBackend(t *testing.T) {
	jaeger, loki, mimir, prom := newBackend(t, jaegerKind), newBackend(t, lokiKind), newBackend(t, mimirKind), newBackend(t, prometheusKind)
	budget := map[string]string{"AIRI_MAX_SERIES_PER_METRIC": fmt.Sprint(e2eSeriesBudget)}
	maps.Copy(budget, guardInsightEnv)
	gateway := newGateway(t, jaeger, loki, mimir, budget)

	// Seed 003's aster server: a /metrics endpoint served by the Prometheus Go client.
	scrapeAddr := harness.ServeAster(t, map[[2]string]float64{{"GET", "2xx"}: 7, {"POST", "5xx"}: 2})

	// Seed 004's LLM gateway logs with Loguru (serialize=True), a request ID that is not a trace ID.
	requestID := "req-" + randomHex(t, 6)
	logDir := t.TempDir()
	harness.RequireDebianPythonModule(t, "loguru")
	out, err := exec.Command(harness.DebianPython, "-c", `import sys
from loguru import logger
logger.remove()
logger.add(sys.argv[1], serialize=True)
logger.bind(trace_id=sys.argv[2], tenant_id="tenant-xyz", model="gpt-4", latency_ms=1234).info("request_completed")`,
		filepath.Join(logDir, "gateway.log"), requestID).CombinedOutput()
	require.NoError(t, err, "loguru: %s", out)

	agentEnv := map[string]string{
		"AIRI_MAX_SERIES_PER_METRIC": fmt.Sprint(e2eSeriesBudget),
		"AIRI_SCRAPE_TARGETS":        fmt.Sprintf(`["%s"]`, scrapeAddr),
		"AIRI_SCRAPE_JOB":            "aster",
		"AIRI_LOG_GLOB":              filepath.Join(logDir, "*.log"),
	}
	maps.Copy(agentEnv, guardInsightEnv)
	agent := newAgent(t, gateway, agentEnv)
	prom.Targets = []string{gateway.PrometheusAddr()}
	prom.TelemetryTargets = []string{gateway.TelemetryAddr(), agent.TelemetryAddr()}
	prom.RuleFiles = []string{filepath.Join(harness.RepoRoot(t), "deploy", "prometheus", "rules.yaml")}
	startAll(t, jaeger, loki, mimir, prom)
	gateway.Start()
	agent.Start()

	// No deadline shared by the whole test: each wait below has its own bound, each query
	// queryTimeout.
	ctx := t.Context()
	res := serviceResource("llm-gateway", "llm-gateway-0")

	// --- Traces: one whole request (4 spans), and one whose trace ID the upstream gateway derived
	// from its request ID and propagated, carrying the request ID header.
	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(agent.OTLPGRPC()), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp), sdktrace.WithResource(res))
	tracer := tp.Tracer("e2e")
	rootCtx, root := tracer.Start(ctx, "POST /v1/chat/completions", trace.WithSpanKind(trace.SpanKindServer))
	for _, name := range []string{"llm-router.route", "openai.chat", "flux.debit"} {
		_, child := tracer.Start(rootCtx, name)
		child.End()
	}
	wholeTrace := root.SpanContext().TraceID().String()

	// A log with trace context, emitted inside the request.
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(agent.OTLPHTTP()), otlploghttp.WithInsecure())
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)), sdklog.WithResource(res))
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("chat completion billed"))
	rec.SetSeverity(otellog.SeverityInfo)
	rec.AddAttributes(attribute.String("gen_ai.request.model", "gpt-4"), attribute.Int("flux", 42))
	lp.Logger("e2e").Emit(rootCtx, rec)
	root.End()

	derived := trace.TraceID(harness.DerivedTraceID(requestID))
	upstream := trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: derived, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
	_, linked := tracer.Start(upstream, "POST /v1/chat/completions", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.header.x_request_id", requestID)))
	linked.End()
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))

	// --- Metrics: seed 000's instruments, with high-cardinality labels the guard must strip or
	// budget, exported twice (cumulative) so a merge that doubled would show.
	mexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(agent.OTLPGRPC()), otlpmetricgrpc.WithInsecure())
	require.NoError(t, err)
	reader := sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res),
		// The SDK's own cardinality limit (2000) would fold customers before the collector sees them.
		sdkmetric.WithCardinalityLimit(100000))
	meter := mp.Meter("e2e")
	flux, err := meter.Int64Counter("airi.billing.flux.consumed")
	require.NoError(t, err)
	revenue, err := meter.Int64Counter("airi.stripe.revenue", metric.WithUnit("minor_unit"))
	require.NoError(t, err)
	duration, err := meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	require.NoError(t, err)
	wsActive, err := meter.Int64UpDownCounter("ws.connections.active")
	require.NoError(t, err)
	customers, err := meter.Int64Counter("airi.e2e.customer.requests")
	require.NoError(t, err)
	sessions, err := meter.Int64Gauge("user.active_sessions")
	require.NoError(t, err)
	inFlight, err := meter.Int64UpDownCounter("http.server.active_requests")
	require.NoError(t, err)

	const users = 3000
	var fluxTotal, revenueTotal, requests, serverErrors, customerTotal int64
	record := func(round int) {
		for u := range users {
			model := []string{"gpt-4", "claude-sonnet"}[u%2]
			flux.Add(ctx, int64(u%7+1), metric.WithAttributes(
				attribute.String("user_id", fmt.Sprintf("user_%05d", u)),
				attribute.String("session_id", fmt.Sprintf("sess-%d-%d", round, u)),
				attribute.String("gen_ai.request.model", model)))
			fluxTotal += int64(u%7 + 1)
			customers.Add(ctx, 1, metric.WithAttributes(attribute.String("customer", fmt.Sprintf("cust-%04d", u))))
			customerTotal++
			if u%10 == 0 {
				status := 200
				if u%50 == 0 {
					status = 500
					serverErrors++
				}
				duration.Record(ctx, float64(u%400)/1000, metric.WithAttributes(
					attribute.String("http.route", "/v1/chat/completions"),
					attribute.Int("http.response.status_code", status),
					attribute.String("tracking_id", wholeTrace)))
				requests++
			}
		}
		revenue.Add(ctx, 1999, metric.WithAttributes(attribute.String("currency", "usd")))
		revenueTotal += 1999
		wsActive.Add(ctx, int64(3+round))
		sessions.Record(ctx, int64(40+round))
		inFlight.Add(ctx, 2)
	}
	record(1)
	require.NoError(t, reader.ForceFlush(ctx))
	// Apart by a few scrapes, so rates over the two rounds are not zero.
	time.Sleep(5 * time.Second)
	record(2)
	require.NoError(t, mp.Shutdown(ctx))
	wsWant := int64(3+1) + int64(3+2)

	// --- Jaeger: the trace arrives whole; every span carries tracking.id = its trace ID and the
	// required resource attributes.
	var tr JaegerTrace
	harness.Eventually(t, 90*time.Second, time.Second, func() error {
		var err error
		tr, err = jaegerTrace(ctx, jaeger, wholeTrace)
		if err == nil && len(tr.Spans) != 4 {
			err = fmt.Errorf("trace %s has %d of 4 spans", wholeTrace, len(tr.Spans))
		}
		return err
	})
	for _, s := range tr.Spans {
		id, ok := s.Tag("tracking.id")
		require.True(t, ok, "span %s has no tracking.id", s.OperationName)
		require.Equal(t, wholeTrace, id, "span %s", s.OperationName)
		for k, want := range map[string]string{"environment": "dev", "project": "airi", "service": "llm-gateway"} {
			got, ok := tr.ProcessTag(s, k)
			require.True(t, ok, "span %s: resource lacks %s", s.OperationName, k)
			require.Equal(t, want, got, "span %s: resource %s", s.OperationName, k)
		}
	}
	t.Logf("jaeger: trace %s arrived whole: %d spans", wholeTrace, len(tr.Spans))

	// --- One tracking ID finds the gateway's JSON log line (tracking_id in Loki) and the span
	// that carried the same request ID (Jaeger, by trace ID and by the original request ID).
	derivedHex := derived.String()
	var byOriginal []JaegerTrace
	harness.Eventually(t, 90*time.Second, time.Second, func() error {
		linkedTrace, err := jaegerTrace(ctx, jaeger, derivedHex)
		if err != nil {
			return err
		}
		if id, _ := linkedTrace.Spans[0].Tag("tracking.id"); id != derivedHex {
			return fmt.Errorf("linked span tracking.id = %q, want %s", id, derivedHex)
		}
		byOriginal, err = jaegerTraces(ctx, jaeger, "llm-gateway", map[string]string{"tracking.id.original": requestID})
		if err == nil && len(byOriginal) != 1 {
			err = fmt.Errorf("search by tracking.id.original=%s found %d traces", requestID, len(byOriginal))
		}
		return err
	})
	require.Equal(t, derivedHex, byOriginal[0].TraceID)

	var fileLines []LokiLine
	harness.Eventually(t, 90*time.Second, time.Second, func() error {
		var err error
		fileLines, err = lokiQuery(ctx, loki, fmt.Sprintf(`{environment=~".+"} | tracking_id=%q`, derivedHex))
		if err == nil && len(fileLines) != 1 {
			err = fmt.Errorf("loki: %d lines with tracking_id %s, want 1", len(fileLines), derivedHex)
		}
		return err
	})
	require.Contains(t, fileLines[0].Line, "request_completed")
	require.Equal(t, requestID, fileLines[0].Labels["tracking_id_original"], "labels: %v", fileLines[0].Labels)
	require.Equal(t, derivedHex, fileLines[0].Labels["trace_id"], "labels: %v", fileLines[0].Labels)
	for _, k := range []string{"environment", "project", "service"} {
		require.NotEmpty(t, fileLines[0].Labels[k], "file log line lacks %s: %v", k, fileLines[0].Labels)
	}
	t.Logf("tracking id %s (from %s): 1 log line in loki, 1 trace in jaeger", derivedHex, requestID)

	// --- Loki: the SDK's log is selectable by the required labels, with its trace ID in
	// structured metadata (not an index label).
	var sdkLines []LokiLine
	harness.Eventually(t, 90*time.Second, time.Second, func() error {
		var err error
		sdkLines, err = lokiQuery(ctx, loki, `{environment="dev", project="airi", service="llm-gateway"} |= "chat completion billed"`)
		if err == nil && len(sdkLines) != 1 {
			err = fmt.Errorf("loki: %d SDK log lines, want 1", len(sdkLines))
		}
		return err
	})
	require.Equal(t, wholeTrace, sdkLines[0].Labels["trace_id"], "labels: %v", sdkLines[0].Labels)
	require.Equal(t, wholeTrace, sdkLines[0].Labels["tracking_id"], "labels: %v", sdkLines[0].Labels)
	indexLabels, err := lokiIndexLabels(ctx, loki)
	require.NoError(t, err)
	require.Subset(t, indexLabels, []string{"environment", "project", "service"})
	for _, k := range []string{"trace_id", "tracking_id"} {
		require.NotContains(t, indexLabels, k, "%s must be structured metadata, not an index label", k)
	}

	// --- Prometheus (scrape of the gateway) and Mimir (remote write) hold the same metrics under
	// the same names, with the required labels, without the stripped ones, with the counted values.
	backends := map[string]string{"prometheus": prom.URL("http"), "mimir": mimir.URL("http") + "/prometheus"}
	sel := `{environment="dev", project="airi", service="llm-gateway"}`
	wantNames := []string{
		"airi_billing_flux_consumed_total", "airi_e2e_customer_requests_total", "airi_stripe_revenue_minor_unit_total",
		"http_server_active_requests", "http_server_request_duration_seconds_bucket",
		"http_server_request_duration_seconds_count", "http_server_request_duration_seconds_sum",
		"user_active_sessions", "ws_connections_active",
	}
	wantValues := map[string]float64{
		"sum(airi_billing_flux_consumed_total" + sel + ")":                                 float64(fluxTotal),
		"sum(airi_stripe_revenue_minor_unit_total" + sel + ")":                             float64(revenueTotal),
		"sum(http_server_request_duration_seconds_count" + sel + ")":                       float64(requests),
		`sum(http_server_request_duration_seconds_count{http_response_status_code="500"})`: float64(serverErrors),
		"sum(ws_connections_active" + sel + ")":                                            float64(wsWant),
		"sum(airi_e2e_customer_requests_total" + sel + ")":                                 float64(customerTotal),
		"max(user_active_sessions" + sel + ")":                                             42,
		"sum(http_server_active_requests" + sel + ")":                                      4,
		`sum(aster_http_requests_total{method="GET"})`:                                     7,
		`sum(aster_http_requests_total{method="POST"})`:                                    2,
	}
	for name, base := range backends {
		harness.Eventually(t, 2*time.Minute, 2*time.Second, func() error {
			for q, want := range wantValues {
				got, err := promScalar(ctx, base, q)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if got != want {
					return fmt.Errorf("%s: %s = %v, want %v", name, q, got, want)
				}
			}
			return nil
		})
		// target_info carries the resource, ALERTS* are Prometheus's own (deploy/prometheus rules
		// about this service), otelcol_* the collectors' own telemetry about it (cardinality_guard's
		// top offenders): none is a metric of the service.
		names, err := promQuery(ctx, base, `count by (__name__) ({environment="dev", project="airi", service="llm-gateway", __name__!~"target_info|ALERTS|ALERTS_FOR_STATE|otelcol_.*"})`)
		require.NoError(t, err)
		var got []string
		for _, s := range names {
			got = append(got, s.Labels["__name__"])
		}
		sort.Strings(got)
		require.Equal(t, wantNames, got, "%s: metric names of llm-gateway", name)

		for _, label := range []string{"user_id", "session_id", "tracking_id"} {
			leaked, err := promQuery(ctx, base, fmt.Sprintf(`count({%s!=""})`, label))
			require.NoError(t, err)
			require.Empty(t, leaked, "%s: series still labelled %s", name, label)
		}
		unlabelled, err := promQuery(ctx, base, `count({__name__=~"airi_.*|http_.*|ws_.*|aster_.*", environment=""}) or count({__name__=~"airi_.*|http_.*|ws_.*|aster_.*", service=""})`)
		require.NoError(t, err)
		require.Empty(t, unlabelled, "%s: series without the required labels", name)

		// 3000 customers against a budget of 100 series: at most the budget plus one overflow
		// series, and the total above still adds up.
		series, err := promScalar(ctx, base, `count(airi_e2e_customer_requests_total`+sel+`)`)
		require.NoError(t, err)
		require.LessOrEqual(t, series, float64(e2eSeriesBudget+1), "%s: customer series", name)
		overflow, err := promScalar(ctx, base, `sum(airi_e2e_customer_requests_total{otel_metric_overflow="true"})`)
		require.NoError(t, err)
		require.Positive(t, overflow, "%s: no overflow series", name)
		t.Logf("%s: %d names, flux %d, %v customer series (budget %d) holding %d requests, %v of them in overflow",
			name, len(got), fluxTotal, series, e2eSeriesBudget, customerTotal, overflow)
	}
	// Every panel of deploy/grafana's dashboards returns data from the real Prometheus, and every
	// rule of deploy/prometheus/rules.yaml evaluates without error, after this load.
	for _, q := range grafana.Queries() {
		expr, err := grafana.Expand(q.Expr, nil)
		require.NoError(t, err, "%s", q)
		harness.Eventually(t, time.Minute, 2*time.Second, func() error {
			res, err := promQuery(ctx, prom.URL("http"), expr)
			if err == nil && len(res) == 0 {
				err = fmt.Errorf("panel %s returns no data: %s", q, expr)
			}
			return err
		})
	}
	t.Logf("grafana: all %d panel queries return data", len(grafana.Queries()))
	// The cardinality dashboard names the labels this test made explode (two rounds of session_id).
	requireDashboardNamesExplodedLabels(ctx, t, prom.URL("http"), []explodedLabel{
		{"airi_billing_flux_consumed_total", "session_id", 2 * users},
		{"airi_billing_flux_consumed_total", "user_id", users},
		{"airi_e2e_customer_requests_total", "customer", users},
	})
	groups, err := promRules(ctx, prom)
	require.NoError(t, err)
	require.NotEmpty(t, groups, "Prometheus loaded no rules")
	rules := 0
	for _, g := range groups {
		for _, r := range g.Rules {
			require.Equal(t, "ok", r.Health, "rule %s/%s: %s", g.Name, r.Name, r.LastError)
			rules++
		}
	}
	// The alerts this load must set off (neither has a `for:`): 3000 customers against a budget
	// of 100 series, and data without a required label (the tailed file, the scrape).
	for _, name := range []string{"OtelcolAiriCardinalityOverflow", "OtelcolAiriRequiredLabelDefaulted"} {
		waitForAlert(t, ctx, prom, time.Minute, name, map[string]string{"job": "otelcol-airi"}, "firing")
	}
	alerts, err := promAlerts(ctx, prom)
	require.NoError(t, err)
	t.Logf("prometheus: all %d rules of deploy/prometheus/rules.yaml evaluate without error; alerts after the load: %v", rules, alerts)
	// Every backend is up: no exporter of either tier reads as stalled.
	require.Empty(t, alertsMatching(alerts, "OtelcolAiriExporterStalled", nil), "stalled with every backend up")
	// Every metric a rule reads exists in Prometheus, but those that only an event creates.
	complete := requireRuleInputsExist(t, ctx, prom, eventOnlyInputs)
	t.Logf("prometheus: every input of %d alerts exists: %v", len(complete), complete)

	for _, c := range []*Collector{agent, gateway} {
		c.RequireRunning("the test")
	}
	require.False(t, strings.Contains(gateway.proc.Output.String(), "panic"), "gateway log mentions a panic")
}
