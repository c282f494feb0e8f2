// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid

import (
	"context"
	"fmt"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/airi-otel/otelcol-airi/internal/cputime"
	_ "github.com/airi-otel/otelcol-airi/internal/pdatapooling" // AIRI_PDATA_PROTO_POOLING=1 turns pdata.useProtoPooling on
	"github.com/airi-otel/otelcol-airi/processor/trackingid/internal/metadata"
)

// batchSize is the number of spans / log records / data points per benchmark batch.
const batchSize = 100

const zeroTraceHex = `"00000000000000000000000000000000"`

// OTTL doing what OTTL can of this processor's span and log work (see README "Compared with
// OTTL"): one exact-case key, attributes only, no trimming, no hex/UUID branch, no validation.
var (
	ottlTraceStatements = []any{
		`set(span.attributes["tracking.id"], span.trace_id.string)`,
		`set(span.attributes["tracking.id.original"], span.attributes["http.request.header.x_request_id"][0]) where span.attributes["http.request.header.x_request_id"] != nil`,
	}
	ottlLogStatements = []any{
		`set(log.attributes["tracking.id.original"], log.attributes["trace_id"]) where log.trace_id.string == ` + zeroTraceHex + ` and log.attributes["trace_id"] != nil`,
		`set(log.attributes["tracking.id.derived"], true) where log.trace_id.string == ` + zeroTraceHex + ` and log.attributes["trace_id"] != nil`,
		`set(log.trace_id.string, Substring(SHA256(log.attributes["trace_id"]), 0, 32)) where log.trace_id.string == ` + zeroTraceHex + ` and log.attributes["trace_id"] != nil`,
		`set(log.attributes["tracking_id"], log.trace_id.string) where log.trace_id.string != ` + zeroTraceHex,
	}
)

func traceIDFor(i int) pcommon.TraceID {
	return pcommon.TraceID{0x4b, 0xf9, byte(i >> 8), byte(i), 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
}

// perTrace is how many consecutive spans (log records) share one trace (request): 1 is the
// worst case for the processor's one-entry batch cache, 10 a typical small trace.
var shapes = []struct {
	name     string
	perTrace int
}{{"distinct", 1}, {"grouped10", 10}}

// benchTraces: SDK spans with ordinary HTTP server attributes; every fourth one records the
// X-Request-Id header the way OTel HTTP instrumentations do (a list of values).
func benchTraces(perTrace int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api-gateway")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := 0; i < batchSize; i++ {
		s := spans.AppendEmpty()
		s.SetName("POST /v1/chat/completions")
		s.SetTraceID(traceIDFor(i / perTrace))
		s.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i)})
		a := s.Attributes()
		a.PutStr("http.request.method", "POST")
		a.PutStr("url.path", "/v1/chat/completions")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("server.address", "gateway.internal")
		a.PutStr("user_agent.original", "python-httpx/0.27")
		a.PutStr("network.protocol.version", "1.1")
		if i%4 == 0 {
			a.PutEmptySlice("http.request.header.x_request_id").AppendEmpty().SetStr(fmt.Sprintf("req-%06d", i/perTrace))
		}
	}
	return td
}

// benchLogs: half SDK logs with trace context, half gateway JSON lines (json_parser into
// attributes) carrying `trace_id: req-...` and no trace context.
func benchLogs(perTrace int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api-gateway")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < batchSize; i++ {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr("request_completed")
		a := lr.Attributes()
		a.PutStr("logger", "app.api.v1.external.gateway")
		a.PutStr("tenant_id", "tenant-xyz")
		a.PutStr("model", "gpt-4")
		a.PutDouble("latency_ms", 1234)
		a.PutDouble("status_code", 200)
		if i < batchSize/2 {
			lr.SetTraceID(traceIDFor(i / perTrace))
			lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i)})
		} else {
			a.PutStr("trace_id", fmt.Sprintf("req-%06d", i/perTrace))
		}
	}
	return ld
}

func benchMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	hist := ms.AppendEmpty()
	hist.SetName("gateway_request_latency_seconds")
	dps := hist.SetEmptyHistogram().DataPoints()
	for i := 0; i < batchSize; i++ {
		dp := dps.AppendEmpty()
		dp.SetCount(3)
		dp.SetSum(0.75)
		dp.Attributes().PutStr("path", "/v1/chat/completions")
		dp.Attributes().PutStr("method", "POST")
		dp.Attributes().PutStr("status", "200")
		if i%2 == 0 {
			dp.Attributes().PutStr("trace_id", fmt.Sprintf("req-%06d", i))
		} else {
			dp.Attributes().PutStr("tracking_id", traceHex(traceIDFor(i)))
		}
	}
	return md
}

func ottlConfig(tb testing.TB, f processor.Factory, key string, statements []any) component.Config {
	tb.Helper()
	cfg := f.CreateDefaultConfig()
	require.NoError(tb, confmap.NewFromStringMap(map[string]any{"error_mode": "ignore", key: statements}).Unmarshal(cfg))
	return cfg
}

// perItem reports the cost per span / record / point next to the per-batch numbers: wall time,
// and the process's CPU time since cpuStart (GC included), which a busy shared machine distorts
// much less and which make bench's table compares on.
func perItem(b *testing.B, unit string, cpuStart int64) {
	b.ReportMetric(float64(cputime.Process()-cpuStart)/float64(b.N*batchSize), "cpu-ns/"+unit)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/"+unit)
}

// Each iteration consumes the batch and then resets it to its input state: the attributes
// the processors add are removed again (in place, keeping the slices' capacity) and the log
// trace IDs restored. The reset_only case measures the reset alone, so a processor's own cost
// is the difference. Resetting beats copying the input every iteration, whose cost (several
// allocations per span) and garbage would swamp the work measured, and beats stopping the
// timer around a copy: StopTimer reads MemStats, which stops the world every iteration.

func isAdded(k string, _ pcommon.Value) bool {
	return k == "tracking.id" || k == "tracking_id" || k == "tracking.id.original"
}

func resetTraces(td ptrace.Traces) {
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		spans.At(i).Attributes().RemoveIf(isAdded)
	}
}

func resetLogs(ld plog.Logs, ids []pcommon.TraceID) {
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		lrs.At(i).Attributes().RemoveIf(isAdded)
		lrs.At(i).SetTraceID(ids[i])
	}
}

func resetMetrics(md pmetric.Metrics) {
	dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dps.At(i).Exemplars().RemoveIf(func(pmetric.Exemplar) bool { return true })
	}
}

func BenchmarkTraces(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, perTrace int, consume func(ptrace.Traces) error) {
		td := benchTraces(perTrace)
		b.ReportAllocs()
		cpu := cputime.Process()
		for b.Loop() {
			if err := consume(td); err != nil {
				b.Fatal(err)
			}
			resetTraces(td)
		}
		perItem(b, "span", cpu)
	}
	for _, shape := range shapes {
		b.Run(shape.name+"/reset_only", func(b *testing.B) {
			run(b, shape.perTrace, func(ptrace.Traces) error { return nil })
		})
		b.Run(shape.name+"/floor_putstr", func(b *testing.B) {
			// The least any implementation must do: one PutStr of a ready string per span.
			hexes := make([]string, batchSize)
			for i := range hexes {
				hexes[i] = traceHex(traceIDFor(i / shape.perTrace))
			}
			run(b, shape.perTrace, func(td ptrace.Traces) error {
				spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
				for i := 0; i < spans.Len(); i++ {
					spans.At(i).Attributes().PutStr("tracking.id", hexes[i])
				}
				return nil
			})
		})
		b.Run(shape.name+"/floor_same_output", func(b *testing.B) {
			// The output tracking_id makes, with nothing searched or checked: the hex string
			// made once per trace, and tracking.id.original written on the spans that carry the
			// request-ID header (every fourth), from a ready string.
			originals := make([]string, batchSize)
			for i := 0; i < batchSize; i += 4 {
				originals[i] = fmt.Sprintf("req-%06d", i/shape.perTrace)
			}
			run(b, shape.perTrace, func(td ptrace.Traces) error {
				spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
				var last pcommon.TraceID
				h := ""
				for i := 0; i < spans.Len(); i++ {
					span := spans.At(i)
					if id := span.TraceID(); h == "" || id != last {
						last, h = id, id.String()
					}
					span.Attributes().PutStr("tracking.id", h)
					if originals[i] != "" {
						span.Attributes().PutStr("tracking.id.original", originals[i])
					}
				}
				return nil
			})
		})
		b.Run(shape.name+"/floor_same_output_chunked", func(b *testing.B) {
			// floor_same_output with the hex strings made as the processor makes them (its
			// batchCache: one per trace, carved from shared chunks): the cheapest known way to
			// the same output, still with nothing searched or checked.
			originals := make([]string, batchSize)
			for i := 0; i < batchSize; i += 4 {
				originals[i] = fmt.Sprintf("req-%06d", i/shape.perTrace)
			}
			run(b, shape.perTrace, func(td ptrace.Traces) error {
				spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
				var cache batchCache
				for i := 0; i < spans.Len(); i++ {
					span := spans.At(i)
					cache.left = spans.Len() - i
					span.Attributes().PutStr("tracking.id", cache.hexOf(span.TraceID()))
					if originals[i] != "" {
						span.Attributes().PutStr("tracking.id.original", originals[i])
					}
				}
				return nil
			})
		})
		b.Run(shape.name+"/tracking_id", func(b *testing.B) {
			f := NewFactory()
			p, err := f.CreateTraces(ctx, processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
			require.NoError(b, err)
			run(b, shape.perTrace, func(td ptrace.Traces) error { return p.ConsumeTraces(ctx, td) })
		})
		b.Run(shape.name+"/tracking_id_request_join", func(b *testing.B) {
			// As tracking_id, plus remembering every fourth span's request ID in a real
			// request_join store: the difference is the cost of remembering.
			f := NewFactory()
			cfg := f.CreateDefaultConfig().(*Config)
			cfg.RequestJoin = "request_join"
			p, err := f.CreateTraces(ctx, processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			require.NoError(b, err)
			require.NoError(b, p.Start(ctx, joinHost(b)))
			run(b, shape.perTrace, func(td ptrace.Traces) error { return p.ConsumeTraces(ctx, td) })
		})
		b.Run(shape.name+"/ottl_transform", func(b *testing.B) {
			f := transformprocessor.NewFactory()
			cfg := ottlConfig(b, f, "trace_statements", ottlTraceStatements)
			p, err := f.CreateTraces(ctx, processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
			require.NoError(b, err)
			run(b, shape.perTrace, func(td ptrace.Traces) error { return p.ConsumeTraces(ctx, td) })
		})
	}
}

func BenchmarkLogs(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, perTrace int, consume func(plog.Logs) error) {
		ld := benchLogs(perTrace)
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		ids := make([]pcommon.TraceID, lrs.Len())
		for i := range ids {
			ids[i] = lrs.At(i).TraceID()
		}
		b.ReportAllocs()
		cpu := cputime.Process()
		for b.Loop() {
			if err := consume(ld); err != nil {
				b.Fatal(err)
			}
			resetLogs(ld, ids)
		}
		perItem(b, "log", cpu)
	}
	for _, shape := range shapes {
		b.Run(shape.name+"/reset_only", func(b *testing.B) {
			run(b, shape.perTrace, func(plog.Logs) error { return nil })
		})
		b.Run(shape.name+"/tracking_id", func(b *testing.B) {
			f := NewFactory()
			p, err := f.CreateLogs(ctx, processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
			require.NoError(b, err)
			run(b, shape.perTrace, func(ld plog.Logs) error { return p.ConsumeLogs(ctx, ld) })
		})
		b.Run(shape.name+"/ottl_transform", func(b *testing.B) {
			f := transformprocessor.NewFactory()
			cfg := ottlConfig(b, f, "log_statements", ottlLogStatements)
			p, err := f.CreateLogs(ctx, processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
			require.NoError(b, err)
			run(b, shape.perTrace, func(ld plog.Logs) error { return p.ConsumeLogs(ctx, ld) })
		})
	}
}

// BenchmarkMetrics has no OTTL counterpart: OTTL cannot add exemplars.
func BenchmarkMetrics(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, consume func(pmetric.Metrics) error) {
		md := benchMetrics()
		b.ReportAllocs()
		cpu := cputime.Process()
		for b.Loop() {
			if err := consume(md); err != nil {
				b.Fatal(err)
			}
			resetMetrics(md)
		}
		perItem(b, "point", cpu)
	}
	b.Run("reset_only", func(b *testing.B) {
		run(b, func(pmetric.Metrics) error { return nil })
	})
	b.Run("tracking_id", func(b *testing.B) {
		f := NewFactory()
		p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
		require.NoError(b, err)
		run(b, func(md pmetric.Metrics) error { return p.ConsumeMetrics(ctx, md) })
	})
}

// TestOTTLEquivalentAgrees checks that the OTTL statements the benchmarks compare against do
// the same work as the processor on the benchmark data, so the comparison is fair.
func TestOTTLEquivalentAgrees(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := transformprocessor.NewFactory()
	tp := NewFactory()

	ottlT, ourT := new(consumertest.TracesSink), new(consumertest.TracesSink)
	op, err := f.CreateTraces(ctx, processortest.NewNopSettings(f.Type()), ottlConfig(t, f, "trace_statements", ottlTraceStatements), ottlT)
	require.NoError(t, err)
	pp, err := tp.CreateTraces(ctx, processortest.NewNopSettings(metadata.Type), tp.CreateDefaultConfig(), ourT)
	require.NoError(t, err)
	require.NoError(t, op.ConsumeTraces(ctx, benchTraces(3)))
	require.NoError(t, pp.ConsumeTraces(ctx, benchTraces(3)))
	require.NoError(t, ptracetest.CompareTraces(ottlT.AllTraces()[0], ourT.AllTraces()[0]))
	require.Equal(t, 2, ourT.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Len()-7,
		"the first benchmark span gains tracking.id and tracking.id.original")

	ottlL, ourL := new(consumertest.LogsSink), new(consumertest.LogsSink)
	ol, err := f.CreateLogs(ctx, processortest.NewNopSettings(f.Type()), ottlConfig(t, f, "log_statements", ottlLogStatements), ottlL)
	require.NoError(t, err)
	pl, err := tp.CreateLogs(ctx, processortest.NewNopSettings(metadata.Type), tp.CreateDefaultConfig(), ourL)
	require.NoError(t, err)
	require.NoError(t, ol.ConsumeLogs(ctx, benchLogs(3)))
	require.NoError(t, pl.ConsumeLogs(ctx, benchLogs(3)))
	require.NoError(t, plogtest.CompareLogs(ottlL.AllLogs()[0], ourL.AllLogs()[0]))
	derived := ourL.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(batchSize - 1)
	require.False(t, derived.TraceID().IsEmpty(), "the gateway record got a derived trace ID")
}
