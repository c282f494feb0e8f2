// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package grafana // import "github.com/airi-otel/otelcol-airi/deploy/grafana"

import (
	"bytes"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The data sources Grafana is provisioned with (provisioning/datasources/otelcol-airi.yaml) and
// the links between them: a metric's exemplar opens its trace, a trace opens its logs and its
// service's metrics, a log line opens its trace or every log line of its tracking ID. Their
// UIDs are fixed, so dashboards and links can name them.
const (
	PrometheusUID = "airi-prometheus"
	MimirUID      = "airi-mimir"
	JaegerUID     = "airi-jaeger"
	LokiUID       = "airi-loki"
)

// Link variables as Grafana fills them (see LinkVars).
const (
	varTraceID = "${__trace.traceId}"
	varTags    = "${__tags}"
	varValue   = "${__value.raw}"
)

// Datasource is one provisioned Grafana data source (the fields this project sets).
type Datasource struct {
	Name      string         `yaml:"name"`
	UID       string         `yaml:"uid"`
	Type      string         `yaml:"type"`
	Access    string         `yaml:"access"`
	URL       string         `yaml:"url"`
	IsDefault bool           `yaml:"isDefault"`
	Editable  bool           `yaml:"editable"`
	JSONData  map[string]any `yaml:"jsonData,omitempty"`
}

// DatasourcesFile is Grafana's data source provisioning file.
type DatasourcesFile struct {
	APIVersion  int          `yaml:"apiVersion"`
	Datasources []Datasource `yaml:"datasources"`
}

// TraceToLogsQuery is the Loki query a Jaeger span opens: the span's service and environment
// select the stream (index labels), and the trace ID is matched in structured metadata
// (`trace_id`, as Loki's OTLP ingestion stores it), not searched for in the line.
const TraceToLogsQuery = `{` + varTags + `} | trace_id="` + varTraceID + `"`

// TraceToMetricsQueries are the PromQL queries a Jaeger span opens over its service's request
// metrics (the services' own RED metrics, as deploy/grafana's services dashboard reads them).
var TraceToMetricsQueries = []LinkQuery{
	{Name: "Request rate", Query: `sum(rate(http_server_request_duration_seconds_count{` + varTags + `}[5m]))`},
	{Name: "P95 latency", Query: `histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{` + varTags + `}[5m])))`},
}

// LogToTraceURL is the Jaeger query a Loki line's `trace_id` structured metadata opens, and
// LogToLogsQuery the Loki search its `tracking_id` opens: every line of that request, also
// when the ID was derived from a request ID (tracking_id_derived="true") and no trace exists.
const (
	LogToTraceURL  = varValue
	LogToLogsQuery = `{environment=~".+"} | tracking_id="` + varValue + `"`
)

// TraceTags are the span (resource) attributes a Jaeger span's links select by, each mapped
// to the label the metrics and the log streams carry (airi_normalize writes both).
var TraceTags = []map[string]string{{"key": "service", "value": "service"}, {"key": "environment", "value": "environment"}}

// LinkQuery is one named query of a link.
type LinkQuery struct {
	Name  string `yaml:"name"`
	Query string `yaml:"query"`
}

// Datasources returns the provisioned data sources, wired to each other.
func Datasources() DatasourcesFile {
	exemplars := map[string]any{
		"httpMethod": "POST",
		// The exemplar's trace_id label opens the trace in Jaeger.
		"exemplarTraceIdDestinations": []map[string]any{{"name": "trace_id", "datasourceUid": JaegerUID}},
	}
	return DatasourcesFile{APIVersion: 1, Datasources: []Datasource{
		{Name: "Prometheus", UID: PrometheusUID, Type: "prometheus", Access: "proxy", URL: "http://prometheus:9090", IsDefault: true, JSONData: exemplars},
		{Name: "Mimir", UID: MimirUID, Type: "prometheus", Access: "proxy", URL: "http://mimir:9009/prometheus", JSONData: exemplars},
		{Name: "Jaeger", UID: JaegerUID, Type: "jaeger", Access: "proxy", URL: "http://jaeger-query:16686", JSONData: map[string]any{
			"tracesToLogsV2": map[string]any{
				"datasourceUid": LokiUID, "spanStartTimeShift": "-1h", "spanEndTimeShift": "1h",
				"tags": TraceTags, "filterByTraceID": false, "filterBySpanID": false,
				"customQuery": true, "query": TraceToLogsQuery,
			},
			"tracesToMetrics": map[string]any{
				"datasourceUid": PrometheusUID, "spanStartTimeShift": "-1h", "spanEndTimeShift": "1h",
				"tags": TraceTags, "queries": TraceToMetricsQueries,
			},
		}},
		{Name: "Loki", UID: LokiUID, Type: "loki", Access: "proxy", URL: "http://loki:3100", JSONData: map[string]any{
			"derivedFields": []map[string]any{
				// matcherType label: the field is the structured metadata of that name, not a regex
				// over the line.
				{"name": "trace_id", "matcherType": "label", "matcherRegex": "trace_id", "datasourceUid": JaegerUID, "url": LogToTraceURL, "urlDisplayLabel": "Open the trace in Jaeger"},
				{"name": "tracking_id", "matcherType": "label", "matcherRegex": "tracking_id", "datasourceUid": LokiUID, "url": LogToLogsQuery, "urlDisplayLabel": "Every log line of this request"},
			},
		}},
	}}
}

// DashboardProviders is Grafana's dashboard provisioning file: the generated dashboards, read
// from the directory they are mounted in.
func DashboardProviders() map[string]any {
	return map[string]any{"apiVersion": 1, "providers": []map[string]any{{
		"name": "otelcol-airi", "folder": "otelcol-airi", "type": "file", "disableDeletion": false,
		"allowUiUpdates": false, "options": map[string]any{"path": "/var/lib/grafana/dashboards/otelcol-airi"},
	}}}
}

// provisioningFiles returns the provisioning YAML files keyed by their path below deploy/grafana.
// Grafana expands $VAR and ${VAR} in provisioning files, so every literal `$` of a link
// template is written as `$$`.
func provisioningFiles() (map[string][]byte, error) {
	out := map[string][]byte{}
	for path, v := range map[string]any{
		"provisioning/datasources/otelcol-airi.yaml": Datasources(),
		"provisioning/dashboards/otelcol-airi.yaml":  DashboardProviders(),
	} {
		var buf bytes.Buffer
		buf.WriteString("# Generated by deploy/grafana (`make dashboards`); do not edit.\n")
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		out[path] = []byte(strings.ReplaceAll(buf.String(), "$", "$$"))
	}
	return out, nil
}

// LinkVars fills a link template the way Grafana does: traceID for ${__trace.traceId}, value
// for ${__value.raw}, and tags (span attribute → value) mapped through TraceTags into the
// matcher list ${__tags}.
func LinkVars(template, traceID, value string, tags map[string]string) string {
	var matchers []string
	for _, t := range TraceTags {
		if v, ok := tags[t["key"]]; ok {
			matchers = append(matchers, t["value"]+`="`+v+`"`)
		}
	}
	return strings.NewReplacer(varTraceID, traceID, varValue, value, varTags, strings.Join(matchers, ", ")).Replace(template)
}
