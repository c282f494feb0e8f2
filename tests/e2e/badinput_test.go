// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// rawCodec sends a byte slice as the gRPC message as it is, to deliver malformed protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

// TestBadInputIsRejectedOrCounted sends config/gateway.yaml malformed OTLP (protobuf and JSON,
// over HTTP and gRPC), invalid UTF-8, huge attribute values, NaN and Inf values and empty
// resources. Each is rejected with a client error or accepted and counted; the gateway never
// crashes, and good data sent in the same run still arrives in Jaeger, Loki and Mimir.
func TestBadInputIsRejectedOrCounted(t *testing.T) {
	jaeger, loki, mimir := newBackend(t, jaegerKind), newBackend(t, lokiKind), newBackend(t, mimirKind)
	startAll(t, jaeger, loki, mimir)
	gateway := newGateway(t, jaeger, loki, mimir, nil)
	gateway.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Malformed OTLP/HTTP: garbage protobuf and broken JSON are rejected with 400.
	for _, tc := range []struct{ path, contentType, body string }{
		{"/v1/traces", "application/x-protobuf", "\x0a\xff\xff\xff\xff\x0f garbage"},
		{"/v1/metrics", "application/x-protobuf", "\x12\x05abc"},
		{"/v1/logs", "application/x-protobuf", strings.Repeat("\xff", 64)},
		{"/v1/traces", "application/json", `{"resourceSpans": [{"scopeSpans": [`},
		{"/v1/metrics", "application/json", `{"resourceMetrics": "not a list"}`},
		{"/v1/logs", "application/json", `{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "yesterday"}]}]}]}`},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+gateway.OTLPHTTP()+tc.path, bytes.NewBufferString(tc.body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", tc.contentType)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "POST %s (%s) %q", tc.path, tc.contentType, tc.body)
		gateway.RequireRunning("POST " + tc.path)
	}

	// Malformed OTLP/gRPC: garbage bytes as the Export message are rejected, not a crash.
	conn := dialOTLP(t, gateway.OTLPGRPC())
	for _, method := range []string{
		"/opentelemetry.proto.collector.trace.v1.TraceService/Export",
		"/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
		"/opentelemetry.proto.collector.logs.v1.LogsService/Export",
	} {
		var reply []byte
		err := conn.Invoke(ctx, method, []byte("\x0a\xff\xff\xff\xff\x0f garbage"), &reply, grpc.ForceCodec(rawCodec{}))
		require.Error(t, err, method)
		require.NotEqual(t, codes.Unavailable, status.Code(err), "%s: garbage must be a permanent error, not a retry: %v", method, err)
		gateway.RequireRunning("gRPC garbage to " + method)
	}

	// Well-formed OTLP with bad content: each request is accepted or rejected as a whole, and
	// the gateway stays up.
	invalid := "bad \xff\xfe utf-8 \xc3\x28"
	huge := strings.Repeat("h", 1<<20)
	traces, logs, metrics := ptraceotlp.NewGRPCClient(conn), plogotlp.NewGRPCClient(conn), pmetricotlp.NewGRPCClient(conn)
	outcomes := map[string]codes.Code{}
	send := func(name string, export func() error) {
		outcomes[name] = status.Code(export())
		gateway.RequireRunning(name)
	}
	send("span with invalid UTF-8", func() error {
		td := oneSpan(invalid)
		td.ResourceSpans().At(0).Resource().Attributes().PutStr("service.name", invalid)
		_, err := traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		return err
	})
	send("span with a 1 MiB attribute", func() error {
		td := oneSpan("huge")
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("prompt", huge)
		_, err := traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		return err
	})
	send("span in an empty resource", func() error {
		td := ptrace.NewTraces()
		td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("orphan")
		td.ResourceSpans().AppendEmpty() // and a resource with nothing at all
		_, err := traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		return err
	})
	send("log with invalid UTF-8", func() error {
		ld := oneLog(invalid)
		ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutStr(invalid, invalid)
		_, err := logs.Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
		return err
	})
	send("log with a 1 MiB attribute", func() error {
		ld := oneLog("huge")
		ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutStr("prompt", huge)
		_, err := logs.Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
		return err
	})
	send("empty resource logs", func() error {
		ld := plog.NewLogs()
		ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		ld.ResourceLogs().AppendEmpty()
		_, err := logs.Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
		return err
	})
	send("NaN, Inf and invalid UTF-8 metrics", func() error {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "e2e-bad-input")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		g := ms.AppendEmpty()
		g.SetName("airi.e2e.bad.gauge")
		gauge := g.SetEmptyGauge()
		for i, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			dp := gauge.DataPoints().AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
			dp.SetDoubleValue(v)
			dp.Attributes().PutStr("case", fmt.Sprint(i))
			dp.Attributes().PutStr("label", invalid)
			dp.Attributes().PutStr("prompt", huge[:64<<10])
		}
		h := ms.AppendEmpty()
		h.SetName("airi.e2e.bad.histogram")
		h.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		hp := h.Histogram().DataPoints().AppendEmpty()
		hp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		hp.SetCount(2)
		hp.SetSum(math.NaN())
		hp.ExplicitBounds().FromRaw([]float64{1, math.Inf(1)})
		hp.BucketCounts().FromRaw([]uint64{1, 1})      // one bucket short of the bounds
		ms.AppendEmpty().SetName("airi.e2e.bad.empty") // no data at all
		md.ResourceMetrics().AppendEmpty()
		_, err := metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md))
		return err
	})
	for name, code := range outcomes {
		require.Contains(t, []codes.Code{codes.OK, codes.InvalidArgument}, code, "%s: answered %s", name, code)
		t.Logf("bad input: %-36s -> %s", name, code)
	}

	// Good data in the same run arrives in every backend.
	res := serviceResource(loadService, "bad-input-0")
	for _, l := range []*steadyLoad{
		newTraceLoad(t, gateway.OTLPGRPC(), jaeger, res, 1),
		newLogLoad(t, gateway.OTLPHTTP(), loki, res, 10),
		newMetricLoad(t, gateway.OTLPGRPC(), mimir, res, 1, 1),
	} {
		goodCtx, stop := context.WithTimeout(ctx, 3*time.Second)
		l.run(goodCtx, 100*time.Millisecond)
		<-goodCtx.Done()
		stop()
		l.wait()
		l.requireNothingLost(t, ctx, 2*time.Minute, 0) // nothing died, nothing was down: no re-sends
	}

	// What was accepted was counted: the empty resources got the default required labels.
	harness.Eventually(t, 30*time.Second, time.Second, func() error {
		n, err := gateway.Telemetry(ctx, "otelcol_processor_airi_normalize_defaults_applied")
		if err == nil && n == 0 {
			err = fmt.Errorf("airi_normalize counted no defaults for the empty resources")
		}
		return err
	})
	gateway.RequireRunning("the test")
}

func oneSpan(name string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "e2e-bad-input")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName(name)
	s.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	s.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	now := time.Now()
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	return td
}

func oneLog(body string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e-bad-input")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.Body().SetStr(body)
	return ld
}
