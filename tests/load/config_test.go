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

	"github.com/open-telemetry/opentelemetry-collector-contrib/testbed/testbed"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Pipeline kinds compared side by side.
const (
	kindBare = "bare" // memory_limiter + batch: the floor
	kindAiri = "airi" // + airi_normalize, tracking_id, secret_scrub (, cardinality_guard) as in config/gateway.yaml
	kindOTTL = "ottl" // + resource + transform: the closest stock contrib gets
)

// gatewayProcessors reads memory_limiter and our processors from config/gateway.yaml, so
// the load tests run exactly what the shipped gateway runs (its ${env:...} defaults included).
func gatewayProcessors(t testing.TB) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "gateway.yaml"))
	require.NoError(t, err)
	var cfg struct {
		Processors map[string]any `yaml:"processors"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	for _, name := range []string{"memory_limiter", "airi_normalize", "tracking_id", "secret_scrub", "cardinality_guard"} {
		require.Contains(t, cfg.Processors, name, "config/gateway.yaml has no processor %s", name)
	}
	// the testbed's collector has no file_storage extension: the guard runs without
	// checkpoints here (their cost is BenchmarkCheckpoint's)
	if guard, ok := cfg.Processors["cardinality_guard"].(map[string]any); ok {
		delete(guard, "storage")
	}
	return cfg.Processors
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

// processorsFor returns the processor configs and their order for one pipeline.
func processorsFor(t testing.TB, kind, signal string, batch map[string]any) (map[string]any, []string) {
	gw := gatewayProcessors(t)
	if batch == nil {
		batch = map[string]any{}
	}
	procs := map[string]any{"memory_limiter": gw["memory_limiter"], "batch": batch}
	order := []string{"memory_limiter"}
	switch kind {
	case kindBare:
	case kindAiri:
		for _, name := range []string{"airi_normalize", "tracking_id", "secret_scrub"} {
			procs[name] = gw[name]
			order = append(order, name)
		}
		if signal == "metrics" {
			procs["cardinality_guard"] = gw["cardinality_guard"]
			order = append(order, "cardinality_guard")
		}
	case kindOTTL:
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
	return procs, append(order, "batch")
}

// collectorConfig builds the agent config: the testbed sender's receiver, the testbed
// receiver's exporter, pprof (as the upstream scenarios), own telemetry on a free port.
// batch is the batch processor's config (nil: its defaults).
func collectorConfig(t testing.TB, sender testbed.DataSender, receiver testbed.DataReceiver, signal, kind, resultDir string, telemetryPort int, batch map[string]any) string {
	t.Helper()
	fragment := func(section, body string) any {
		var m map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(section+":"+body), &m), body)
		return m[section]
	}
	procs, order := processorsFor(t, kind, signal, batch)
	cfg := map[string]any{
		"receivers":  fragment("receivers", sender.GenConfigYAMLStr()),
		"exporters":  fragment("exporters", receiver.GenConfigYAMLStr()),
		"processors": procs,
		"extensions": map[string]any{"pprof": map[string]any{
			"endpoint":     fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			"save_to_file": filepath.Join(resultDir, "cpu.prof"),
		}},
		"service": map[string]any{
			"extensions": []any{"pprof"},
			"telemetry": map[string]any{
				"logs": map[string]any{"level": "info"},
				"metrics": map[string]any{"level": "normal", "readers": []any{map[string]any{"pull": map[string]any{
					"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": telemetryPort}},
				}}}},
			},
			"pipelines": map[string]any{signal: map[string]any{
				"receivers":  []any{sender.ProtocolName()},
				"processors": order,
				"exporters":  []any{receiver.ProtocolName()},
			}},
		},
	}
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	return string(out)
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
