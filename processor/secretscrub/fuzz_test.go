// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// planted are secrets the fuzzer surrounds with arbitrary text (separated by a space, since a
// token glued to a word is by design not a token): they must never survive.
var planted = []string{testStripe, testJWT, testCard, testAWS, testGitHub, "Bearer " + testJWT, testAnthropic}

func FuzzScrubString(f *testing.F) {
	for _, s := range []string{
		"", "=", "://@", "a=b", "api_key=", "Bearer ", "Basic ====", "eyJ..", "4242 4242 4242 ", "x@y.zz",
		"https://u:p@h/?token=t&sig=s", "sk-ant-", "AKIA", "4 4 4 4 4 4 4 4 4 4 4 4 4", "\xff\xfe=\x00",
	} {
		f.Add(s, "", uint8(0))
	}
	s := newTestScrubber(f, &Config{Enabled: true, MaskEmails: true, ExtraPrefixes: []string{"xoxb-"}})
	f.Fuzz(func(t *testing.T, before, after string, which uint8) {
		secret := planted[int(which)%len(planted)]
		in := before + " " + secret + " " + after
		out, _ := s.scrubString(in)
		require.NotContains(t, out, secret)
		again, changed := s.scrubString(out)
		require.False(t, changed, "idempotent: %q -> %q", out, again)

		plain, _ := s.scrubString(before)
		again, changed = s.scrubString(plain)
		require.False(t, changed, "idempotent: %q -> %q", plain, again)
	})
}

// attrsKept: the allowed keys keep their values and no key disappears.
func requireSameKeys(t *testing.T, before, after pcommon.Map) {
	t.Helper()
	require.Equal(t, before.Len(), after.Len())
	for k, v := range before.All() {
		got, ok := after.Get(k)
		require.True(t, ok, k)
		if k == "tracking.id" || k == "tracking_id" || k == "trace_id" {
			require.Equal(t, v.AsRaw(), got.AsRaw())
		}
	}
}

func FuzzProcessTraces(f *testing.F) {
	td := ptrace.NewTraces()
	secretSpan(td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty())
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"cookie","value":{"kvlistValue":{"values":[{"key":"a","value":{"bytesValue":"AA=="}}]}}},{"key":"token","value":{"doubleValue":1e300}}]}]}]}]}`))
	p := newScrubProcessor(createDefaultConfig().(*Config), nopTelemetry(f))
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
		for i, rs := range before.ResourceSpans().All() {
			ors := out.ResourceSpans().At(i)
			requireSameKeys(t, rs.Resource().Attributes(), ors.Resource().Attributes())
			for j, ss := range rs.ScopeSpans().All() {
				for k, s := range ss.Spans().All() {
					os := ors.ScopeSpans().At(j).Spans().At(k)
					require.Equal(t, s.TraceID(), os.TraceID())
					requireSameKeys(t, s.Attributes(), os.Attributes())
				}
			}
		}
		once := ptrace.NewTraces()
		out.CopyTo(once)
		twice, err := p.processTraces(context.Background(), out)
		require.NoError(t, err)
		require.Equal(t, once, twice, "idempotent")
	})
}

func FuzzProcessLogs(f *testing.F) {
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"card 4242424242424242 key sk_live_4eC39HqLyjWDarjtT1zdp7dc"},"attributes":[{"key":"password","value":{"stringValue":"hunter2"}}]}]}]}]}`))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"headers","value":{"kvlistValue":{"values":[{"key":"Authorization","value":{"arrayValue":{"values":[{"stringValue":"Bearer x"}]}}}]}}}]}}}]}]}]}`))
	p := newScrubProcessor(&Config{Enabled: true, MaskEmails: true}, nopTelemetry(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(data)
		if err != nil {
			return
		}
		n := in.LogRecordCount()
		out, err := p.processLogs(context.Background(), in)
		require.NoError(t, err)
		require.Equal(t, n, out.LogRecordCount())
		once := plog.NewLogs()
		out.CopyTo(once)
		twice, err := p.processLogs(context.Background(), out)
		require.NoError(t, err)
		require.Equal(t, once, twice, "idempotent")
	})
}

func FuzzProcessMetrics(f *testing.F) {
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{"asInt":"1","attributes":[{"key":"token","value":{"stringValue":"abc"}},{"key":"url","value":{"stringValue":"/?api_key=x"}}],"exemplars":[{"filteredAttributes":[{"key":"secret","value":{"intValue":"7"}}]}]}]}}]}]}]}`))
	p := newScrubProcessor(createDefaultConfig().(*Config), nopTelemetry(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(data)
		if err != nil {
			return
		}
		n := in.DataPointCount()
		out, err := p.processMetrics(context.Background(), in)
		require.NoError(t, err)
		require.Equal(t, n, out.DataPointCount())
		once := pmetric.NewMetrics()
		out.CopyTo(once)
		twice, err := p.processMetrics(context.Background(), out)
		require.NoError(t, err)
		require.Equal(t, once, twice, "idempotent")
	})
}
