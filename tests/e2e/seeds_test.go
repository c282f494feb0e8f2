// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.yaml.in/yaml/v3"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// seedRule is one rule of a seed's rule pack, with the file it comes from.
type seedRule struct {
	file, name, expr string
}

// seedRules reads every rule of deploy/prometheus/seeds/*.yml.
func seedRules(t *testing.T) (files []string, rules []seedRule) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(harness.RepoRoot(t), "deploy", "prometheus", "seeds", "*.yml"))
	require.NoError(t, err)
	require.Len(t, files, 4, "one rule pack per seed: 000, 001, 003, 004")
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var pack struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
					Expr  string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		require.NoError(t, yaml.Unmarshal(b, &pack), f)
		for _, g := range pack.Groups {
			for _, r := range g.Rules {
				rules = append(rules, seedRule{file: filepath.Base(f), name: r.Alert, expr: r.Expr})
			}
		}
	}
	return files, rules
}

// serveSeedScrapeTargets serves one /metrics endpoint with the Prometheus Go client exposing the
// metrics of the two scraped seeds, seed 003's aster server and seed 004's LLM gateway, in
// the state that trips each of their alerts: the counters and histograms move every 100 ms
// (errors, 429s, slow requests, upstream failures), the gauges are past their thresholds.
func serveSeedScrapeTargets(t *testing.T) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	// Seed 003.
	asterRequests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aster_http_requests_total", Help: "HTTP requests."}, []string{"method", "path", "status"})
	asterDuration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aster_http_request_duration_seconds", Help: "HTTP request duration.", Buckets: prometheus.DefBuckets}, []string{"method", "path"})
	// The Go client's process collector reports this process's real RSS (far below 1e9); a
	// server in trouble is what the alert is about, so this gauge says 1.5 GB.
	asterRSS := prometheus.NewGauge(prometheus.GaugeOpts{Name: "process_resident_memory_bytes", Help: "Resident memory size in bytes."})
	asterRSS.Set(1.5e9)
	// Seed 004.
	gwRequests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_request_total", Help: "Requests."}, []string{"path", "method", "status"})
	gwLatency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_request_latency_seconds", Help: "Request latency.", Buckets: prometheus.DefBuckets}, []string{"path", "method", "status"})
	upLatency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_upstream_latency_seconds", Help: "Upstream latency.", Buckets: prometheus.DefBuckets}, []string{"provider", "model", "success"})
	upFailures := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_upstream_failures_total", Help: "Upstream failures."}, []string{"provider", "model", "error"})
	redis := prometheus.NewGauge(prometheus.GaugeOpts{Name: "redis_connected", Help: "Redis connection up."})
	pg := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pg_up", Help: "PostgreSQL connection up."})
	celery := prometheus.NewGauge(prometheus.GaugeOpts{Name: "celery_workers", Help: "Celery workers."})
	reg.MustRegister(asterRequests, asterDuration, asterRSS, gwRequests, gwLatency, upLatency, upFailures, redis, pg, celery)

	tick := func() {
		asterRequests.WithLabelValues("GET", "/v1/agents", "2xx").Add(10)
		asterRequests.WithLabelValues("POST", "/v1/agents", "5xx").Add(2)
		asterDuration.WithLabelValues("POST", "/v1/agents").Observe(3)
		const chat = "/v1/chat/completions"
		gwRequests.WithLabelValues(chat, "POST", "200").Add(10)
		gwRequests.WithLabelValues(chat, "POST", "429").Add(20) // 200/s: past RateLimitExcessive's 10/s
		gwRequests.WithLabelValues(chat, "POST", "503").Add(5)
		gwLatency.WithLabelValues(chat, "POST", "200").Observe(4)
		upLatency.WithLabelValues("openai", "gpt-4", "true").Observe(1)
		upLatency.WithLabelValues("openai", "gpt-4", "false").Observe(30)
		upFailures.WithLabelValues("openai", "gpt-4", "timeout").Inc()
	}
	tick()
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(100 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				tick()
			}
		}
	}()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { close(done); _ = srv.Close() })
	return ln.Addr().String()
}

// sendSeedOTLP sends the metrics of the two seeds that push OTLP, over http/protobuf as seed 001
// does, until the test ends: seed 000's airi.billing.flux.unbilled counter, growing, and seed
// 001's imgproxy gauges past their thresholds.
func sendSeedOTLP(t *testing.T, endpoint string) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []struct {
		service, namespace string
		instruments        func(metric.Meter) error
	}{
		{"airi-server", "airi", func(m metric.Meter) error {
			unbilled, err := m.Int64ObservableCounter("airi.billing.flux.unbilled")
			if err != nil {
				return err
			}
			start := time.Now()
			_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
				// A debit failing about twice a second.
				o.ObserveInt64(unbilled, 1+int64(2*time.Since(start).Seconds()), metric.WithAttributes(attribute.String("gen_ai.request.model", "gpt-4")))
				return nil
			}, unbilled)
			return err
		}},
		{"kira-imgproxy", "kira", func(m metric.Meter) error {
			values := map[string]float64{"workers_utilization": 0.9, "process_mb": 7500, "images_in_progress": 160, "goroutines": 120, "heap_mb": 350}
			var obs []metric.Observable
			gauges := map[string]metric.Float64ObservableGauge{}
			for name := range values {
				g, err := m.Float64ObservableGauge(name)
				if err != nil {
					return err
				}
				gauges[name] = g
				obs = append(obs, g)
			}
			_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
				for name, g := range gauges {
					o.ObserveFloat64(g, values[name])
				}
				return nil
			}, obs...)
			return err
		}},
	} {
		exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(endpoint), otlpmetrichttp.WithInsecure(),
			otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
		require.NoError(t, err)
		mp := sdkmetric.NewMeterProvider(
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(500*time.Millisecond))),
			sdkmetric.WithResource(resource.NewSchemaless(
				attribute.String("service.name", s.service), attribute.String("service.namespace", s.namespace),
				attribute.String("deployment.environment.name", "prod"))))
		require.NoError(t, s.instruments(mp.Meter("seed")))
		t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	}
}

// TestSeedRulePacksReturnSeries loads the seeds' own rule packs (deploy/prometheus/seeds/,
// unchanged) into the real Prometheus and runs every rule's expression against what their
// services' metrics look like after agent.yaml -> gateway.yaml -> Prometheus: each must return
// series, so a rename or a lost label in the pipeline that would silence a team's alert fails
// here.
func TestSeedRulePacksReturnSeries(t *testing.T) {
	files, rules := seedRules(t)
	prom := newBackend(t, prometheusKind)
	gateway := newGateway(t, nil, nil, nil, nil)
	agent := newAgent(t, gateway, map[string]string{
		"AIRI_SCRAPE_TARGETS": "[" + serveSeedScrapeTargets(t) + "]",
		"AIRI_SCRAPE_JOB":     "seeds",
		"AIRI_LOG_GLOB":       filepath.Join(t.TempDir(), "*.log"),
	})
	prom.Targets = []string{gateway.PrometheusAddr()}
	prom.RuleFiles = files
	startAll(t, prom)
	gateway.Start()
	agent.Start()
	sendSeedOTLP(t, agent.OTLPHTTP())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	missing := map[string]string{}
	harness.Eventually(t, 90*time.Second, time.Second, func() error {
		for k := range missing {
			delete(missing, k)
		}
		for _, r := range rules {
			got, err := promQuery(ctx, prom.URL("http"), r.expr)
			if err != nil {
				return fmt.Errorf("%s %s: %w", r.file, r.name, err)
			}
			if len(got) == 0 {
				missing[r.file+" "+r.name] = r.expr
			}
		}
		if len(missing) > 0 {
			names := make([]string, 0, len(missing))
			for k := range missing {
				names = append(names, k)
			}
			sort.Strings(names)
			return fmt.Errorf("%d of %d seed rules return no series: %v", len(missing), len(rules), names)
		}
		return nil
	})

	// Prometheus loaded the packs unchanged and evaluates every rule without error.
	groups, err := promRules(ctx, prom)
	require.NoError(t, err)
	loaded := 0
	for _, g := range groups {
		for _, r := range g.Rules {
			require.Equal(t, "ok", r.Health, "%s/%s: %s", g.Name, r.Name, r.LastError)
			loaded++
		}
	}
	require.Equal(t, len(rules), loaded)
	t.Logf("%d seed rules from %d packs return series through agent -> gateway -> Prometheus", len(rules), len(files))
}
