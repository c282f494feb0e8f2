// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

// deploy/prometheus/rules.yaml in the real Prometheus: the alerts seen pending, firing and
// resolved on real faults, and every metric a rule reads seen to exist.

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// shippedRules is deploy/prometheus/rules.yaml.
func shippedRules(t *testing.T) string {
	return filepath.Join(harness.RepoRoot(t), "deploy", "prometheus", "rules.yaml")
}

type alertRule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
	For   string `yaml:"for"`
}

func loadAlertRules(t *testing.T, path string) []alertRule {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f), path)
	var out []alertRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	require.NotEmpty(t, out, path)
	return out
}

var forClause = regexp.MustCompile(`(?m)^(\s+for: )\S+$`)

// rulesWithShortFor writes a copy of deploy/prometheus/rules.yaml into dir with every `for:`
// shortened to forDuration — so that a test can see an alert fire without waiting minutes —
// and nothing else changed: the test fails unless every alert keeps its exact expression.
func rulesWithShortFor(t *testing.T, dir string, forDuration time.Duration) string {
	t.Helper()
	shipped := shippedRules(t)
	raw, err := os.ReadFile(shipped)
	require.NoError(t, err)
	rewritten := forClause.ReplaceAll(raw, []byte("${1}"+forDuration.String()))
	path := filepath.Join(dir, "rules-short-for.yaml")
	require.NoError(t, os.WriteFile(path, rewritten, 0o600))

	orig, short := loadAlertRules(t, shipped), loadAlertRules(t, path)
	require.Len(t, short, len(orig))
	changed := 0
	for i := range orig {
		require.Equal(t, orig[i].Alert, short[i].Alert)
		require.Equal(t, orig[i].Expr, short[i].Expr, "%s: the expression must stay the shipped one", orig[i].Alert)
		if orig[i].For != "" {
			require.Equal(t, forDuration.String(), short[i].For, orig[i].Alert)
			changed++
		}
	}
	t.Logf("alert rules: deploy/prometheus/rules.yaml with `for:` shortened to %s in %d of %d alerts (expressions unchanged): %s",
		forDuration, changed, len(orig), path)
	return path
}

// PromAlert is one active alert as Prometheus's /api/v1/alerts reports it.
type PromAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"` // pending or firing
	ActiveAt time.Time         `json:"activeAt"`
	Value    string            `json:"value"`
}

func (a PromAlert) String() string {
	var ls []string
	for k, v := range a.Labels {
		if k != "alertname" && k != "severity" && k != "job" {
			ls = append(ls, fmt.Sprintf("%s=%q", k, v))
		}
	}
	sort.Strings(ls)
	return fmt.Sprintf("%s{%s}(%s, value %s)", a.Labels["alertname"], strings.Join(ls, ","), a.State, a.Value)
}

// promAlerts lists the alerts that are pending or firing now.
func promAlerts(ctx context.Context, prom *Backend) ([]PromAlert, error) {
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Alerts []PromAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := getJSON(ctx, prom.URL("http")+"/api/v1/alerts", &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("/api/v1/alerts: %s", resp.Error)
	}
	return resp.Data.Alerts, nil
}

// alertsMatching are the alerts named name whose labels include every one of labels.
func alertsMatching(alerts []PromAlert, name string, labels map[string]string) []PromAlert {
	var out []PromAlert
next:
	for _, a := range alerts {
		if a.Labels["alertname"] != name {
			continue
		}
		for k, v := range labels {
			if a.Labels[k] != v {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}

// waitForAlert waits up to bound until Prometheus reports the alert (name, labels) in state
// ("pending" or "firing"), or — with state "" — no longer reports it at all (resolved), and
// returns what it reported.
func waitForAlert(t *testing.T, ctx context.Context, prom *Backend, bound time.Duration, name string, labels map[string]string, state string) []PromAlert {
	t.Helper()
	var seen []PromAlert
	harness.Eventually(t, bound, time.Second, func() error {
		all, err := promAlerts(ctx, prom)
		if err != nil {
			return err
		}
		seen = alertsMatching(all, name, labels)
		if state == "" {
			if len(seen) > 0 {
				return fmt.Errorf("%s %v still active: %v", name, labels, seen)
			}
			return nil
		}
		for _, a := range seen {
			if a.State == state {
				return nil
			}
		}
		return fmt.Errorf("%s %v not %s; active alerts: %v", name, labels, state, all)
	})
	return seen
}

// eventOnlyInputs are the metrics rules.yaml reads that exist only after an event no e2e test
// with Prometheus produces (a series of a counter the collector creates at its first
// increment), each matched as a suffix of the name, with where it is checked instead.
var eventOnlyInputs = map[string]string{
	"otelcol_exporter_send_failed_spans":                     "given up after retries: never with max_elapsed_time 0 (TestBackendOutageLosesNothing requires 0)",
	"otelcol_exporter_send_failed_metric_points":             "as above",
	"otelcol_exporter_send_failed_log_records":               "as above",
	"otelcol_exporter_enqueue_failed_spans":                  "a full queue (50 000 items): TestBackendOutageLosesNothing sees QueueFull fire for Loki, TestOverloadIsRefusedThenRecovers reads the logs one",
	"otelcol_exporter_enqueue_failed_metric_points":          "a full queue",
	"otelcol_exporter_enqueue_failed_log_records":            "a full queue",
	"otelcol_processor_memory_limiter_refused_spans":         "a heap over the soft limit: TestOverloadIsRefusedThenRecovers sees MemoryLimiterRefusing fire for logs",
	"otelcol_processor_memory_limiter_refused_metric_points": "as above",
	"otelcol_processor_memory_limiter_refused_log_records":   "as above",
	"container_spec_memory_limit_bytes":                      "cAdvisor, on Kubernetes only",
	"otelcol_processor_airi_normalize_name_collisions":       "two metrics of different types under one name (processor/airinormalize/telemetry_test.go)",
	"airi_billing_flux_unbilled_total":                       "a service's failed debit (seeds_test.go)",
}

// ruleSelectors returns the series selectors of a PromQL expression as Prometheus's own
// parser sees them (/api/v1/parse_query): metric name and matchers, written as a selector.
func ruleSelectors(ctx context.Context, prom *Backend, expr string) ([]string, error) {
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   any    `json:"data"`
	}
	if err := getJSON(ctx, prom.URL("http")+"/api/v1/parse_query?query="+url.QueryEscape(expr), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("parse %q: %s", expr, resp.Error)
	}
	var out []string
	var walk func(n any)
	walk = func(n any) {
		switch v := n.(type) {
		case map[string]any:
			if typ, _ := v["type"].(string); typ == "vectorSelector" || typ == "matrixSelector" {
				var ms []string
				for _, m := range v["matchers"].([]any) {
					mm := m.(map[string]any)
					ms = append(ms, fmt.Sprintf("%s%s%q", mm["name"], mm["type"], mm["value"]))
				}
				sort.Strings(ms)
				out = append(out, "{"+strings.Join(ms, ", ")+"}")
				return
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(resp.Data)
	return out, nil
}

// requireRuleInputsExist parses every alert of rules.yaml with Prometheus's parser and requires
// each series selector in it to match series in Prometheus now — except the metrics that exist
// only after an event (eventOnlyInputs). A misspelt metric or label in a rule fails here.
// It returns the alerts all of whose inputs exist.
func requireRuleInputsExist(t *testing.T, ctx context.Context, prom *Backend, eventOnly map[string]string) []string {
	t.Helper()
	var complete, missing []string
	for _, r := range loadAlertRules(t, shippedRules(t)) {
		sels, err := ruleSelectors(ctx, prom, r.Expr)
		require.NoError(t, err, r.Alert)
		require.NotEmpty(t, sels, r.Alert)
		all := true
		for _, sel := range sels {
			got, err := promQuery(ctx, prom.URL("http"), "count("+sel+")")
			require.NoError(t, err, "%s: %s", r.Alert, sel)
			if len(got) > 0 {
				continue
			}
			all = false
			if !eventOnlyName(sel, eventOnly) {
				missing = append(missing, r.Alert+": "+sel)
			}
		}
		if all {
			complete = append(complete, r.Alert)
		}
	}
	require.Empty(t, missing, "rule inputs that match no series in Prometheus (a wrong name or label?)")
	return complete
}

var selectorName = regexp.MustCompile(`__name__="([^"]+)"`)

func eventOnlyName(sel string, eventOnly map[string]string) bool {
	m := selectorName.FindStringSubmatch(sel)
	if m == nil {
		return false
	}
	for suffix, why := range eventOnly {
		if why != "" && strings.HasSuffix(m[1], suffix) {
			return true
		}
	}
	return false
}
