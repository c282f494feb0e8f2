// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// The five-minute outage: 2 000 log records/s from the OTel Go SDK into the agent, forwarded to
// the gateway, with Loki down for longOutage. Both queues hold queueItems (AIRI_QUEUE_SIZE), so
// the gateway's fills after ~2 min, the agent's ~2 min later, and the SDK is refused for the rest.
const (
	longOutage     = 5 * time.Minute
	queueItems     = 240000
	longPerRequest = 200 // every loadInterval: 2 000 records/s
	// fillTolerance is how far the measured fill time may be from README's queue / rate: the
	// rate is measured before the outage, and a refusal comes when the next request (one agent
	// batch, ~1 s of input) no longer fits.
	fillTolerance = 0.10
)

// TestFiveMinuteOutageFillsTheQueues stops Loki for five minutes under 2 000 log records/s sent
// through config/agent.yaml to config/gateway.yaml, with Prometheus scraping both collectors'
// own metrics and evaluating the shipped deploy/prometheus/rules.yaml (unchanged: no `for:`
// shortened). It checks README "How long an outage the queues survive": the gateway's queue is
// full after queue / rate seconds, then the agent's after as long again, each within
// fillTolerance of that prediction (the first refusal in Prometheus); and the alerts an operator
// gets: OtelcolAiriExporterQueueNearFull fires for each queue before its first refusal,
// OtelcolAiriExporterQueueFull once it refuses, both resolve after Loki returns. Every record the
// agent acknowledged arrives (per request of 200, duplicates counted); what the SDK was refused
// once both queues were full was refused retryably and is counted as not acknowledged; no
// collector gives anything up (send_failed stays 0).
func TestFiveMinuteOutageFillsTheQueues(t *testing.T) {
	loki, prom := newBackend(t, lokiKind), newBackend(t, prometheusKind)
	queueSize := map[string]string{"AIRI_QUEUE_SIZE": strconv.Itoa(queueItems)}
	gateway := newGateway(t, nil, loki, nil, queueSize)
	logDir := t.TempDir()
	agent := newAgent(t, gateway, map[string]string{
		"AIRI_QUEUE_SIZE":            queueSize["AIRI_QUEUE_SIZE"],
		"AIRI_LOG_GLOB":              filepath.Join(logDir, "*.log"),
		"AIRI_POD_LOG_GLOB":          filepath.Join(logDir, "no-pods", "*.log"),
		"AIRI_SCRAPE_TARGETS":        "[]",
		"AIRI_HOST_METRICS_INTERVAL": "1h",
	})
	prom.TelemetryTargets = []string{gateway.TelemetryAddr(), agent.TelemetryAddr()}
	prom.RuleFiles = []string{shippedRules(t)}
	startAll(t, loki, prom)
	gateway.Start()
	agent.Start()

	logs := newLogLoad(t, agent.OTLPHTTP(), loki, serviceResource(loadService, "long-outage-0"), longPerRequest)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	loadCtx, stopLoad := context.WithCancel(ctx)
	start := time.Now()
	logs.run(loadCtx, loadInterval)

	// The input rate, measured before the outage: what the prediction uses.
	time.Sleep(5 * time.Second)
	ackedFrom, rateFrom := logs.ackedCount(), time.Now()
	time.Sleep(10 * time.Second)
	rate := float64(logs.ackedCount()-ackedFrom) / time.Since(rateFrom).Seconds()
	require.Greater(t, rate, 1500.0, "the sender reached %.0f records/s of the 2000 intended", rate)
	quiet, err := promAlerts(ctx, prom)
	require.NoError(t, err)
	for _, name := range []string{"OtelcolAiriExporterQueueNearFull", "OtelcolAiriExporterQueueFull"} {
		require.Empty(t, alertsMatching(quiet, name, nil), "%s before the outage: %v", name, quiet)
	}

	gw := exporterOf{collector: gateway, exporter: "otlp_http/loki"}
	ag := exporterOf{collector: agent, exporter: "load_balancing/traces_logs"}
	stopping := time.Now()
	loki.Stop()
	lokiDown := time.Now()
	q0 := gw.queued(t, ctx)
	qa0 := ag.queued(t, ctx)
	// README: a queue of N items, fed r items/s with its backend down, is full N / r seconds
	// later; the agent's queue starts filling only then and adds its own N / r.
	gwFull := time.Duration((queueItems - q0) / rate * float64(time.Second))
	agFull := gwFull + time.Duration((queueItems-qa0)/rate*float64(time.Second))
	t.Logf("%s: Loki stopped in %s at %.0f records/s with %.0f records in the gateway's queue and %.0f in the agent's (capacity %d each): predicted full %s (gateway) and %s (agent) into the outage",
		t.Name(), lokiDown.Sub(stopping).Round(100*time.Millisecond), rate, q0, qa0, queueItems, gwFull.Round(time.Second), agFull.Round(time.Second))
	require.Less(t, agFull, longOutage-30*time.Second, "both queues must fill inside the outage")

	time.Sleep(longOutage)
	lokiUp := time.Now()
	// What a full queue takes on disk (file_storage's bbolt files, which do not shrink).
	gwDisk, agDisk := dirBytes(t, gateway.Env["AIRI_STORAGE_DIR"]), dirBytes(t, agent.Env["AIRI_STORAGE_DIR"])
	t.Logf("%s: storage at the end of the outage, both queues full: gateway %s, agent %s (%.0f and %.0f bytes per queued record)",
		t.Name(), mib(gwDisk), mib(agDisk), float64(gwDisk)/queueItems, float64(agDisk)/queueItems)
	sentDuring, ackedDuring := logs.sentAndAcked()
	retryableDuring, _ := logs.failures()
	t.Logf("%s: at Loki's return: %d records sent, %d acknowledged, %d requests refused; queues: gateway %.0f, agent %.0f",
		t.Name(), sentDuring, ackedDuring, retryableDuring, gw.queued(t, ctx), ag.queued(t, ctx))

	// What Prometheus recorded during the outage, per queue: when NearFull first fired, when the
	// first refusal was scraped, when QueueFull first fired.
	type tier struct {
		name      string
		e         exporterOf
		predicted time.Duration
	}
	for _, tr := range []tier{{"gateway", gw, gwFull}, {"agent", ag, agFull}} {
		window := fmt.Sprintf("[%ds]", int(time.Since(start).Seconds())+1)
		sel := fmt.Sprintf(`{job="otelcol-airi", exporter=%q}`, tr.e.exporter)
		alertSel := fmt.Sprintf(`{job="otelcol-airi", exporter=%q, alertstate="firing"`, tr.e.exporter)
		refused, err := firstSample(ctx, prom, "otelcol_exporter_enqueue_failed_log_records"+sel+window, 0)
		require.NoError(t, err)
		nearFull, err := firstSample(ctx, prom, `ALERTS`+alertSel+`, alertname="OtelcolAiriExporterQueueNearFull"}`+window, 0)
		require.NoError(t, err)
		full, err := firstSample(ctx, prom, `ALERTS`+alertSel+`, alertname="OtelcolAiriExporterQueueFull"}`+window, 0)
		require.NoError(t, err)
		peak, err := promScalar(ctx, prom.URL("http"), "max(max_over_time(otelcol_exporter_queue_size"+sel+window+"))")
		require.NoError(t, err)
		measured := refused.Sub(lokiDown)
		t.Logf("%s: %s queue: full (first refusal scraped) %s into the outage, predicted %s (%+.1f %%); peak %.0f of %d; QueueNearFull firing %s, QueueFull firing %s into the outage",
			t.Name(), tr.name, sinceOrNever(refused, lokiDown), tr.predicted.Round(time.Second), 100*(measured.Seconds()/tr.predicted.Seconds()-1), peak, queueItems,
			sinceOrNever(nearFull, lokiDown), sinceOrNever(full, lokiDown))
		require.False(t, refused.IsZero(), "%s: Prometheus saw no refusal by the %s queue in a %s outage", tr.name, tr.e.exporter, longOutage)
		require.InEpsilon(t, tr.predicted.Seconds(), measured.Seconds(), fillTolerance,
			"%s: the queue filled %s into the outage, README's queue / rate predicts %s", tr.name, measured.Round(time.Second), tr.predicted.Round(time.Second))
		require.Greater(t, peak, 0.95*queueItems, "%s: the queue never came near its capacity", tr.name)
		require.False(t, nearFull.IsZero(), "%s: OtelcolAiriExporterQueueNearFull never fired", tr.name)
		require.True(t, nearFull.Before(refused), "%s: OtelcolAiriExporterQueueNearFull fired at %s, not before the first refusal at %s", tr.name, nearFull, refused)
		require.False(t, full.IsZero(), "%s: OtelcolAiriExporterQueueFull never fired", tr.name)
		require.False(t, full.Before(refused), "%s: OtelcolAiriExporterQueueFull fired before any refusal", tr.name)
	}
	stalledNote(t, ctx, prom, lokiDown)

	loki.Start()
	for _, e := range []exporterOf{gw, ag} {
		for _, name := range []string{"OtelcolAiriExporterQueueNearFull", "OtelcolAiriExporterQueueFull"} {
			waitForAlert(t, ctx, prom, 3*time.Minute, name, map[string]string{"exporter": e.exporter}, "")
		}
	}
	resolved := time.Since(lokiUp)
	stopLoad()
	logs.wait()
	// Drained: both queues hold no more than the batcher keeps (at most 2 s of input).
	harness.Eventually(t, 3*time.Minute, 2*time.Second, func() error {
		for _, e := range []exporterOf{gw, ag} {
			if q := e.queued(t, ctx); q > 2*rate {
				return fmt.Errorf("%s still holds %.0f records", e.exporter, q)
			}
		}
		return nil
	})
	drained := time.Since(lokiUp)

	// Delivery, counted per request (lokiRequestArrivals): every acknowledged record arrived, at
	// most what both queues held arrived twice.
	d := logs.requireNothingLost(t, ctx, 3*time.Minute, 2*queueItems)
	retryable, unreachable := logs.failures()
	logs.mu.Lock()
	acked := make(map[string]bool, len(logs.acked))
	for _, id := range logs.acked {
		acked[id] = true
	}
	logs.mu.Unlock()
	refusedArrived := 0
	for id, copies := range d.arrivals {
		if !acked[id] {
			refusedArrived += len(copies)
		}
	}
	t.Logf("%s: logs: sent %d, acknowledged %d (%d sent and %d acknowledged up to Loki's return), not acknowledged %d in %d requests refused retryably (both queues full), %d unreachable; arrived %d, duplicated %d, lost 0; refused requests that arrived anyway: %d records",
		t.Name(), d.sent, d.acked, sentDuring, ackedDuring, d.sent-d.acked, retryable, unreachable, d.arrived, d.duplicated, refusedArrived)
	require.Positive(t, retryable, "the SDK was never refused: the agent's queue did not fill")
	require.Zero(t, unreachable, "requests found the agent down")
	for _, e := range []exporterOf{gw, ag} {
		failed, err := e.collector.Telemetry(ctx, "otelcol_exporter_send_failed_log_records", fmt.Sprintf("exporter=%q", e.exporter))
		require.NoError(t, err)
		require.Zero(t, failed, "%s gave records up", e.exporter)
	}
	t.Logf("%s: after Loki returned: alerts resolved in %s, queues drained in %s; whole test %s",
		t.Name(), resolved.Round(time.Second), drained.Round(time.Second), time.Since(start).Round(time.Second))
	agent.RequireRunning("the outage")
	gateway.RequireRunning("the outage")
}

// dirBytes is the size of the files under dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	}))
	return n
}

// exporterOf is one exporter of one collector; with dataType, only that signal's queue (an
// exporter in several pipelines, like the agent's load_balancing, has one per signal).
type exporterOf struct {
	collector *Collector
	exporter  string
	dataType  string
}

// queued is the exporter's queue size now, from the collector's own telemetry.
func (e exporterOf) queued(t *testing.T, ctx context.Context) float64 {
	t.Helper()
	labels := []string{fmt.Sprintf("exporter=%q", e.exporter)}
	if e.dataType != "" {
		labels = append(labels, fmt.Sprintf("data_type=%q", e.dataType))
	}
	q, err := e.collector.Telemetry(ctx, "otelcol_exporter_queue_size", labels...)
	require.NoError(t, err)
	return q
}

// firstSample is the time of the earliest raw sample above min of any series of a range
// selector (zero if none).
func firstSample(ctx context.Context, prom *Backend, rangeSelector string, min float64) (time.Time, error) {
	series, err := promSamples(ctx, prom.URL("http"), rangeSelector)
	if err != nil {
		return time.Time{}, err
	}
	var first time.Time
	for _, s := range series {
		for i, ts := range s.Times {
			if s.Values[i] > min && (first.IsZero() || ts.Before(first)) {
				first = ts
			}
		}
	}
	return first, nil
}

func sinceOrNever(ts, from time.Time) string {
	if ts.IsZero() {
		return "never"
	}
	return ts.Sub(from).Round(time.Second).String()
}

// stalledNote logs when OtelcolAiriExporterStalled's condition first held for the gateway's Loki
// exporter, and how many scrapes its one-minute window held then (issue 17's timing note).
func stalledNote(t *testing.T, ctx context.Context, prom *Backend, lokiDown time.Time) {
	t.Helper()
	window := fmt.Sprintf("[%ds]", int(time.Since(lokiDown).Seconds())+60)
	pending, err := firstSample(ctx, prom, `ALERTS{alertname="OtelcolAiriExporterStalled", exporter="otlp_http/loki"}`+window, 0)
	require.NoError(t, err)
	if pending.IsZero() {
		t.Logf("%s: OtelcolAiriExporterStalled never pending for otlp_http/loki", t.Name())
		return
	}
	at := strconv.FormatFloat(float64(pending.UnixMilli())/1000, 'f', 3, 64)
	var counts []string
	for _, q := range []string{
		`count_over_time(otelcol_exporter_sent_log_records{exporter="otlp_http/loki"}[1m] @ %s)`,
		`count_over_time(up{job="otelcol-airi"}[1m] @ %s)`,
		`min_over_time(up{job="otelcol-airi"}[1m] @ %s)`,
		`increase(otelcol_exporter_sent_log_records{exporter="otlp_http/loki"}[1m] @ %s)`,
		`min_over_time(otelcol_exporter_queue_size{exporter="otlp_http/loki"}[1m] @ %s)`,
	} {
		got, err := promQuery(ctx, prom.URL("http"), fmt.Sprintf(q, at))
		require.NoError(t, err)
		var vs []float64
		for _, s := range got {
			vs = append(vs, s.Value)
		}
		counts = append(counts, fmt.Sprintf("%s = %v", strings.Replace(q, " @ %s", "", 1), vs))
	}
	t.Logf("%s: OtelcolAiriExporterStalled pending for otlp_http/loki %s after Loki stopped; then: %s",
		t.Name(), pending.Sub(lokiDown).Round(time.Second), strings.Join(counts, "; "))
}

// sentAndAcked is how many items were sent and acknowledged so far.
func (l *steadyLoad) sentAndAcked() (sent, acked int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, len(l.acked)
}
