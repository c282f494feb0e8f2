// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// outage is how long a backend stays down under load.
const outage = 30 * time.Second

// Rates of the fault tests' steady load: requests every loadInterval of tracesPerRequest spans
// (one trace), logsPerRequest log records and metricsPerRequest metric points (each in a series
// of its own).
const (
	loadInterval      = 100 * time.Millisecond
	tracesPerRequest  = 20
	logsPerRequest    = 50
	metricsPerRequest = 20
)

// TestBackendOutageLosesNothing stops Jaeger and Loki under steady load through
// config/gateway.yaml until Prometheus, scraping the gateway with deploy/prometheus/rules.yaml,
// fires OtelcolAiriExporterStalled for both exporters (about a minute), with Mimir down for 30 s
// inside that outage, and restarts them: the alert resolves, and every span, log record and
// metric point the gateway acknowledged arrives, held meanwhile by the persistent sending queues
// (Jaeger, Loki) and the remote-write WAL (Mimir). The evidence that the gateway kept accepting
// during each outage is in the backend: items stamped inside the outage window, Mimir's in order.
func TestBackendOutageLosesNothing(t *testing.T) {
	jaeger, loki, mimir, prom := newBackend(t, jaegerKind), newBackend(t, lokiKind), newBackend(t, mimirKind), newBackend(t, prometheusKind)
	gateway := newGateway(t, jaeger, loki, mimir, nil)
	// Prometheus scrapes the gateway's own metrics with deploy/prometheus/rules.yaml loaded, its
	// `for:` shortened to 5 s (the expressions are the shipped ones): the alerts are seen to fire.
	prom.TelemetryTargets = []string{gateway.TelemetryAddr()}
	prom.RuleFiles = []string{rulesWithShortFor(t, prom.Dir, 5*time.Second)}
	startAll(t, jaeger, loki, mimir, prom)
	gateway.Start()

	res := serviceResource(loadService, "outage-0")
	traces := newTraceLoad(t, gateway.OTLPGRPC(), jaeger, res, tracesPerRequest)
	logs := newLogLoad(t, gateway.OTLPHTTP(), loki, res, logsPerRequest)
	metrics := newMetricLoad(t, gateway.OTLPGRPC(), mimir, res, metricsPerRequest, metricsPerRequest)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	loadCtx, stopLoad := context.WithCancel(ctx)
	start := time.Now()
	traces.run(loadCtx, loadInterval)
	logs.run(loadCtx, loadInterval)
	metrics.run(loadCtx, loadInterval)

	// Before the outage nothing is stalled: the exporters send as the queues fill.
	time.Sleep(5 * time.Second)
	before, err := promAlerts(ctx, prom)
	require.NoError(t, err)
	require.Empty(t, alertsMatching(before, "OtelcolAiriExporterStalled", nil), "stalled before any outage: %v", before)
	// Jaeger goes down with Loki. Its in-memory storage forgets what it held, so only the spans
	// acknowledged from here on are checked: the Jaeger exporter's persistent queue holds them.
	stopping := time.Now()
	jaeger.Stop()
	traces.forgetAcked()
	loki.Stop()
	lokiDown := time.Now()
	// Mimir is down for `outage` inside Loki's outage: the remote-write WAL holds its points.
	time.Sleep(10 * time.Second)
	mimir.Stop()
	mimirDown := time.Now()
	time.Sleep(outage)
	mimirUp := time.Now()
	mimir.Start()
	// What the operator sees: OtelcolAiriExporterStalled fires for the Loki and the Jaeger
	// exporters once they have sent nothing for a minute while their queues hold items
	// (OtelcolAiriExporterSendFailed stays silent: retrying forever, nothing is given up, below).
	stalled := map[string]string{"otlp_http/loki": "logs", "otlp_grpc/jaeger": "traces"}
	for exporter, dataType := range stalled {
		waitForAlert(t, ctx, prom, 2*time.Minute, "OtelcolAiriExporterStalled",
			map[string]string{"exporter": exporter, "data_type": dataType, "job": "otelcol-airi"}, "firing")
	}
	firing, err := promAlerts(ctx, prom)
	require.NoError(t, err)
	t.Logf("%s: %s after Jaeger and Loki were told to stop (their graceful stop took %s), Prometheus reports %v",
		t.Name(), time.Since(stopping).Round(time.Second), lokiDown.Sub(stopping).Round(time.Second), firing)
	// The outage was real: the Loki exporter's persistent queue holds what Loki could not take.
	queuedLogs, err := gateway.Telemetry(ctx, "otelcol_exporter_queue_size", `exporter="otlp_http/loki"`)
	require.NoError(t, err)
	// The fill ratio OtelcolAiriExporterQueueNearFull watches rose, and at this growth the queue
	// is on course to be full within its 15 minutes: it warns, short of 80 %.
	fill := `max(otelcol_exporter_queue_size{exporter="otlp_http/loki"} / otelcol_exporter_queue_capacity{exporter="otlp_http/loki"})`
	fillAtOutage, err := promScalar(ctx, prom.URL("http"), fill)
	require.NoError(t, err)
	require.Greater(t, fillAtOutage, 0.02, "Prometheus sees the Loki queue no fuller than the batcher keeps it during Loki's outage")
	waitForAlert(t, ctx, prom, time.Minute, "OtelcolAiriExporterQueueNearFull", map[string]string{"exporter": "otlp_http/loki"}, "firing")
	lokiUp := time.Now()
	jaeger.Start()
	loki.Start()
	// Resolved once they send again, and drained: back to what the batcher holds under this
	// load (flush_timeout 1 s, ~500 records).
	for exporter, dataType := range stalled {
		waitForAlert(t, ctx, prom, 2*time.Minute, "OtelcolAiriExporterStalled",
			map[string]string{"exporter": exporter, "data_type": dataType}, "")
	}
	resolvedAfter := time.Since(lokiUp)
	harness.Eventually(t, 2*time.Minute, time.Second, func() error {
		f, err := promScalar(ctx, prom.URL("http"), fill)
		if err == nil && f > 0.02 {
			err = fmt.Errorf("the Loki queue is still %.1f %% full in Prometheus", 100*f)
		}
		return err
	})
	t.Logf("%s: Prometheus: Loki queue %.1f %% full at the end of the outage (%s), OtelcolAiriExporterStalled resolved %s and the queue drained %s after Loki returned",
		t.Name(), 100*fillAtOutage, lokiUp.Sub(lokiDown).Round(time.Second), resolvedAfter.Round(time.Second), time.Since(lokiUp).Round(time.Second))
	// Every alert's inputs exist in Prometheus now, but those that need another event.
	eventOnly := maps.Clone(eventOnlyInputs)
	for _, name := range []string{"otelcol_processor_airi_normalize_defaults_applied", "otelcol_processor_cardinality_guard_overflow_points", "http_server_request_duration_seconds_count", "http_server_request_duration_seconds_bucket"} {
		eventOnly[name] = "TestAgentAndGatewayIntoEveryBackend"
	}
	requireRuleInputsExist(t, ctx, prom, eventOnly)

	time.Sleep(5 * time.Second)
	stopLoad()
	traces.wait()
	logs.wait()
	metrics.wait()
	elapsed := time.Since(start).Seconds()

	require.Positive(t, queuedLogs, "nothing queued for Loki during its outage")
	// Retrying forever (max_elapsed_time: 0), the exporters gave nothing up: the send-failed
	// counters (OtelcolAiriExporterSendFailed's input) stay at zero through an outage.
	for _, name := range []string{"otelcol_exporter_send_failed_spans", "otelcol_exporter_send_failed_log_records", "otelcol_exporter_send_failed_metric_points"} {
		failed, err := gateway.Telemetry(ctx, name)
		require.NoError(t, err)
		require.Zero(t, failed, "%s: the gateway gave items up", name)
	}
	// Duplicates: no collector died, so an item is sent twice only when an export the backend
	// took timed out before its answer: at most what was held during the outage (the log records
	// in the queue at its end; the metric points taken during it, which the WAL may replay).
	l := logs.requireNothingLost(t, ctx, 3*time.Minute, int(queuedLogs))
	m := metrics.requireNothingLost(t, ctx, 3*time.Minute, int(outage/loadInterval+1)*metricsPerRequest)
	// Spans: at most those acknowledged during Jaeger's outage, which the queue held.
	tr := traces.requireNothingLost(t, ctx, 3*time.Minute, int(lokiUp.Sub(lokiDown)/loadInterval+1)*tracesPerRequest)
	inJaeger, err := traces.stampedBetween(ctx, tr, lokiDown, lokiUp)
	require.NoError(t, err)
	require.Positive(t, inJaeger, "no span stamped inside Jaeger's outage arrived")
	t.Logf("%s: %d spans stamped inside Jaeger's outage arrived", t.Name(), inJaeger)
	t.Logf("%s: rates: logs %.0f/s, metric points %.0f/s sent; %v log records queued at the end of Loki's outage",
		t.Name(), float64(l.sent)/elapsed, float64(m.sent)/elapsed, queuedLogs)

	inLoki, err := logs.stampedBetween(ctx, l, lokiDown, lokiUp)
	require.NoError(t, err)
	require.Positive(t, inLoki, "no log record stamped inside Loki's outage [%s, %s] arrived: the gateway did not accept during it", lokiDown, lokiUp)
	// The remote-write WAL's evidence: points taken while Mimir was down arrived, each point's
	// timestamp no earlier than the one of the point before it (a point's number is the order they were taken in).
	inMimir, err := metrics.stampedBetween(ctx, m, mimirDown, mimirUp)
	require.NoError(t, err)
	require.Positive(t, inMimir, "no metric point stamped inside Mimir's outage [%s, %s] arrived", mimirDown, mimirUp)
	requireStampedInOrder(t, m.arrivals)
	t.Logf("%s: arrived stamped inside the outage: %d log records (Loki down %s), %d metric points (Mimir down %s)",
		t.Name(), inLoki, lokiUp.Sub(lokiDown).Round(time.Second), inMimir, mimirUp.Sub(mimirDown).Round(time.Second))
	gateway.RequireRunning("the test")
}

// requireStampedInOrder requires that the items, numbered in the order they were taken (the
// metric load's point numbers), carry timestamps that never go backwards.
func requireStampedInOrder(t *testing.T, arrivals map[string][]time.Time) {
	t.Helper()
	seqs := make([]int, 0, len(arrivals))
	for id := range arrivals {
		n, err := strconv.Atoi(id)
		require.NoError(t, err)
		seqs = append(seqs, n)
	}
	sort.Ints(seqs)
	var last time.Time
	for _, n := range seqs {
		ts := arrivals[strconv.Itoa(n)][0]
		require.False(t, ts.Before(last), "point %d is stamped %s, before the point taken before it (%s)", n, ts, last)
		last = ts
	}
}

// TestCollectorKilledLosesNothing kills config/gateway.yaml with SIGKILL under load on all three
// signals — while Loki and Mimir are down, so the persistent queue and the WAL hold data, and
// while spans are in flight to a live Jaeger — and restarts it on the same storage directory:
// every item acknowledged before the kill arrives after the restart, and what arrives twice is
// bounded per signal by what that exporter held at the kill.
func TestCollectorKilledLosesNothing(t *testing.T) {
	jaeger, loki, mimir := newBackend(t, jaegerKind), newBackend(t, lokiKind), newBackend(t, mimirKind)
	startAll(t, jaeger, loki, mimir)
	gateway := newGateway(t, jaeger, loki, mimir, nil)
	gateway.Start()

	res := serviceResource(loadService, "sigkill-0")
	traces := newTraceLoad(t, gateway.OTLPGRPC(), jaeger, res, tracesPerRequest)
	logs := newLogLoad(t, gateway.OTLPHTTP(), loki, res, logsPerRequest)
	metrics := newMetricLoad(t, gateway.OTLPGRPC(), mimir, res, metricsPerRequest, metricsPerRequest)
	loads := []*steadyLoad{traces, logs, metrics}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	loadCtx, stopLoad := context.WithCancel(ctx)
	start := time.Now()
	for _, l := range loads {
		l.run(loadCtx, loadInterval)
	}

	time.Sleep(3 * time.Second)
	loki.Stop()
	mimir.Stop()
	time.Sleep(10 * time.Second)
	// Per exporter, what it held at the kill: its queue, plus — for spans, whose backend is up —
	// what was acknowledged since the last full batch could have left (flush_timeout 1 s), the
	// batch in flight.
	held := map[string]int{}
	for signal, exporter := range map[string]string{"traces": "otlp_grpc/jaeger", "logs": "otlp_http/loki"} {
		q, err := gateway.Telemetry(ctx, "otelcol_exporter_queue_size", fmt.Sprintf("exporter=%q", exporter))
		require.NoError(t, err)
		held[signal] = int(q)
	}
	inFlightFrom := traces.ackedCount()
	time.Sleep(2 * time.Second)
	held["traces"] += traces.ackedCount() - inFlightFrom
	// The WAL may replay what it holds: at most every point acknowledged so far.
	held["metrics"] = metrics.ackedCount()
	gateway.Kill()
	t.Logf("gateway killed holding %v items per signal", held)
	require.Positive(t, held["logs"], "nothing was queued for Loki when the gateway was killed")

	loki.Start()
	mimir.Start()
	gateway.Start() // same AIRI_STORAGE_DIR: the queues and the WAL of the killed process
	time.Sleep(5 * time.Second)
	stopLoad()
	for _, l := range loads {
		l.wait()
	}
	elapsed := time.Since(start).Seconds()

	for _, l := range loads {
		d := l.requireNothingLost(t, ctx, 3*time.Minute, held[l.signal])
		_, unreachable := l.failures()
		t.Logf("%s: %s: %.0f items/s sent; %d requests found the gateway down", t.Name(), l.signal, float64(d.sent)/elapsed, unreachable)
	}
	gateway.RequireRunning("the test")
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// TestOverloadIsRefusedThenRecovers drives config/gateway.yaml (memory_limiter at
// AIRI_MEMORY_LIMIT_MIB) with more large log requests than it can hold: it accepts some and
// refuses others with a retryable status instead of growing (in these runs the Loki exporter's
// full queue refused every one: the memory_limiter's soft limit was never reached), everything it accepted arrives in
// Loki, its Go heap — as the collector itself reports it, scraped all through the run — stays
// under the limit, and it accepts again once the load drops.
func TestOverloadIsRefusedThenRecovers(t *testing.T) {
	loki := newBackend(t, lokiKind)
	startAll(t, loki)
	gateway := newGateway(t, nil, loki, nil, map[string]string{
		"AIRI_MEMORY_LIMIT_MIB": fmt.Sprint(overloadLimitMiB),
		// As deploy/kubernetes sets it: the Go runtime's soft limit at 80 % of the limiter's.
		"GOMEMLIMIT":     fmt.Sprintf("%dMiB", overloadLimitMiB*8/10),
		"AIRI_LOG_LEVEL": "warn",
	})
	gateway.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The heap's high-water mark over the whole run, from otelcol_process_runtime_heap_alloc_bytes
	// (runtime.MemStats.HeapAlloc read at each scrape), scraped back to back.
	var peakHeap float64
	var scrapes int
	heapCtx, stopHeap := context.WithCancel(ctx)
	heapDone := make(chan struct{})
	go func() {
		defer close(heapDone)
		for heapCtx.Err() == nil {
			h, err := gateway.Telemetry(heapCtx, "otelcol_process_runtime_heap_alloc_bytes")
			if err == nil && h > 0 {
				peakHeap = max(peakHeap, h)
				scrapes++
			}
		}
	}()

	conn := dialOTLP(t, gateway.OTLPGRPC())
	client := plogotlp.NewGRPCClient(conn)
	run := randomHex(t, 4)
	const perRequest = 2000 // of 2 KiB each: ~4 MiB of OTLP per request

	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	var acked []int // request numbers
	var next int
	overloadCtx, stopOverload := context.WithTimeout(ctx, 20*time.Second)
	defer stopOverload()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for overloadCtx.Err() == nil {
				mu.Lock()
				req := next
				next++
				mu.Unlock()
				reqCtx, cancel := context.WithTimeout(overloadCtx, 10*time.Second)
				_, err := client.Export(reqCtx, plogotlp.NewExportRequestFromLogs(bigLogs(fmt.Sprintf("%s-%d", run, req), perRequest, 2048)))
				cancel()
				if overloadCtx.Err() != nil {
					return
				}
				mu.Lock()
				codesSeen[status.Code(err)]++
				if err == nil {
					acked = append(acked, req)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	gateway.RequireRunning("the overload")

	// Who refused, under the names rules.yaml reads (OtelcolAiriReceiverRefusing,
	// OtelcolAiriExporterQueueFull, OtelcolAiriMemoryLimiterRefusing).
	refused := map[string]float64{}
	for _, name := range []string{"otelcol_receiver_refused_log_records", "otelcol_exporter_enqueue_failed_log_records", "otelcol_processor_memory_limiter_refused_log_records"} {
		v, err := gateway.Telemetry(ctx, name)
		require.NoError(t, err)
		refused[name] = v
	}
	t.Logf("overload: responses by gRPC code: %v; refused log records counted: %v", codesSeen, refused)
	require.Positive(t, codesSeen[codes.OK], "the gateway accepted nothing: %v", codesSeen)
	require.Positive(t, codesSeen[codes.Unavailable], "the gateway never refused: %v", codesSeen)
	require.Positive(t, refused["otelcol_receiver_refused_log_records"], "refusals not counted as the receiver's")
	// Every refusal is accounted for by a full queue or the memory_limiter (measured: all of
	// them by the Loki exporter's full queue, none by the memory_limiter, whose heap stayed under
	// its soft limit).
	require.GreaterOrEqual(t, refused["otelcol_exporter_enqueue_failed_log_records"]+refused["otelcol_processor_memory_limiter_refused_log_records"],
		refused["otelcol_receiver_refused_log_records"], "refusals neither a full queue nor the memory_limiter counted")
	for code, n := range codesSeen {
		// Unavailable is the OTLP spec's retryable refusal; a client deadline may pass while the
		// gateway is saturated. Anything else (a permanent error) would make clients drop data.
		require.Contains(t, []codes.Code{codes.OK, codes.Unavailable, codes.DeadlineExceeded}, code,
			"%d responses with %s", n, code)
	}

	// Everything acknowledged during the overload arrived in Loki: each acknowledged request's
	// records, counted per request by Loki itself.
	query := fmt.Sprintf(`sum by (req) (count_over_time({service="e2e-overload"} |= %q | regexp %q [1h]))`,
		run+"-", run+`-(?P<req>[0-9]+)-`)
	perReq := map[string]float64{}
	harness.Eventually(t, 3*time.Minute, 2*time.Second, func() error {
		got, err := promQuery(ctx, loki.URL("http")+"/loki", query)
		if err != nil {
			return err
		}
		for _, s := range got {
			perReq[s.Labels["req"]] = s.Value
		}
		for _, req := range acked {
			if n := perReq[strconv.Itoa(req)]; n < perRequest {
				return fmt.Errorf("acknowledged request %d: %v of its %d log records in Loki", req, n, perRequest)
			}
		}
		return nil
	})
	arrived := 0.0
	for _, n := range perReq {
		arrived += n
	}
	requests := 0
	for _, n := range codesSeen {
		requests += n
	}
	t.Logf("%s: overload: sent %d requests (%d log records), acknowledged %d (%d records), refused retryably %d, timed out %d; %v records arrived in Loki (refused or timed-out requests' may arrive too)",
		t.Name(), requests, requests*perRequest, len(acked), len(acked)*perRequest, codesSeen[codes.Unavailable], codesSeen[codes.DeadlineExceeded], arrived)

	// Load drops: ordinary requests are accepted again, and what is accepted arrives.
	harness.Eventually(t, time.Minute, time.Second, func() error {
		_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(bigLogs(run+"-recover", 1, 10)))
		return err
	})
	logs := newLogLoad(t, gateway.OTLPHTTP(), loki, serviceResource(loadService, "overload-0"), 10)
	recoverCtx, stopRecover := context.WithTimeout(ctx, 5*time.Second)
	defer stopRecover()
	logs.run(recoverCtx, 100*time.Millisecond)
	<-recoverCtx.Done()
	logs.wait()
	logs.requireNothingLost(t, ctx, 2*time.Minute, 0)

	stopHeap()
	<-heapDone
	t.Logf("%s: peak Go heap %s over %d scrapes of the whole run, limit %d MiB", t.Name(), mib(int64(peakHeap)), scrapes, overloadLimitMiB)
	require.Greater(t, scrapes, 100, "too few heap scrapes to see the whole run")
	require.Less(t, peakHeap, float64(overloadLimitMiB<<20), "peak Go heap %s over the %d MiB limit", mib(int64(peakHeap)), overloadLimitMiB)
}

// overloadLimitMiB is the memory_limiter limit of the overload test.
const overloadLimitMiB = 400

// bigLogs is one request of n log records with bodies of size bytes, each starting
// "<prefix>-<i> " so Loki can count them per request.
func bigLogs(prefix string, n, size int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e-overload")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	body := strings.Repeat("x", size)
	for i := range n {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr(fmt.Sprintf("%s-%d %s", prefix, i, body))
	}
	return ld
}

func dialOTLP(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
