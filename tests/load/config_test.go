// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Pipeline kinds compared side by side. All three are config/gateway.yaml (receiver, exporters
// with their sending_queue batching and file_storage, extensions, telemetry) and differ only in
// the processors of the one pipeline under test.
const (
	kindBare = "bare" // memory_limiter alone: the floor
	kindAiri = "airi" // the shipped pipeline as it is: memory_limiter + our processors
	kindOTTL = "ottl" // memory_limiter + resource + transform: the closest stock contrib gets
)

// shippedGateway reads config/gateway.yaml.
func shippedGateway(t testing.TB) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "gateway.yaml"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	return cfg
}

// OTTL doing, as far as OTTL can, what our processors do; the statements are the ones the
// processor benchmarks compare against (processor/*/benchmark_test.go), widened to every
// old-HTTP key airi_normalize upgrades that the load data carries.
var ottlResourceStatements = []any{
	`set(resource.attributes["environment"], "unknown") where resource.attributes["environment"] == nil`,
	`set(resource.attributes["project"], "unknown") where resource.attributes["project"] == nil`,
	`set(resource.attributes["service"], "unknown") where resource.attributes["service"] == nil`,
}

func ottlHTTPStatements(ctx string) []any {
	var out []any
	for _, r := range [][2]string{
		{"http.method", "http.request.method"},
		{"http.status_code", "http.response.status_code"},
		{"http.url", "url.full"},
	} {
		out = append(out,
			fmt.Sprintf(`set(%[1]s.attributes["%[3]s"], %[1]s.attributes["%[2]s"]) where %[1]s.attributes["%[2]s"] != nil and %[1]s.attributes["%[3]s"] == nil`, ctx, r[0], r[1]),
			fmt.Sprintf(`delete_key(%s.attributes, "%s")`, ctx, r[0]))
	}
	return out
}

const zeroTraceHex = `"00000000000000000000000000000000"`

var (
	ottlSpanTracking = []any{
		`set(span.attributes["tracking.id"], span.trace_id.string)`,
		`set(span.attributes["tracking.id.original"], span.attributes["http.request.header.x_request_id"][0]) where span.attributes["http.request.header.x_request_id"] != nil`,
	}
	ottlLogTracking = []any{
		`set(log.attributes["tracking.id.original"], log.attributes["trace_id"]) where log.trace_id.string == ` + zeroTraceHex + ` and log.attributes["trace_id"] != nil`,
		`set(log.attributes["tracking.id.derived"], true) where log.trace_id.string == ` + zeroTraceHex + ` and log.attributes["trace_id"] != nil`,
		`set(log.trace_id.string, Substring(SHA256(log.attributes["trace_id"]), 0, 32)) where log.trace_id.string == ` + zeroTraceHex + ` and log.attributes["trace_id"] != nil`,
		`set(log.attributes["tracking_id"], log.trace_id.string) where log.trace_id.string != ` + zeroTraceHex,
	}
	// The labels on every point, Prometheus names, and the strip. delete_key does NOT
	// re-aggregate: the points whose only difference was user_id keep arriving as several
	// points with one identity (duplicate samples in Prometheus/Mimir).
	ottlMetricStatements = []any{
		map[string]any{"context": "datapoint", "statements": []any{
			`set(datapoint.attributes["environment"], resource.attributes["deployment.environment.name"]) where resource.attributes["deployment.environment.name"] != nil`,
			`set(datapoint.attributes["environment"], "unknown") where datapoint.attributes["environment"] == nil`,
			`set(datapoint.attributes["project"], resource.attributes["service.namespace"]) where resource.attributes["service.namespace"] != nil`,
			`set(datapoint.attributes["project"], "unknown") where datapoint.attributes["project"] == nil`,
			`set(datapoint.attributes["service"], resource.attributes["service.name"]) where resource.attributes["service.name"] != nil`,
			`set(datapoint.attributes["service"], "unknown") where datapoint.attributes["service"] == nil`,
			`replace_all_patterns(datapoint.attributes, "key", "\\.", "_")`,
			`delete_matching_keys(datapoint.attributes, "^(tracking_id|trace_id|user_id|session_id|request_id|api_key_id)$")`,
		}},
		map[string]any{"context": "metric", "statements": []any{
			`replace_pattern(metric.name, "\\.", "_")`,
			`set(metric.name, Concat([metric.name, "total"], "_")) where metric.type == METRIC_DATA_TYPE_SUM and metric.is_monotonic == true and not IsMatch(metric.name, "_total$")`,
		}},
	}
)

// ottlResource copies the three labels from the semconv resource keys (traces and logs keep
// them on the resource, as airi_normalize does).
var ottlResource = map[string]any{"attributes": []any{
	map[string]any{"key": "environment", "from_attribute": "deployment.environment.name", "action": "insert"},
	map[string]any{"key": "project", "from_attribute": "service.namespace", "action": "insert"},
	map[string]any{"key": "service", "from_attribute": "service.name", "action": "insert"},
}}

// gatewayConfig derives a scenario's collector config from config/gateway.yaml: the pipeline of
// the signal under test is kept alone (the other two would have no data and no backend), and
// its processors are replaced for bare and ottl. Everything else — the otlp receiver, the
// exporters with their sending_queue batching and file_storage (traces, logs) or remote-write
// queue and WAL (metrics), the prometheus exporter, extensions and own telemetry (level
// detailed) — is the shipped file's, ${env:...} references included; gatewayEnv points those
// at the testbed. One exporter setting differs: the remote-write WAL is read back and sent
// every second (wal.truncate_frequency; the gateway's is 5 s unless 100 requests are waiting),
// so a scenario's last points arrive early in the delivery wait; the WAL is still written and
// read as shipped.
func gatewayConfig(t testing.TB, signal, kind string) string {
	t.Helper()
	cfg := shippedGateway(t)
	wal := cfg["exporters"].(map[string]any)["prometheus_remote_write/mimir"].(map[string]any)["wal"].(map[string]any)
	require.Equal(t, "${env:AIRI_PRW_WAL_FLUSH:-5s}", wal["truncate_frequency"], "config/gateway.yaml's WAL flush changed: check the load tests' override")
	wal["truncate_frequency"] = walFlush
	procs := cfg["processors"].(map[string]any)
	service := cfg["service"].(map[string]any)
	pipe := service["pipelines"].(map[string]any)[signal].(map[string]any)
	shipped := pipe["processors"].([]any)
	require.Equal(t, "memory_limiter", shipped[0], "config/gateway.yaml's %s pipeline must start with memory_limiter", signal)
	var order []any
	switch kind {
	case kindAiri:
		order = shipped
	case kindBare:
		order = []any{"memory_limiter"}
	case kindOTTL:
		order = []any{"memory_limiter"}
		tf := map[string]any{"error_mode": "ignore"}
		switch signal {
		case "traces", "logs":
			// labels on the resource, old HTTP keys upgraded, tracking ID
			key, ctx, tracking := "trace_statements", "span", ottlSpanTracking
			if signal == "logs" {
				key, ctx, tracking = "log_statements", "log", ottlLogTracking
			}
			procs["resource/airi"] = ottlResource
			order = append(order, "resource/airi")
			tf[key] = []any{
				map[string]any{"context": "resource", "statements": ottlResourceStatements},
				map[string]any{"context": ctx, "statements": append(ottlHTTPStatements(ctx), tracking...)},
			}
		case "metrics":
			tf["metric_statements"] = ottlMetricStatements
		}
		procs["transform/airi"] = tf
		order = append(order, "transform/airi")
	default:
		t.Fatalf("unknown pipeline kind %q", kind)
	}
	pipe["processors"] = order
	service["pipelines"] = map[string]any{signal: pipe}
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	return string(out)
}

// walFlush is the remote-write WAL's truncate_frequency in the load scenarios (gatewayConfig).
const walFlush = "1s"

// gatewayEnv is the ${env:...} settings of config/gateway.yaml (config/.env.example) for one
// scenario: the load generator's port for the otlp receiver, the testbed receiver as Jaeger /
// Loki / Mimir, a fresh storage directory, free ports for everything else on 127.0.0.1.
func gatewayEnv(t testing.TB, senderPort, recvPort, telemetryPort, pprofPort int, storageDir string) map[string]string {
	local := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }
	return map[string]string{
		"AIRI_OTLP_GRPC_ENDPOINT":  fmt.Sprintf("127.0.0.1:%d", senderPort),
		"AIRI_OTLP_HTTP_ENDPOINT":  local(),
		"AIRI_HEALTH_ENDPOINT":     local(),
		"AIRI_PPROF_ENDPOINT":      fmt.Sprintf("127.0.0.1:%d", pprofPort),
		"AIRI_ZPAGES_ENDPOINT":     local(),
		"AIRI_PROMETHEUS_ENDPOINT": local(),
		"AIRI_STORAGE_DIR":         storageDir,
		"AIRI_TELEMETRY_HOST":      "127.0.0.1",
		"AIRI_TELEMETRY_PORT":      fmt.Sprint(telemetryPort),
		"JAEGER_OTLP_ENDPOINT":     fmt.Sprintf("127.0.0.1:%d", recvPort),
		"JAEGER_OTLP_INSECURE":     "true",
		"LOKI_OTLP_ENDPOINT":       fmt.Sprintf("http://127.0.0.1:%d", recvPort),
		"MIMIR_REMOTE_WRITE_URL":   fmt.Sprintf("http://127.0.0.1:%d/api/v1/push", recvPort),
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago, as internal/harness's
// FreePort does (this module cannot import it): below Linux's ephemeral range (32768-60999),
// where the kernel picks the source ports of outgoing connections, so a client's connection
// cannot take a port a receiver is about to bind; never handed out twice by one test binary.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatal("no free port found in 127.0.0.1:20000-31999")
	return 0
}
