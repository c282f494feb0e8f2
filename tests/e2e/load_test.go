// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdkinstrumentation "go.opentelemetry.io/otel/sdk/instrumentation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// loadService is the service.name of the steady load of the fault tests.
const loadService = "e2e-faults"

// steadyLoad is one signal's steady stream of export requests from the OTel Go SDK's own OTLP
// exporters, called one request at a time with their retries off, so every request is either
// acknowledged (the export returned nil) or not, and every item in it is accounted for.
type steadyLoad struct {
	signal string
	// send exports one request numbered seq and returns the IDs of the items it carried.
	send func(ctx context.Context, seq int) ([]string, error)
	// arrived lists the IDs of the items the backend holds; want are the acknowledged ones.
	arrived func(ctx context.Context, want []string) (map[string]bool, error)

	mu    sync.Mutex
	sent  int
	acked []string
	fails int
	wg    sync.WaitGroup
}

// run sends a request every interval until ctx ends.
func (l *steadyLoad) run(ctx context.Context, interval time.Duration) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			reqCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			ids, err := l.send(reqCtx, seq)
			cancel()
			l.mu.Lock()
			l.sent += len(ids)
			if err == nil {
				l.acked = append(l.acked, ids...)
			} else {
				l.fails++
			}
			l.mu.Unlock()
		}
	}()
}

// wait waits for run's goroutine to end after its context was cancelled.
func (l *steadyLoad) wait() { l.wg.Wait() }

// requireNothingLost waits until every acknowledged item is in the backend, then reports
// sent / acknowledged / arrived.
func (l *steadyLoad) requireNothingLost(t *testing.T, ctx context.Context, timeout time.Duration) {
	t.Helper()
	l.mu.Lock()
	acked := append([]string(nil), l.acked...)
	sent, fails := l.sent, l.fails
	l.mu.Unlock()
	require.NotEmpty(t, acked, "%s: nothing was acknowledged", l.signal)
	var arrived map[string]bool
	var missing []string
	harness.Eventually(t, timeout, 2*time.Second, func() error {
		var err error
		arrived, err = l.arrived(ctx, acked)
		if err != nil {
			return err
		}
		missing = missing[:0]
		for _, id := range acked {
			if !arrived[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Errorf("%s: %d of %d acknowledged items have not arrived, e.g. %v", l.signal, len(missing), len(acked), missing[:min(5, len(missing))])
		}
		return nil
	})
	t.Logf("%s: %s: sent %d, acknowledged %d (%d requests refused or failed), arrived %d, lost 0",
		t.Name(), l.signal, sent, len(acked), fails, len(arrived))
}

// newTraceLoad sends one single-span trace per request to collector's OTLP/gRPC endpoint.
func newTraceLoad(t *testing.T, collector string, jaeger *Backend, res *resource.Resource) *steadyLoad {
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(collector),
		otlptracegrpc.WithInsecure(), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	prefix, err := hex.DecodeString(randomHex(t, 8))
	require.NoError(t, err)
	found := map[string]bool{}
	return &steadyLoad{
		signal: "traces",
		send: func(ctx context.Context, seq int) ([]string, error) {
			var tid trace.TraceID
			copy(tid[:], prefix)
			binary.BigEndian.PutUint64(tid[8:], uint64(seq)+1)
			now := time.Now()
			stub := tracetest.SpanStub{
				Name: fmt.Sprintf("fault request %d", seq),
				SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
					TraceID: tid, SpanID: trace.SpanID(tid[8:]), TraceFlags: trace.FlagsSampled,
				}),
				SpanKind:             trace.SpanKindServer,
				StartTime:            now.Add(-10 * time.Millisecond),
				EndTime:              now,
				Resource:             res,
				InstrumentationScope: sdkinstrumentation.Scope{Name: "e2e"},
			}
			return []string{tid.String()}, exp.ExportSpans(ctx, tracetest.SpanStubs{stub}.Snapshots())
		},
		// Looked up one by one: Jaeger's search by service (in-memory storage) does not list every
		// trace it holds, while a lookup by trace ID does find each.
		arrived: func(ctx context.Context, want []string) (map[string]bool, error) {
			for _, id := range want {
				if found[id] {
					continue
				}
				if _, err := jaegerTrace(ctx, jaeger, id); err == nil {
					found[id] = true
				}
			}
			return found, nil
		},
	}
}

// captureLogs is an SDK log processor that keeps what is emitted, so a test can export it as
// one request of its own.
type captureLogs struct {
	mu   sync.Mutex
	recs []sdklog.Record
}

func (c *captureLogs) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (*captureLogs) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (*captureLogs) Shutdown(context.Context) error                         { return nil }
func (*captureLogs) ForceFlush(context.Context) error                       { return nil }

func (c *captureLogs) take() []sdklog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.recs
	c.recs = nil
	return out
}

// newLogLoad sends perRequest log records per request to collector's OTLP/HTTP endpoint.
func newLogLoad(t *testing.T, collector string, loki *Backend, res *resource.Resource, perRequest int) *steadyLoad {
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpoint(collector),
		otlploghttp.WithInsecure(), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	capture := &captureLogs{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(capture), sdklog.WithResource(res))
	logger := lp.Logger("e2e")
	run := randomHex(t, 4)
	var mu sync.Mutex // one request's records at a time through capture
	return &steadyLoad{
		signal: "logs",
		send: func(ctx context.Context, seq int) ([]string, error) {
			mu.Lock()
			defer mu.Unlock()
			ids := make([]string, perRequest)
			for i := range ids {
				ids[i] = fmt.Sprintf("%s-%d-%d", run, seq, i)
				var rec otellog.Record
				rec.SetTimestamp(time.Now())
				rec.SetBody(attribute.StringValue("fault log " + ids[i]))
				logger.Emit(ctx, rec)
			}
			return ids, exp.Export(ctx, capture.take())
		},
		arrived: func(ctx context.Context, _ []string) (map[string]bool, error) {
			lines, err := lokiQuery(ctx, loki, fmt.Sprintf(`{service=%q} |= "fault log %s-"`, loadService, run))
			if err != nil {
				return nil, err
			}
			ids := map[string]bool{}
			for _, l := range lines {
				ids[strings.TrimPrefix(l.Line, "fault log ")] = true
			}
			return ids, nil
		},
	}
}

// newMetricLoad sends one gauge point per request to collector's OTLP/gRPC endpoint, each in a
// series of its own (label seq), so Mimir shows exactly which points arrived.
func newMetricLoad(t *testing.T, collector string, mimir *Backend, res *resource.Resource) *steadyLoad {
	exp, err := otlpmetricgrpc.New(context.Background(), otlpmetricgrpc.WithEndpoint(collector),
		otlpmetricgrpc.WithInsecure(), otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	// Letters only: cardinality_guard rewrites ID-shaped label values (a run of 6+ digits →
	// {num}), and a random hex run ID sometimes is one (≈ 1 run in 10), which hid the run's
	// points from the query below.
	run := randomLetters(t, 8)
	return &steadyLoad{
		signal: "metrics",
		send: func(ctx context.Context, seq int) ([]string, error) {
			rm := &metricdata.ResourceMetrics{
				Resource: res,
				ScopeMetrics: []metricdata.ScopeMetrics{{
					Scope: sdkinstrumentation.Scope{Name: "e2e"},
					Metrics: []metricdata.Metrics{{
						Name: "airi.e2e.fault.point",
						Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{
							Attributes: attribute.NewSet(attribute.String("run", run), attribute.Int("seq", seq)),
							Time:       time.Now(),
							Value:      int64(seq),
						}}},
					}},
				}},
			}
			return []string{strconv.Itoa(seq)}, exp.Export(ctx, rm)
		},
		arrived: func(ctx context.Context, _ []string) (map[string]bool, error) {
			series, err := promQuery(ctx, mimir.URL("http")+"/prometheus",
				fmt.Sprintf(`group by (seq) (last_over_time(airi_e2e_fault_point{service=%q, run=%q}[1h]))`, loadService, run))
			if err != nil {
				return nil, err
			}
			ids := map[string]bool{}
			for _, s := range series {
				ids[s.Labels["seq"]] = true
			}
			return ids, nil
		},
	}
}
