// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package prometheus

// These tests check what promtool does not: that every alert is tested both firing and not
// firing, carries the labels and annotations routing needs, and reads the same metric names as
// the dashboards.

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/airi-otel/otelcol-airi/deploy/grafana"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string           `yaml:"alertname"`
			EvalTime  string           `yaml:"eval_time"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func load(t *testing.T, path string, strict bool, v any) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(strict)
	require.NoError(t, dec.Decode(v), path)
}

func alerts(t *testing.T) ruleFile {
	var rf ruleFile
	load(t, "rules.yaml", true, &rf)
	require.NotEmpty(t, rf.Groups)
	return rf
}

// TestEveryAlertIsTestedFiringAndNotFiring fails when an alert lacks a promtool case in which
// it fires or one in which it stays silent, or a case names an alert that does not exist.
func TestEveryAlertIsTestedFiringAndNotFiring(t *testing.T) {
	t.Parallel()
	rf := alerts(t)
	var tf testFile
	load(t, "rules_test.yaml", false, &tf)
	require.Equal(t, []string{"rules.yaml"}, tf.RuleFiles)

	firing, silent := map[string]int{}, map[string]int{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname]++
				for _, e := range a.ExpAlerts {
					require.Contains(t, e, "exp_annotations", "%s / %s: check the annotations too", tc.Name, a.Alertname)
				}
			} else {
				silent[a.Alertname]++
			}
		}
	}
	defined := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			require.False(t, defined[r.Alert], "alert %s defined twice", r.Alert)
			defined[r.Alert] = true
			require.Positive(t, firing[r.Alert], "%s has no promtool case where it fires", r.Alert)
			require.Positive(t, silent[r.Alert], "%s has no promtool case where it stays silent", r.Alert)
		}
	}
	for name := range firing {
		require.True(t, defined[name], "rules_test.yaml tests %s, which rules.yaml does not define", name)
	}
	for name := range silent {
		require.True(t, defined[name], "rules_test.yaml tests %s, which rules.yaml does not define", name)
	}
	require.GreaterOrEqual(t, len(defined), 15)
}

func TestAlertsCarryRoutingLabelsAndText(t *testing.T) {
	t.Parallel()
	severities := map[string]bool{"page": true, "critical": true, "warning": true}
	for _, g := range alerts(t).Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "%s: only alerting rules belong here", g.Name)
			require.True(t, severities[r.Labels["severity"]], "%s: severity %q", r.Alert, r.Labels["severity"])
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			require.NotEmpty(t, r.Annotations["description"], r.Alert)
			require.Regexp(t, `^(OtelcolAiri|AiriService|AiriBilling)[A-Za-z0-9]+$`, r.Alert)
		}
	}
}

// TestServiceAlertsAggregateOverReplicas: the SLO alerts fire per environment/project/service,
// never per replica (seed 000's multi-replica rules), and read the normalized names.
func TestServiceAlertsAggregateOverReplicas(t *testing.T) {
	t.Parallel()
	aggregation := regexp.MustCompile(`\b(sum|max|min|avg|count) by \(([a-z_, ]+)\)`)
	seen := 0
	for _, g := range alerts(t).Groups {
		if g.Name != "airi-services.slo" {
			continue
		}
		for _, r := range g.Rules {
			seen++
			aggs := aggregation.FindAllStringSubmatch(r.Expr, -1)
			require.NotEmpty(t, aggs, r.Alert)
			for _, a := range aggs {
				by := strings.Split(strings.ReplaceAll(a[2], " ", ""), ",")
				require.Subset(t, by, []string{"environment", "project", "service"}, "%s: %s", r.Alert, a[0])
				require.NotContains(t, by, "instance", "%s must not alert per replica", r.Alert)
			}
			require.Regexp(t, `http_server_request_duration_seconds_(count|bucket)|airi_billing_flux_unbilled_total`, r.Expr)
		}
	}
	require.Equal(t, 5, seen)
}

// TestCollectorMetricNamesMatchDashboards: an otelcol_* name in a rule is one a dashboard panel
// also reads, so a rename shows up in both or neither (the dashboards' names are checked against
// the processors' metadata and, end to end, against the running collector).
func TestCollectorMetricNamesMatchDashboards(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, q := range grafana.Queries() {
		for _, m := range append(append([]string{}, q.Requires...), q.Optional...) {
			known[m] = true
		}
	}
	name := regexp.MustCompile(`\botelcol_[a-z_]+`)
	var unknown []string
	for _, g := range alerts(t).Groups {
		for _, r := range g.Rules {
			for _, m := range name.FindAllString(r.Expr, -1) {
				if !known[m] {
					unknown = append(unknown, r.Alert+": "+m)
				}
			}
		}
	}
	sort.Strings(unknown)
	require.Empty(t, unknown)
}
