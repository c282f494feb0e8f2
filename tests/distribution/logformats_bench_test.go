// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// BenchmarkAgentLogPipeline measures what the shipped config/agent.yaml spends on one log line,
// from file_log through its processors to the load_balancing exporter's persistent queue:
// b.N lines of a Loguru serialize=True record (written by the real Loguru) are appended to a
// tailed file, plain or wrapped as containerd's CRI lines, and the agent's CPU time (user +
// system, from /proc) is read until its exporter has sent all of them; seed 004's flat JSON line
// runs beside them for comparison. Reported as lines per
// CPU-second (= lines/s on one core). Run with a fixed count, e.g.
//
//	go test -run '^$' -bench AgentLogPipeline -benchtime 200000x ./tests/distribution/
func BenchmarkAgentLogPipeline(b *testing.B) {
	root := harness.RepoRoot(b)
	dir := b.TempDir()
	harness.RequireDebianPythonModule(b, "loguru")
	sample := loguruSample(b, dir)

	for _, tc := range []struct {
		name string
		pods bool
		wrap func(line string, i int) string
	}{
		{"loguru-json", false, func(l string, _ int) string { return l }},
		// For comparison: seed 004's flat hand-shaped line, the one shape the agent read before.
		{"flat-json", false, func(_ string, i int) string {
			return strings.Replace(gatewayLine, "req-abc123", "req-bench-"+strconv.Itoa(i), 1)
		}},
		{"cri-loguru-json", true, func(l string, i int) string {
			return time.Unix(1767695400, int64(i)).UTC().Format(time.RFC3339Nano) + " stdout F " + l
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			logDir := b.TempDir()
			file := filepath.Join(logDir, "app.log")
			if tc.pods {
				podDir := filepath.Join(logDir, "pods", "airi_llm-gateway-7d9f8_0f3c2a1e-5b6d-4c7e-8f90-a1b2c3d4e5f6", "gateway")
				require.NoError(b, os.MkdirAll(podDir, 0o755))
				file = filepath.Join(podDir, "0.log")
			}
			require.NoError(b, os.WriteFile(file, nil, 0o600))

			downstream := startLocal(b, filepath.Join(root, "config", "local.yaml"))
			_, gwPort, err := net.SplitHostPort(downstream.grpc)
			require.NoError(b, err)
			env := agentEnv(b, gwPort, filepath.Join(logDir, "*.log"))
			env["AIRI_POD_LOG_GLOB"] = filepath.Join(logDir, "pods", "*", "*", "*.log")
			env["AIRI_HOST_METRICS_INTERVAL"] = "1h"
			agent := harness.Start(b, harness.CollectorBinary(b), []string{"--config", filepath.Join(root, "config", "agent.yaml")}, env)
			telemetry := "http://127.0.0.1:" + env["AIRI_TELEMETRY_PORT"] + "/metrics"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			sent := func() (float64, error) {
				body, err := harness.Get(ctx, telemetry)
				if err != nil {
					return 0, err
				}
				return harness.SumSeries(body, "otelcol_exporter_sent_log_records", `exporter="load_balancing/traces_logs"`), nil
			}
			harness.Eventually(b, 60*time.Second, 100*time.Millisecond, func() error {
				_, err := sent()
				return err
			})

			// The lines are prepared before the clock starts; appending them is not the agent's cost.
			var sb strings.Builder
			for i := 0; i < b.N; i++ {
				sb.WriteString(tc.wrap(strings.Replace(sample, "req-bench", "req-bench-"+strconv.Itoa(i), 1), i))
				sb.WriteByte('\n')
			}
			before, err := agent.CPUTime()
			require.NoError(b, err)
			b.ResetTimer()
			f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o600)
			require.NoError(b, err)
			w := bufio.NewWriterSize(f, 1<<20)
			_, err = w.WriteString(sb.String())
			require.NoError(b, err)
			require.NoError(b, w.Flush())
			require.NoError(b, f.Close())
			harness.Eventually(b, 5*time.Minute, 50*time.Millisecond, func() error {
				n, err := sent()
				if err == nil && n < float64(b.N) {
					err = fmt.Errorf("agent sent %.0f of %d lines", n, b.N)
				}
				return err
			})
			b.StopTimer()
			after, err := agent.CPUTime()
			require.NoError(b, err)
			cpu := (after - before).Seconds()
			b.ReportMetric(float64(b.N)/cpu, "lines/cpu-s")
			b.ReportMetric(cpu*1e6/float64(b.N), "cpu-µs/line")
			require.NoError(b, agent.Stop(20*time.Second))
		})
	}
}

// loguruSample is one line Loguru writes with serialize=True, its request ID "req-bench".
func loguruSample(b *testing.B, dir string) string {
	b.Helper()
	script := filepath.Join(dir, "sample.py")
	require.NoError(b, os.WriteFile(script, []byte(`import sys
from loguru import logger
logger.remove()
logger.add(sys.argv[1], serialize=True)
logger.bind(request_id="req-bench", tenant_id="tenant-xyz", model="gpt-4", latency_ms=1234).info("request_completed")
`), 0o600))
	out := filepath.Join(dir, "sample.log")
	runPython(b, script, out)
	line, err := os.ReadFile(out)
	require.NoError(b, err)
	return strings.TrimSpace(string(line))
}
