// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// Collector is bin/otelcol-airi running one of the shipped configs (config/gateway.yaml or
// config/agent.yaml), moved onto free loopback ports and temp directories only through the
// ${env:...} variables the config reads. Its storage directory survives Stop and Kill, so Start
// after either is a restart on the same persistent queues.
type Collector struct {
	t      *testing.T
	config string
	Env    map[string]string
	proc   *harness.Process
}

// unusedAddr is a loopback address where nothing listens: the endpoint of a backend a test does
// not run, so its exporter fails and queues.
func unusedAddr(t *testing.T) string { return harness.FreeAddr(t) }

func newCollector(t *testing.T, config string, env map[string]string) *Collector {
	t.Helper()
	c := &Collector{
		t:      t,
		config: filepath.Join(harness.RepoRoot(t), "config", config+".yaml"),
		Env: map[string]string{
			"AIRI_OTLP_GRPC_ENDPOINT":  harness.FreeAddr(t),
			"AIRI_OTLP_HTTP_ENDPOINT":  harness.FreeAddr(t),
			"AIRI_PROMETHEUS_ENDPOINT": harness.FreeAddr(t),
			"AIRI_HEALTH_ENDPOINT":     harness.FreeAddr(t),
			"AIRI_TELEMETRY_HOST":      "127.0.0.1",
			"AIRI_TELEMETRY_PORT":      strconv.Itoa(harness.FreePort(t)),
			"AIRI_PPROF_ENDPOINT":      harness.FreeAddr(t),
			"AIRI_ZPAGES_ENDPOINT":     harness.FreeAddr(t),
			"AIRI_STORAGE_DIR":         t.TempDir(),
		},
	}
	for k, v := range env {
		c.Env[k] = v
	}
	return c
}

// newGateway is config/gateway.yaml exporting to the given backends; a nil backend's endpoint
// is a loopback port where nothing listens.
func newGateway(t *testing.T, jaeger, loki, mimir *Backend, env map[string]string) *Collector {
	t.Helper()
	e := map[string]string{
		"JAEGER_OTLP_ENDPOINT":   unusedAddr(t),
		"LOKI_OTLP_ENDPOINT":     "http://" + unusedAddr(t) + "/otlp",
		"MIMIR_REMOTE_WRITE_URL": "http://" + unusedAddr(t) + "/api/v1/push",
		"AIRI_COLLECTOR_NAME":    "e2e-gateway",
	}
	if jaeger != nil {
		e["JAEGER_OTLP_ENDPOINT"] = jaeger.Addr("otlp_grpc")
	}
	if loki != nil {
		e["LOKI_OTLP_ENDPOINT"] = loki.URL("http") + "/otlp"
	}
	if mimir != nil {
		e["MIMIR_REMOTE_WRITE_URL"] = mimir.URL("http") + "/api/v1/push"
	}
	for k, v := range env {
		e[k] = v
	}
	return newCollector(t, "gateway", e)
}

// newAgent is config/agent.yaml forwarding to gateway through its load_balancing exporters.
func newAgent(t *testing.T, gateway *Collector, env map[string]string) *Collector {
	t.Helper()
	_, port, err := net.SplitHostPort(gateway.Env["AIRI_OTLP_GRPC_ENDPOINT"])
	require.NoError(t, err)
	e := map[string]string{
		// An IP literal: "localhost" may also resolve to ::1, where nothing listens.
		"AIRI_GATEWAY_HOST":          "127.0.0.1",
		"AIRI_GATEWAY_OTLP_PORT":     port,
		"AIRI_SCRAPE_INTERVAL":       "1s",
		"AIRI_HOST_METRICS_INTERVAL": "5s",
		"AIRI_LOG_START_AT":          "beginning",
	}
	for k, v := range env {
		e[k] = v
	}
	return newCollector(t, "agent", e)
}

// OTLPGRPC is the collector's OTLP/gRPC listen address; OTLPHTTP its OTLP/HTTP one.
func (c *Collector) OTLPGRPC() string { return c.Env["AIRI_OTLP_GRPC_ENDPOINT"] }
func (c *Collector) OTLPHTTP() string { return c.Env["AIRI_OTLP_HTTP_ENDPOINT"] }

// PrometheusAddr is where the `prometheus` exporter serves the services' metrics.
func (c *Collector) PrometheusAddr() string { return c.Env["AIRI_PROMETHEUS_ENDPOINT"] }

// TelemetryAddr is where the collector serves its own metrics.
func (c *Collector) TelemetryAddr() string { return "127.0.0.1:" + c.Env["AIRI_TELEMETRY_PORT"] }

// Start starts (or restarts) the collector and waits for its health check.
func (c *Collector) Start() {
	c.t.Helper()
	c.proc = harness.Start(c.t, harness.CollectorBinary(c.t), []string{"--config", c.config}, c.Env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(c.t, harness.WaitHTTP(ctx, c.proc, "http://"+c.Env["AIRI_HEALTH_ENDPOINT"]+"/", http.StatusOK, time.Minute))
}

// Stop stops the collector with SIGTERM and requires a clean exit.
func (c *Collector) Stop() {
	c.t.Helper()
	require.NoError(c.t, c.proc.Stop(time.Minute))
}

// Kill kills the collector with SIGKILL: no shutdown, no flush.
func (c *Collector) Kill() {
	c.proc.Kill()
}

// RequireRunning fails the test when the collector has exited (crashed); after names the step
// it had to survive.
func (c *Collector) RequireRunning(after string) {
	c.t.Helper()
	require.False(c.t, c.proc.Exited(), "collector %s exited after %s:\n%s", filepath.Base(c.config), after, c.proc.Output.String())
}

// Telemetry returns the sum over the series of one of the collector's own metrics (names as
// served at TelemetryAddr, e.g. otelcol_exporter_queue_size) that carry all of labels (as
// `exporter="otlp_http/loki"`).
func (c *Collector) Telemetry(ctx context.Context, name string, labels ...string) (float64, error) {
	body, err := harness.Get(ctx, "http://"+c.TelemetryAddr()+"/metrics")
	if err != nil {
		return 0, err
	}
	return harness.SumSeries(body, name, labels...), nil
}

func (c *Collector) String() string {
	return fmt.Sprintf("%s (pid %d)", filepath.Base(c.config), c.proc.Cmd.Process.Pid)
}
