// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/airi-otel/otelcol-airi/processor/trackingid/internal/metadata"
)

// fullAttrLogs is n log records whose 8 attributes fill their slice exactly, as the OTLP
// receiver leaves them (it appends one attribute at a time: capacity 1, 2, 4, 8, ...); even
// records have trace context, odd ones a request ID to derive from.
func fullAttrLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := lrs.AppendEmpty()
		a := lr.Attributes()
		for j := range 7 {
			a.PutStr("attr"+strconv.Itoa(j), "value")
		}
		if i%2 == 0 {
			a.PutStr("other", "value")
			lr.SetTraceID(pcommon.TraceID{0xa1, 15: byte(i), 14: byte(i >> 8)})
		} else {
			a.PutStr("trace_id", "req-"+strconv.Itoa(i))
		}
	}
	return ld
}

// TestLogAttributesGrowOnce: a record whose attribute slice is full grows it once, to the size
// the written attributes need, not by doubling (8 -> 16 attributes of 40 bytes each: 640 B a
// record, the largest allocation on the gateway's log path, and GC work after it).
func TestLogAttributesGrowOnce(t *testing.T) {
	const n = 2000
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), createDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	ld := fullAttrLogs(n)
	require.NoError(t, p.ConsumeLogs(context.Background(), fullAttrLogs(16))) // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	runtime.ReadMemStats(&after)
	perRecord := float64(after.TotalAlloc-before.TotalAlloc) / n
	t.Logf("%.0f bytes allocated a record", perRecord)
	// With trace context: 9 attributes (384 B size class) + the value (16 B) + its share of the
	// hex chunks (32 B); derived: 11 attributes (448 B) + the original and the flag. Doubling
	// to 16 attributes alone is 640 B.
	require.Less(t, perRecord, 560.0, "bytes allocated per log record: did the attribute slice double?")
	// and the records got what they should
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := range 2 {
		v, ok := lr.At(i).Attributes().Get(createDefaultConfig().(*Config).LogAttribute)
		require.True(t, ok)
		require.Equal(t, lr.At(i).TraceID().String(), v.Str())
	}
	_, derived := lr.At(1).Attributes().Get(DerivedAttribute)
	require.True(t, derived)
}
