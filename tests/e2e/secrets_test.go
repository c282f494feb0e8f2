// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// loguruFlatJSON writes one flat JSON line (timestamp, level, message, trace_id and the bound
// extra fields) with the real Loguru, the way a service serializes its records for the agent's
// file_log (Loguru's own documented recipe: a patcher builds the JSON, the format prints it).
const loguruFlatJSON = `
import json, sys
from datetime import timezone
from loguru import logger

def flat(record):
    line = {"timestamp": record["time"].astimezone(timezone.utc).isoformat(),
            "level": record["level"].name, "message": record["message"]}
    line.update(record["extra"])
    record["extra"]["_json"] = json.dumps(line)

logger.remove()
logger = logger.patch(flat)
logger.add(sys.argv[1], format="{extra[_json]}")
logger.bind(trace_id=sys.argv[2], password=sys.argv[3], authorization="Bearer " + sys.argv[4],
            order_id="4242424242424241").error(sys.argv[5])
`

// TestSecretsNeverReachABackend: a span, a metric (real OTel Go SDK) and a Loguru log line,
// carrying every kind of secret, go through config/agent.yaml to config/gateway.yaml with the
// gateway's scrubbing switched off (AIRI_SCRUB_SECRETS=false), so what arrives proves the agent
// already masked it before anything crossed the network. Each backend is then searched for the
// raw values, and the rest of the telemetry is checked to be there.
func TestSecretsNeverReachABackend(t *testing.T) {
	harness.RequireDebianPythonModule(t, "loguru")
	jaeger, loki, mimir, prom := newBackend(t, jaegerKind), newBackend(t, lokiKind), newBackend(t, mimirKind), newBackend(t, prometheusKind)
	gateway := newGateway(t, jaeger, loki, mimir, map[string]string{"AIRI_SCRUB_SECRETS": "false"})

	requestID := "req-" + randomHex(t, 6)
	logDir := t.TempDir()
	message := "stripe charge failed for card " + harness.SecretCard + " key " + harness.SecretStripe
	out, err := exec.Command(harness.DebianPython, "-c", loguruFlatJSON, filepath.Join(logDir, "billing.log"),
		requestID, harness.SecretPassword, harness.SecretJWT, message).CombinedOutput()
	require.NoError(t, err, "loguru: %s", out)

	agent := newAgent(t, gateway, map[string]string{"AIRI_LOG_GLOB": filepath.Join(logDir, "*.log"), "AIRI_SCRAPE_TARGETS": "[]"})
	prom.Targets = []string{gateway.PrometheusAddr()}
	startAll(t, jaeger, loki, mimir, prom)
	gateway.Start()
	agent.Start()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := serviceResource("billing-api", "billing-api-0")

	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(agent.OTLPGRPC()), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(texp), sdktrace.WithResource(res))
	_, span := tp.Tracer("e2e").Start(ctx, "POST /v1/charges", trace.WithSpanKind(trace.SpanKindServer))
	span.SetAttributes(harness.SecretSpanAttributes()...)
	span.AddEvent("llm.error", trace.WithAttributes(attribute.String("error.message",
		"openai rejected "+harness.SecretOpenAI+", falling back to anthropic "+harness.SecretAnthropic)))
	traceID := span.SpanContext().TraceID().String()
	span.End()
	require.NoError(t, tp.Shutdown(ctx))

	mexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(agent.OTLPGRPC()), otlpmetricgrpc.WithInsecure())
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(res))
	calls, err := mp.Meter("e2e").Int64Counter("airi.e2e.llm.calls")
	require.NoError(t, err)
	calls.Add(ctx, 3, metric.WithAttributes(
		attribute.String("http.request.header.x-api-key", harness.SecretOpenAI),
		attribute.String("url.query", "model=gpt-4o&api_key="+harness.SecretQueryKey),
		attribute.String("gen_ai.request.model", "gpt-4o")))
	require.NoError(t, mp.Shutdown(ctx))

	// Jaeger: the span arrives with its ordinary attributes and the masked shapes; the whole trace
	// as Jaeger returns it holds no raw secret.
	harness.Eventually(t, 60*time.Second, time.Second, func() error {
		var raw json.RawMessage
		if err := getJSON(ctx, jaeger.URL("http")+"/api/traces/"+traceID, &raw); err != nil {
			return err
		}
		if err := harness.FindSecrets("jaeger", string(raw)); err != nil {
			return err
		}
		return containsAll("jaeger", string(raw), `"POST /v1/charges"`, "Bearer ****", "session=****", "api_key=****",
			"jane.doe@example.com", "4242424242424241", "whsec_****", "ghp_****", "AKIA****", "AIza****", "Basic ****",
			"sk-proj-****", "sk-ant-****", traceID)
	})

	// Loki: the Loguru line arrives (found by its tracking ID), masked; a search for every raw
	// value finds nothing.
	derived := trace.TraceID(harness.DerivedTraceID(requestID)).String()
	harness.Eventually(t, 60*time.Second, time.Second, func() error {
		lines, err := lokiQuery(ctx, loki, fmt.Sprintf(`{environment=~".+"} | tracking_id=%q`, derived))
		if err != nil {
			return err
		}
		if len(lines) != 1 {
			return fmt.Errorf("loki: %d lines with tracking_id %s, want 1", len(lines), derived)
		}
		all := lines[0].Line + fmt.Sprint(lines[0].Labels)
		if err := harness.FindSecrets("loki", all); err != nil {
			return err
		}
		return containsAll("loki", all, "stripe charge failed for card **** key sk_live_****", "4242424242424241", requestID)
	})
	for _, s := range harness.Secrets {
		lines, err := lokiQuery(ctx, loki, fmt.Sprintf(`{environment=~".+"} |= %q`, s))
		require.NoError(t, err)
		require.Empty(t, lines, "loki holds %s", s)
	}

	// Prometheus (scraping the gateway) and Mimir (remote write): every value of every label.
	backends := map[string]string{"prometheus": prom.URL("http"), "mimir": mimir.URL("http") + "/prometheus"}
	for name, base := range backends {
		harness.Eventually(t, 60*time.Second, time.Second, func() error {
			n, err := promScalar(ctx, base, `sum(airi_e2e_llm_calls_total{gen_ai_request_model="gpt-4o", http_request_header_x_api_key="sk-proj-****"})`)
			if err != nil {
				return err
			}
			if n != 3 {
				return fmt.Errorf("%s: airi_e2e_llm_calls_total = %v, want 3", name, n)
			}
			values, err := allLabelValues(ctx, base)
			if err != nil {
				return err
			}
			return harness.FindSecrets(name, values)
		})
	}

	// The agent counted what it masked; the gateway, switched off, counted nothing.
	harness.Eventually(t, 30*time.Second, time.Second, func() error {
		for _, rule := range []string{"key", "card", "stripe", "query_param", "openai", "anthropic"} {
			n, err := agent.Telemetry(ctx, "otelcol_processor_secret_scrub_redactions", `rule="`+rule+`"`)
			if err != nil {
				return err
			}
			if n < 1 {
				return fmt.Errorf("agent counted no %s redaction", rule)
			}
		}
		return nil
	})
	n, err := gateway.Telemetry(ctx, "otelcol_processor_secret_scrub_redactions")
	require.NoError(t, err)
	require.Zero(t, n)
}

func containsAll(where, body string, wants ...string) error {
	for _, w := range wants {
		if !strings.Contains(body, w) {
			return fmt.Errorf("%s lacks %q in:\n%s", where, w, body)
		}
	}
	return nil
}

// allLabelValues is every value of every label a Prometheus-API backend indexes, one per line.
func allLabelValues(ctx context.Context, base string) (string, error) {
	var names struct {
		Data []string `json:"data"`
	}
	if err := getJSON(ctx, base+"/api/v1/labels", &names); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, n := range names.Data {
		var values struct {
			Data []string `json:"data"`
		}
		if err := getJSON(ctx, base+"/api/v1/label/"+url.PathEscape(n)+"/values", &values); err != nil {
			return "", err
		}
		for _, v := range values.Data {
			b.WriteString(n + "=" + v + "\n")
		}
	}
	return b.String(), nil
}
