// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// Seed 004's LLM gateway (Loguru JSON, a request ID that is not a trace ID) and seed 002's
// CloudWatch-style line (the trace ID itself as tracking_id, nested objects).
const (
	gatewayLine = `{"timestamp": "2026-01-06T10:30:00.123456Z", "level": "INFO", "logger": "app.api.v1.external.gateway", "message": "request_completed", "trace_id": "req-abc123", "tenant_id": "tenant-xyz", "api_key_id": "key-123", "model": "gpt-4", "latency_ms": 1234, "status_code": 200, "tokens": {"input": 100, "output": 50}}`
	cloudLine   = `{"@timestamp": "2025-01-31T10:30:45.123Z", "@level": "WARNING", "@message": "POST /api/v1/sessions - 201", "service": "api-gateway", "tracking_id": "4bf92f3577b34da6a3ce929d0e0e4736", "request": {"method": "POST", "path": "/api/v1/sessions", "duration": 0.245}, "user": {"id": "user_12345"}, "tracing": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "1a2b3c4d5e6f7890"}}`
)

// TestAgentTailsJSONLogsAndScrapesMetrics runs the shipped config/agent.yaml: it tails JSON log
// files shaped like seeds 002 and 004, scrapes a Prometheus /metrics endpoint served with the
// Prometheus Go client (like seed 003's aster server), and forwards both through its
// load_balancing exporters to a second otelcol-airi (config/local.yaml) standing in for the
// gateway, whose file and Prometheus outputs are then read.
func TestAgentTailsJSONLogsAndScrapesMetrics(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	downstream := startLocal(t, filepath.Join(root, "config", "local.yaml"))
	_, gwPort, err := net.SplitHostPort(downstream.grpc)
	require.NoError(t, err)

	// A /metrics endpoint like seed 003's aster server.
	scrapeAddr := harness.ServeAster(t, map[[2]string]float64{{"GET", "2xx"}: 7})

	logDir := t.TempDir()
	logFile := filepath.Join(logDir, "gateway.log")
	require.NoError(t, os.WriteFile(logFile, []byte(gatewayLine+"\n"+cloudLine+"\nnot json at all\n"), 0o600))

	env := agentEnv(t, gwPort, filepath.Join(logDir, "*.log"))
	env["AIRI_SCRAPE_TARGETS"] = fmt.Sprintf(`["%s"]`, scrapeAddr)
	agent := harness.Start(t, harness.CollectorBinary(t), []string{"--config", filepath.Join(root, "config", "agent.yaml")}, env)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Logs: both JSON shapes arrive parsed (body, time, severity), with their trace IDs.
	reqDerived := harness.DerivedTraceID("req-abc123") // the documented derivation for non-hex IDs
	wantGatewayTrace := hex.EncodeToString(reqDerived[:])
	var gateway, cloud plog.LogRecord
	var cloudResource pcommon.Resource
	harness.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		if agent.Exited() {
			return fmt.Errorf("agent exited")
		}
		found := 0
		for _, rl := range readLogs(t, filepath.Join(downstream.dataDir, "logs.jsonl")) {
			for i := 0; i < rl.ScopeLogs().Len(); i++ {
				lrs := rl.ScopeLogs().At(i).LogRecords()
				for j := 0; j < lrs.Len(); j++ {
					switch lrs.At(j).Body().AsString() {
					case "request_completed":
						gateway = lrs.At(j)
						found++
					case "POST /api/v1/sessions - 201":
						cloud, cloudResource = lrs.At(j), rl.Resource()
						found++
					}
				}
			}
		}
		if found < 2 {
			return fmt.Errorf("downstream has %d of the 2 parsed log lines", found)
		}
		return nil
	})

	require.Equal(t, wantGatewayTrace, gateway.TraceID().String())
	requireStr(t, gateway.Attributes(), "tracking_id", wantGatewayTrace)
	requireStr(t, gateway.Attributes(), "tracking.id.original", "req-abc123")
	derivedMark, _ := gateway.Attributes().Get("tracking.id.derived")
	require.True(t, derivedMark.Bool(), "a derived trace ID is marked tracking.id.derived=true")
	// The request ID moved off "trace_id", which downstream means the record's trace ID.
	requireStr(t, gateway.Attributes(), "request_id", "req-abc123")
	_, hasTraceIDAttr := gateway.Attributes().Get("trace_id")
	require.False(t, hasTraceIDAttr, "trace_id attribute still holds the request ID")
	require.Equal(t, plog.SeverityNumberInfo, gateway.SeverityNumber())
	require.Equal(t, time.Date(2026, 1, 6, 10, 30, 0, 123456000, time.UTC), gateway.Timestamp().AsTime())

	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", cloud.TraceID().String())
	requireStr(t, cloud.Attributes(), "tracking_id", "4bf92f3577b34da6a3ce929d0e0e4736")
	require.Equal(t, plog.SeverityNumberWarn, cloud.SeverityNumber())
	require.Equal(t, time.Date(2025, 1, 31, 10, 30, 45, 123000000, time.UTC), cloud.Timestamp().AsTime())
	requireStr(t, cloudResource.Attributes(), "service.name", "api-gateway")

	// Metrics: the scraped counter reaches the downstream Prometheus endpoint with its value.
	scraped := regexp.MustCompile(`(?m)^aster_http_requests_total\{[^}]*method="GET"[^}]*\} 7$`)
	harness.Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		body, err := harness.Get(ctx, "http://"+downstream.prom+"/metrics")
		if err != nil {
			return err
		}
		if !scraped.MatchString(body) {
			return fmt.Errorf("scraped counter not downstream yet")
		}
		return nil
	})

	require.NoError(t, agent.Stop(20*time.Second))
}

// agentEnv moves the shipped config/agent.yaml onto free loopback ports and a fresh storage
// directory, tails logGlob from the beginning (and no pod logs) and forwards to the collector
// listening on 127.0.0.1:gwPort.
func agentEnv(t testing.TB, gwPort, logGlob string) map[string]string {
	t.Helper()
	return map[string]string{
		"AIRI_OTLP_GRPC_ENDPOINT":    harness.FreeAddr(t),
		"AIRI_OTLP_HTTP_ENDPOINT":    harness.FreeAddr(t),
		"AIRI_HEALTH_ENDPOINT":       harness.FreeAddr(t),
		"AIRI_TELEMETRY_PORT":        strconv.Itoa(harness.FreePort(t)),
		"AIRI_STORAGE_DIR":           t.TempDir(),
		"AIRI_LOG_GLOB":              logGlob,
		"AIRI_POD_LOG_GLOB":          filepath.Join(t.TempDir(), "*.log"),
		"AIRI_LOG_START_AT":          "beginning",
		"AIRI_SCRAPE_TARGETS":        "[]",
		"AIRI_SCRAPE_INTERVAL":       "1s",
		"AIRI_HOST_METRICS_INTERVAL": "1s",
		// An IP literal: "localhost" may also resolve to ::1, where nothing listens.
		"AIRI_GATEWAY_HOST":      "127.0.0.1",
		"AIRI_GATEWAY_OTLP_PORT": gwPort,
	}
}

func requireStr(t *testing.T, attrs pcommon.Map, key, want string) {
	t.Helper()
	v, ok := attrs.Get(key)
	require.True(t, ok, "attribute %q missing in %v", key, attrs.AsRaw())
	require.Equal(t, want, v.AsString(), "attribute %q", key)
}

// readLogs parses a file exporter's OTLP JSON lines; a line still being written is skipped.
func readLogs(t *testing.T, path string) []plog.ResourceLogs {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []plog.ResourceLogs
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var u plog.JSONUnmarshaler
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		ld, err := u.UnmarshalLogs([]byte(line))
		if err != nil {
			continue
		}
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			out = append(out, ld.ResourceLogs().At(i))
		}
	}
	return out
}
