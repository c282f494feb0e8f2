// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
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
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/airi-otel/otelcol-airi/deploy/grafana"
	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// Exemplar is one exemplar of a /api/v1/query_exemplars answer, with its series' labels.
type Exemplar struct {
	Series map[string]string
	Labels map[string]string
	Value  float64
}

// queryExemplars asks a Prometheus-compatible API under base for the exemplars of query over
// the last hour.
func queryExemplars(ctx context.Context, base, query string) ([]Exemplar, error) {
	q := url.Values{}
	q.Set("query", query)
	q.Set("start", strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10))
	q.Set("end", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
				Value  string            `json:"value"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := getJSON(ctx, base+"/api/v1/query_exemplars?"+q.Encode(), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query_exemplars %q: %s", query, resp.Error)
	}
	var out []Exemplar
	for _, s := range resp.Data {
		for _, e := range s.Exemplars {
			v, err := strconv.ParseFloat(e.Value, 64)
			if err != nil {
				return nil, fmt.Errorf("query_exemplars %q: value %q: %w", query, e.Value, err)
			}
			out = append(out, Exemplar{Series: s.SeriesLabels, Labels: e.Labels, Value: v})
		}
	}
	return out, nil
}

// TestFromMetricToTraceToLogs proves the links deploy/grafana/provisioning wires, against the
// real backends behind config/gateway.yaml: two requests traced by the OTel Go SDK record a
// latency histogram (inside their span: the SDK adds the exemplar, with span ID and measured
// value) and a counter (outside it: tracking_id turns the tracking_id label into the exemplar),
// both labelled tracking_id; cardinality_guard strips the label and merges the two requests'
// series. Prometheus (OpenMetrics scrape) and Mimir (remote write) must still answer
// query_exemplars with both trace IDs, Jaeger must find those traces, and every link query of
// the provisioning, its variables filled from the request, must return that request's trace,
// logs or metrics.
func TestFromMetricToTraceToLogs(t *testing.T) {
	jaeger, loki, mimir, prom := newBackend(t, jaegerKind), newBackend(t, lokiKind), newBackend(t, mimirKind), newBackend(t, prometheusKind)
	gateway := newGateway(t, jaeger, loki, mimir, nil)
	prom.Targets = []string{gateway.PrometheusAddr()}
	prom.TelemetryTargets = []string{gateway.TelemetryAddr()}
	startAll(t, jaeger, loki, mimir, prom)
	gateway.Start()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	service := "links-" + randomHex(t, 3)
	res := serviceResource(service, service+"-0")

	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(gateway.OTLPGRPC()), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp), sdktrace.WithResource(res))
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(gateway.OTLPHTTP()), otlploghttp.WithInsecure())
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)), sdklog.WithResource(res))
	mexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(gateway.OTLPGRPC()), otlpmetricgrpc.WithInsecure())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(res), sdkmetric.WithExemplarFilter(exemplar.TraceBasedFilter))
	// Bounds that put the two latencies in different buckets: OpenMetrics carries one exemplar per
	// bucket.
	duration, err := mp.Meter("e2e").Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 0.5, 1, 2, 5))
	require.NoError(t, err)
	calls, err := mp.Meter("e2e").Int64Counter("airi.e2e.link.requests")
	require.NoError(t, err)

	// Two requests; each records its latency inside its span, counts itself outside it, and logs.
	type request struct{ traceID, spanID string }
	var reqs []request
	for i, latency := range []float64{0.25, 1.5} {
		spanCtx, span := tp.Tracer("e2e").Start(ctx, "POST /v1/chat/completions", trace.WithSpanKind(trace.SpanKindServer))
		id := span.SpanContext().TraceID().String()
		route := metric.WithAttributes(attribute.String("http.route", "/v1/chat/completions"), attribute.String("tracking_id", id))
		duration.Record(spanCtx, latency, route)
		calls.Add(context.Background(), int64(i+1), route)
		var rec otellog.Record
		rec.SetBody(attribute.StringValue(fmt.Sprintf("request %d answered", i)))
		rec.SetSeverity(otellog.SeverityInfo)
		lp.Logger("e2e").Emit(spanCtx, rec)
		span.End()
		reqs = append(reqs, request{traceID: id, spanID: span.SpanContext().SpanID().String()})
	}
	// A log line without trace context whose request ID tracking_id turns into a derived ID.
	requestID := "req-" + randomHex(t, 6)
	var gw otellog.Record
	gw.SetBody(attribute.StringValue("request_completed"))
	gw.AddAttributes(attribute.String("request_id", requestID))
	lp.Logger("e2e").Emit(ctx, gw)
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, lp.Shutdown(ctx))
	require.NoError(t, mp.Shutdown(ctx))

	// --- Exemplars after the guard: one series per metric (tracking_id stripped, the two
	// requests merged), carrying both requests' trace IDs, in Prometheus and in Mimir.
	sel := fmt.Sprintf(`{service=%q}`, service)
	backends := map[string]string{"prometheus": prom.URL("http"), "mimir": mimir.URL("http") + "/prometheus"}
	for name, base := range backends {
		harness.Eventually(t, 90*time.Second, 2*time.Second, func() error {
			for _, m := range []string{"http_server_request_duration_seconds_count", "airi_e2e_link_requests_total"} {
				n, err := promScalar(ctx, base, "count("+m+sel+")")
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if n != 1 {
					return fmt.Errorf("%s: %s has %v series, want 1 (merged)", name, m, n)
				}
			}
			for metricName, wantSpan := range map[string]bool{"http_server_request_duration_seconds_bucket": true, "airi_e2e_link_requests_total": false} {
				exs, err := queryExemplars(ctx, base, metricName+sel)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				// OpenMetrics carries one exemplar per counter sample: a scraped counter shows one of
				// the merged requests; remote write sends them all.
				oneOf := name == "prometheus" && !wantSpan
				matched := 0
				for _, r := range reqs {
					found := false
					for _, e := range exs {
						if e.Labels["trace_id"] != r.traceID {
							continue
						}
						if _, labelled := e.Series["tracking_id"]; labelled {
							return fmt.Errorf("%s: %s exemplar on a series still labelled tracking_id: %v", name, metricName, e.Series)
						}
						if wantSpan && e.Labels["span_id"] != r.spanID {
							return fmt.Errorf("%s: %s exemplar of %s has span_id %q, want %s", name, metricName, r.traceID, e.Labels["span_id"], r.spanID)
						}
						found = true
					}
					if found {
						matched++
					} else if !oneOf {
						return fmt.Errorf("%s: no %s exemplar with trace_id %s among %v", name, metricName, r.traceID, exs)
					}
				}
				if matched == 0 {
					return fmt.Errorf("%s: no %s exemplar with either request's trace_id among %v", name, metricName, exs)
				}
			}
			return nil
		})
		t.Logf("%s: query_exemplars returns both requests' trace IDs on the merged series", name)
	}
	// The SDK's histogram exemplar value is the latency it measured.
	exs, err := queryExemplars(ctx, prom.URL("http"), "http_server_request_duration_seconds_bucket"+sel)
	require.NoError(t, err)
	values := map[string]float64{}
	for _, e := range exs {
		values[e.Labels["trace_id"]] = e.Value
	}
	require.Equal(t, 0.25, values[reqs[0].traceID])
	require.Equal(t, 1.5, values[reqs[1].traceID])

	// --- Exemplar → Jaeger: the exemplar's trace_id is a trace Jaeger has.
	var tr JaegerTrace
	harness.Eventually(t, 60*time.Second, time.Second, func() error {
		var err error
		tr, err = jaegerTrace(ctx, jaeger, grafana.LinkVars(grafana.LogToTraceURL, "", reqs[0].traceID, nil))
		return err
	})
	tags := map[string]string{}
	for _, k := range []string{"service", "environment"} {
		v, ok := tr.ProcessTag(tr.Spans[0], k)
		require.True(t, ok, "the span's resource lacks %s", k)
		tags[k] = v
	}

	// --- Jaeger → Loki (trace to logs): the request's log line by trace_id structured metadata.
	logsQuery := grafana.LinkVars(grafana.TraceToLogsQuery, reqs[0].traceID, "", tags)
	var lines []LokiLine
	harness.Eventually(t, 60*time.Second, time.Second, func() error {
		var err error
		lines, err = lokiQuery(ctx, loki, logsQuery)
		if err == nil && len(lines) != 1 {
			err = fmt.Errorf("loki %s: %d lines, want 1", logsQuery, len(lines))
		}
		return err
	})
	require.Equal(t, "request 0 answered", lines[0].Line)

	// --- Loki → Jaeger (derived field on trace_id) and Loki → Loki (derived field on tracking_id).
	traceURL := grafana.LinkVars(grafana.LogToTraceURL, "", lines[0].Labels["trace_id"], nil)
	got, err := jaegerTrace(ctx, jaeger, traceURL)
	require.NoError(t, err)
	require.Equal(t, reqs[0].traceID, got.TraceID)
	same, err := lokiQuery(ctx, loki, grafana.LinkVars(grafana.LogToLogsQuery, "", lines[0].Labels["tracking_id"], nil))
	require.NoError(t, err)
	require.Len(t, same, 1)
	require.Equal(t, lines[0].Line, same[0].Line)

	// A derived ID is marked, its log search finds the line, and Jaeger (honestly) has no trace.
	derived := trace.TraceID(harness.DerivedTraceID(requestID)).String()
	var derivedLines []LokiLine
	harness.Eventually(t, 60*time.Second, time.Second, func() error {
		var err error
		derivedLines, err = lokiQuery(ctx, loki, grafana.LinkVars(grafana.LogToLogsQuery, "", derived, nil))
		if err == nil && len(derivedLines) != 1 {
			err = fmt.Errorf("loki: %d lines with tracking_id %s, want 1", len(derivedLines), derived)
		}
		return err
	})
	require.Equal(t, "true", derivedLines[0].Labels["tracking_id_derived"], "labels: %v", derivedLines[0].Labels)
	_, hasOwn := lines[0].Labels["tracking_id_derived"]
	require.False(t, hasOwn, "a record with its own trace context is not marked derived")
	_, err = jaegerTrace(ctx, jaeger, derived)
	require.Error(t, err, "no trace stands behind a derived ID here")

	// --- Jaeger → Prometheus (trace to metrics): every query returns the span's service.
	for _, q := range grafana.TraceToMetricsQueries {
		expr := grafana.LinkVars(q.Query, reqs[0].traceID, "", tags)
		harness.Eventually(t, 30*time.Second, time.Second, func() error {
			res, err := promQuery(ctx, prom.URL("http"), expr)
			if err == nil && len(res) == 0 {
				err = fmt.Errorf("trace to metrics %q returns no data: %s", q.Name, expr)
			}
			return err
		})
	}
	t.Logf("exemplar %s → jaeger trace → loki line %q → jaeger trace; derived %s → its log line; trace → %d metric queries",
		reqs[0].traceID, lines[0].Line, derived, len(grafana.TraceToMetricsQueries))
	gateway.RequireRunning("the test")
}
