// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub

import (
	"context"
	"fmt"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	_ "github.com/airi-otel/otelcol-airi/internal/pdatapooling" // AIRI_PDATA_PROTO_POOLING=1 turns pdata.useProtoPooling on
	"github.com/airi-otel/otelcol-airi/processor/secretscrub/internal/metadata"
)

// batchSize is the number of spans / log records per benchmark batch; every tenth one carries
// secrets (dirty), the others only ordinary values that every rule must scan and let pass.
const (
	batchSize  = 100
	dirtyEvery = 10
)

// redactionConfig is the contrib redaction processor doing what regular expressions can of
// this processor's work: the same keys, the same value shapes (no Luhn: any 13-19 digits; no
// readable replacement; no `user:password@`), summary off. See README "Why not redaction".
var redactionConfig = map[string]any{
	"allow_all_keys":       true,
	"summary":              "silent",
	"blocked_key_patterns": []any{`(?i)^(.*\.)?(authorization|proxy[-_]authorization|cookie|set[-_]cookie|x[-_]api[-_]key|api[-_]?key|password|passwd|secret|client[-_]secret|token|access[-_]token|refresh[-_]token|private[-_]key)$`},
	"blocked_values": []any{
		`(?i)\b(bearer|basic) [A-Za-z0-9._~+/-]{8,}=*`,
		`\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*`,
		`\b(sk|rk)_(live|test)_[A-Za-z0-9]{8,}|\bwhsec_[A-Za-z0-9]{8,}`,
		`\bsk-[A-Za-z0-9_-]{20,}`,
		`\b(AKIA|ASIA)[A-Z0-9]{16}\b`,
		`\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}`,
		`\bAIza[A-Za-z0-9_-]{30,}|\bya29\.[A-Za-z0-9_.-]{20,}`,
		`\b[2-6][0-9]{12,18}\b`,
		`(?i)\b(api[-_]?key|token|access[-_]token|password|secret|signature|sig|key)=[^&\s]+`,
	},
}

type secretSlot struct {
	m   pcommon.Map
	key string
	val string
}

// benchTraces: SDK HTTP server spans; every tenth carries an Authorization header and an
// api_key in its URL. The slots let each iteration put the raw secrets back.
func benchTraces() (ptrace.Traces, []secretSlot) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "billing-api")
	rs.Resource().Attributes().PutStr("deployment.environment.name", "production")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	var slots []secretSlot
	for i := 0; i < batchSize; i++ {
		s := spans.AppendEmpty()
		s.SetName("POST /v1/charges")
		s.SetTraceID(pcommon.TraceID{0x4b, 0xf9, byte(i), 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36})
		a := s.Attributes()
		a.PutStr("http.request.method", "POST")
		a.PutStr("url.path", "/v1/charges")
		a.PutStr("url.full", fmt.Sprintf("https://billing.internal/v1/charges?customer=cus_%06d&limit=20", i))
		a.PutInt("http.response.status_code", 200)
		a.PutStr("server.address", "billing.internal")
		a.PutStr("user_agent.original", "Stripe/v1 PythonBindings/7.8.0")
		a.PutStr("tracking.id", "4bf92f3577b34da6a3ce929d0e0e4736")
		a.PutStr("user.email", "jane.doe@example.com")
		if i%dirtyEvery == 0 {
			slots = append(slots,
				secretSlot{a, "http.request.header.authorization", "Bearer " + testJWT},
				secretSlot{a, "url.full", "https://api.stripe.com/v1/charges?api_key=" + testStripe + "&limit=3"})
		}
	}
	return td, slots
}

// benchLogs: application log lines as string bodies with a few attributes; every tenth one
// names a card number and an API key.
func benchLogs() (plog.Logs, []pcommon.Value, []string) {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	var bodies []pcommon.Value
	var raw []string
	for i := 0; i < batchSize; i++ {
		lr := lrs.AppendEmpty()
		a := lr.Attributes()
		a.PutStr("logger", "billing.charges")
		a.PutStr("request_id", fmt.Sprintf("req-%06d", i))
		a.PutInt("attempt", 1)
		body := fmt.Sprintf("charge ch_3NzX%06d created for customer cus_%06d amount=4200 currency=eur in 183ms", i, i)
		if i%dirtyEvery == 0 {
			body = "stripe charge failed for card " + testCard + " key " + testStripe + " (card_declined)"
			bodies = append(bodies, lr.Body())
			raw = append(raw, body)
		}
		lr.Body().SetStr(body)
	}
	return ld, bodies, raw
}

// perItem reports wall and CPU time per span / record. cpu-ns counts the whole process (GC
// included) over the loop: on a shared machine it is the work done, where wall time also
// counts waiting for a CPU.
func perItem(b *testing.B, unit string, cpuStart int64) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/"+unit)
	b.ReportMetric(float64(processCPUTime()-cpuStart)/float64(b.N*batchSize), "cpu-ns/"+unit)
}

func redactionProcessorConfig(tb testing.TB) component.Config {
	f := redactionprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(tb, confmap.NewFromStringMap(redactionConfig).Unmarshal(cfg))
	return cfg
}

// Each iteration consumes the batch, then puts the raw secrets back (reset_only measures that
// reset alone, the bare pass: the processor's cost is the difference).
func BenchmarkTraces(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, consume func(ptrace.Traces) error) {
		td, slots := benchTraces()
		b.ReportAllocs()
		cpu := processCPUTime()
		for b.Loop() {
			if err := consume(td); err != nil {
				b.Fatal(err)
			}
			for _, s := range slots {
				s.m.PutStr(s.key, s.val)
			}
		}
		perItem(b, "span", cpu)
	}
	b.Run("reset_only", func(b *testing.B) { run(b, func(ptrace.Traces) error { return nil }) })
	b.Run("secret_scrub", func(b *testing.B) {
		f := NewFactory()
		p, err := f.CreateTraces(ctx, processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
		require.NoError(b, err)
		run(b, func(td ptrace.Traces) error { return p.ConsumeTraces(ctx, td) })
	})
	b.Run("redaction_contrib", func(b *testing.B) {
		f := redactionprocessor.NewFactory()
		p, err := f.CreateTraces(ctx, processortest.NewNopSettings(f.Type()), redactionProcessorConfig(b), consumertest.NewNop())
		require.NoError(b, err)
		run(b, func(td ptrace.Traces) error { return p.ConsumeTraces(ctx, td) })
	})
}

func BenchmarkLogs(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, consume func(plog.Logs) error) {
		ld, bodies, raw := benchLogs()
		b.ReportAllocs()
		cpu := processCPUTime()
		for b.Loop() {
			if err := consume(ld); err != nil {
				b.Fatal(err)
			}
			for i, v := range bodies {
				v.SetStr(raw[i])
			}
			lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < lrs.Len(); i += dirtyEvery {
				lrs.At(i).Attributes().PutStr("password", "hunter2")
			}
		}
		perItem(b, "log", cpu)
	}
	b.Run("reset_only", func(b *testing.B) { run(b, func(plog.Logs) error { return nil }) })
	b.Run("secret_scrub", func(b *testing.B) {
		f := NewFactory()
		p, err := f.CreateLogs(ctx, processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
		require.NoError(b, err)
		run(b, func(ld plog.Logs) error { return p.ConsumeLogs(ctx, ld) })
	})
	b.Run("redaction_contrib", func(b *testing.B) {
		f := redactionprocessor.NewFactory()
		p, err := f.CreateLogs(ctx, processortest.NewNopSettings(f.Type()), redactionProcessorConfig(b), consumertest.NewNop())
		require.NoError(b, err)
		run(b, func(ld plog.Logs) error { return p.ConsumeLogs(ctx, ld) })
	})
}

// TestRedactionBaselineMasks keeps the benchmark honest: the contrib baseline really masks
// the planted secrets (otherwise it would be measured doing less work).
func TestRedactionBaselineMasks(t *testing.T) {
	ctx := context.Background()
	t.Parallel()
	f := redactionprocessor.NewFactory()
	cfg := redactionProcessorConfig(t)
	sink := new(consumertest.LogsSink)
	p, err := f.CreateLogs(ctx, processortest.NewNopSettings(f.Type()), cfg, sink)
	require.NoError(t, err)
	ld, _, _ := benchLogs()
	require.NoError(t, p.ConsumeLogs(ctx, ld))
	js, err := (&plog.JSONMarshaler{}).MarshalLogs(sink.AllLogs()[0])
	require.NoError(t, err)
	require.NotContains(t, string(js), testCard)
	require.NotContains(t, string(js), testStripe)
}

// BenchmarkMetrics: 100 histogram points with the labels a service's HTTP metric carries after
// airi_normalize (nothing to mask: labels rarely hold secrets, so this is the common cost).
func BenchmarkMetrics(b *testing.B) {
	ctx := context.Background()
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "billing-api")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http_server_request_duration_seconds")
	dps := m.SetEmptyHistogram().DataPoints()
	for i := 0; i < batchSize; i++ {
		a := dps.AppendEmpty().Attributes()
		a.PutStr("http_route", "/v1/charges")
		a.PutStr("http_request_method", "POST")
		a.PutStr("http_response_status_code", "200")
		a.PutStr("environment", "prod")
		a.PutStr("project", "airi")
		a.PutStr("service", "billing-api")
	}
	run := func(b *testing.B, consume func(pmetric.Metrics) error) {
		b.ReportAllocs()
		cpu := processCPUTime()
		for b.Loop() {
			if err := consume(md); err != nil {
				b.Fatal(err)
			}
		}
		perItem(b, "point", cpu)
	}
	b.Run("bare", func(b *testing.B) { run(b, func(pmetric.Metrics) error { return nil }) })
	b.Run("secret_scrub", func(b *testing.B) {
		f := NewFactory()
		p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(metadata.Type), f.CreateDefaultConfig(), consumertest.NewNop())
		require.NoError(b, err)
		run(b, func(md pmetric.Metrics) error { return p.ConsumeMetrics(ctx, md) })
	})
	b.Run("redaction_contrib", func(b *testing.B) {
		f := redactionprocessor.NewFactory()
		p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(f.Type()), redactionProcessorConfig(b), consumertest.NewNop())
		require.NoError(b, err)
		run(b, func(md pmetric.Metrics) error { return p.ConsumeMetrics(ctx, md) })
	})
}
