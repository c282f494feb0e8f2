// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub

import (
	"context"
	"math/rand/v2"
	"strings"
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

// scrubEveryPosition is scrubString without its shortcuts (the length floor, the pair table
// read eight positions at a time, the word-boundary check before matchAt): matchAt at every
// position. The shortcuts must never skip a secret it finds.
func scrubEveryPosition(s *scrubber, str string) (string, bool) {
	if str == "" || s.isAllowedValue(str) {
		return str, false
	}
	var out []byte
	last, changed := 0, false
	for i := 0; i < len(str); {
		m, ok := s.matchAt(str, i, last)
		if !ok {
			i++
			continue
		}
		changed = true
		out = append(out, str[last:m.keep]...)
		out = append(out, mask...)
		last, i = m.end, m.end
		s.tally[m.rule]++
	}
	res := str
	if changed {
		res = string(append(out, str[last:]...))
	}
	return s.maskPatterns(res, changed)
}

// shortcutConfigs switch rules on and off, so the pair table and the length floor differ: a
// one-letter extra key makes `k=v` the shortest match, an extra prefix starts with punctuation.
var shortcutConfigs = []*Config{
	{Enabled: true},
	{Enabled: true, MaskEmails: true, ExtraPrefixes: []string{"xoxb-", "$tk"}, ExtraKeys: []string{"k"}},
	{Enabled: true, DisabledRules: []Rule{RuleCard, RuleQueryParam, RuleJWT, RuleBearer}},
	{Enabled: true, DisabledRules: []Rule{RuleBasic, RuleStripe, RuleOpenAI, RuleAnthropic, RuleAWS, RuleGitHub, RuleGoogle, RuleQueryParam}, AllowValues: []string{testCard}},
	{Enabled: true, ExtraPatterns: []string{`\bcust_[0-9]{6}\b`}},
}

func requireSameAsEveryPosition(t *testing.T, fast, slow []*scrubber, in string) {
	t.Helper()
	for i := range fast {
		got, changed := fast[i].scrubString(in)
		want, wantChanged := scrubEveryPosition(slow[i], in)
		require.Equal(t, want, got, "config %d, %q", i, in)
		require.Equal(t, wantChanged, changed, "config %d, %q", i, in)
		require.Equal(t, slow[i].tally, fast[i].tally, "config %d, %q", i, in)
	}
}

func newShortcutScrubbers(t testing.TB) (fast, slow []*scrubber) {
	for _, cfg := range shortcutConfigs {
		fast = append(fast, newTestScrubber(t, cfg))
		slow = append(slow, newTestScrubber(t, cfg))
	}
	return fast, slow
}

// scanPieces are what secrets, their look-alikes and their surroundings are made of.
var scanPieces = []string{
	testJWT, testStripe, testOpenAI, testAnthropic, testAWS, testGitHub, testGoogle, testCard, testBasic,
	"Bearer ", "bearer ", "Basic ", "eyJ", "eyJhbGciOiJIUzI1", ".", "=", "&", "?", ";", ":", "://", "@",
	"@example.com", "api_key", "token", "password", "k", "--", "-", "_", " ", "\t", "x", "AKIA", "AIza",
	"ya29.", "sk-", "sk_live_", "whsec_", "ghp_", "github_pat_", "xoxb-", "$tk", "4242", "4242 ", "4242-",
	"5555555555554444", "378282246310005", "4222222222222", "0", "2", "5", "9", "12345678", "ABCDEFGHIJKLMNOP",
	"abcdefghijklmnopqrstuvwxyz0123", "****", "https://", "u:p@", "/", "\"", "é", "\xff", "cust_123456",
}

// TestScanShortcutsSkipNothing: on strings built from secrets and their look-alikes, scrubString
// masks exactly what matchAt at every position masks, under rule sets with different shortcuts.
func TestScanShortcutsSkipNothing(t *testing.T) {
	t.Parallel()
	fast, slow := newShortcutScrubbers(t)
	rng := rand.New(rand.NewPCG(18, 18))
	var sb strings.Builder
	for range 20000 {
		sb.Reset()
		for range 1 + rng.IntN(6) {
			sb.WriteString(scanPieces[rng.IntN(len(scanPieces))])
		}
		requireSameAsEveryPosition(t, fast, slow, sb.String())
	}
}

func FuzzScanShortcuts(f *testing.F) {
	for _, p := range scanPieces {
		f.Add(p + " " + p)
	}
	fast, slow := newShortcutScrubbers(f)
	f.Fuzz(func(t *testing.T, in string) {
		requireSameAsEveryPosition(t, fast, slow, in)
	})
}

// keyPieces build attribute keys around the secret and allowed ones.
var keyPieces = []string{
	"authorization", "Proxy-Authorization", "cookie", "SET_COOKIE", "x-api-key", "api_key", "apikey",
	"password", "token", "Access-Token", "private_key", "aws_secret_access_key", "tracking.id",
	"tracking_id", "TRACE_ID", "span_id", "k", "x-stripe-signature", "http.request.header.",
	"http_request_header_", "HTTP_RESPONSE_HEADER_", "db.", ".", "_", "-", "x", "method", "é",
}

// requireKeyFilterSkipsNothing: a key that is allowed or secret always passes the pre-checks.
func requireKeyFilterSkipsNothing(t *testing.T, ss []*scrubber, k string) {
	t.Helper()
	for i, s := range ss {
		if s.r.allowKeys.has(k) || s.r.keys.hasKeyOrTail(k) {
			require.True(t, s.r.mayBeSpecial(k), "config %d, %q", i, k)
		}
		if s.r.keys.hasKeyOrTail(k) {
			require.True(t, s.r.keys.mayMatch(k), "config %d, %q", i, k)
		}
		for _, str := range []string{k + "=v", "x " + k + "=v", "-" + k + "=v"} {
			eq := len(str) - 2
			for last := range eq {
				if s.r.params.namesParam(str, eq, last) {
					require.True(t, s.r.params.mayEndAt(str, eq, last), "config %d, %q after %d", i, str, last)
				}
			}
		}
	}
}

func TestKeyFilterSkipsNothing(t *testing.T) {
	t.Parallel()
	ss, _ := newShortcutScrubbers(t)
	rng := rand.New(rand.NewPCG(18, 19))
	var sb strings.Builder
	matched := 0
	for range 8000 {
		sb.Reset()
		for range 1 + rng.IntN(4) {
			sb.WriteString(keyPieces[rng.IntN(len(keyPieces))])
		}
		k := sb.String()
		requireKeyFilterSkipsNothing(t, ss, k)
		if ss[0].r.keys.hasKeyOrTail(k) {
			matched++
		}
	}
	require.Greater(t, matched, 400, "the generated keys name secrets often enough to test the filter")
}

func FuzzKeyFilter(f *testing.F) {
	for _, p := range keyPieces {
		f.Add(p)
	}
	ss, _ := newShortcutScrubbers(f)
	f.Fuzz(func(t *testing.T, k string) { requireKeyFilterSkipsNothing(t, ss, k) })
}
