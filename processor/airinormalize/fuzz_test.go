// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/airi-otel/otelcol-airi/internal/hostile"
	"github.com/airi-otel/otelcol-airi/internal/pmetricutil"
	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadata"
)

func fuzzNormalizer(t *testing.T) *normalizer {
	cfg := createDefaultConfig()
	cfg.Project = "fuzz"
	cfg.Override = true
	p, err := newNormalizer(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.shutdown(context.Background())) })
	return p
}

// requireLabels checks that m carries every label key with a non-empty string value.
func requireLabels(t *testing.T, p *normalizer, m pcommon.Map, what string) {
	t.Helper()
	for _, k := range p.labelKeys {
		v, ok := m.Get(k)
		require.True(t, ok, "%s lacks label %q: %v", what, k, m.AsRaw())
		require.Equal(t, pcommon.ValueTypeStr, v.Type(), "%s label %q", what, k)
		require.NotEmpty(t, v.Str(), "%s label %q", what, k)
	}
}

// requireSemconvInStep checks that the resource's semantic-convention keys agree with the labels.
func requireSemconvInStep(t *testing.T, res pcommon.Map, env, project, service string) {
	t.Helper()
	for k, want := range map[string]string{
		attrDeploymentEnvironmentName: env,
		attrServiceNamespace:          project,
		attrServiceName:               service,
	} {
		v, ok := res.Get(k)
		require.True(t, ok, "resource lacks %q", k)
		require.Equal(t, want, v.AsString(), "resource key %q out of step", k)
	}
}

func addMetricSeeds(f *testing.F) {
	u := &pmetric.JSONMarshaler{}
	for _, dir := range []string{"seed000_names", "semconv_upgrade", "labels_defaults", "collision", "config_override"} {
		md, err := golden.ReadMetrics(filepath.Join("testdata", dir, "input.yaml"))
		require.NoError(f, err)
		b, err := u.MarshalMetrics(md)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"a.b","sum":{"isMonotonic":true,"dataPoints":[{"attributes":[{"key":"environment","value":{"intValue":"3"}},{"key":"environment","value":{"stringValue":"x"}}]}]}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":""}}]},"scopeMetrics":[{"metrics":[{"name":"..."},{"name":"","gauge":{"dataPoints":[{}]}}]}]}]}`))
	for _, c := range hostile.Cases("fuzz", time.Unix(1_700_000_000, 0)) {
		f.Add(c.JSON()) // the hostile points of issue 12
	}
}

func FuzzProcessMetrics(f *testing.F) {
	addMetricSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(data)
		if err != nil {
			return
		}
		p := fuzzNormalizer(t)
		out, err := p.processMetrics(context.Background(), md)
		require.NoError(t, err)

		kinds := map[string]promKind{}
		rms := out.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			rm := rms.At(i)
			res := rm.Resource().Attributes()
			requireSemconvInStep(t, res,
				mustStr(res, attrDeploymentEnvironmentName), "fuzz", mustStr(res, attrServiceName))
			sms := rm.ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					pmetricutil.EachAttributes(m, func(attrs pcommon.Map) {
						requireLabels(t, p, attrs, "data point of "+m.Name())
						v, _ := attrs.Get("project")
						require.Equal(t, "fuzz", v.Str())
					})
					// Never one output name with two types.
					if _, kind := translatorType(m); kind != kindNone && m.Name() != "" {
						if prev, seen := kinds[m.Name()]; seen {
							require.Equal(t, prev, kind, "name %q carries two types", m.Name())
						}
						kinds[m.Name()] = kind
					}
				}
			}
		}

		// Idempotent: a second pass changes nothing.
		again := pmetric.NewMetrics()
		out.CopyTo(again)
		again, err = p.processMetrics(context.Background(), again)
		require.NoError(t, err)
		// Compared as OTLP/JSON: the processor keeps the order, and a NaN value (which
		// CompareMetrics never finds equal to itself) compares as its text.
		m := &pmetric.JSONMarshaler{}
		want, err := m.MarshalMetrics(out)
		require.NoError(t, err)
		got, err := m.MarshalMetrics(again)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got))
	})
}

func mustStr(m pcommon.Map, k string) string {
	v, ok := m.Get(k)
	if !ok {
		return "<missing>"
	}
	return v.AsString()
}

func FuzzProcessTraces(f *testing.F) {
	td, err := golden.ReadTraces(filepath.Join("testdata", "traces", "input.yaml"))
	require.NoError(f, err)
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"deployment.environment","value":{"stringValue":"prod"}},{"key":"deployment.environment.name","value":{"intValue":"1"}}]},"scopeSpans":[{"spans":[{"attributes":[{"key":"http.host","value":{"stringValue":"[::1"}},{"key":"http.target","value":{"boolValue":true}}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		p := fuzzNormalizer(t)
		out, err := p.processTraces(context.Background(), td)
		require.NoError(t, err)
		rss := out.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			res := rss.At(i).Resource().Attributes()
			requireLabels(t, p, res, "resource")
			requireSemconvInStep(t, res, mustStr(res, "environment"), mustStr(res, "project"), mustStr(res, "service"))
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				for k := 0; k < sss.At(j).Spans().Len(); k++ {
					for key := range sss.At(j).Spans().At(k).Attributes().All() {
						require.False(t, isOldHTTPKey(key), "old key %q left on a span", key)
					}
				}
			}
		}
	})
}

func FuzzProcessLogs(f *testing.F) {
	ld, err := golden.ReadLogs(filepath.Join("testdata", "logs", "input.yaml"))
	require.NoError(f, err)
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"project","value":{"stringValue":"p"}},{"key":"environment","value":{"stringValue":""}}]},"scopeLogs":[{"logRecords":[{}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(data)
		if err != nil {
			return
		}
		p := fuzzNormalizer(t)
		out, err := p.processLogs(context.Background(), ld)
		require.NoError(t, err)
		rls := out.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			res := rls.At(i).Resource().Attributes()
			requireLabels(t, p, res, "resource")
			requireSemconvInStep(t, res, mustStr(res, "environment"), mustStr(res, "project"), mustStr(res, "service"))
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
					for key := range sls.At(j).LogRecords().At(k).Attributes().All() {
						require.False(t, isOldHTTPKey(key), "old key %q left on a log record", key)
					}
				}
			}
		}
	})
}
