// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package promcheck runs the contrib Prometheus exporter — configured as the shipped configs
// configure it — on 127.0.0.1 and reads its /metrics exposition back with Prometheus' own text
// parser (github.com/prometheus/common/expfmt). Tests use it to check what a real scrape sees,
// not only what a processor emits.
package promcheck // import "github.com/airi-otel/otelcol-airi/internal/promcheck"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Exporter is a running Prometheus exporter.
type Exporter struct {
	exp  exporter.Metrics
	url  string
	logs *observer.ObservedLogs
	seen int
}

// Start starts the exporter on a free 127.0.0.1 port with the shipped configs' settings
// (translation_strategy UnderscoreEscapingWithoutSuffixes) and stops it when t ends.
func Start(t testing.TB) *Exporter {
	t.Helper()
	f := prometheusexporter.NewFactory()
	core, logs := observer.New(zapcore.ErrorLevel)
	var lastErr error
	// The free port is found by binding and releasing it; another process may take it in
	// between, so a failed start is retried on a new port.
	for range 5 {
		addr := freePort(t)
		cfg := f.CreateDefaultConfig()
		require.NoError(t, confmap.NewFromStringMap(map[string]any{
			"endpoint":             addr,
			"translation_strategy": "UnderscoreEscapingWithoutSuffixes",
			"metric_expiration":    "10m",
		}).Unmarshal(cfg))
		set := exporter.Settings{
			ID:                component.NewID(f.Type()),
			TelemetrySettings: componenttest.NewNopTelemetrySettings(),
			BuildInfo:         component.NewDefaultBuildInfo(),
		}
		set.Logger = zap.New(core)
		exp, err := f.CreateMetrics(context.Background(), set, cfg)
		require.NoError(t, err)
		if lastErr = exp.Start(context.Background(), componenttest.NewNopHost()); lastErr != nil {
			continue
		}
		t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
		return &Exporter{exp: exp, url: "http://" + addr + "/metrics", logs: logs}
	}
	require.NoError(t, lastErr, "starting the prometheus exporter")
	return nil
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// Capabilities lets the exporter be a processor's next consumer.
func (e *Exporter) Capabilities() consumer.Capabilities { return e.exp.Capabilities() }

// ConsumeMetrics hands md to the exporter, as the pipeline's last processor does.
func (e *Exporter) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	return e.exp.ConsumeMetrics(ctx, md)
}

// Scrape reads /metrics and parses it with Prometheus' text parser (legacy name validation,
// the strictest). It returns an error when the scrape does not answer 200, when the text does
// not parse, when a series has a duplicate or invalid label name, or when the exporter logged
// an error since the last scrape (it drops what it cannot convert and logs, still answering 200).
func (e *Exporter) Scrape(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var errs []error
	if resp.StatusCode != http.StatusOK {
		errs = append(errs, fmt.Errorf("scrape answered %s: %s", resp.Status, truncate(string(body))))
	}
	for _, l := range e.logs.All()[e.seen:] {
		errs = append(errs, fmt.Errorf("exporter logged %q %v", l.Message, l.ContextMap()))
	}
	e.seen = e.logs.Len()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		errs = append(errs, fmt.Errorf("exposition does not parse: %w\n%s", err, truncate(string(body))))
	}
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			seen := map[string]bool{}
			for _, lp := range m.GetLabel() {
				ln := lp.GetName()
				if seen[ln] || !model.LegacyValidation.IsValidLabelName(ln) {
					errs = append(errs, fmt.Errorf("%s: label name %q duplicate or invalid", name, ln))
				}
				seen[ln] = true
			}
		}
	}
	return fams, errors.Join(errs...)
}

func truncate(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}

// Value returns the value of the sample of family name whose labels include want, and
// whether exactly one such sample exists. Counters, gauges and untyped samples have a value;
// for histograms and summaries it is the sample count.
func Value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf, ok := fams[name]
	if !ok {
		return 0, false
	}
	var found []float64
	for _, m := range mf.GetMetric() {
		match := 0
		for _, lp := range m.GetLabel() {
			if v, ok := want[lp.GetName()]; ok && v == lp.GetValue() {
				match++
			}
		}
		if match != len(want) {
			continue
		}
		switch {
		case m.Counter != nil:
			found = append(found, m.GetCounter().GetValue())
		case m.Gauge != nil:
			found = append(found, m.GetGauge().GetValue())
		case m.Untyped != nil:
			found = append(found, m.GetUntyped().GetValue())
		case m.Histogram != nil:
			found = append(found, float64(m.GetHistogram().GetSampleCount()))
		case m.Summary != nil:
			found = append(found, float64(m.GetSummary().GetSampleCount()))
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return found[0], true
}
