// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// clusterBudget is the gateways' AIRI_MAX_SERIES_PER_METRIC in the cluster test: far below the
// catalog's customers, so the budget (not the agent's) folds them.
const clusterBudget = 50

// clusterService is the service.name of the catalog load of the cluster test.
const clusterService = "llm-gateway"

// ackedExporter is the SDK's OTLP exporter that remembers, of every export the agent
// acknowledged, each monotonic counter's total (the sum of its cumulative points) and each
// histogram's count: what was acknowledged, to hold against what arrived.
type ackedExporter struct {
	sdkmetric.Exporter
	mu             sync.Mutex
	totals         map[string]float64
	acked, refused int
}

func (e *ackedExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.refused++
		return err
	}
	e.acked++
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var total float64
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					continue
				}
				for _, p := range d.DataPoints {
					total += float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					total += float64(p.Count)
				}
			default:
				continue
			}
			e.totals[m.Name] = total
		}
	}
	return nil
}

func (e *ackedExporter) snapshot() (totals map[string]float64, acked, refused int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	totals = make(map[string]float64, len(e.totals))
	for k, v := range e.totals {
		totals[k] = v
	}
	return totals, e.acked, e.refused
}

// catalogCounters maps the SDK name of each counted instrument of the catalog load to the
// Prometheus series whose sum is its total (seed 000's catalog: what the SDK's name becomes).
var catalogCounters = map[string]string{
	"airi.billing.flux.consumed":       "airi_billing_flux_consumed_total",
	"airi.stripe.revenue":              "airi_stripe_revenue_minor_unit_total",
	"stripe.events":                    "stripe_events_total",
	"auth.attempts":                    "auth_attempts_total",
	"user.login":                       "user_login_total",
	"ws.messages.sent":                 "ws_messages_sent_total",
	"airi.gen_ai.stream.interrupted":   "airi_gen_ai_stream_interrupted_total",
	"airi.rate_limit.blocked":          "airi_rate_limit_blocked_total",
	"http.server.request.duration":     "http_server_request_duration_seconds_count",
	"gen_ai.client.operation.duration": "gen_ai_client_operation_duration_seconds_count",
}

// clusterCustomers is how many customers airi.rate_limit.blocked is labelled with: a label the
// guard does not strip, so only the budget keeps its series down.
const clusterCustomers = 400

// clusterUsers is how many user IDs (and tracking IDs) the catalog load cycles through: every
// SDK export carries every series so far (cumulative), so this bounds the export's size.
const clusterUsers = 300

// runCatalogLoad records seed 000's metric catalog (docs "Metrics Catalog": billing, Stripe,
// auth, WebSocket, gen_ai, HTTP server) with the OTel Go SDK every 100 ms until ctx ends,
// high-cardinality labels included (user_id, session_id, tracking_id — stripped by the guard —
// and 400 customers, folded by the budget), exported every 500 ms over OTLP/gRPC to endpoint,
// retries off so that every export is either acknowledged or refused. stop flushes the last
// export and returns the exporter's record.
func runCatalogLoad(t *testing.T, ctx context.Context, endpoint string) (stop func() *ackedExporter) {
	t.Helper()
	otlp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(endpoint), otlpmetricgrpc.WithInsecure(),
		otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}), otlpmetricgrpc.WithTimeout(5*time.Second))
	require.NoError(t, err)
	exp := &ackedExporter{Exporter: otlp, totals: map[string]float64{}}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(500*time.Millisecond))),
		sdkmetric.WithResource(serviceResource(clusterService, clusterService+"-0")),
		sdkmetric.WithCardinalityLimit(100000))
	m := mp.Meter("airi-server")
	counter := func(name string, opts ...metric.Int64CounterOption) metric.Int64Counter {
		c, err := m.Int64Counter(name, opts...)
		require.NoError(t, err)
		return c
	}
	flux := counter("airi.billing.flux.consumed")
	revenue := counter("airi.stripe.revenue", metric.WithUnit("minor_unit"))
	stripeEvents := counter("stripe.events")
	auth := counter("auth.attempts")
	login := counter("user.login")
	wsSent := counter("ws.messages.sent")
	interrupted := counter("airi.gen_ai.stream.interrupted")
	blocked := counter("airi.rate_limit.blocked")
	httpDuration, err := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	require.NoError(t, err)
	genaiDuration, err := m.Float64Histogram("gen_ai.client.operation.duration", metric.WithUnit("s"))
	require.NoError(t, err)
	wsActive, err := m.Int64UpDownCounter("ws.connections.active")
	require.NoError(t, err)
	sessions, err := m.Int64Gauge("user.active_sessions")
	require.NoError(t, err)

	loadCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for round := 0; ; round++ {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
			for u := range 50 {
				user := round*50 + u
				model := []string{"gpt-4", "claude-sonnet", "deepseek-chat"}[user%3]
				attrs := metric.WithAttributes(attribute.String("user_id", fmt.Sprintf("user_%05d", user%clusterUsers)),
					attribute.String("gen_ai.request.model", model))
				flux.Add(ctx, int64(user%7+1), attrs)
				genaiDuration.Record(ctx, float64(user%30)/10, attrs)
				httpDuration.Record(ctx, float64(user%400)/1000, metric.WithAttributes(
					attribute.String("http.route", "/api/v1/openai/chat/completions"),
					attribute.Int("http.response.status_code", []int{200, 200, 200, 429, 500}[user%5]),
					attribute.String("tracking_id", fmt.Sprintf("%032x", user%clusterUsers))))
				wsSent.Add(ctx, 1, metric.WithAttributes(attribute.String("session_id", fmt.Sprintf("sess-%d", user%300))))
				blocked.Add(ctx, 1, metric.WithAttributes(attribute.String("customer", fmt.Sprintf("cust-%04d", user%clusterCustomers))))
				if user%10 == 0 {
					interrupted.Add(ctx, 1, metric.WithAttributes(attribute.String("gen_ai.request.model", model)))
					auth.Add(ctx, 1, metric.WithAttributes(attribute.String("auth.method", []string{"email", "github", "google"}[user%3]),
						attribute.String("result", "success")))
					login.Add(ctx, 1, metric.WithAttributes(attribute.String("auth.method", "email")))
				}
			}
			revenue.Add(ctx, 1999, metric.WithAttributes(attribute.String("currency", "usd")))
			stripeEvents.Add(ctx, 1, metric.WithAttributes(attribute.String("event.type", "invoice.paid")))
			wsActive.Add(ctx, 1)
			sessions.Record(ctx, int64(40+round%20))
		}
	}()
	return func() *ackedExporter {
		cancel()
		wg.Wait()
		shutdownCtx, done := context.WithTimeout(context.Background(), 30*time.Second)
		defer done()
		require.NoError(t, mp.Shutdown(shutdownCtx), "the last export of the catalog load")
		return exp
	}
}

// exposedNames lists the metric names a gateway's `prometheus` exporter serves, without
// target_info (one per producing resource, on every replica that got any of its metrics).
func exposedNames(ctx context.Context, gw *Collector) (map[string]bool, error) {
	body, err := harness.Get(ctx, "http://"+gw.PrometheusAddr()+"/metrics")
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			name = strings.TrimSuffix(name, suffix)
		}
		if name != "target_info" {
			names[name] = true
		}
	}
	return names, nil
}

// TestGatewayTierOfReplicas runs a tier of config/gateway.yaml replicas behind config/agent.yaml
// (load_balancing, routing_key: metric, the static resolver listing the replicas) into the real
// Mimir and Prometheus, under seed 000's metric catalog from the OTel Go SDK plus the scraped
// seeds 003/004 and seed 000/001's OTLP instruments. With three replicas: every metric lives on
// exactly one replica. Under load, a fourth replica joins (the agent restarts on its
// file_storage with the new list) and one replica is SIGKILLed and restarted on its storage.
// At the end every acknowledged count is in Mimir and Prometheus exactly (in the series still
// written; in a plain sum() too, but for a moved or restarted metric whose budget overflowed,
// which is measured), no counter ever went backwards, every metric is within the budget, and
// Mimir refused no push and discarded no sample.
func TestGatewayTierOfReplicas(t *testing.T) {
	mimir, prom := newBackend(t, mimirKind), newBackend(t, prometheusKind)
	gateways := make([]*Collector, 4)
	endpoints := make([]string, len(gateways))
	for i := range gateways {
		gateways[i] = newGateway(t, nil, nil, mimir, map[string]string{
			"AIRI_MAX_SERIES_PER_METRIC": fmt.Sprint(clusterBudget),
			// One name for the tier, as deploy/kubernetes sets it: a series keeps its identity
			// in Mimir whichever replica writes it.
			"AIRI_COLLECTOR_NAME": "gateway",
			"AIRI_LOG_LEVEL":      "warn",
			// What README recommends for a scraped tier: a stale copy on the replica a metric
			// left is an old sample to Prometheus, not a new one.
			"AIRI_PROMETHEUS_SEND_TIMESTAMPS": "true",
		})
		endpoints[i] = gateways[i].OTLPGRPC()
		prom.Targets = append(prom.Targets, gateways[i].PrometheusAddr())
		prom.TelemetryTargets = append(prom.TelemetryTargets, gateways[i].TelemetryAddr())
	}
	logDir := t.TempDir()
	agent := newAgent(t, gateways[0], map[string]string{
		"AIRI_GATEWAY_DNS":       "false",
		"AIRI_GATEWAY_STATIC":    "true",
		"AIRI_GATEWAY_ENDPOINTS": "[" + strings.Join(endpoints[:3], ",") + "]",
		// The gateways' budget is the one under test.
		"AIRI_MAX_SERIES_PER_METRIC": "1000000",
		"AIRI_SCRAPE_TARGETS":        "[" + serveSeedScrapeTargets(t) + "]",
		"AIRI_SCRAPE_JOB":            "seeds",
		"AIRI_LOG_GLOB":              filepath.Join(logDir, "*.log"),
		"AIRI_POD_LOG_GLOB":          filepath.Join(logDir, "no-pods", "*.log"),
		"AIRI_LOG_LEVEL":             "warn",
	})
	startAll(t, mimir, prom)
	for _, gw := range gateways[:3] {
		gw.Start()
	}
	agent.Start()
	start := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	stopCatalog := runCatalogLoad(t, ctx, agent.OTLPGRPC())
	sendSeedOTLP(t, agent.OTLPHTTP())

	// Three replicas: every metric on exactly one of them, every replica with some. (A replica
	// serves what it got for metric_expiration, so a metric seen on two never heals here.)
	owner := map[string]int{}
	harness.Eventually(t, time.Minute, 2*time.Second, func() error {
		clear(owner)
		for i, gw := range gateways[:3] {
			names, err := exposedNames(ctx, gw)
			if err != nil {
				return err
			}
			for name := range names {
				if j, ok := owner[name]; ok {
					return fmt.Errorf("%s is served by replicas %d and %d", name, j, i)
				}
				owner[name] = i
			}
		}
		for _, name := range []string{"aster_http_requests_total", "gateway_request_total"} {
			if _, ok := owner[name]; !ok {
				return fmt.Errorf("the scraped seeds' %s not served by any replica yet", name)
			}
		}
		for name := range catalogCounters {
			if _, ok := owner[catalogCounters[name]]; !ok {
				// Histograms are listed under their family name.
				if _, ok := owner[strings.TrimSuffix(catalogCounters[name], "_count")]; !ok {
					return fmt.Errorf("%s not served by any replica yet", catalogCounters[name])
				}
			}
		}
		return nil
	})
	perReplica := make([][]string, 3)
	for name, i := range owner {
		perReplica[i] = append(perReplica[i], name)
	}
	for i, names := range perReplica {
		sort.Strings(names)
		require.NotEmpty(t, names, "replica %d got no metric", i)
		t.Logf("replica %d serves %d metrics: %v", i, len(names), names)
	}

	// Hot metrics: each replica's share of the points the agent sent, from its receiver's counter.
	time.Sleep(5 * time.Second)
	shares := make([]float64, 3)
	var allPoints float64
	for i, gw := range gateways[:3] {
		n, err := gw.Telemetry(ctx, "otelcol_receiver_accepted_metric_points")
		require.NoError(t, err)
		shares[i] = n
		allPoints += n
	}
	elapsed := time.Since(start).Seconds()
	for i := range shares {
		t.Logf("replica %d: %.0f points accepted (%.1f %% of the tier, %.0f points/s)", i, shares[i], 100*shares[i]/allPoints, shares[i]/elapsed)
	}

	// Rebalancing under load: a fourth replica, the agent restarted with it in its list (its
	// persistent queue carries what it held across the restart).
	gateways[3].Start()
	agent.Stop()
	agent.Env["AIRI_GATEWAY_ENDPOINTS"] = "[" + strings.Join(endpoints, ",") + "]"
	agent.Start()
	harness.Eventually(t, time.Minute, time.Second, func() error {
		names, err := exposedNames(ctx, gateways[3])
		if err == nil && len(names) == 0 {
			err = fmt.Errorf("the fourth replica serves no metric yet")
		}
		return err
	})
	time.Sleep(5 * time.Second)
	// The replica that now holds the overflowing metric is killed and brought back on its
	// storage (queues, remote-write WAL, the guard's checkpoint): its budget must come back with
	// the same members.
	const hot = "airi_rate_limit_blocked_total"
	killed := owner[hot]
	if names, err := exposedNames(ctx, gateways[3]); err == nil && names[hot] {
		killed = 3
	}
	gateways[killed].Kill()
	time.Sleep(3 * time.Second)
	gateways[killed].Start()
	restored, err := gateways[killed].Telemetry(ctx, "otelcol_processor_cardinality_guard_checkpoint_restores", `outcome="restored"`)
	require.NoError(t, err)
	require.Equal(t, 1.0, restored, "the killed replica's guard did not restore its checkpoint")
	time.Sleep(5 * time.Second)

	end := time.Now()
	exp := stopCatalog()
	acked, ackedExports, refusedExports := exp.snapshot()
	t.Logf("catalog load: %d exports acknowledged, %d refused (the agent restarting)", ackedExports, refusedExports)

	// Which metrics moved: served at the end by more than one replica (the old one keeps its
	// copy until metric_expiration). The killed replica served nothing from before its restart.
	servedBy := map[string]int{}
	for _, gw := range gateways {
		names, err := exposedNames(ctx, gw)
		require.NoError(t, err)
		for name := range names {
			servedBy[name]++
		}
	}
	// A metric was disturbed when it moved: the new replica's guard starts it afresh. (The
	// killed replica restores its guard's checkpoint from file_storage, so its metrics are not.)
	disturbed := func(promName string) bool {
		family := strings.TrimSuffix(strings.TrimSuffix(promName, "_bucket"), "_count")
		return servedBy[family] > 1
	}

	var movedNames, killedNames []string
	for name, n := range servedBy {
		if n > 1 {
			movedNames = append(movedNames, name)
		}
	}
	if names, err := exposedNames(ctx, gateways[killed]); err == nil {
		for name := range names {
			killedNames = append(killedNames, name)
		}
	}
	sort.Strings(movedNames)
	sort.Strings(killedNames)
	t.Logf("moved to another replica: %v; on the killed replica %d: %v", movedNames, killed, killedNames)
	require.NotEmpty(t, movedNames, "no metric moved when the fourth replica joined")

	// Every acknowledged count, exactly, in the series still written at the end (a sample in the
	// load's last 3 s; a series whose metric moved away keeps its last sample in Mimir, and an
	// instant query looks back 5 minutes).
	sel := fmt.Sprintf(`{service=%q}`, clusterService)
	live := func(name string) string {
		return fmt.Sprintf("sum(%[1]s%[2]s and timestamp(%[1]s%[2]s) > %d)", name, sel, end.Add(-3*time.Second).Unix())
	}
	mimirAPI, promAPI := mimir.URL("http")+"/prometheus", prom.URL("http")
	for backend, base := range map[string]string{"mimir": mimirAPI, "prometheus": promAPI} {
		harness.Eventually(t, 2*time.Minute, 2*time.Second, func() error {
			for sdkName, promName := range catalogCounters {
				want := acked[sdkName]
				if want == 0 {
					return fmt.Errorf("nothing acknowledged for %s", sdkName)
				}
				got, err := promScalar(ctx, base, live(promName))
				if err != nil {
					return fmt.Errorf("%s: %w", backend, err)
				}
				if got != want {
					return fmt.Errorf("%s: %s = %v, acknowledged %v", backend, live(promName), got, want)
				}
			}
			return nil
		})
		t.Logf("%s: every acknowledged count arrived exactly: %v", backend, acked)
	}
	// Metrics whose budget overflowed: the series a replica admits to the budget depend on the
	// order it first saw them in, so a replica that starts again (moved to, or restarted)
	// admits other customers than the one before it.
	overflowed := map[string]bool{}
	for _, promName := range catalogCounters {
		overflowed[promName] = len(mustQuery(t, ctx, mimir.URL("http")+"/prometheus", promName+`{otel_metric_overflow="true"}`)) > 0
	}

	// What a dashboard's plain sum() shows: exact, but measured for a disturbed metric whose
	// budget overflowed: the customers the old replica admitted keep their last sample for the
	// 5-minute lookback, while the new one counts them again in its overflow series.
	for sdkName, promName := range catalogCounters {
		want := acked[sdkName]
		for backend, base := range map[string]string{"mimir": mimirAPI, "prometheus": promAPI} {
			sum := "sum(" + promName + sel + ")"
			if disturbed(promName) && overflowed[promName] {
				got, err := promScalar(ctx, base, sum)
				require.NoError(t, err)
				t.Logf("%s: %s = %v: %+.0f (%.2f %%) against the %v acknowledged (disturbed; overflowed %v)",
					backend, sum, got, got-want, 100*(got-want)/want, want, overflowed[promName])
				continue
			}
			harness.Eventually(t, time.Minute, 2*time.Second, func() error {
				got, err := promScalar(ctx, base, sum)
				if err == nil && got != want {
					err = fmt.Errorf("%s: %s = %v, acknowledged %v (disturbed %v)", backend, sum, got, want, disturbed(promName))
				}
				return err
			})
		}
	}

	// No counter went backwards over the run: a merged series that moved between replicas, or
	// that two replicas wrote at once, would show as a reset (in Prometheus too, were the stale
	// copy on the old replica not exposed with its own timestamp). The exception, measured: the
	// overflow series of an overflowing metric that was disturbed holds other customers on the
	// new replica.
	counters := `{__name__=~".+_total|.+_count|.+_bucket", service!=""}`
	window := fmt.Sprintf("[%ds]", int(time.Since(start).Seconds())+60)
	for backend, base := range map[string]string{"mimir": mimirAPI, "prometheus": promAPI} {
		names := mustQuery(t, ctx, base, "count by (__name__) ("+counters+")")
		require.Greater(t, len(names), len(catalogCounters), "%s: counters to look at", backend)
		var unexpected, measured []string
		for _, n := range names {
			name := n.Labels["__name__"]
			for _, s := range mustQuery(t, ctx, base, fmt.Sprintf("resets({__name__=%q}%s) > 0", name, window)) {
				r := fmt.Sprintf("%s%v=%v", name, s.Labels, s.Value)
				if !(s.Labels["otel_metric_overflow"] == "true" && disturbed(name)) {
					unexpected = append(unexpected, r)
				} else {
					measured = append(measured, r)
				}
			}
		}
		t.Logf("%s: of %d counters, series that reset during the run: %d unexpected %v, %d measured %v",
			backend, len(names), len(unexpected), unexpected, len(measured), measured)
		require.Empty(t, unexpected, "%s: merged counters went backwards", backend)
	}

	// Budgets: every metric of the service within max_series_per_metric + 1 (overflow) series
	// among the series written at the end; over the whole run (a moved metric's old series
	// included) measured.
	for backend, base := range map[string]string{"mimir": mimirAPI, "prometheus": promAPI} {
		for _, span := range []string{"[3s]", window} {
			q := fmt.Sprintf(`count by (__name__) (last_over_time({service=%q, __name__!~".+_bucket|.+_sum|target_info"}%s @ %d))`,
				clusterService, span, end.Unix())
			most, mostName := 0.0, ""
			for _, s := range mustQuery(t, ctx, base, q) {
				if s.Value > most {
					most, mostName = s.Value, s.Labels["__name__"]
				}
			}
			t.Logf("%s: most series of one metric in the %s before the end: %v (%s), budget %d", backend, span, most, mostName, clusterBudget)
			if span == "[3s]" && backend == "mimir" {
				require.LessOrEqual(t, most, float64(clusterBudget+1), "%s: %s has more series than the budget", backend, mostName)
			}
		}
	}
	require.True(t, overflowed["airi_rate_limit_blocked_total"], "no customer folded into the overflow series: %v", overflowed)

	// Mimir discarded nothing and refused no push; what two writers of one series would cause
	// (out-of-order appends) is measured.
	body, err := harness.Get(ctx, mimir.URL("http")+"/metrics")
	require.NoError(t, err)
	var discarded, exemplars []string
	for _, l := range strings.Split(body, "\n") {
		switch {
		case strings.HasSuffix(l, " 0"):
		case strings.HasPrefix(l, "cortex_discarded_samples_total{"):
			discarded = append(discarded, l)
		case strings.HasPrefix(l, "cortex_discarded_exemplars_total{"):
			exemplars = append(exemplars, l)
		}
	}
	require.Empty(t, discarded, "mimir discarded samples")
	t.Logf("mimir: exemplars discarded: %v", exemplars)
	pushes := harness.SumSeries(body, "cortex_request_duration_seconds_count", `route="api_v1_push"`)
	var refused []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "cortex_request_duration_seconds_count{") && strings.Contains(l, `route="api_v1_push"`) && !strings.Contains(l, `status_code="200"`) {
			refused = append(refused, l)
		}
	}
	require.Positive(t, pushes, "mimir saw no push")
	require.Empty(t, refused, "mimir refused pushes")
	ooo := harness.SumSeries(body, "cortex_ingester_tsdb_out_of_order_samples_appended_total")
	t.Logf("mimir: %v pushes, none refused, no sample discarded; %v samples appended out of order", pushes, ooo)
	for i, gw := range gateways {
		failed, err := gw.Telemetry(ctx, "otelcol_exporter_send_failed_metric_points")
		require.NoError(t, err)
		require.Zero(t, failed, "replica %d gave metric points up", i)
		gw.RequireRunning("the test")
	}
	agent.RequireRunning("the test")
	t.Logf("%s: %s", t.Name(), time.Since(start).Round(time.Second))
}

// mustQuery runs an instant PromQL query and fails the test on an error.
func mustQuery(t *testing.T, ctx context.Context, base, query string) []Sample {
	t.Helper()
	res, err := promQuery(ctx, base, query)
	require.NoError(t, err)
	return res
}
