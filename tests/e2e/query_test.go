// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// queryTimeout bounds every backend query (Mimir can hang on a misconfigured frontend).
const queryTimeout = 20 * time.Second

func getJSON(ctx context.Context, u string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	body, err := harness.Get(ctx, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(body), into); err != nil {
		return fmt.Errorf("GET %s: %w: %.500s", u, err, body)
	}
	return nil
}

// Sample is one series of a Prometheus instant-query result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// promQuery runs an instant PromQL query against a Prometheus-compatible API under base
// (http://prometheus:9090 or http://mimir:9009/prometheus).
func promQuery(ctx context.Context, base, query string) ([]Sample, error) {
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(ctx, base+"/api/v1/query?query="+url.QueryEscape(query), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", query, resp.Error)
	}
	out := make([]Sample, 0, len(resp.Data.Result))
	for _, r := range resp.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", query, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Series is one series of a range-selector query: its samples' timestamps and values, oldest
// first.
type Series struct {
	Labels map[string]string
	Times  []time.Time
	Values []float64
}

// promSamples runs an instant query of a range selector (`metric{...}[1h]`) and returns every
// raw sample per series.
func promSamples(ctx context.Context, base, query string) ([]Series, error) {
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(ctx, base+"/api/v1/query?query="+url.QueryEscape(query), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", query, resp.Error)
	}
	out := make([]Series, 0, len(resp.Data.Result))
	for _, r := range resp.Data.Result {
		s := Series{Labels: r.Metric}
		for _, v := range r.Values {
			ts, ok := v[0].(float64)
			if !ok {
				return nil, fmt.Errorf("query %q: timestamp %v", query, v[0])
			}
			str, _ := v[1].(string)
			val, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, fmt.Errorf("query %q: value %v: %w", query, v[1], err)
			}
			s.Times = append(s.Times, time.UnixMilli(int64(ts*1000+0.5)))
			s.Values = append(s.Values, val)
		}
		out = append(out, s)
	}
	return out, nil
}

// promScalar runs a query that must return exactly one series and returns its value.
func promScalar(ctx context.Context, base, query string) (float64, error) {
	s, err := promQuery(ctx, base, query)
	if err != nil {
		return 0, err
	}
	if len(s) != 1 {
		return 0, fmt.Errorf("query %q returned %d series, want 1: %v", query, len(s), s)
	}
	return s[0].Value, nil
}

// JaegerSpan is a span as Jaeger's query API (v2 JSON, /api/traces) returns it.
type JaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	StartTime     int64  `json:"startTime"` // µs since the epoch
	Tags          []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

// Tag returns the span tag's value as a string.
func (s JaegerSpan) Tag(key string) (string, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value), true
		}
	}
	return "", false
}

// JaegerTrace is one trace with its processes (the resource attributes as tags).
type JaegerTrace struct {
	TraceID   string       `json:"traceID"`
	Spans     []JaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"processes"`
}

// ProcessTag returns a resource attribute of the span's process.
func (tr JaegerTrace) ProcessTag(span JaegerSpan, key string) (string, bool) {
	for _, t := range tr.Processes[span.ProcessID].Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value), true
		}
	}
	return "", false
}

// jaegerTraces searches Jaeger for the traces of one service (tags: optional tag filter).
func jaegerTraces(ctx context.Context, jaeger *Backend, service string, tags map[string]string) ([]JaegerTrace, error) {
	q := url.Values{}
	q.Set("service", service)
	q.Set("limit", "100000")
	q.Set("lookback", "2h")
	if len(tags) > 0 {
		b, err := json.Marshal(tags)
		if err != nil {
			return nil, err
		}
		q.Set("tags", string(b))
	}
	var resp struct {
		Data   []JaegerTrace `json:"data"`
		Errors []any         `json:"errors"`
	}
	if err := getJSON(ctx, jaeger.URL("http")+"/api/traces?"+q.Encode(), &resp); err != nil {
		return nil, err
	}
	if len(resp.Errors) > 0 {
		return nil, fmt.Errorf("jaeger: %v", resp.Errors)
	}
	return resp.Data, nil
}

// jaegerTrace fetches one trace by ID; a missing trace is an error.
func jaegerTrace(ctx context.Context, jaeger *Backend, traceID string) (JaegerTrace, error) {
	var resp struct {
		Data   []JaegerTrace `json:"data"`
		Errors []any         `json:"errors"`
	}
	if err := getJSON(ctx, jaeger.URL("http")+"/api/traces/"+traceID, &resp); err != nil {
		return JaegerTrace{}, err
	}
	if len(resp.Data) != 1 {
		return JaegerTrace{}, fmt.Errorf("trace %s: %d traces, errors %v", traceID, len(resp.Data), resp.Errors)
	}
	return resp.Data[0], nil
}

// LokiLine is one log line with its labels: Loki merges the stream's index labels and the
// line's structured metadata into one set when the query does not ask it to categorize them.
type LokiLine struct {
	Labels map[string]string
	Line   string
	Time   time.Time
}

// lokiQuery runs a LogQL log query over the last hour, oldest first.
func lokiQuery(ctx context.Context, loki *Backend, query string) ([]LokiLine, error) {
	q := url.Values{}
	q.Set("query", query)
	q.Set("start", strconv.FormatInt(time.Now().Add(-time.Hour).UnixNano(), 10))
	q.Set("end", strconv.FormatInt(time.Now().Add(time.Minute).UnixNano(), 10))
	q.Set("limit", "100000")
	q.Set("direction", "forward")
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(ctx, loki.URL("http")+"/loki/api/v1/query_range?"+q.Encode(), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("loki query %q: status %s", query, resp.Status)
	}
	var out []LokiLine
	for _, r := range resp.Data.Result {
		for _, v := range r.Values {
			ns, err := strconv.ParseInt(v[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("loki query %q: timestamp %q: %w", query, v[0], err)
			}
			out = append(out, LokiLine{Labels: r.Stream, Line: v[1], Time: time.Unix(0, ns)})
		}
	}
	return out, nil
}

// lokiCounts counts the lines of the last hour that match selector and the line filter
// expression filter (e.g. `|= "text"`), per the ID that idRegexp's capture group "id" takes from
// each line: counted by Loki itself, which is fast where returning tens of thousands of lines
// with their structured metadata is not. Loki drops a line identical to one it holds (same
// stream, timestamp and text), so a copy counts only when it differs in one of them.
func lokiCounts(ctx context.Context, loki *Backend, selector, filter, idRegexp string) (map[string]int, error) {
	got, err := promQuery(ctx, loki.URL("http")+"/loki",
		fmt.Sprintf("sum by (id) (count_over_time(%s %s | regexp %q [1h]))", selector, filter, idRegexp))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(got))
	for _, s := range got {
		out[s.Labels["id"]] = int(s.Value)
	}
	return out, nil
}

// lokiCountAt counts the lines matching selector and containing contains stamped inside
// [from, to].
func lokiCountAt(ctx context.Context, loki *Backend, selector, contains string, from, to time.Time) (int, error) {
	q := url.Values{}
	q.Set("query", fmt.Sprintf("sum(count_over_time(%s |= %q [%dms]))", selector, contains, to.Sub(from).Milliseconds()))
	q.Set("time", strconv.FormatInt(to.UnixNano(), 10))
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(ctx, loki.URL("http")+"/loki/api/v1/query?"+q.Encode(), &resp); err != nil {
		return 0, err
	}
	if resp.Status != "success" {
		return 0, fmt.Errorf("loki query %q: status %s", q.Get("query"), resp.Status)
	}
	if len(resp.Data.Result) == 0 {
		return 0, nil
	}
	str, _ := resp.Data.Result[0].Value[1].(string)
	n, err := strconv.ParseFloat(str, 64)
	return int(n), err
}

// lokiIndexLabels lists the index (stream) label names Loki has seen.
func lokiIndexLabels(ctx context.Context, loki *Backend) ([]string, error) {
	var resp struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	if err := getJSON(ctx, loki.URL("http")+"/loki/api/v1/labels", &resp); err != nil {
		return nil, err
	}
	return resp.Data, nil
}

// RuleGroup is a rule group as Prometheus's /api/v1/rules reports it.
type RuleGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Name      string `json:"name"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
	} `json:"rules"`
}

// promRules lists the rule groups Prometheus has loaded, with each rule's evaluation health.
func promRules(ctx context.Context, prom *Backend) ([]RuleGroup, error) {
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Groups []RuleGroup `json:"groups"`
		} `json:"data"`
	}
	if err := getJSON(ctx, prom.URL("http")+"/api/v1/rules", &resp); err != nil {
		return nil, err
	}
	return resp.Data.Groups, nil
}
