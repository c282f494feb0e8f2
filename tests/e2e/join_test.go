// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/airi-otel/otelcol-airi/deploy/grafana"
	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// TestLogsJoinTheRealTraceInJaegerAndLoki: a service on the real OTel Go SDK serves HTTP with
// otelhttp (random trace IDs, X-Request-Id recorded as http.request.header.x-request-id) and
// Loguru writes its request_completed lines, with the same request IDs and no trace context,
// to a file the agent tails. Through the shipped agent (request_join on) and gateway, every
// line in Loki carries the trace ID under which Jaeger stores its request's spans, and the
// Grafana "logs for this span" query built from the Jaeger trace finds it.
func TestLogsJoinTheRealTraceInJaegerAndLoki(t *testing.T) {
	jaeger, loki := newBackend(t, jaegerKind), newBackend(t, lokiKind)
	gateway := newGateway(t, jaeger, loki, nil, nil)
	service := "join-" + randomHex(t, 3)
	logDir := t.TempDir()
	agent := newAgent(t, gateway, map[string]string{
		"AIRI_LOG_GLOB":    filepath.Join(logDir, "*.log"),
		"AIRI_LOG_SERVICE": service,
		// The file's lines have no resource of their own: the same environment as the spans'.
		"AIRI_ENVIRONMENT": "dev",
	})
	startAll(t, jaeger, loki)
	gateway.Start()
	agent.Start()
	harness.RequireDebianPythonModule(t, "loguru")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(agent.OTLPGRPC()), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp), sdktrace.WithResource(serviceResource(service, service+"-0")))
	served := map[string]trace.SpanContext{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		span.SetAttributes(attribute.StringSlice("http.request.header.x-request-id", r.Header.Values("X-Request-Id")))
		served[r.Header.Get("X-Request-Id")] = span.SpanContext() // one request at a time
	})
	srv := httptest.NewServer(otelhttp.NewHandler(handler, "POST /v1/chat/completions", otelhttp.WithTracerProvider(tp)))
	var ids []string
	for range 3 {
		id := "req-" + randomHex(t, 6)
		ids = append(ids, id)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions", nil)
		require.NoError(t, err)
		req.Header.Set("X-Request-Id", id)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	srv.Close() // every server span has ended
	require.NoError(t, tp.Shutdown(ctx))

	// The gateway logs request_completed after the request's server span ended.
	script := filepath.Join(harness.RepoRoot(t), "tests", "distribution", "testdata", "write_request_logs.py")
	out, err := exec.Command(harness.DebianPython, append([]string{script, filepath.Join(logDir, "gateway.log")}, ids...)...).CombinedOutput()
	require.NoError(t, err, "loguru: %s", out)

	for _, id := range ids {
		sc := served[id]
		var tr JaegerTrace
		harness.Eventually(t, 90*time.Second, time.Second, func() error {
			tr, err = jaegerTrace(ctx, jaeger, sc.TraceID().String())
			return err
		})
		tags := map[string]string{}
		for _, k := range []string{"service", "environment"} {
			v, ok := tr.ProcessTag(tr.Spans[0], k)
			require.True(t, ok, "the span's resource lacks %s", k)
			tags[k] = v
		}
		query := grafana.LinkVars(grafana.TraceToLogsQuery, tr.TraceID, "", tags)
		var lines []LokiLine
		harness.Eventually(t, 90*time.Second, time.Second, func() error {
			lines, err = lokiQuery(ctx, loki, query)
			if err == nil && len(lines) != 1 {
				byID, _ := lokiQuery(ctx, loki, fmt.Sprintf(`{environment=~".+"} | tracking_id_original=%q`, id))
				err = fmt.Errorf("loki %s: %d lines, want 1; lines with tracking_id_original %s: %v", query, len(lines), id, byID)
			}
			return err
		})
		l := lines[0]
		require.Contains(t, l.Line, "request_completed")
		require.Equal(t, id, l.Labels["tracking_id_original"], "labels: %v", l.Labels)
		require.Equal(t, tr.TraceID, l.Labels["trace_id"], "labels: %v", l.Labels)
		require.Equal(t, sc.SpanID().String(), l.Labels["span_id"], "labels: %v", l.Labels)
		require.Equal(t, tr.TraceID, l.Labels["tracking_id"], "labels: %v", l.Labels)
		require.Equal(t, "true", l.Labels["tracking_id_joined"], "labels: %v", l.Labels)
		_, derived := l.Labels["tracking_id_derived"]
		require.False(t, derived, "labels: %v", l.Labels)
		t.Logf("%s: jaeger trace %s → loki line by trace_id, span_id %s", id, tr.TraceID, sc.SpanID())
	}
}
