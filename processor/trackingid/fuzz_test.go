// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/airi-otel/otelcol-airi/internal/hostile"
	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The fuzz seeds are the golden inputs plus a few hand-written edge cases, so plain
// `go test` runs every seed through the invariants below.

func isLowerHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// attrsOtherThan renders attrs without the given keys for comparison (fmt sorts map keys and
// prints NaN equal to NaN, which DeepEqual would not).
func attrsOtherThan(m pcommon.Map, keys ...string) string {
	raw := m.AsRaw()
	for _, k := range keys {
		delete(raw, k)
	}
	return fmt.Sprint(raw)
}

func render(v any) string { return fmt.Sprint(v) }

func FuzzProcessTraces(f *testing.F) {
	td, err := golden.ReadTraces(filepath.Join("testdata", "traces", "input.yaml"))
	require.NoError(f, err)
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000001","attributes":[{"key":"tracking.id","value":{"arrayValue":{"values":[{"arrayValue":{}}]}}},{"key":"TRACKING.ID","value":{"stringValue":"x"}}]}]}]}]}`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"ffffffffffffffffffffffffffffffff","attributes":[{"key":"http.request.header.x-trace-id","value":{"arrayValue":{"values":[{"doubleValue":1e300}]}}}]}]}]}]}`))

	cfg := createDefaultConfig().(*Config)
	p := newTestProcessor(f, cfg)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		before := ptrace.NewTraces()
		in.CopyTo(before)
		out, err := p.processTraces(context.Background(), in)
		require.NoError(t, err)
		require.Equal(t, before.SpanCount(), out.SpanCount())
		forEachSpanPair(before, out, func(b, a ptrace.Span) {
			require.Equal(t, b.TraceID(), a.TraceID(), "a span's trace ID never changes")
			if a.TraceID().IsEmpty() {
				require.Equal(t, render(b.Attributes().AsRaw()), render(a.Attributes().AsRaw()), "a span without trace ID is left alone")
				return
			}
			v, ok := a.Attributes().Get(cfg.SpanAttribute)
			require.True(t, ok)
			require.Equal(t, pcommon.ValueTypeStr, v.Type())
			require.True(t, isLowerHex32(v.Str()))
			require.Equal(t, traceHex(a.TraceID()), v.Str())
			if o, ok := a.Attributes().Get(cfg.OriginalAttribute); ok {
				require.Equal(t, pcommon.ValueTypeStr, o.Type(), "original is always a string")
			}
			require.Equal(t, attrsOtherThan(b.Attributes(), cfg.SpanAttribute, cfg.OriginalAttribute),
				attrsOtherThan(a.Attributes(), cfg.SpanAttribute, cfg.OriginalAttribute), "no other attribute changes")
		})
	})
}

func forEachSpanPair(b, a ptrace.Traces, fn func(b, a ptrace.Span)) {
	for i := 0; i < b.ResourceSpans().Len(); i++ {
		bs, as := b.ResourceSpans().At(i).ScopeSpans(), a.ResourceSpans().At(i).ScopeSpans()
		for j := 0; j < bs.Len(); j++ {
			for k := 0; k < bs.At(j).Spans().Len(); k++ {
				fn(bs.At(j).Spans().At(k), as.At(j).Spans().At(k))
			}
		}
	}
}

func FuzzProcessLogs(f *testing.F) {
	for _, name := range []string{"logs_context", "logs_derive", "logs_body"} {
		ld, err := golden.ReadLogs(filepath.Join("testdata", name, "input.yaml"))
		require.NoError(f, err)
		b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"a","value":{"kvlistValue":{"values":[{"key":"trace_id","value":{"kvlistValue":{}}}]}}}]}},"attributes":[{"key":"tracking_id","value":{"bytesValue":"AAAA"}}]}]}]}]}`))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"request_id","value":{"doubleValue":-9007199254740992}},{"key":"tracking.id.original","value":{"intValue":"5"}}]}]}]}]}`))

	cfg := createDefaultConfig().(*Config)
	p := newTestProcessor(f, cfg)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(data)
		if err != nil {
			return
		}
		before := plog.NewLogs()
		in.CopyTo(before)
		out, err := p.processLogs(context.Background(), in)
		require.NoError(t, err)
		require.Equal(t, before.LogRecordCount(), out.LogRecordCount())
		forEachLogPair(before, out, func(b, a plog.LogRecord) {
			require.Equal(t, render(b.Body().AsRaw()), render(a.Body().AsRaw()), "the body never changes")
			if !b.TraceID().IsEmpty() {
				require.Equal(t, b.TraceID(), a.TraceID(), "an existing trace ID never changes")
			}
			if a.TraceID().IsEmpty() {
				require.Equal(t, render(b.Attributes().AsRaw()), render(a.Attributes().AsRaw()), "a record left without trace ID is left alone")
				return
			}
			v, ok := a.Attributes().Get(cfg.LogAttribute)
			require.True(t, ok)
			require.Equal(t, pcommon.ValueTypeStr, v.Type())
			require.True(t, isLowerHex32(v.Str()))
			require.Equal(t, traceHex(a.TraceID()), v.Str())
			if b.TraceID().IsEmpty() {
				// Derived: the original value, when written, derives to exactly this trace ID.
				o, ok := a.Attributes().Get(cfg.OriginalAttribute)
				bo, bok := b.Attributes().Get(cfg.OriginalAttribute)
				if ok && (!bok || render(bo.AsRaw()) != render(o.AsRaw())) {
					id, valid := deriveTraceID(rawID{s: o.Str()})
					require.True(t, valid)
					require.Equal(t, a.TraceID(), id)
				}
				d, ok := a.Attributes().Get(DerivedAttribute)
				require.True(t, ok && d.Type() == pcommon.ValueTypeBool && d.Bool(), "a derived ID is marked derived")
			}
			require.Equal(t, attrsOtherThan(b.Attributes(), cfg.LogAttribute, cfg.OriginalAttribute, DerivedAttribute),
				attrsOtherThan(a.Attributes(), cfg.LogAttribute, cfg.OriginalAttribute, DerivedAttribute), "no other attribute changes")
		})
	})
}

func forEachLogPair(b, a plog.Logs, fn func(b, a plog.LogRecord)) {
	for i := 0; i < b.ResourceLogs().Len(); i++ {
		bs, as := b.ResourceLogs().At(i).ScopeLogs(), a.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < bs.Len(); j++ {
			for k := 0; k < bs.At(j).LogRecords().Len(); k++ {
				fn(bs.At(j).LogRecords().At(k), as.At(j).LogRecords().At(k))
			}
		}
	}
}

func FuzzProcessMetrics(f *testing.F) {
	md, err := golden.ReadMetrics(filepath.Join("testdata", "metrics", "input.yaml"))
	require.NoError(f, err)
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"count":"3","sum":"NaN","attributes":[{"key":"trace_id","value":{"intValue":"0"}}]}]}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"attributes":[{"key":"trace_id","value":{"stringValue":"00000000-0000-0000-0000-000000000000"}},{"key":"tracking_id","value":{"arrayValue":{"values":[{"stringValue":"a"}]}}}]}]}}]}]}]}`))
	for _, c := range hostile.Cases("fuzz", time.Unix(1_700_000_000, 0)) {
		f.Add(c.JSON()) // the hostile points of issue 12
	}

	cfg := createDefaultConfig().(*Config)
	p := newTestProcessor(f, cfg)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(data)
		if err != nil {
			return
		}
		before := pmetric.NewMetrics()
		in.CopyTo(before)
		out, err := p.processMetrics(context.Background(), in)
		require.NoError(t, err)
		require.Equal(t, before.DataPointCount(), out.DataPointCount())
		forEachPointPair(before, out, func(battrs, aattrs pcommon.Map, bex, aex pmetric.ExemplarSlice, ts pcommon.Timestamp) {
			require.Equal(t, render(battrs.AsRaw()), render(aattrs.AsRaw()), "labels never change")
			added := aex.Len() - bex.Len()
			require.Contains(t, []int{0, 1}, added, "at most one exemplar is added")
			for i := 0; i < bex.Len(); i++ {
				require.Equal(t, bex.At(i).TraceID(), aex.At(i).TraceID(), "existing exemplars stay")
			}
			if added == 1 {
				ex := aex.At(aex.Len() - 1)
				require.False(t, ex.TraceID().IsEmpty(), "never an all-zero trace ID")
				require.Equal(t, ts, ex.Timestamp())
				for i := 0; i < bex.Len(); i++ {
					require.NotEqual(t, bex.At(i).TraceID(), ex.TraceID(), "no duplicate exemplar")
				}
			}
		})
	})
}

// forEachPointPair calls fn for each data point that can carry exemplars (all but summaries)
// of b with the point at the same place in a.
func forEachPointPair(b, a pmetric.Metrics, fn func(battrs, aattrs pcommon.Map, bex, aex pmetric.ExemplarSlice, ts pcommon.Timestamp)) {
	for i := 0; i < b.ResourceMetrics().Len(); i++ {
		bs, as := b.ResourceMetrics().At(i).ScopeMetrics(), a.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < bs.Len(); j++ {
			for k := 0; k < bs.At(j).Metrics().Len(); k++ {
				var after []pmetricutil.Point
				pmetricutil.EachPoint(as.At(j).Metrics().At(k), func(_ int, p pmetricutil.Point) { after = append(after, p) })
				pmetricutil.EachPoint(bs.At(j).Metrics().At(k), func(n int, bp pmetricutil.Point) {
					if bp.HasExemplars {
						ap := after[n]
						fn(bp.Attributes, ap.Attributes, bp.Exemplars, ap.Exemplars, bp.Timestamp)
					}
				})
			}
		}
	}
}
