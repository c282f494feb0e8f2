// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// inspector checks every batch the mock backend receives, at full rate, and keeps the first
// few problems. Both airi and the OTTL equivalent must pass the same checks (which is also how
// we know the OTTL statements do the same job); bare must leave the data untouched.
type inspector struct {
	kind     string
	problems atomic.Uint64
	mu       sync.Mutex
	first    []string
}

// rawOf is v's value for a failure message, or "<missing>" when Map.Get found nothing: the
// zero Value Get returns then panics on every read, which in the mock backend's handler
// closes the exporter's connection instead of reporting the problem.
func rawOf(v pcommon.Value, ok bool) any {
	if !ok {
		return "<missing>"
	}
	return v.AsRaw()
}

func (in *inspector) fail(format string, args ...any) {
	if in.problems.Add(1) > 5 {
		return
	}
	in.mu.Lock()
	in.first = append(in.first, fmt.Sprintf(format, args...))
	in.mu.Unlock()
}

func (in *inspector) report() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return fmt.Sprintf("%d problems, first: %s", in.problems.Load(), strings.Join(in.first, "; "))
}

func (in *inspector) resourceLabels(res pcommon.Map) {
	for k, want := range map[string]string{"environment": resEnvironment, "project": resProject, "service": resService} {
		got, ok := res.Get(k)
		switch {
		case in.kind == kindBare && ok:
			in.fail("bare pipeline added resource %s", k)
		case in.kind != kindBare && (!ok || got.AsString() != want):
			in.fail("resource %s = %v, want %q", k, rawOf(got, ok), want)
		}
	}
}

// upgraded checks the old HTTP keys: gone and replaced (airi, ottl) or untouched (bare).
func (in *inspector) upgraded(attrs pcommon.Map, what string) {
	_, hasOld := attrs.Get("http.method")
	_, hasNew := attrs.Get("http.request.method")
	if in.kind == kindBare {
		if !hasOld || hasNew {
			in.fail("%s: bare changed http.method", what)
		}
		return
	}
	if hasOld || !hasNew {
		in.fail("%s: http.method not upgraded to http.request.method (%v)", what, attrs.AsRaw())
	}
}

func (in *inspector) traces(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		in.resourceLabels(rss.At(i).Resource().Attributes())
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				in.upgraded(s.Attributes(), "span")
				id, ok := s.Attributes().Get("tracking.id")
				switch {
				case in.kind == kindBare && ok:
					in.fail("bare added tracking.id")
				case in.kind != kindBare && (!ok || id.Str() != s.TraceID().String()):
					in.fail("span tracking.id = %v, trace ID %s", rawOf(id, ok), s.TraceID())
				}
			}
		}
	}
}

// derivedTraceID is tracking_id's documented rule 4 (README "Deriving a trace ID").
func derivedTraceID(v string) pcommon.TraceID {
	sum := sha256.Sum256([]byte(strings.TrimSpace(v)))
	var id pcommon.TraceID
	copy(id[:], sum[:16])
	return id
}

func (in *inspector) logs(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		in.resourceLabels(rls.At(i).Resource().Attributes())
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				in.logRecord(lrs.At(k))
			}
		}
	}
}

func (in *inspector) logRecord(lr plog.LogRecord) {
	attrs := lr.Attributes()
	in.upgraded(attrs, "log")
	tid, hasTID := attrs.Get("tracking_id")
	req, hasReq := attrs.Get("trace_id")
	if in.kind == kindBare {
		if hasTID || (hasReq && !lr.TraceID().IsEmpty()) {
			in.fail("bare changed log correlation")
		}
		return
	}
	if hasReq {
		want := derivedTraceID(req.Str())
		if lr.TraceID() != want {
			in.fail("log with %s: trace ID %s, want %s", req.Str(), lr.TraceID(), want)
		}
		if orig, ok := attrs.Get("tracking.id.original"); !ok || orig.Str() != req.Str() {
			in.fail("log with %s: tracking.id.original = %v", req.Str(), rawOf(orig, ok))
		}
	}
	if !hasTID || tid.Str() != lr.TraceID().String() || lr.TraceID().IsEmpty() {
		in.fail("log tracking_id = %v, trace ID %s", rawOf(tid, hasTID), lr.TraceID())
	}
}

// seriesTracker follows the cumulative counter the mock backend receives: per output series
// (metric name + labels) its largest value. The guard's output series are monotonic
// cumulative sums, so the largest value is the latest, whatever order concurrent exports
// arrive in; and since every member's value is counted in exactly one output series, the sum
// of the series' latest values equals the sum of every member's last sent value exactly when
// no count was lost or double-counted.
type seriesTracker struct {
	mu     sync.Mutex
	last   map[string]int64
	total  int64
	points uint64
	// per metric name: output series
	series map[string]int
	keyBuf []string
}

func newSeriesTracker() *seriesTracker {
	return &seriesTracker{last: map[string]int64{}, series: map[string]int{}}
}

func (st *seriesTracker) metrics(md pmetric.Metrics) {
	st.mu.Lock()
	defer st.mu.Unlock()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Type() != pmetric.MetricTypeSum {
					continue
				}
				dps := m.Sum().DataPoints()
				for p := 0; p < dps.Len(); p++ {
					dp := dps.At(p)
					st.points++
					key := st.key(m.Name(), dp.Attributes())
					v := dp.IntValue()
					old, seen := st.last[key]
					if !seen {
						st.series[m.Name()]++
					}
					if !seen || v > old {
						st.total += v - old
						st.last[key] = v
					}
				}
			}
		}
	}
}

func (st *seriesTracker) key(name string, attrs pcommon.Map) string {
	st.keyBuf = st.keyBuf[:0]
	for k, v := range attrs.All() {
		st.keyBuf = append(st.keyBuf, k+"="+v.AsString())
	}
	sort.Strings(st.keyBuf)
	return name + "{" + strings.Join(st.keyBuf, ",") + "}"
}

func (st *seriesTracker) Total() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.total
}

func (st *seriesTracker) SeriesOf(name string) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.series[name]
}

// Keys returns the output series seen, sorted.
func (st *seriesTracker) Keys() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.last))
	for k := range st.last {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// metricInspector checks names and labels of every received point.
func (in *inspector) metrics(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				// as Mimir stores it: the remote-write exporter escapes names and label keys
				// (translation_strategy UnderscoreEscapingWithoutSuffixes adds no suffix)
				wantName := "airi_load_requests_total"
				if in.kind == kindBare {
					wantName = "airi_load_requests"
				}
				if m.Name() != wantName {
					in.fail("metric name %q, want %q", m.Name(), wantName)
				}
				dps := m.Sum().DataPoints()
				for p := 0; p < dps.Len(); p++ {
					attrs := dps.At(p).Attributes()
					_, hasUser := attrs.Get("user_id")
					env, hasEnv := attrs.Get("environment")
					if in.kind == kindBare {
						if !hasUser || hasEnv {
							in.fail("bare changed point labels: %v", attrs.AsRaw())
						}
						continue
					}
					if hasUser || !hasEnv || env.Str() != resEnvironment {
						in.fail("point labels %v: want user_id stripped and environment=%s", attrs.AsRaw(), resEnvironment)
					}
				}
			}
		}
	}
}
