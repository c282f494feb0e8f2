// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// TestSidecarKilledLosesItsQueue measures what README "Guarantees" says of config/sidecar.yaml:
// its sending queues are in memory, so a SIGKILL loses what they held. Under 2000 log records/s,
// with Loki down for a few seconds so the queue holds data, the sidecar is killed and restarted:
// everything acknowledged after the restart arrives, and of what was acknowledged before the
// kill, some is lost, at most what the queue held plus the batch in flight.
func TestSidecarKilledLosesItsQueue(t *testing.T) {
	loki := newBackend(t, lokiKind)
	startAll(t, loki)
	sidecar := newCollector(t, "sidecar", map[string]string{
		"JAEGER_OTLP_ENDPOINT":   unusedAddr(t),
		"LOKI_OTLP_ENDPOINT":     loki.URL("http") + "/otlp",
		"MIMIR_REMOTE_WRITE_URL": "http://" + unusedAddr(t) + "/api/v1/push",
		"AIRI_COLLECTOR_NAME":    "e2e-sidecar",
	})
	sidecar.Start()

	logs := newLogLoad(t, sidecar.OTLPHTTP(), loki, serviceResource(loadService, "sidecar-kill-0"), agentPerRequest)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	loadCtx, stopLoad := context.WithCancel(ctx)
	logs.run(loadCtx, loadInterval)

	time.Sleep(3 * time.Second)
	loki.Stop()
	time.Sleep(5 * time.Second)
	queued, err := sidecar.Telemetry(ctx, "otelcol_exporter_queue_size", `exporter="otlp_http/loki"`)
	require.NoError(t, err)
	beforeKill := logs.ackedCount()
	sidecar.Kill()
	loki.Start()
	sidecar.Start()
	afterRestart := logs.ackedCount()
	time.Sleep(3 * time.Second)
	stopLoad()
	logs.wait()

	logs.mu.Lock()
	acked := append([]string(nil), logs.acked...)
	logs.mu.Unlock()
	require.Greater(t, len(acked), afterRestart, "nothing acknowledged after the restart")
	var lost []string
	harness.Eventually(t, 2*time.Minute, 2*time.Second, func() error {
		arrived, err := logs.arrived(ctx, acked)
		if err != nil {
			return err
		}
		for _, id := range acked[afterRestart:] {
			if len(arrived[id]) == 0 {
				return fmt.Errorf("%s, acknowledged after the restart, has not arrived", id)
			}
		}
		lost = lost[:0]
		for _, id := range acked[:beforeKill] {
			if len(arrived[id]) == 0 {
				lost = append(lost, id)
			}
		}
		return nil
	})
	// The bound: the queue at the kill, plus 2 s of input (acknowledged between the scrape and
	// the kill, or in the batch in flight).
	bound := int(queued) + 2*int(time.Second/loadInterval)*agentPerRequest
	t.Logf("%s: logs: acknowledged %d before the kill, %d queued at the kill; lost %d (bound %d); all %d acknowledged after the restart arrived",
		t.Name(), beforeKill, int(queued), len(lost), bound, len(acked)-afterRestart)
	require.Positive(t, len(lost), "nothing was lost: the sidecar's queue is not in memory any more? README Guarantees says it is")
	require.LessOrEqual(t, len(lost), bound, "the sidecar lost more than its queue held")
	sidecar.RequireRunning("the test")
}
