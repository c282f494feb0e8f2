// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"testing"

	"github.com/prometheus/otlptranslator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestBuildPromName(t *testing.T) {
	t.Parallel()
	const (
		counter = otlptranslator.MetricTypeMonotonicCounter
		upDown  = otlptranslator.MetricTypeNonMonotonicCounter
		gauge   = otlptranslator.MetricTypeGauge
		hist    = otlptranslator.MetricTypeHistogram
		summary = otlptranslator.MetricTypeSummary
	)
	tests := []struct {
		name, unit string
		typ        otlptranslator.MetricType
		want       string
	}{
		// Seed 000's table, exactly.
		{"airi.billing.flux.consumed", "", counter, "airi_billing_flux_consumed_total"},
		{"http.server.request.duration", "s", hist, "http_server_request_duration_seconds"},
		{"ws.connections.active", "", upDown, "ws_connections_active"},
		{"airi.stripe.revenue", "minor_unit", counter, "airi_stripe_revenue_minor_unit_total"},
		{"auth.attempts", "", counter, "auth_attempts_total"},
		{"user.active_sessions", "", gauge, "user_active_sessions"},
		// Unit rules.
		{"v8js.memory.heap.used", "By", gauge, "v8js_memory_heap_used_bytes"},
		{"nodejs.eventloop.utilization", "1", gauge, "nodejs_eventloop_utilization_ratio"},
		{"nodejs.eventloop.delay.p99", "s", gauge, "nodejs_eventloop_delay_p99_seconds"},
		{"http.server.active_requests", "{request}", upDown, "http_server_active_requests"},
		{"queue.depth", "1", upDown, "queue_depth"},
		{"net.io", "By/s", counter, "net_io_bytes_per_second_total"},
		{"rpc.server.duration", "ms", summary, "rpc_server_duration_milliseconds"},
		{"2xx.count", "", counter, "_2xx_count_total"},
		// Already final: unchanged.
		{"airi_billing_flux_consumed_total", "", counter, "airi_billing_flux_consumed_total"},
		{"foo_total", "", counter, "foo_total"},
		{"x_seconds", "s", hist, "x_seconds"},
		{"cpu_ratio", "1", gauge, "cpu_ratio"},
		{"airi_stripe_revenue_minor_unit_total", "minor_unit", counter, "airi_stripe_revenue_minor_unit_total"},
		{"net_io_bytes_per_second_total", "By/s", counter, "net_io_bytes_per_second_total"},
		{"request_duration_seconds", "", hist, "request_duration_seconds"},
		// Not final yet: completed the way Prometheus would.
		{"request_count", "", counter, "request_count_total"},
		{"foo_total", "s", counter, "foo_seconds_total"},
		{"foo__bar_total", "", counter, "foo_bar_total"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.unit, func(t *testing.T) {
			t.Parallel()
			got, ok := buildPromName(tt.name, tt.unit, tt.typ)
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
			again, ok := buildPromName(got, tt.unit, tt.typ)
			require.True(t, ok)
			assert.Equal(t, got, again, "a second pass must change nothing")
		})
	}
}

func FuzzPromNameIdempotent(f *testing.F) {
	f.Add("airi.stripe.revenue", "minor_unit", uint8(otlptranslator.MetricTypeMonotonicCounter))
	f.Add("net.io", "By/s", uint8(otlptranslator.MetricTypeMonotonicCounter))
	f.Add("", "0!", uint8(otlptranslator.MetricTypeUnknown))
	f.Add("usage", "1", uint8(otlptranslator.MetricTypeGauge))
	f.Fuzz(func(t *testing.T, name, unit string, typ uint8) {
		mt := otlptranslator.MetricType(typ % 7)
		out, ok := buildPromName(name, unit, mt)
		if !ok {
			require.Equal(t, name, out)
			return
		}
		again, ok := buildPromName(out, unit, mt)
		require.True(t, ok, "the output %q of %q cannot be named again", out, name)
		require.Equal(t, out, again, "not idempotent for %q (unit %q, type %d)", name, unit, mt)
	})
}

func TestBuildPromNameUnnameable(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "...", "__"} {
		got, ok := buildPromName(name, "", otlptranslator.MetricTypeGauge)
		assert.False(t, ok, name)
		assert.Equal(t, name, got)
	}
}

func TestIsPromLabelNameAgreesWithNamer(t *testing.T) {
	t.Parallel()
	for _, k := range []string{
		"environment", "http_request_method", "a1", "A_b_c", "x_",
		"http.method", "_foo", "__name__", "a__b", "1abc", "", "_", "ünïcode", "a-b", "a b",
		"le", "quantile", "job", "instance", "__foo__", "...", "exported_le", "otel_scope_name", "otel.scope.x",
	} {
		checkLabelFastPath(t, k)
	}
}

func checkLabelFastPath(t *testing.T, k string) {
	t.Helper()
	out, _ := promLabelKey(k)
	if isPromLabelName(k) {
		require.Equal(t, k, out, "fast path says %q is final but promLabelKey changes it", k)
	}
	require.True(t, isPromLabelName(out), "promLabelKey(%q) = %q is not a final label name", k, out)
	again, err := promLabelNamer.Build(out)
	require.NoError(t, err)
	require.Equal(t, out, again, "label name %q is not a fixed point of the exporters' namer", out)
	require.False(t, reservedLabel(out), "label name %q is reserved", out)
}

func FuzzLabelFastPath(f *testing.F) {
	for _, s := range []string{"a", "a_b", "a__b", "_a", "9", "a.b", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		checkLabelFastPath(t, k)
	})
}

func TestEscapeLabelKeys(t *testing.T) {
	t.Parallel()
	tab := newNameTable(10)
	m := pcommon.NewMap()
	m.PutStr("http.request.method", "GET")
	m.PutStr("currency", "usd")
	m.PutStr("_private", "x")
	m.PutInt("1st", 1)
	m.PutStr("a.b", "dot")
	m.PutStr("a_b", "underscore")
	var replaced [numLabelReasons]int64
	tab.escapeLabelKeys(m, &scratch{}, &replaced)
	assert.Equal(t, map[string]any{
		"http_request_method": "GET",
		"currency":            "usd",
		"key_private":         "x",
		"key_1st":             int64(1),
		"a_b":                 "dot;underscore", // joined in key order, like the remote-write translator
	}, m.AsRaw())
}

func TestNameTableBounded(t *testing.T) {
	t.Parallel()
	tab := newNameTable(2)
	for _, n := range []string{"a.one", "a.two", "a.three", "a.four"} {
		out, ok := tab.metricName(n, "", otlptranslator.MetricTypeGauge)
		require.True(t, ok)
		require.NotContains(t, out, ".")
		tab.labelKey(n)
	}
	assert.Len(t, tab.names, 2)
	assert.Len(t, tab.labels, 2)

	var local map[string]owner
	owner, full := tab.claim("n1", kindGauge, &local)
	assert.Equal(t, kindGauge, owner)
	assert.False(t, full)
	_, _ = tab.claim("n2", kindGauge, &local)
	// The table is full: n3 is remembered for this batch only, and the first overflow is reported.
	owner, full = tab.claim("n3", kindCounter, &local)
	assert.Equal(t, kindCounter, owner)
	assert.True(t, full)
	owner, full = tab.claim("n3", kindGauge, &local)
	assert.Equal(t, kindCounter, owner, "within a batch the first kind still wins")
	assert.False(t, full, "the overflow is reported once")
	assert.Len(t, tab.kinds, 2)
}
