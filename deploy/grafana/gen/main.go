// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Command gen writes the dashboards of package grafana as JSON files and its Grafana
// provisioning files (provisioning/), and with -rules a
// Prometheus rule file holding every panel query (variables expanded) as a recording rule, so
// `promtool check rules` can parse them with Prometheus' own parser.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/airi-otel/otelcol-airi/deploy/grafana"
)

func main() {
	out := flag.String("out", "deploy/grafana", "directory to write the dashboard JSON files into")
	rules := flag.String("rules", "", "if set, write the expanded panel queries as a Prometheus rule file here and nothing else")
	flag.Parse()
	if err := run(*out, *rules); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out, rules string) error {
	if rules != "" {
		return writeRules(rules)
	}
	files, err := grafana.Files()
	if err != nil {
		return err
	}
	for _, name := range grafana.FileNames() {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}

type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Record string            `yaml:"record"`
	Expr   string            `yaml:"expr"`
	Labels map[string]string `yaml:"labels"`
}

func writeRules(path string) error {
	g := ruleGroup{Name: "otelcol-airi-dashboard-queries"}
	for i, q := range grafana.Queries() {
		expr, err := grafana.Expand(q.Expr, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		g.Rules = append(g.Rules, rule{
			Record: fmt.Sprintf("dashboard_query_%03d", i),
			Expr:   expr,
			Labels: map[string]string{"dashboard": q.Dashboard, "panel": q.Panel, "ref_id": q.RefID},
		})
	}
	b, err := yaml.Marshal(ruleFile{Groups: []ruleGroup{g}})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
