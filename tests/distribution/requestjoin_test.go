// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// TestAgentJoinsLogsToTheRealTrace runs the shipped config/agent.yaml between a service built
// on the real OTel Go SDK (otelhttp server spans with random trace IDs, X-Request-Id recorded
// as http.request.header.x-request-id) and Loguru (serialize=True) writing request_completed
// lines with the same request IDs and no trace context, as seed 004's gateway does. It measures
// the join on the seeds' two shapes:
//   - the line is written after the request's server span ended (the gateway's
//     request_completed): joined, the record carries the span's trace ID and span ID;
//   - the line is written before the span reached the collector (a log in the middle of a
//     request; Celery workers are the other extreme): without a hold (the default) not joined
//     but derived; with AIRI_REQUEST_JOIN_HOLD=30s held until the span arrives, then joined.
func TestAgentJoinsLogsToTheRealTrace(t *testing.T) {
	t.Parallel()
	for _, hold := range []string{"0s", "30s"} {
		t.Run("hold="+hold, func(t *testing.T) {
			t.Parallel()
			testAgentJoin(t, hold)
		})
	}
}

func testAgentJoin(t *testing.T, hold string) {
	held := hold != "0s"
	harness.RequireDebianPythonModule(t, "loguru")
	root := harness.RepoRoot(t)
	downstream := startLocal(t, filepath.Join(root, "config", "local.yaml"))
	_, gwPort, err := net.SplitHostPort(downstream.grpc)
	require.NoError(t, err)
	logDir := t.TempDir()
	logFile := filepath.Join(logDir, "gateway.log")
	env := agentEnv(t, gwPort, filepath.Join(logDir, "*.log"))
	env["AIRI_REQUEST_JOIN_HOLD"] = hold
	agent := harness.Start(t, harness.CollectorBinary(t), []string{"--config", filepath.Join(root, "config", "agent.yaml")}, env)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	require.NoError(t, harness.WaitHTTP(ctx, agent, "http://"+env["AIRI_HEALTH_ENDPOINT"]+"/", http.StatusOK, 30*time.Second))

	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	const nBefore, nAfter = 5, 20
	var before, after []string
	for i := range nBefore {
		before = append(before, fmt.Sprintf("req-%s-before-%d", run, i))
	}
	for i := range nAfter {
		after = append(after, fmt.Sprintf("req-%s-after-%d", run, i))
	}

	// Shape 2 first: the lines reach the collector before any span of their requests.
	telemetry := "http://127.0.0.1:" + env["AIRI_TELEMETRY_PORT"] + "/metrics"
	writeRequestLogs(t, logFile, before)
	if held {
		waitForCounters(ctx, t, telemetry, map[string]int{"otelcol_processor_tracking_id_logs_held": nBefore})
	} else {
		waitForRequestLogs(t, agent, downstream.dataDir, before)
	}

	// The service: otelhttp server spans exported over OTLP/gRPC to the agent.
	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(env["AIRI_OTLP_GRPC_ENDPOINT"]), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("llm-gateway"))))
	var mu sync.Mutex
	served := map[string]trace.SpanContext{} // request ID → the server span
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		// HTTP semconv records a captured header as a list of its values.
		span.SetAttributes(attribute.StringSlice("http.request.header.x-request-id", r.Header.Values("X-Request-Id")))
		mu.Lock()
		served[r.Header.Get("X-Request-Id")] = span.SpanContext()
		mu.Unlock()
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	srv := httptest.NewServer(otelhttp.NewHandler(handler, "POST /v1/chat/completions", otelhttp.WithTracerProvider(tp)))
	for _, id := range append(append([]string{}, before...), after...) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions", nil)
		require.NoError(t, err)
		req.Header.Set("X-Request-Id", id)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	srv.Close() // waits for every handler, so every server span has ended
	// The agent's OTLP receiver answers once its traces pipeline (tracking_id included) ran.
	require.NoError(t, tp.ForceFlush(ctx))
	require.NoError(t, tp.Shutdown(ctx))

	// Shape 1: request_completed after the server span ended.
	writeRequestLogs(t, logFile, after)
	got := waitForRequestLogs(t, agent, downstream.dataDir, append(append([]string{}, before...), after...))

	joined := map[bool]int{} // by "logged after the span ended"
	for _, id := range append(append([]string{}, before...), after...) {
		isAfter := strings.Contains(id, "-after-")
		if !isAfter && !held {
			continue
		}
		lr, sc := got[id], served[id]
		require.True(t, sc.IsValid(), "no server span for %s", id)
		assert.Equal(t, sc.TraceID().String(), lr.TraceID().String(), "%s: the log's trace ID is the server span's", id)
		assert.Equal(t, sc.SpanID().String(), lr.SpanID().String(), "%s: the log's span ID is the server span's", id)
		requireStr(t, lr.Attributes(), "tracking_id", sc.TraceID().String())
		requireStr(t, lr.Attributes(), "tracking.id.original", id)
		requireStr(t, lr.Attributes(), "tracking.id.joined", "true")
		_, derived := lr.Attributes().Get("tracking.id.derived")
		assert.False(t, derived, "%s: a joined ID is not derived", id)
		if lr.TraceID().String() == sc.TraceID().String() {
			joined[isAfter]++
		}
	}
	if !held {
		for _, id := range before {
			lr := got[id]
			want := harness.DerivedTraceID(id)
			assert.Equal(t, want, [16]byte(lr.TraceID()), "%s: logged before its span, the ID is derived", id)
			requireStr(t, lr.Attributes(), "tracking.id.derived", "true")
		}
	}
	t.Logf("join rate with hold %s: logged after the server span ended %d/%d, logged before it reached the collector %d/%d",
		hold, joined[true], nAfter, joined[false], nBefore)

	// The agent's own telemetry tells the same story.
	want := map[string]int{
		"otelcol_processor_tracking_id_ids_joined":             nAfter,
		"otelcol_processor_tracking_id_join_misses":            nBefore,
		"otelcol_processor_tracking_id_request_ids_remembered": nBefore + nAfter,
	}
	if held {
		want["otelcol_processor_tracking_id_ids_joined"] = nAfter + nBefore
		want["otelcol_processor_tracking_id_join_misses"] = 0
	}
	waitForCounters(ctx, t, telemetry, want)
	require.NoError(t, agent.Stop(20*time.Second))
}

// waitForCounters waits until the collector's own counters (summed over their series) have the
// wanted values.
func waitForCounters(ctx context.Context, t *testing.T, telemetry string, want map[string]int) {
	t.Helper()
	harness.Eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
		body, err := harness.Get(ctx, telemetry)
		if err != nil {
			return err
		}
		for name, want := range want {
			if got := sumSeries(body, name); got != want {
				return fmt.Errorf("%s = %d, want %d; tracking_id series: %q", name, got, want,
					regexp.MustCompile(`(?m)^otelcol_processor_tracking_id.*$`).FindAllString(body, -1))
			}
		}
		return nil
	})
}

// sumSeries adds up the values of every series of one Prometheus counter.
func sumSeries(body, name string) int {
	total := 0
	for _, m := range regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+`\{[^}]*\} (\d+)$`).FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	return total
}

// writeRequestLogs appends a Loguru request_completed line per request ID to path.
func writeRequestLogs(t *testing.T, path string, ids []string) {
	t.Helper()
	runPython(t, filepath.Join("testdata", "write_request_logs.py"), append([]string{path}, ids...)...)
	_, err := os.Stat(path)
	require.NoError(t, err)
}

// waitForRequestLogs waits until the downstream collector has a record for every request ID
// and returns them by request ID.
func waitForRequestLogs(t *testing.T, agent *harness.Process, dataDir string, ids []string) map[string]plog.LogRecord {
	t.Helper()
	got := map[string]plog.LogRecord{}
	harness.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		if agent.Exited() {
			return fmt.Errorf("agent exited")
		}
		for _, rl := range readLogs(t, filepath.Join(dataDir, "logs.jsonl")) {
			for i := 0; i < rl.ScopeLogs().Len(); i++ {
				lrs := rl.ScopeLogs().At(i).LogRecords()
				for j := 0; j < lrs.Len(); j++ {
					if v, ok := lrs.At(j).Attributes().Get("tracking.id.original"); ok {
						got[v.Str()] = lrs.At(j)
					}
				}
			}
		}
		for _, id := range ids {
			if _, ok := got[id]; !ok {
				return fmt.Errorf("downstream has %d records, not yet %s", len(got), id)
			}
		}
		return nil
	})
	return got
}
