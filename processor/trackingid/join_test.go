// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/airi-otel/otelcol-airi/extension/requestjoin"
	"github.com/airi-otel/otelcol-airi/processor/trackingid/internal/metadatatest"
)

// extHost is a host holding the given extensions, as the collector's service is.
type extHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h extHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// joinHost creates and starts a real request_join extension and a host holding it.
func joinHost(t testing.TB) extHost {
	t.Helper()
	f := requestjoin.NewFactory()
	x, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), f.CreateDefaultConfig())
	require.NoError(t, err)
	require.NoError(t, x.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, x.Shutdown(context.Background())) })
	return extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{component.MustNewID("request_join"): x}}
}

type joinPipelines struct {
	traces       *consumertest.TracesSink
	logs         *consumertest.LogsSink
	tel          *componenttest.Telemetry
	nextTrace    func(ptrace.Traces) error
	nextLogs     func(plog.Logs) error
	shutdownLogs func() error
}

// newJoinPipelines starts a traces and a logs tracking_id processor sharing one request_join
// extension, as the shipped agent config does.
func newJoinPipelines(t testing.TB, opts ...func(*Config)) joinPipelines {
	t.Helper()
	host := joinHost(t)
	cfg := createDefaultConfig().(*Config)
	cfg.RequestJoin = "request_join"
	for _, o := range opts {
		o(cfg)
	}
	require.NoError(t, cfg.Validate())
	jp := joinPipelines{traces: new(consumertest.TracesSink), logs: new(consumertest.LogsSink), tel: componenttest.NewTelemetry()}
	t.Cleanup(func() { require.NoError(t, jp.tel.Shutdown(context.Background())) })
	tp, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(jp.tel), cfg, jp.traces)
	require.NoError(t, err)
	lp, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(jp.tel), cfg, jp.logs)
	require.NoError(t, err)
	for _, c := range []component.Component{tp, lp} {
		require.NoError(t, c.Start(context.Background(), host))
		t.Cleanup(func() { require.NoError(t, c.Shutdown(context.Background())) })
	}
	jp.nextTrace = func(td ptrace.Traces) error { return tp.ConsumeTraces(context.Background(), td) }
	jp.nextLogs = func(ld plog.Logs) error { return lp.ConsumeLogs(context.Background(), ld) }
	jp.shutdownLogs = func() error { return lp.Shutdown(context.Background()) }
	return jp
}

// requestSpans is one request as otelhttp records it: a server span with the X-Request-Id
// header as a string array, and an earlier-ending client child span with an app attribute.
func requestSpans(trace pcommon.TraceID, server, client pcommon.SpanID, reqID string) ptrace.Traces {
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	c := spans.AppendEmpty()
	c.SetTraceID(trace)
	c.SetSpanID(client)
	c.SetParentSpanID(server)
	c.SetKind(ptrace.SpanKindClient)
	c.Attributes().PutStr("request_id", reqID)
	s := spans.AppendEmpty()
	s.SetTraceID(trace)
	s.SetSpanID(server)
	s.SetParentSpanID(pcommon.SpanID{9, 9, 9}) // a remote parent: still the server span
	s.SetKind(ptrace.SpanKindServer)
	s.Attributes().PutEmptySlice("http.request.header.x-request-id").AppendEmpty().SetStr(reqID)
	return td
}

func TestJoinGivesLogsTheRealTrace(t *testing.T) {
	jp := newJoinPipelines(t)
	trace := pcommon.TraceID{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	server, client := pcommon.SpanID{1, 1}, pcommon.SpanID{2, 2}
	require.NoError(t, jp.nextTrace(requestSpans(trace, server, client, "req-abc123")))

	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	_ = lrs.AppendEmpty().Body().SetEmptyMap().FromRaw(map[string]any{"message": "request_completed", "request_id": "req-abc123"})
	_ = lrs.AppendEmpty().Attributes().FromRaw(map[string]any{"extra": map[string]any{"request_id": "req-unknown"}})
	require.NoError(t, jp.nextLogs(ld))

	out := jp.logs.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	joined := out.At(0)
	assert.Equal(t, trace, joined.TraceID())
	assert.Equal(t, server, joined.SpanID(), "the server span, not the child that ended first")
	assert.Equal(t, map[string]any{
		"tracking_id":          traceHex(trace),
		"tracking.id.original": "req-abc123",
		JoinedAttribute:        true,
	}, joined.Attributes().AsRaw())

	derived := out.At(1)
	want, ok := deriveTraceID(rawID{s: "req-unknown"})
	require.True(t, ok)
	assert.Equal(t, want, derived.TraceID())
	assert.True(t, derived.SpanID().IsEmpty())
	v, _ := derived.Attributes().Get(DerivedAttribute)
	assert.True(t, v.Bool())
	_, has := derived.Attributes().Get(JoinedAttribute)
	assert.False(t, has)

	one := func(signal string, v int64) []metricdata.DataPoint[int64] {
		return []metricdata.DataPoint[int64]{{Value: v, Attributes: attribute.NewSet(attribute.String("signal", signal))}}
	}
	metadatatest.AssertEqualProcessorTrackingIDRequestIdsRemembered(t, jp.tel, one("traces", 2), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorTrackingIDIdsJoined(t, jp.tel, one("logs", 1), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorTrackingIDJoinMisses(t, jp.tel, one("logs", 1), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorTrackingIDIdsDerived(t, jp.tel, one("logs", 1), metricdatatest.IgnoreTimestamp())
}

func TestJoinLeavesLogsWithContextAlone(t *testing.T) {
	jp := newJoinPipelines(t)
	require.NoError(t, jp.nextTrace(requestSpans(pcommon.TraceID{1}, pcommon.SpanID{1}, pcommon.SpanID{2}, "req-1")))
	ld := logWith(pcommon.NewValueEmpty(), map[string]any{"request_id": "req-1"})
	own := pcommon.TraceID{7, 7}
	firstLog(ld).SetTraceID(own)
	require.NoError(t, jp.nextLogs(ld))
	assert.Equal(t, own, firstLog(jp.logs.AllLogs()[0]).TraceID(), "a record's own trace context wins over the join")
}

func TestRequestJoinStartErrors(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.RequestJoin = "request_join/missing"
	p, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	assert.ErrorContains(t, p.Start(context.Background(), joinHost(t)), `request_join: extension "request_join/missing" not found`)

	nf := extensiontest.NewNopFactory()
	nop, err := nf.Create(context.Background(), extensiontest.NewNopSettings(nf.Type()), nf.CreateDefaultConfig())
	require.NoError(t, err)
	host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{component.MustNewID("request_join"): nop}}
	cfg.RequestJoin = "request_join"
	p, err = NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	assert.ErrorContains(t, p.Start(context.Background(), host), "is not a request_join extension")

	cfg.RequestJoin = "not a/valid//id"
	assert.ErrorContains(t, cfg.Validate(), "request_join:")
}

// TestJoinConcurrent runs the traces and logs pipelines at once over one store (go test -race).
func TestJoinConcurrent(t *testing.T) {
	jp := newJoinPipelines(t)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 500 {
			assert.NoError(t, jp.nextTrace(requestSpans(pcommon.TraceID{byte(i), 1}, pcommon.SpanID{1}, pcommon.SpanID{2}, fmt.Sprint("req-", i%50))))
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 500 {
			assert.NoError(t, jp.nextLogs(logWith(pcommon.NewValueEmpty(), map[string]any{"request_id": fmt.Sprint("req-", i%50)})))
		}
	}()
	wg.Wait()
	for _, ld := range jp.logs.AllLogs() {
		lr := firstLog(ld)
		_, joined := lr.Attributes().Get(JoinedAttribute)
		_, derived := lr.Attributes().Get(DerivedAttribute)
		assert.True(t, joined != derived, "exactly one of joined / derived")
		assert.False(t, lr.TraceID().IsEmpty())
	}
}

// FuzzJoin runs arbitrary spans, then arbitrary logs, through a traces and a logs tracking_id
// sharing one request_join store: never a panic, and a record marked joined carries the trace
// ID and span ID of one of the spans, its tracking_id, and no derived mark of this run.
func FuzzJoin(f *testing.F) {
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","kind":2,"attributes":[{"key":"http.request.header.x-request-id","value":{"arrayValue":{"values":[{"stringValue":"req-1"}]}}}]}]}]}]}`),
		[]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"request_id","value":{"stringValue":"req-1"}}]}}},{"attributes":[{"key":"request_id","value":{"intValue":"7"}}]}]}]}]}`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","attributes":[{"key":"request_id","value":{"intValue":"7"}},{"key":"tracking.id","value":{"stringValue":"req-2"}}]}]}]}]}`),
		[]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"tracking_id","value":{"stringValue":"req-2"}},{"key":"tracking.id.joined","value":{"boolValue":false}}]}]}]}]}`))
	jp := newJoinPipelines(f)
	f.Fuzz(func(t *testing.T, traces, logs []byte) {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(traces)
		if err != nil {
			return
		}
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(logs)
		if err != nil {
			return
		}
		spans := map[pcommon.TraceID]map[pcommon.SpanID]bool{}
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			sss := td.ResourceSpans().At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				for k := 0; k < sss.At(j).Spans().Len(); k++ {
					sp := sss.At(j).Spans().At(k)
					if spans[sp.TraceID()] == nil {
						spans[sp.TraceID()] = map[pcommon.SpanID]bool{}
					}
					spans[sp.TraceID()][sp.SpanID()] = true
				}
			}
		}
		require.NoError(t, jp.nextTrace(td))
		before := plog.NewLogs()
		ld.CopyTo(before)
		jp.logs.Reset()
		require.NoError(t, jp.nextLogs(ld))
		out := jp.logs.AllLogs()[0]
		forEachLogPair(before, out, func(b, a plog.LogRecord) {
			if !b.TraceID().IsEmpty() {
				require.Equal(t, b.TraceID(), a.TraceID(), "an existing trace ID never changes")
				return
			}
			_, wasJoined := b.Attributes().Get(JoinedAttribute)
			j, joined := a.Attributes().Get(JoinedAttribute)
			if wasJoined || !joined {
				return
			}
			require.True(t, j.Bool())
			// Spans of earlier fuzz inputs are in the store too, so only the shape is checked
			// against this input when the trace is one of its own.
			if ids, ok := spans[a.TraceID()]; ok {
				require.True(t, ids[a.SpanID()] || a.SpanID().IsEmpty(), "the span ID is one of the trace's spans")
			}
			require.False(t, a.TraceID().IsEmpty())
			v, _ := a.Attributes().Get("tracking_id")
			require.Equal(t, traceHex(a.TraceID()), v.Str())
			_, wasDerived := b.Attributes().Get(DerivedAttribute)
			_, derived := a.Attributes().Get(DerivedAttribute)
			require.Equal(t, wasDerived, derived, "a joined record is not marked derived")
		})
	})
}

func withHold(d time.Duration, maxRecords int) func(*Config) {
	return func(cfg *Config) { cfg.JoinHold, cfg.JoinHoldMaxRecords = d, maxRecords }
}

// sunk returns the log records the logs pipeline forwarded so far, by request ID.
func (jp joinPipelines) sunk() map[string]plog.LogRecord {
	out := map[string]plog.LogRecord{}
	for _, ld := range jp.logs.AllLogs() {
		forEachLogPair(ld, ld, func(lr, _ plog.LogRecord) {
			if v, ok := lr.Attributes().Get("tracking.id.original"); ok {
				out[v.Str()] = lr
			} else if v, ok := lr.Attributes().Get("request_id"); ok {
				out[v.Str()] = lr
			}
		})
	}
	return out
}

func eventuallyLog(t *testing.T, jp joinPipelines, reqID string) plog.LogRecord {
	t.Helper()
	var lr plog.LogRecord
	require.Eventually(t, func() bool {
		var ok bool
		lr, ok = jp.sunk()[reqID]
		return ok
	}, 10*time.Second, 5*time.Millisecond, "no record for %s", reqID)
	return lr
}

func TestJoinHoldJoinsALateSpan(t *testing.T) {
	jp := newJoinPipelines(t, withHold(time.Minute, 10))
	require.NoError(t, jp.nextLogs(logWith(pcommon.NewValueEmpty(), map[string]any{"request_id": "req-late", "n": 1})))
	assert.Empty(t, jp.sunk(), "the record is held, not forwarded")
	trace, server := pcommon.TraceID{5, 5}, pcommon.SpanID{6, 6}
	require.NoError(t, jp.nextTrace(requestSpans(trace, server, pcommon.SpanID{7}, "req-late")))
	lr := eventuallyLog(t, jp, "req-late")
	assert.Equal(t, trace, lr.TraceID())
	assert.Equal(t, server, lr.SpanID())
	v, _ := lr.Attributes().Get("n")
	assert.Equal(t, int64(1), v.Int(), "the held copy keeps its attributes")
	metadatatest.AssertEqualProcessorTrackingIDLogsHeld(t, jp.tel, []metricdata.DataPoint[int64]{{Value: 1, Attributes: attribute.NewSet(attribute.String("signal", "logs"))}}, metricdatatest.IgnoreTimestamp())
}

func TestJoinHoldEndsDerived(t *testing.T) {
	jp := newJoinPipelines(t, withHold(20*time.Millisecond, 10))
	require.NoError(t, jp.nextLogs(logWith(pcommon.NewValueEmpty(), map[string]any{"request_id": "req-never"})))
	lr := eventuallyLog(t, jp, "req-never")
	want, _ := deriveTraceID(rawID{s: "req-never"})
	assert.Equal(t, want, lr.TraceID())
	v, _ := lr.Attributes().Get(DerivedAttribute)
	assert.True(t, v.Bool())
}

func TestJoinHoldIsBounded(t *testing.T) {
	jp := newJoinPipelines(t, withHold(time.Minute, 1))
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "gw")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Attributes().PutStr("request_id", "req-a")
	lrs.AppendEmpty().Attributes().PutStr("request_id", "req-b")
	require.NoError(t, jp.nextLogs(ld))
	got := jp.sunk()
	require.Len(t, got, 1, "one held, the other derived at once: the hold is full")
	v, _ := got["req-b"].Attributes().Get(DerivedAttribute)
	assert.True(t, v.Bool())
	// Shutdown forwards what is still held, derived, with its resource.
	require.NoError(t, jp.shutdownLogs())
	lr := jp.sunk()["req-a"]
	v, _ = lr.Attributes().Get(DerivedAttribute)
	assert.True(t, v.Bool())
	last := jp.logs.AllLogs()[len(jp.logs.AllLogs())-1]
	name, _ := last.ResourceLogs().At(0).Resource().Attributes().Get("service.name")
	assert.Equal(t, "gw", name.Str())
}
