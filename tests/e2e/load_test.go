// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	// arrived returns, per ID, the timestamp of each copy of the item the backend holds: a
	// duplicate is a second timestamp, not lost in a set. want are the acknowledged IDs.
	arrived func(ctx context.Context, want []string) (map[string][]time.Time, error)
	// stamped counts the items the backend holds stamped inside [from, to]; nil where arrived
	// returns the timestamps themselves.
	stamped func(ctx context.Context, from, to time.Time) (int, error)

	mu    sync.Mutex
	sent  int
	acked []string
	// Failed requests by how they failed (see classify); permanent must stay empty.
	retryable, unreachable int
	permanent              []string
	wg                     sync.WaitGroup
}

// classify sorts a failed export: "retryable" when the collector answered with a status the
// OTLP spec lets a client retry (gRPC Unavailable, HTTP 429/502/503/504) or did not answer in
// time; "unreachable" when nothing listened (a killed collector); "permanent" for any other
// answer, which would make a real client drop its data.
func classify(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "connection reset"),
		strings.Contains(msg, "EOF"):
		return "unreachable"
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(msg, "retry-able request failure"):
		return "retryable"
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded:
			return "retryable"
		}
	}
	return "permanent"
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
				switch classify(err) {
				case "retryable":
					l.retryable++
				case "unreachable":
					l.unreachable++
				default:
					l.permanent = append(l.permanent, err.Error())
				}
			}
			l.mu.Unlock()
		}
	}()
}

// wait waits for run's goroutine to end after its context was cancelled.
func (l *steadyLoad) wait() { l.wg.Wait() }

// forgetAcked drops the items acknowledged so far from the check (their backend lost them).
func (l *steadyLoad) forgetAcked() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = nil
}

// ackedCount is how many items were acknowledged so far.
func (l *steadyLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// stampedBetween counts the distinct items that arrived with a copy stamped inside [from, to].
func (l *steadyLoad) stampedBetween(ctx context.Context, d delivery, from, to time.Time) (int, error) {
	if l.stamped != nil {
		return l.stamped(ctx, from, to)
	}
	n := 0
	for _, times := range d.arrivals {
		for _, ts := range times {
			if !ts.Before(from) && !ts.After(to) {
				n++
				break
			}
		}
	}
	return n, nil
}

// failures is how many requests failed retryably and how many found nothing listening.
func (l *steadyLoad) failures() (retryable, unreachable int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retryable, l.unreachable
}

// delivery is what one steady load measured: items sent and acknowledged, and what arrived.
type delivery struct {
	sent, acked, arrived, duplicated int
	arrivals                         map[string][]time.Time
}

// requireNothingLost waits until every acknowledged item is in the backend, requires that no
// request was refused with a permanent error and that at most maxDuplicated items arrived more
// than once, and reports sent / acknowledged / arrived / duplicated.
func (l *steadyLoad) requireNothingLost(t *testing.T, ctx context.Context, timeout time.Duration, maxDuplicated int) delivery {
	t.Helper()
	l.mu.Lock()
	acked := append([]string(nil), l.acked...)
	d := delivery{sent: l.sent, acked: len(l.acked)}
	retryable, unreachable, permanent := l.retryable, l.unreachable, l.permanent
	l.mu.Unlock()
	require.Empty(t, permanent, "%s: requests refused with a permanent (non-retryable) error", l.signal)
	require.NotEmpty(t, acked, "%s: nothing was acknowledged", l.signal)
	var missing []string
	start := time.Now()
	harness.Eventually(t, timeout, 2*time.Second, func() error {
		var err error
		d.arrivals, err = l.arrived(ctx, acked)
		if err != nil {
			return err
		}
		missing = missing[:0]
		for _, id := range acked {
			if len(d.arrivals[id]) == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Errorf("%s: %d of %d acknowledged items have not arrived, e.g. %v", l.signal, len(missing), len(acked), missing[:min(5, len(missing))])
		}
		return nil
	})
	for _, times := range d.arrivals {
		d.arrived += len(times)
		if len(times) > 1 {
			d.duplicated += len(times) - 1
		}
	}
	t.Logf("%s: %s: sent %d, acknowledged %d, refused retryably %d requests, unreachable %d requests; arrived %d copies of %d distinct items, duplicated %d (bound %d), lost 0 (all arrived and counted after %s)",
		t.Name(), l.signal, d.sent, d.acked, retryable, unreachable, d.arrived, len(d.arrivals), d.duplicated, maxDuplicated, time.Since(start).Round(100*time.Millisecond))
	require.LessOrEqual(t, d.duplicated, maxDuplicated, "%s: more duplicates than the bound", l.signal)
	return d
}

// requestsPerTrace is how many consecutive requests of a trace load carry spans of one trace:
// Jaeger is read back one trace at a time, so fewer, larger traces make that cheap.
const requestsPerTrace = 10

// newTraceLoad sends perRequest spans per request to collector's OTLP/gRPC endpoint, each
// requestsPerTrace requests one trace; an item is one span, "<trace ID>/<span ID>".
func newTraceLoad(t *testing.T, collector string, jaeger *Backend, res *resource.Resource, perRequest int) *steadyLoad {
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(collector),
		otlptracegrpc.WithInsecure(), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	prefix, err := hex.DecodeString(randomHex(t, 8))
	require.NoError(t, err)
	complete := map[string]map[string][]time.Time{} // by trace ID
	return &steadyLoad{
		signal: "traces",
		send: func(ctx context.Context, seq int) ([]string, error) {
			var tid trace.TraceID
			copy(tid[:], prefix)
			binary.BigEndian.PutUint64(tid[8:], uint64(seq/requestsPerTrace)+1)
			now := time.Now()
			stubs := make(tracetest.SpanStubs, perRequest)
			ids := make([]string, perRequest)
			for i := range stubs {
				var sid trace.SpanID
				binary.BigEndian.PutUint64(sid[:], uint64(seq+1)<<32|uint64(i+1))
				ids[i] = tid.String() + "/" + sid.String()
				stubs[i] = tracetest.SpanStub{
					Name: fmt.Sprintf("fault request %d", seq),
					SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
						TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
					}),
					SpanKind:             trace.SpanKindServer,
					StartTime:            now.Add(-10 * time.Millisecond),
					EndTime:              now,
					Resource:             res,
					InstrumentationScope: sdkinstrumentation.Scope{Name: "e2e"},
				}
			}
			return ids, exp.ExportSpans(ctx, stubs.Snapshots())
		},
		// Looked up trace by trace: Jaeger's search by service (in-memory storage) does not list
		// every trace it holds, while a lookup by trace ID does find each. Every span returned is
		// one copy of a span sent. A trace that held every wanted span is not looked up again.
		arrived: func(ctx context.Context, want []string) (map[string][]time.Time, error) {
			wanted := map[string][]string{}
			for _, id := range want {
				traceID, _, _ := strings.Cut(id, "/")
				wanted[traceID] = append(wanted[traceID], id)
			}
			found := map[string][]time.Time{}
			for traceID, ids := range wanted {
				spans, ok := complete[traceID]
				if !ok {
					tr, err := jaegerTrace(ctx, jaeger, traceID)
					if err != nil {
						continue
					}
					spans = map[string][]time.Time{}
					for _, sp := range tr.Spans {
						key := traceID + "/" + sp.SpanID
						spans[key] = append(spans[key], time.UnixMicro(sp.StartTime))
					}
				}
				if !slices.ContainsFunc(ids, func(id string) bool { return len(spans[id]) == 0 }) {
					complete[traceID] = spans
				}
				maps.Copy(found, spans)
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
		stamped: func(ctx context.Context, from, to time.Time) (int, error) {
			return lokiCountAt(ctx, loki, fmt.Sprintf(`{service=%q}`, loadService), "fault log "+run+"-", from, to)
		},
		// Counted by Loki per request; a copy's timestamp is not returned (zero).
		arrived: func(ctx context.Context, _ []string) (map[string][]time.Time, error) {
			return lokiRequestArrivals(ctx, loki, fmt.Sprintf(`{service=%q}`, loadService), "fault log ", run, perRequest)
		},
	}
}

// maxPartialRequests bounds how many requests lokiRequestArrivals counts record by record in
// one pass (perRequest series each in Loki's answer); more are left for the next pass.
const maxPartialRequests = 400

// lokiRequestArrivals returns how many copies of each log record Loki holds, for records whose
// line is "<line><run>-<request>-<index>" (ID "<run>-<request>-<index>"), sent perRequest to a
// request. Loki answers with one series per request, not one per record: the request's copies
// and the sum of their indexes. A request with perRequest copies whose indexes sum to
// 0+1+…+(perRequest-1) holds each record once: one record missing and another one twice would
// change the sum (several such pairs could cancel out, e.g. 1 and 4 missing, 2 and 3 twice, which
// a resend of whole batches does not produce). Only the other requests are counted record by
// record.
func lokiRequestArrivals(ctx context.Context, loki *Backend, selector, line, run string, perRequest int) (map[string][]time.Time, error) {
	base := loki.URL("http") + "/loki"
	prefix := line + run + "-"
	quoted := regexp.QuoteMeta(prefix)
	copies, err := promQuery(ctx, base, fmt.Sprintf(`sum by (fault_req) (count_over_time(%s |= %q | regexp %q [1h]))`,
		selector, prefix, "^"+quoted+`(?P<fault_req>[0-9]+)-[0-9]+$`))
	if err != nil {
		return nil, err
	}
	sums, err := promQuery(ctx, base, fmt.Sprintf(`sum by (fault_req) (sum_over_time(%s |= %q | regexp %q | unwrap fault_i [1h]))`,
		selector, prefix, "^"+quoted+`(?P<fault_req>[0-9]+)-(?P<fault_i>[0-9]+)$`))
	if err != nil {
		return nil, err
	}
	indexSum := map[string]float64{}
	for _, s := range sums {
		indexSum[s.Labels["fault_req"]] = s.Value
	}
	ids := map[string][]time.Time{}
	var partial []string
	for _, s := range copies {
		req := s.Labels["fault_req"]
		if int(s.Value) != perRequest || indexSum[req] != float64(perRequest*(perRequest-1)/2) {
			partial = append(partial, req)
			continue
		}
		for i := range perRequest {
			ids[fmt.Sprintf("%s-%s-%d", run, req, i)] = []time.Time{{}}
		}
	}
	if len(partial) > maxPartialRequests {
		return nil, fmt.Errorf("loki: %d requests arrived in part so far, more than %d to count record by record", len(partial), maxPartialRequests)
	}
	if len(partial) > 0 {
		counts, err := lokiCounts(ctx, loki, selector, fmt.Sprintf("|~ %q", "^"+quoted+"("+strings.Join(partial, "|")+")-"),
			"^"+regexp.QuoteMeta(line)+`(?P<id>\S+)$`)
		if err != nil {
			return nil, err
		}
		for id, n := range counts {
			ids[id] = make([]time.Time, n)
		}
	}
	return ids, nil
}

// newMetricLoad sends perRequest gauge points per request to collector's OTLP/gRPC endpoint,
// point n in series lane = n mod lanes, its value n (the item ID), so Mimir shows exactly which
// points arrived, and their timestamps. Where a collector batches requests before the gateway
// (the agent), lanes must leave every point a series of its own: cardinality_guard keeps one
// point per series of a batch (README "Guarantees").
func newMetricLoad(t *testing.T, collector string, mimir *Backend, res *resource.Resource, perRequest, lanes int) *steadyLoad {
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
			ids := make([]string, perRequest)
			points := make([]metricdata.DataPoint[int64], perRequest)
			now := time.Now()
			for i := range points {
				n := seq*perRequest + i
				ids[i] = strconv.Itoa(n)
				points[i] = metricdata.DataPoint[int64]{
					Attributes: attribute.NewSet(attribute.String("run", run), attribute.Int("lane", n%lanes)),
					Time:       now,
					Value:      int64(n),
				}
			}
			rm := &metricdata.ResourceMetrics{
				Resource: res,
				ScopeMetrics: []metricdata.ScopeMetrics{{
					Scope: sdkinstrumentation.Scope{Name: "e2e"},
					Metrics: []metricdata.Metrics{{
						Name: "airi.e2e.fault.point",
						Data: metricdata.Gauge[int64]{DataPoints: points},
					}},
				}},
			}
			return ids, exp.Export(ctx, rm)
		},
		// Every sample Mimir holds, with its timestamp: a range selector returns them raw.
		arrived: func(ctx context.Context, _ []string) (map[string][]time.Time, error) {
			series, err := promSamples(ctx, mimir.URL("http")+"/prometheus",
				fmt.Sprintf(`airi_e2e_fault_point{service=%q, run=%q}[1h]`, loadService, run))
			if err != nil {
				return nil, err
			}
			ids := map[string][]time.Time{}
			for _, s := range series {
				for i, v := range s.Values {
					id := strconv.FormatFloat(v, 'f', -1, 64)
					ids[id] = append(ids[id], s.Times[i])
				}
			}
			return ids, nil
		},
	}
}
