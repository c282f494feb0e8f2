// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/testbed/testbed"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The resource every generated batch carries: airi_normalize (and the OTTL equivalent) take
// environment/project/service from it.
const (
	resService     = "airi-load"
	resProject     = "airi"
	resEnvironment = "prod"
)

func fillResource(m pcommon.Map) {
	m.PutStr("service.name", resService)
	m.PutStr("service.namespace", resProject)
	m.PutStr("deployment.environment.name", resEnvironment)
	m.PutStr("service.instance.id", "load-1")
}

// traceProvider is the testbed's perf data provider (spans with old-semconv HTTP attributes
// from LoadOptions.Attributes) plus the service resource an SDK would send.
type traceProvider struct{ testbed.DataProvider }

func newTraceProvider(opts testbed.LoadOptions) *traceProvider {
	opts.Attributes = map[string]string{
		"http.method":      "GET",
		"http.status_code": "200",
		"http.url":         "https://api.airi.example/api/v1/chat",
	}
	return &traceProvider{testbed.NewPerfTestDataProvider(opts)}
}

func (p *traceProvider) GenerateTraces() (ptrace.Traces, bool) {
	td, done := p.DataProvider.GenerateTraces()
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		fillResource(td.ResourceSpans().At(i).Resource().Attributes())
	}
	return td, done
}

// logProvider is the testbed's perf data provider with the service resource, old HTTP keys,
// and request correlation: even records carry a trace context, odd ones only a
// `trace_id: "req-…"` attribute (a JSON gateway log line, seed 004), from which tracking_id
// derives a trace ID.
type logProvider struct {
	testbed.DataProvider
	seq atomic.Uint64
}

func newLogProvider(opts testbed.LoadOptions) *logProvider {
	opts.Attributes = map[string]string{
		"service.name":                resService,
		"service.namespace":           resProject,
		"deployment.environment.name": resEnvironment,
	}
	return &logProvider{DataProvider: testbed.NewPerfTestDataProvider(opts)}
}

func (p *logProvider) GenerateLogs() (plog.Logs, bool) {
	ld, done := p.DataProvider.GenerateLogs()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				n := p.seq.Add(1)
				lr.Attributes().PutStr("http.method", "POST")
				lr.Attributes().PutInt("http.status_code", 200)
				if n%2 == 0 {
					lr.SetTraceID(traceIDOf(n))
					lr.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(n)})
				} else {
					lr.Attributes().PutStr("trace_id", "req-"+strconv.FormatUint(n, 10))
				}
			}
		}
	}
	return ld, done
}

func traceIDOf(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = 0xa1
	for i := 0; i < 8; i++ {
		id[15-i] = byte(n >> (8 * i))
	}
	return id
}

// requestMetrics generates one monotonic cumulative counter, `airi.load.requests`, over a
// fixed set of members (input series). Unlike the testbed's perf provider (a gauge with a new
// `batch_index` series per metric per batch, 7 points per item), one item here is exactly one
// data point, so LoadOptions.DataItemsPerSecond is the real rate in data points/s.
//
// Members are visited round-robin; each point adds 1–3 to its member's counter, and the
// provider keeps the running total of every member's last value: whatever the collector
// merges, the final values of all output series must add up to it (no count lost).
type requestMetrics struct {
	members       int
	itemsPerBatch int
	// names: member m is a point of metric names[m%len(names)] (one name unless withMetrics)
	names  []string
	labels func(m int, attrs pcommon.Map)
	start  pcommon.Timestamp

	mu        sync.Mutex
	next      int
	seen      int // members sent at least once
	values    []int64
	total     int64
	generated *atomic.Uint64
}

func newRequestMetrics(members, itemsPerBatch int, labels func(int, pcommon.Map)) *requestMetrics {
	return &requestMetrics{
		members:       members,
		itemsPerBatch: itemsPerBatch,
		labels:        labels,
		start:         pcommon.NewTimestampFromTime(time.Now()),
		values:        make([]int64, members),
		names:         []string{"airi.load.requests"},
	}
}

// withMetrics spreads the members over n counters airi.load.requests0 … n-1, as a service with
// several metrics does (the guard bounds members per metric and producer).
func (p *requestMetrics) withMetrics(n int) *requestMetrics {
	p.names = make([]string, n)
	for i := range p.names {
		p.names[i] = "airi.load.requests" + strconv.Itoa(i)
	}
	return p
}

var methods = [...]string{"GET", "POST", "PUT", "DELETE"}

// standardLabels: 10k users over 20 routes × 4 methods × 2 status codes; stripping user_id
// leaves 160 series.
func standardLabels(m int, attrs pcommon.Map) {
	attrs.PutStr("http.request.method", methods[(m/20)%4])
	attrs.PutStr("http.route", "/api/v1/r"+strconv.Itoa(m%20))
	attrs.PutInt("http.response.status_code", int64(200+300*((m/80)%2)))
	attrs.PutStr("user_id", "user-"+strconv.Itoa(m))
}

// highCardinalityLabels: every member its own user, a raw URL path with the user's numeric ID
// (rewritten to {id}), and a kept `tenant` label with 1000 values: 4 methods × 1000 tenants =
// 4000 output series, twice the per-metric budget, so the overflow series must take the rest.
func highCardinalityLabels(m int, attrs pcommon.Map) {
	attrs.PutStr("http.request.method", methods[m%4])
	attrs.PutStr("url.path", "/api/v1/users/"+strconv.Itoa(100000+m)+"/orders")
	attrs.PutStr("tenant", "tenant-"+strconv.Itoa((m/4)%1000))
	attrs.PutStr("user_id", fmt.Sprintf("u-%08x", m*2654435761))
}

func (p *requestMetrics) SetLoadGeneratorCounters(c *atomic.Uint64) { p.generated = c }

func (*requestMetrics) GenerateTraces() (ptrace.Traces, bool) { return ptrace.NewTraces(), true }

func (*requestMetrics) GenerateLogs() (plog.Logs, bool) { return plog.NewLogs(), true }

func (p *requestMetrics) GenerateMetrics() (pmetric.Metrics, bool) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	fillResource(rm.Resource().Attributes())
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("airi-load")
	sums := make([]pmetric.NumberDataPointSlice, len(p.names))
	for i, name := range p.names {
		m := sm.Metrics().AppendEmpty()
		m.SetName(name)
		m.SetUnit("{request}")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		sums[i] = sum.DataPoints()
		sums[i].EnsureCapacity(p.itemsPerBatch / len(p.names))
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	// Stamped under the lock: with concurrent load workers, a member's next value must never
	// carry an older timestamp than its previous one (the guard would drop it as out of order
	// and the member's last count would be lost).
	now := pcommon.NewTimestampFromTime(time.Now())
	for i := 0; i < p.itemsPerBatch; i++ {
		member := p.next
		p.next = (p.next + 1) % p.members
		if p.values[member] == 0 {
			p.seen++
		}
		inc := int64(1 + (member+int(p.values[member]))%3)
		p.values[member] += inc
		p.total += inc
		dp := sums[member%len(sums)].AppendEmpty()
		dp.SetStartTimestamp(p.start)
		dp.SetTimestamp(now)
		dp.SetIntValue(p.values[member])
		p.labels(member, dp.Attributes())
	}
	p.generated.Add(uint64(p.itemsPerBatch))
	return md, false
}

// Total is the sum of every member's last sent value.
func (p *requestMetrics) Total() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// Sent is how many points were generated.
func (p *requestMetrics) Sent() uint64 { return p.generated.Load() }

// MembersSeen is how many distinct members have been sent at least once.
func (p *requestMetrics) MembersSeen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen
}
