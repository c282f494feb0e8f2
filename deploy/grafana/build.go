// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package grafana // import "github.com/airi-otel/otelcol-airi/deploy/grafana"

import "strings"

// dashboardSpec is a dashboard as the definitions in collector.go and services.go write it:
// rows of panels, each panel a list of queries with the metrics they read. build turns it into
// Grafana's JSON model; Queries flattens it for the end-to-end panel check.
type dashboardSpec struct {
	uid, title, description string
	tags                    []string
	variables               []Variable
	rows                    []rowSpec
}

type rowSpec struct {
	title  string
	panels []panelSpec
}

type panelSpec struct {
	title, description string
	// kind is "timeseries" (default), "stat" or "table" (instant queries, one row per series).
	kind string
	unit string
	// width on the 24-column grid; 0 means 12 for a time series and 6 for a stat.
	width    int
	min, max *float64
	// thresholds are ascending; the first step's colour is the base (no value).
	thresholds []Step
	stacked    bool
	targets    []targetSpec
}

type targetSpec struct {
	expr, legend string
	// requires lists the metrics that must have samples for the query to return data.
	requires []string
	// optional lists metrics the query reads that exist only once something went wrong
	// (failure, overflow, eviction counters); the query then falls back to 0 built from a
	// required metric, so the panel shows "0", never "No data".
	optional []string
	// exemplars shows the query's exemplars (latency panels: each links to its trace).
	exemplars bool
}

const (
	datasourceVar = "datasource"
	panelHeight   = 8
	gridWidth     = 24
)

var promDS = &DatasourceRef{Type: "prometheus", UID: "${" + datasourceVar + "}"}

func ptr[T any](v T) *T { return &v }

func (d dashboardSpec) build() Dashboard {
	out := Dashboard{
		UID:           d.uid,
		Title:         d.title,
		Description:   d.description,
		Tags:          d.tags,
		Editable:      true,
		GraphTooltip:  1,
		Refresh:       "30s",
		SchemaVersion: schemaVersion,
		Time:          TimeRange{From: "now-6h", To: "now"},
		Timezone:      "browser",
		Links:         []any{},
		Version:       1,
	}
	out.Annotations.List = []any{}
	out.Templating.List = append([]Variable{datasourceVariable()}, d.variables...)

	id, y := 1, 0
	for _, row := range d.rows {
		out.Panels = append(out.Panels, Panel{
			ID: id, Type: "row", Title: row.title, Collapsed: ptr(false),
			GridPos: GridPos{H: 1, W: gridWidth, X: 0, Y: y},
			Panels:  []Panel{},
		})
		id++
		y++
		x := 0
		for _, p := range row.panels {
			w := p.width
			if w == 0 {
				w = 12
				if p.kind == "stat" {
					w = 6
				}
			}
			if x+w > gridWidth {
				x = 0
				y += panelHeight
			}
			out.Panels = append(out.Panels, p.build(id, GridPos{H: panelHeight, W: w, X: x, Y: y}))
			id++
			x += w
		}
		y += panelHeight
	}
	return out
}

func (p panelSpec) build(id int, pos GridPos) Panel {
	kind := p.kind
	if kind == "" {
		kind = "timeseries"
	}
	out := Panel{
		ID: id, Type: kind, Title: p.title, Description: p.description, GridPos: pos,
		Datasource: promDS,
		FieldConfig: &FieldConfig{
			Defaults:  FieldDefaults{Unit: p.unit, Min: p.min, Max: p.max},
			Overrides: []any{},
		},
	}
	if len(p.thresholds) > 0 {
		out.FieldConfig.Defaults.Thresholds = &Thresholds{Mode: "absolute", Steps: p.thresholds}
	}
	switch kind {
	case "timeseries":
		custom := map[string]any{"lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": true}
		if p.stacked {
			custom["stacking"] = map[string]any{"mode": "normal", "group": "A"}
		}
		if len(p.thresholds) > 0 {
			custom["thresholdsStyle"] = map[string]any{"mode": "line"}
		}
		out.FieldConfig.Defaults.Custom = custom
		out.Options = map[string]any{
			"legend":  map[string]any{"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": []string{"lastNotNull", "max"}},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
		}
	case "stat":
		out.Options = map[string]any{
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode":     "background",
			"graphMode":     "area",
			"textMode":      "value_and_name",
			"justifyMode":   "auto",
			"orientation":   "auto",
		}
	case "table":
		out.Options = map[string]any{"showHeader": true, "sortBy": []map[string]any{{"displayName": "Value", "desc": true}}}
		out.Transformations = []map[string]any{{"id": "organize", "options": map[string]any{"excludeByName": map[string]bool{"Time": true}}}}
	}
	for i, t := range p.targets {
		tg := Target{
			RefID:        string(rune('A' + i)),
			Datasource:   promDS,
			Expr:         t.expr,
			LegendFormat: t.legend,
			Range:        true,
			Exemplar:     t.exemplars,
		}
		if kind == "table" {
			tg.Range, tg.Instant, tg.Format = false, true, "table"
		}
		out.Targets = append(out.Targets, tg)
	}
	return out
}

func datasourceVariable() Variable {
	return Variable{
		Name: datasourceVar, Label: "Data source", Type: "datasource", Query: "prometheus",
		Current: map[string]any{"text": "Prometheus", "value": PrometheusUID}, Refresh: 1,
	}
}

// labelVariable is a multi-value variable over the values of label on metric, narrowed by
// filter (a PromQL label matcher list, possibly empty). "All" is the regex ".*", so a matcher
// `label=~"$var"` keeps every series, including when the label has one value only.
func labelVariable(name, label, metric, filter string) Variable {
	def := "label_values(" + metric + ", " + label + ")"
	if filter != "" {
		def = "label_values(" + metric + "{" + filter + "}, " + label + ")"
	}
	return Variable{
		Name: name, Label: strings.ToUpper(name[:1]) + name[1:], Type: "query",
		Datasource: promDS,
		Query:      map[string]any{"query": def, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
		Definition: def,
		Refresh:    2, Multi: true, IncludeAll: true, AllValue: ".*",
		Current: map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}},
		Sort:    1,
	}
}

// orZero makes a query over a metric that exists only after something went wrong return 0
// instead of nothing: `(expr) or (zero * 0)`, where zero is an aggregation over a metric that
// always exists. When zero is grouped by fewer labels than expr, on names them, so a group
// expr already has is not repeated as a 0.
func orZero(expr, zero string, on ...string) string {
	or := " or "
	if len(on) > 0 {
		or = " or on (" + strings.Join(on, ", ") + ") "
	}
	return "(" + expr + ")" + or + "(" + zero + " * 0)"
}

var greenRed = []Step{{Color: "green"}, {Color: "red", Value: ptr(1e-9)}}
