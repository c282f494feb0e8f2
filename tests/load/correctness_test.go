// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/testbed/testbed"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// httpUpgrades is airi_normalize's documented one-to-one key upgrade (ARCHITECTURE.md,
// processor/airinormalize/README.md), the oracle for what spans and logs may look like after
// it; http.target and http.host split into two keys.
var httpUpgrades = [][2]string{
	{"http.method", "http.request.method"},
	{"http.status_code", "http.response.status_code"},
	{"http.url", "url.full"},
	{"http.scheme", "url.scheme"},
	{"http.user_agent", "user_agent.original"},
	{"http.flavor", "network.protocol.version"},
	{"http.client_ip", "client.address"},
	{"net.peer.name", "server.address"},
	{"net.peer.port", "server.port"},
	{"net.host.name", "server.address"},
	{"net.host.port", "server.port"},
}

// expectedAttrs applies the documented upgrade to a copy of sent.
func expectedAttrs(sent pcommon.Map) pcommon.Map {
	m := pcommon.NewMap()
	sent.CopyTo(m)
	putIfAbsent := func(k string, v pcommon.Value) {
		if _, ok := m.Get(k); !ok {
			v.CopyTo(m.PutEmpty(k))
		}
	}
	if v, ok := m.Get("http.target"); ok {
		path, query, hasQuery := strings.Cut(v.AsString(), "?")
		m.Remove("http.target")
		putIfAbsent("url.path", pcommon.NewValueStr(path))
		if hasQuery && query != "" {
			putIfAbsent("url.query", pcommon.NewValueStr(query))
		}
	}
	if v, ok := m.Get("http.host"); ok {
		host := v.AsString()
		m.Remove("http.host")
		if h, p, found := strings.Cut(host, ":"); found {
			putIfAbsent("server.address", pcommon.NewValueStr(h))
			var port int64
			if _, err := fmt.Sscan(p, &port); err == nil {
				putIfAbsent("server.port", pcommon.NewValueInt(port))
			}
		} else {
			putIfAbsent("server.address", pcommon.NewValueStr(host))
		}
	}
	for _, r := range httpUpgrades {
		if v, ok := m.Get(r[0]); ok {
			nv := pcommon.NewValueEmpty()
			v.CopyTo(nv)
			m.Remove(r[0])
			putIfAbsent(r[1], nv)
		}
	}
	return m
}

// recordingTraces is the testbed's golden data provider, remembering what it sent.
type recordingTraces struct {
	testbed.DataProvider
	mu   sync.Mutex
	sent map[string]ptrace.Span
}

func (p *recordingTraces) GenerateTraces() (ptrace.Traces, bool) {
	td, done := p.DataProvider.GenerateTraces()
	p.mu.Lock()
	defer p.mu.Unlock()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			for k := 0; k < sss.At(j).Spans().Len(); k++ {
				s := sss.At(j).Spans().At(k)
				c := ptrace.NewSpan()
				s.CopyTo(c)
				p.sent[s.TraceID().String()+"-"+s.SpanID().String()] = c
			}
		}
	}
	return td, done
}

// airiSpanValidator checks what airi changes on each received span — the upgraded HTTP keys
// and `tracking.id` = trace ID, nothing else — against the sent span, puts the sent attributes
// back, and then lets the testbed's CorrectnessTestValidator compare every field (IDs, name,
// kind, timestamps, attributes, events, links, status) with what was sent.
type airiSpanValidator struct {
	t     *testing.T
	sent  *recordingTraces
	inner *testbed.CorrectnessTestValidator
}

func (v *airiSpanValidator) Validate(tc *testbed.TestCase) {
	require.Equal(v.t, tc.LoadGenerator.DataItemsSent(), tc.MockBackend.DataItemsReceived(), "spans lost")
	checked := 0
	for _, td := range tc.MockBackend.ReceivedTraces {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			for _, k := range []string{"environment", "project", "service"} {
				val, ok := rss.At(i).Resource().Attributes().Get(k)
				assert.True(v.t, ok && val.Str() != "", "resource label %s missing: %v", k, rss.At(i).Resource().Attributes().AsRaw())
			}
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				for k := 0; k < sss.At(j).Spans().Len(); k++ {
					recd := sss.At(j).Spans().At(k)
					sent, ok := v.sent.sent[recd.TraceID().String()+"-"+recd.SpanID().String()]
					if !assert.True(v.t, ok, "received a span never sent: %s", recd.SpanID()) {
						continue
					}
					want := expectedAttrs(sent.Attributes())
					want.PutStr("tracking.id", sent.TraceID().String())
					assert.Equal(v.t, want.AsRaw(), recd.Attributes().AsRaw(), "span %q attributes", sent.Name())
					sent.Attributes().CopyTo(recd.Attributes())
					checked++
				}
			}
		}
	}
	require.Positive(v.t, checked, "no span checked")
	v.inner.Validate(tc)
}

func (v *airiSpanValidator) RecordResults(tc *testbed.TestCase) { v.inner.RecordResults(tc) }

// TestCorrectnessTraces sends the testbed's pairwise golden span set through airi.
func TestCorrectnessTraces(t *testing.T) {
	golden := testbed.NewGoldenDataProvider(
		filepath.Join(repoRoot, "tests", "load", "testdata", "goldendataset", "generated_pict_pairs_traces.txt"),
		filepath.Join(repoRoot, "tests", "load", "testdata", "goldendataset", "generated_pict_pairs_spans.txt"), "")
	provider := &recordingTraces{DataProvider: golden, sent: map[string]ptrace.Span{}}
	sender := "otlp"
	v := &airiSpanValidator{t: t, sent: provider, inner: testbed.NewCorrectTestValidator(sender, "otlp_grpc", golden)}
	res := execute(t, run{
		signal: "traces", kind: kindAiri, provider: provider,
		opts:      testbed.LoadOptions{DataItemsPerSecond: 1024, ItemsPerBatch: 1},
		duration:  2 * time.Second,
		validator: v, summary: correctnessResults, recording: true,
		// the golden spans are large: the gateway's Jaeger exporter caps its batches at 3 MiB,
		// under the mock backend's (and Jaeger's) 4 MiB gRPC limit
	})
	requireHealthy(t, res)
	require.True(t, res.delivered, "sent %d, received %d", res.Sent, res.Received)
	res.tc.ValidateData()
}

// recordingLogs remembers every sent log record by (batch_index, item_index).
type recordingLogs struct {
	*logProvider
	mu   sync.Mutex
	sent map[[2]string]plog.LogRecord
}

func (p *recordingLogs) GenerateLogs() (plog.Logs, bool) {
	ld, done := p.logProvider.GenerateLogs()
	p.mu.Lock()
	defer p.mu.Unlock()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
				lr := sls.At(j).LogRecords().At(k)
				c := plog.NewLogRecord()
				lr.CopyTo(c)
				p.sent[logKey(lr)] = c
			}
		}
	}
	return ld, done
}

func logKey(lr plog.LogRecord) [2]string {
	b, _ := lr.Attributes().Get("batch_index")
	i, _ := lr.Attributes().Get("item_index")
	return [2]string{b.AsString(), i.AsString()}
}

// airiLogValidator compares every received log record field by field with the sent one, as
// airi must change it (upgraded HTTP keys; tracking_id; for request-ID-only records the
// derived trace ID and tracking.id.original), and that every record sent arrives exactly once.
//
// It records results like the testbed's CorrectnessLogTestValidator but does not call its
// Validate: at v0.157.0 that expects (batch_0.., item_0..ItemsPerBatch-1) pairs while the perf
// provider numbers batches from 1 and items globally, so it fails on any correct run.
type airiLogValidator struct {
	t     *testing.T
	sent  *recordingLogs
	inner *testbed.CorrectnessLogTestValidator
}

func (v *airiLogValidator) Validate(tc *testbed.TestCase) {
	require.Equal(v.t, tc.LoadGenerator.DataItemsSent(), tc.MockBackend.DataItemsReceived(), "log records lost")
	checked := 0
	seen := map[[2]string]int{}
	for _, ld := range tc.MockBackend.ReceivedLogs {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			res := rls.At(i).Resource().Attributes()
			for k, want := range map[string]string{"environment": resEnvironment, "project": resProject, "service": resService} {
				got, _ := res.Get(k)
				assert.Equal(v.t, want, got.AsString(), "resource %s", k)
			}
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
					recd := sls.At(j).LogRecords().At(k)
					sent, ok := v.sent.sent[logKey(recd)]
					seen[logKey(recd)]++
					if !assert.True(v.t, ok, "received a log record never sent: %v", logKey(recd)) {
						continue
					}
					want := plog.NewLogRecord()
					sent.CopyTo(want)
					expectedAttrs(sent.Attributes()).CopyTo(want.Attributes())
					if req, ok := sent.Attributes().Get("trace_id"); ok && sent.TraceID().IsEmpty() {
						want.SetTraceID(derivedTraceID(req.Str()))
						want.Attributes().PutStr("tracking.id.original", req.Str())
						want.Attributes().PutBool("tracking.id.derived", true)
					}
					want.Attributes().PutStr("tracking_id", want.TraceID().String())
					assert.Equal(v.t, want.Attributes().AsRaw(), recd.Attributes().AsRaw(), "attributes of %v", logKey(recd))
					assert.Equal(v.t, want.TraceID(), recd.TraceID(), "trace ID of %v", logKey(recd))
					assert.Equal(v.t, want.SpanID(), recd.SpanID(), "span ID of %v", logKey(recd))
					assert.Equal(v.t, want.Body().AsRaw(), recd.Body().AsRaw(), "body of %v", logKey(recd))
					assert.Equal(v.t, want.Timestamp(), recd.Timestamp(), "timestamp of %v", logKey(recd))
					assert.Equal(v.t, want.ObservedTimestamp(), recd.ObservedTimestamp(), "observed timestamp of %v", logKey(recd))
					assert.Equal(v.t, want.SeverityNumber(), recd.SeverityNumber(), "severity of %v", logKey(recd))
					assert.Equal(v.t, want.SeverityText(), recd.SeverityText(), "severity text of %v", logKey(recd))
					assert.Equal(v.t, want.Flags(), recd.Flags(), "flags of %v", logKey(recd))
					assert.Equal(v.t, want.EventName(), recd.EventName(), "event name of %v", logKey(recd))
					checked++
				}
			}
		}
	}
	require.Positive(v.t, checked, "no log record checked")
	require.Len(v.t, seen, len(v.sent.sent), "distinct records received != sent")
	for k, n := range seen {
		require.Equal(v.t, 1, n, "record %v received %d times", k, n)
	}
}

func (v *airiLogValidator) RecordResults(tc *testbed.TestCase) { v.inner.RecordResults(tc) }

// TestCorrectnessLogs sends the testbed's perf log records (with our request correlation)
// through airi at 1000 records/s and checks every record.
func TestCorrectnessLogs(t *testing.T) {
	opts := testbed.LoadOptions{DataItemsPerSecond: 1000, ItemsPerBatch: 10}
	inner := newLogProvider(opts)
	provider := &recordingLogs{logProvider: inner, sent: map[[2]string]plog.LogRecord{}}
	v := &airiLogValidator{t: t, sent: provider, inner: testbed.NewCorrectnessLogTestValidator(inner.DataProvider)}
	res := execute(t, run{
		signal: "logs", kind: kindAiri, provider: provider, opts: opts,
		duration: 2 * time.Second, validator: v, recording: true,
	})
	requireHealthy(t, res)
	require.True(t, res.delivered, "sent %d, received %d", res.Sent, res.Received)
	res.tc.ValidateData()
}
