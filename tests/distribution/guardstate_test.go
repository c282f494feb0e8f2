// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// guardProducer is one OTel SDK process counting orders for one user (the label the gateway's
// cardinality_guard strips, so all producers merge into one series).
type guardProducer struct {
	mp      *sdkmetric.MeterProvider
	counter metric.Int64Counter
	user    string
}

func newGuardProducer(ctx context.Context, t *testing.T, endpoint, user string) *guardProducer {
	t.Helper()
	exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(endpoint), otlpmetricgrpc.WithInsecure())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(resource.NewSchemaless(semconv.ServiceName("checkout"), attribute.String("deployment.environment.name", "dev"))))
	c, err := mp.Meter("guard-restart").Int64Counter("checkout.orders")
	require.NoError(t, err)
	return &guardProducer{mp: mp, counter: c, user: user}
}

// add counts n orders and exports the producer's cumulative total.
func (p *guardProducer) add(ctx context.Context, t *testing.T, n int64) {
	t.Helper()
	p.counter.Add(ctx, n, metric.WithAttributes(attribute.String("plan", "pro"), attribute.String("user_id", p.user)))
	require.NoError(t, p.mp.ForceFlush(ctx))
}

// TestGuardStateSurvivesRestart runs the shipped config/gateway.yaml (file_storage, the guard
// checkpointing every 300 ms) and merges two SDK producers' cumulative counters into one series.
// Before the restart one producer goes away and the other restarts (its counter starts again):
// the merged total carries both. After a SIGKILL and, again, after a SIGTERM, the gateway
// restarts on the same storage, and the merged counter Prometheus scrapes continues exactly —
// it does not come back lower, and its start time (the created timestamp of the protobuf
// exposition) does not change. Without the checkpoint it would restart from what the one
// remaining producer reports.
func TestGuardStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := harness.RepoRoot(t)
	bin := harness.CollectorBinary(t)
	// remote write goes to a sink that accepts everything: Mimir is not this test's subject
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer sink.Close()
	grpc, prom, health := harness.FreeAddr(t), harness.FreeAddr(t), harness.FreeAddr(t)
	telemetry := strconv.Itoa(harness.FreePort(t))
	env := map[string]string{
		"AIRI_OTLP_GRPC_ENDPOINT":        grpc,
		"AIRI_OTLP_HTTP_ENDPOINT":        harness.FreeAddr(t),
		"AIRI_PROMETHEUS_ENDPOINT":       prom,
		"AIRI_HEALTH_ENDPOINT":           health,
		"AIRI_TELEMETRY_HOST":            "127.0.0.1",
		"AIRI_TELEMETRY_PORT":            telemetry,
		"AIRI_PPROF_ENDPOINT":            harness.FreeAddr(t),
		"AIRI_ZPAGES_ENDPOINT":           harness.FreeAddr(t),
		"AIRI_STORAGE_DIR":               t.TempDir(),
		"MIMIR_REMOTE_WRITE_URL":         sink.URL + "/api/v1/push",
		"JAEGER_OTLP_ENDPOINT":           harness.FreeAddr(t),
		"LOKI_OTLP_ENDPOINT":             "http://" + harness.FreeAddr(t) + "/otlp",
		"AIRI_GUARD_CHECKPOINT_INTERVAL": "300ms",
	}
	start := func() *harness.Process {
		t.Helper()
		p := harness.Start(t, bin, []string{"--config", filepath.Join(root, "config", "gateway.yaml")}, env)
		require.NoError(t, harness.WaitHTTP(ctx, p, "http://"+health+"/", http.StatusOK, 30*time.Second))
		return p
	}
	telemetryURL := "http://127.0.0.1:" + telemetry + "/metrics"
	counter := func(name string, labels ...string) float64 {
		body, err := harness.Get(ctx, telemetryURL)
		require.NoError(t, err)
		return harness.SumSeries(body, name, labels...)
	}
	// waitMerged waits for the merged series to show want and returns its created timestamp.
	waitMerged := func(want float64) time.Time {
		t.Helper()
		var created time.Time
		harness.Eventually(t, 30*time.Second, 100*time.Millisecond, func() error {
			v, c, err := scrapeMerged(ctx, "http://"+prom+"/metrics")
			if err != nil {
				return err
			}
			if v != want {
				return fmt.Errorf("merged orders = %v, want %v", v, want)
			}
			created = c
			return nil
		})
		return created
	}

	g := start()
	a := newGuardProducer(ctx, t, grpc, "alice")
	b := newGuardProducer(ctx, t, grpc, "bob")
	a.add(ctx, t, 10)
	b.add(ctx, t, 5)
	created := waitMerged(15)
	require.False(t, created.IsZero(), "the merged counter has a created timestamp")
	// bob's process ends; alice's restarts (a new start time, counting from 0)
	b.add(ctx, t, 7)
	require.NoError(t, b.mp.Shutdown(ctx))
	require.NoError(t, a.mp.Shutdown(ctx))
	a = newGuardProducer(ctx, t, grpc, "alice")
	a.add(ctx, t, 3)
	require.Equal(t, created, waitMerged(25))
	// a checkpoint begun after the merge of 25 (two more than were written by now)
	written := counter("otelcol_processor_cardinality_guard_checkpoints")
	harness.Eventually(t, 20*time.Second, 100*time.Millisecond, func() error {
		if n := counter("otelcol_processor_cardinality_guard_checkpoints"); n < written+2 {
			return fmt.Errorf("%v checkpoints written, waiting for %v", n, written+2)
		}
		return nil
	})

	g.Kill()
	g = start()
	require.Equal(t, 1.0, counter("otelcol_processor_cardinality_guard_checkpoint_restores", `outcome="restored"`))
	a.add(ctx, t, 4)
	require.Equal(t, created, waitMerged(29), "after SIGKILL: 25 + alice's 4, same start time")

	require.NoError(t, g.Stop(30*time.Second))
	start()
	a.add(ctx, t, 1)
	require.Equal(t, created, waitMerged(30), "after SIGTERM: 29 + alice's 1, same start time")
	require.NoError(t, a.mp.Shutdown(ctx))
}

// scrapeMerged reads the gateway's Prometheus exporter in the protobuf exposition (which
// carries a counter's created timestamp) with Prometheus' own decoder and returns the merged
// orders counter of plan "pro".
func scrapeMerged(ctx context.Context, url string) (float64, time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, time.Time{}, err
	}
	format := expfmt.NewFormat(expfmt.TypeProtoDelim)
	req.Header.Set("Accept", string(format))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	var found []*dto.Metric
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return 0, time.Time{}, err
		}
		if !strings.HasPrefix(mf.GetName(), "checkout_orders") || mf.GetType() != dto.MetricType_COUNTER {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "user_id" {
					return 0, time.Time{}, fmt.Errorf("user_id was not stripped: %v", m)
				}
				if l.GetName() == "plan" && l.GetValue() == "pro" {
					found = append(found, m)
				}
			}
		}
	}
	if len(found) != 1 {
		return 0, time.Time{}, fmt.Errorf("%d merged orders series (format %s)", len(found), expfmt.ResponseFormat(resp.Header))
	}
	c := found[0].GetCounter()
	return c.GetValue(), c.GetCreatedTimestamp().AsTime(), nil
}
