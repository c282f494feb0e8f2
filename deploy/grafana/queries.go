// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package grafana // import "github.com/airi-otel/otelcol-airi/deploy/grafana"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Query is one PromQL query of one dashboard panel, as the dashboard JSON holds it.
type Query struct {
	// Dashboard is the dashboard's uid (CollectorUID or ServicesUID).
	Dashboard string
	// Panel is the panel's title, unique within its dashboard.
	Panel string
	// RefID is the target's refId within the panel ("A", "B", ...).
	RefID string
	// Expr is the PromQL expression with Grafana variables; Expand makes it runnable.
	Expr string
	// Requires lists the metrics that must have samples for Expr to return data.
	Requires []string
	// Optional lists the metrics Expr reads that exist only after something went wrong
	// (failures, overflow); while they are absent, Expr returns 0 built from Requires.
	Optional []string
}

func (q Query) String() string { return q.Dashboard + " / " + q.Panel + " / " + q.RefID }

func specs() []dashboardSpec {
	return []dashboardSpec{collectorDashboard(), servicesDashboard(), cardinalityDashboard()}
}

// Queries returns every panel query of every dashboard, in dashboard and panel order.
func Queries() []Query {
	var out []Query
	for _, d := range specs() {
		for _, r := range d.rows {
			for _, p := range r.panels {
				for i, t := range p.targets {
					out = append(out, Query{
						Dashboard: d.uid,
						Panel:     p.title,
						RefID:     string(rune('A' + i)),
						Expr:      t.expr,
						Requires:  append([]string(nil), t.requires...),
						Optional:  append([]string(nil), t.optional...),
					})
				}
			}
		}
	}
	return out
}

// DefaultVars are the values Expand gives Grafana's variables: every dashboard variable is
// multi-value with "All" = ".*", and the interval variables become 1m, which spans enough
// samples at any scrape interval up to 15 s.
var DefaultVars = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__range":         "5m",
	"job":             ".*",
	"instance":        ".*",
	"environment":     ".*",
	"project":         ".*",
	"service":         ".*",
}

var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// Expand replaces the Grafana variables in expr ($name, ${name}, ${name:format}) with values
// from vars, falling back to DefaultVars, so Prometheus can run it. An unknown variable is an
// error, never left in place.
func Expand(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if v, ok := vars[name]; ok {
			return v
		}
		if v, ok := DefaultVars[name]; ok {
			return v
		}
		missing = append(missing, name)
		return m
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("expand %q: unknown variable(s) %s", expr, strings.Join(missing, ", "))
	}
	return out, nil
}

// Dashboards returns the generated dashboards, keyed by their file name.
func Dashboards() map[string]Dashboard {
	out := map[string]Dashboard{}
	for _, d := range specs() {
		out[d.uid+".json"] = d.build()
	}
	return out
}

// Files returns the JSON of every dashboard and the Grafana provisioning files, keyed by their
// path below deploy/grafana/, exactly as committed there.
func Files() (map[string][]byte, error) {
	out, err := provisioningFiles()
	if err != nil {
		return nil, err
	}
	for name, d := range Dashboards() {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}

// FileNames returns the generated files' paths below deploy/grafana/ in order.
func FileNames() []string {
	var names []string
	for name := range Dashboards() {
		names = append(names, name)
	}
	prov, _ := provisioningFiles()
	for name := range prov {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
