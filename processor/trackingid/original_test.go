// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
)

// Issue 12, defect 8: a 10 MiB request ID was copied whole into tracking.id.original and
// became a 20 MiB line. The copy is capped like a label value; the trace ID is still derived
// from the whole value.
func TestOriginalValueIsCapped(t *testing.T) {
	t.Parallel()
	// the cut falls inside a two-byte rune: it must not split it
	huge := strings.Repeat("a", maxOriginalLen-len(originalTruncMarker)-1) + strings.Repeat("é", 5<<20)
	ctx := context.Background()
	set := processortest.NewNopSettings(NewFactory().Type())

	logs := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(ctx, set, createDefaultConfig(), logs)
	require.NoError(t, err)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes().PutStr("request_id", huge)
	require.NoError(t, lp.ConsumeLogs(ctx, ld))
	lr := logs.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	want, ok := deriveTraceID(rawID{s: huge})
	require.True(t, ok)
	require.Equal(t, want, lr.TraceID(), "derived from the whole value")
	checkCapped(t, lr.Attributes())

	traces := new(consumertest.TracesSink)
	tp, err := NewFactory().CreateTraces(ctx, set, createDefaultConfig(), traces)
	require.NoError(t, err)
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetTraceID(pcommon.TraceID{1, 2, 3})
	span.Attributes().PutStr("x-request-id", huge)
	require.NoError(t, tp.ConsumeTraces(ctx, td))
	checkCapped(t, traces.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes())

	// a value within the cap is kept whole
	require.Equal(t, "req-abc123", originalValue(rawID{s: "req-abc123"}))
}

func checkCapped(t *testing.T, attrs pcommon.Map) {
	t.Helper()
	v, ok := attrs.Get("tracking.id.original")
	require.True(t, ok)
	s := v.Str()
	require.LessOrEqual(t, len(s), maxOriginalLen)
	require.Greater(t, len(s), maxOriginalLen-len(originalTruncMarker)-4)
	require.True(t, strings.HasSuffix(s, originalTruncMarker), "ends in the marker")
	require.True(t, utf8.ValidString(s), "cut on a rune boundary")
}
