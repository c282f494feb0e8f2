// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// wantLog is one record a logging library wrote, as the agent must ship it.
type wantLog struct {
	source    string // file (and wrapper) it came from, for failure messages
	requestID string // unique per record: the key the test finds it by
	body      string
	severity  plog.SeverityNumber
	ts        time.Time
	attrs     map[string]string // attribute → value as a string
	service   string
	excType   string // "" when the record carries no exception
}

// Loguru's, Python logging's and pino's level names and numbers.
var wantSeverity = map[string]plog.SeverityNumber{
	"TRACE": plog.SeverityNumberTrace, "DEBUG": plog.SeverityNumberDebug, "INFO": plog.SeverityNumberInfo,
	"SUCCESS": plog.SeverityNumberInfo2, "WARNING": plog.SeverityNumberWarn, "ERROR": plog.SeverityNumberError,
	"CRITICAL": plog.SeverityNumberFatal,
	"10":       plog.SeverityNumberTrace, "20": plog.SeverityNumberDebug, "30": plog.SeverityNumberInfo,
	"40": plog.SeverityNumberWarn, "50": plog.SeverityNumberError, "60": plog.SeverityNumberFatal,
}

const logService = "gateway-from-env" // AIRI_LOG_SERVICE for the plain files

// runPython runs a script with Debian's python3 (which sees python3-loguru) in UTC, and returns
// its standard output.
func runPython(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(harness.DebianPython, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s: %s", script, stderr.String())
	return out
}

// pythonRecord is one line of testdata/write_python_logs.py's output.
type pythonRecord struct {
	File      string         `json:"file"`
	Message   string         `json:"message"`
	Level     string         `json:"level"`
	TsUs      int64          `json:"ts_us"`
	Extra     map[string]any `json:"extra"`
	Exception *string        `json:"exception"`
}

// writePythonLogs runs the real Loguru and Python logging into dir and returns what they logged.
func writePythonLogs(t *testing.T, dir string) []wantLog {
	t.Helper()
	harness.RequireDebianPythonModule(t, "loguru")
	out := runPython(t, filepath.Join("testdata", "write_python_logs.py"), dir)
	var wants []wantLog
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r pythonRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		w := wantLog{source: r.File, body: r.Message, severity: wantSeverity[r.Level], attrs: map[string]string{}, service: logService}
		w.ts = time.UnixMicro(r.TsUs).UTC()
		if strings.HasPrefix(r.File, "loguru-") && r.File != "loguru-json.log" {
			w.ts = w.ts.Truncate(time.Millisecond) // the text sinks print milliseconds
		}
		for k, v := range r.Extra {
			w.attrs[k] = fmt.Sprint(v)
		}
		if r.File == "loguru-default.log" { // key=value pairs at the end of the message
			fields := strings.Fields(r.Message)
			i := len(fields)
			for i > 0 && strings.Contains(fields[i-1], "=") {
				i--
			}
			w.body = strings.Join(fields[:i], " ")
			for _, kv := range fields[i:] {
				k, v, _ := strings.Cut(kv, "=")
				w.attrs[k] = v
			}
		}
		if s, ok := w.attrs["service"]; ok {
			w.service = s
			delete(w.attrs, "service")
		}
		// A request ID under trace_id moves to request_id (config/agent.yaml).
		if v, ok := w.attrs["trace_id"]; ok {
			w.attrs["request_id"] = v
			delete(w.attrs, "trace_id")
		}
		w.requestID = w.attrs["request_id"]
		if r.Exception != nil {
			w.excType = *r.Exception
		}
		require.NotEmpty(t, w.requestID, "every record the script logs carries a request ID: %s", line)
		wants = append(wants, w)
	}
	return wants
}

// writePinoLogs runs the real pino into path and reads its own output back for time and level.
func writePinoLogs(t *testing.T, path string) []wantLog {
	t.Helper()
	cmd := exec.Command("node", filepath.Join("testdata", "write_pino_logs.js"), path)
	cmd.Env = append(os.Environ(), "NODE_PATH="+harness.NodeModules(t))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "write_pino_logs.js: %s", out)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var wants []wantLog
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Level int            `json:"level"`
			Time  int64          `json:"time"`
			Msg   string         `json:"msg"`
			ReqID string         `json:"reqId"`
			Req   map[string]any `json:"req"`
			Err   map[string]any `json:"err"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		w := wantLog{source: "pino.log", body: r.Msg, severity: wantSeverity[fmt.Sprint(r.Level)],
			ts: time.UnixMilli(r.Time).UTC(), attrs: map[string]string{"hostname": "node-1"}, service: logService, requestID: r.ReqID}
		if r.ReqID != "" {
			w.attrs["reqId"] = r.ReqID
		}
		if r.Req != nil {
			w.requestID = fmt.Sprint(r.Req["id"])
		}
		if r.Err != nil {
			w.excType = fmt.Sprint(r.Err["type"])
		}
		require.NotEmpty(t, w.requestID, line)
		wants = append(wants, w)
	}
	return wants
}

// criLines wraps payload lines as containerd writes them; the first is split into a partial
// ("P") and a final ("F") line.
func criLines(payloads []string) string {
	var b strings.Builder
	for i, p := range payloads {
		ts := time.Date(2026, 1, 6, 10, 30, i, 0, time.UTC).Format(time.RFC3339Nano)
		if i == 0 {
			fmt.Fprintf(&b, "%s stdout P %s\n", ts, p[:len(p)/2])
			p = p[len(p)/2:]
		}
		fmt.Fprintf(&b, "%s stdout F %s\n", ts, p)
	}
	return b.String()
}

// dockerLines wraps payload lines as Docker's json-file driver does; the first is split into
// two entries, the first without the final newline (how Docker splits a line over 16 KiB).
func dockerLines(t *testing.T, payloads []string) string {
	t.Helper()
	var b strings.Builder
	entry := func(log string, i int) {
		e, err := json.Marshal(map[string]string{"log": log, "stream": "stderr",
			"time": time.Date(2026, 1, 6, 10, 31, i, 0, time.UTC).Format(time.RFC3339Nano)})
		require.NoError(t, err)
		b.Write(e)
		b.WriteByte('\n')
	}
	for i, p := range payloads {
		if i == 0 {
			entry(p[:len(p)/2], i)
			p = p[len(p)/2:]
		}
		entry(p+"\n", i)
	}
	return b.String()
}

// recordLines returns the lines of the record with request ID id in a file a library wrote:
// its first line and, for a text record, the traceback lines below it.
func recordLines(t *testing.T, path, id string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i, l := range lines {
		if !strings.Contains(l, id) {
			continue
		}
		j := i + 1
		for j < len(lines) && !strings.HasPrefix(lines[j], "20") && !strings.HasPrefix(lines[j], "{") {
			j++
		}
		return lines[i:j]
	}
	require.Failf(t, "record not found", "%s has no line with %s", path, id)
	return nil
}

// asPod returns w re-keyed to request ID id, as shipped from a pod's container.
func asPod(w wantLog, id, container, wrapper string) wantLog {
	w.source = wrapper + " " + w.source
	attrs := make(map[string]string, len(w.attrs))
	for k, v := range w.attrs {
		attrs[k] = strings.ReplaceAll(v, w.requestID, id)
	}
	w.attrs, w.requestID, w.service = attrs, id, container
	return w
}

func findWant(t *testing.T, wants []wantLog, id string) wantLog {
	t.Helper()
	for _, w := range wants {
		if w.requestID == id {
			return w
		}
	}
	require.Failf(t, "no such record", "request ID %s", id)
	return wantLog{}
}

// TestAgentParsesRealLibraryLogs runs the shipped config/agent.yaml over files written by the
// real Loguru (JSON, seed 004's text format, Loguru's default format, with tracebacks), Python
// logging with a JSON formatter, and pino; over Kubernetes CRI and Docker container log files
// wrapping those lines (with partial lines); and over bad input. Every record must reach a second
// otelcol-airi with its severity, its own timestamp, its message as body, the trace ID derived
// from its request ID, its fields as attributes, its service, and a traceback in the same record.
func TestAgentParsesRealLibraryLogs(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	logDir := t.TempDir()

	wants := writePythonLogs(t, logDir)
	wants = append(wants, writePinoLogs(t, filepath.Join(logDir, "pino.log"))...)

	// Kubernetes container logs: the same libraries' lines inside the runtimes' wrappers.
	swap := func(lines []string, from, to string) []string {
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = strings.ReplaceAll(l, from, to)
		}
		return out
	}
	criDir := filepath.Join(logDir, "pods", "airi_llm-gateway-7d9f8_0f3c2a1e-5b6d-4c7e-8f90-a1b2c3d4e5f6", "gateway")
	dockerDir := filepath.Join(logDir, "pods", "airi_web-5c4b_9a8b7c6d-1e2f-4a3b-9c8d-7e6f5a4b3c2d", "web")
	require.NoError(t, os.MkdirAll(criDir, 0o755))
	require.NoError(t, os.MkdirAll(dockerDir, 0o755))
	type podRecord struct{ file, from, to string }
	cri := []podRecord{
		{"loguru-json.log", "req-json-2", "req-cri-json"},
		{"pino.log", "req-pino-1", "req-cri-pino"},
		{"loguru-seed.log", "req-seed-2", "req-cri-text"},
		{"python-json.log", "req-py-3", "req-cri-py"},
	}
	docker := []podRecord{
		{"loguru-json.log", "req-json-7", "req-docker-json"},
		{"pino.log", "req-pino-3", "req-docker-pino"},
		{"loguru-default.log", "req-def-2", "req-docker-text"},
		{"python-json.log", "req-py-1", "req-docker-py"},
	}
	var criPayloads, dockerPayloads []string
	var podWants []wantLog
	for _, r := range cri {
		criPayloads = append(criPayloads, swap(recordLines(t, filepath.Join(logDir, r.file), r.from), r.from, r.to)...)
		podWants = append(podWants, asPod(findWant(t, wants, r.from), r.to, "gateway", "CRI"))
	}
	for _, r := range docker {
		dockerPayloads = append(dockerPayloads, swap(recordLines(t, filepath.Join(logDir, r.file), r.from), r.from, r.to)...)
		podWants = append(podWants, asPod(findWant(t, wants, r.from), r.to, "web", "Docker"))
	}
	require.NoError(t, os.WriteFile(filepath.Join(criDir, "0.log"), []byte(criLines(criPayloads)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dockerDir, "0.log"), []byte(dockerLines(t, dockerPayloads)), 0o600))
	wants = append(wants, podWants...)

	// Bad input, then a good (winston-shaped) line that must still arrive; a binary file.
	var bad bytes.Buffer
	bad.Write(bytes.Repeat([]byte("x"), 10<<20))
	bad.WriteString("\n\xff\xfe\xfd not utf-8\n")
	bad.WriteString(`{"record": {"message": "truncated`)
	bad.WriteString("\n")
	bad.WriteString(`{"level":"warn","message":"after_bad_input","timestamp":"2026-01-06T10:30:00.123Z","request_id":"req-after-bad","service":"web-frontend"}` + "\n")
	require.NoError(t, os.WriteFile(filepath.Join(logDir, "bad.log"), bad.Bytes(), 0o600))
	blob := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(13, 13))
	for i := range blob {
		blob[i] = byte(rng.UintN(256))
	}
	require.NoError(t, os.WriteFile(filepath.Join(logDir, "blob.log"), blob, 0o600))
	wants = append(wants, wantLog{source: "bad.log", requestID: "req-after-bad", body: "after_bad_input",
		severity: plog.SeverityNumberWarn, ts: time.Date(2026, 1, 6, 10, 30, 0, 123000000, time.UTC),
		attrs: map[string]string{"request_id": "req-after-bad"}, service: "web-frontend"})

	downstream := startLocal(t, filepath.Join(root, "config", "local.yaml"))
	_, gwPort, err := net.SplitHostPort(downstream.grpc)
	require.NoError(t, err)
	env := agentEnv(t, gwPort, filepath.Join(logDir, "*.log"))
	env["AIRI_POD_LOG_GLOB"] = filepath.Join(logDir, "pods", "*", "*", "*.log")
	env["AIRI_LOG_SERVICE"] = logService
	env["TZ"] = "UTC"
	agent := harness.Start(t, harness.CollectorBinary(t), []string{"--config", filepath.Join(root, "config", "agent.yaml")}, env)

	type got struct {
		lr  plog.LogRecord
		res pcommon.Resource
	}
	byID := map[string]got{}
	var bodies []string
	harness.Eventually(t, 90*time.Second, 500*time.Millisecond, func() error {
		if agent.Exited() {
			return fmt.Errorf("agent exited")
		}
		byID, bodies = map[string]got{}, nil
		for _, rl := range readLogs(t, filepath.Join(downstream.dataDir, "logs.jsonl")) {
			for i := 0; i < rl.ScopeLogs().Len(); i++ {
				lrs := rl.ScopeLogs().At(i).LogRecords()
				for j := 0; j < lrs.Len(); j++ {
					lr := lrs.At(j)
					if f, _ := lr.Attributes().Get("log.file.name"); f.AsString() != "blob.log" {
						bodies = append(bodies, lr.Body().AsString())
					}
					if v, ok := lr.Attributes().Get("tracking.id.original"); ok {
						byID[v.AsString()] = got{lr, rl.Resource()}
					}
				}
			}
		}
		var missing []string
		for _, w := range wants {
			if _, ok := byID[w.requestID]; !ok {
				missing = append(missing, fmt.Sprintf("%s %s (%q)", w.source, w.requestID, w.body))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d records downstream, %d missing: %s", len(bodies), len(missing), strings.Join(missing, "; "))
		}
		return nil
	})

	for _, w := range wants {
		g := byID[w.requestID]
		lr, where := g.lr, w.source+" "+w.requestID
		require.Equal(t, w.body, lr.Body().AsString(), "%s: body", where)
		require.Equal(t, w.severity, lr.SeverityNumber(), "%s: severity (text %q)", where, lr.SeverityText())
		require.Equal(t, w.ts, lr.Timestamp().AsTime(), "%s: timestamp", where)
		derived := harness.DerivedTraceID(w.requestID)
		require.Equal(t, hex.EncodeToString(derived[:]), lr.TraceID().String(), "%s: trace ID", where)
		requireStr(t, lr.Attributes(), "tracking_id", hex.EncodeToString(derived[:]))
		for k, v := range w.attrs {
			requireStr(t, lr.Attributes(), k, v)
		}
		_, hasTraceID := lr.Attributes().Get("trace_id")
		require.False(t, hasTraceID, "%s: trace_id attribute still holds a request ID", where)
		requireStr(t, g.res.Attributes(), "service.name", w.service)
		if w.excType != "" {
			requireStr(t, lr.Attributes(), "exception.type", w.excType)
			st, ok := lr.Attributes().Get("exception.stacktrace")
			require.True(t, ok, "%s: no exception.stacktrace", where)
			require.Contains(t, st.AsString(), w.excType, "%s: stack trace", where)
			require.Regexp(t, `line \d+, in |\n\s+at `, st.AsString(), "%s: stack trace has no frames (Python or JavaScript)", where)
		}
		if strings.HasPrefix(w.source, "CRI") || strings.HasPrefix(w.source, "Docker") {
			requireStr(t, g.res.Attributes(), "k8s.namespace.name", "airi")
			requireStr(t, g.res.Attributes(), "k8s.container.name", w.service)
		}
	}
	// Loguru's own JSON keeps where the record was logged.
	lr := byID["req-json-2"].lr
	requireStr(t, lr.Attributes(), "code.function.name", "__main__.<module>")
	_, hasLine := lr.Attributes().Get("code.line.number")
	require.True(t, hasLine, "code.line.number missing")

	// A traceback is one record: none of its lines arrived on its own.
	for _, b := range bodies {
		if strings.Trim(b, "x") == "" && b != "" {
			continue // a piece of the 10 MiB line
		}
		require.False(t, strings.HasPrefix(b, "Traceback") || strings.HasPrefix(b, "KeyError") ||
			strings.HasPrefix(b, " ") || b == "", "a traceback line arrived as its own record: %q", b)
	}
	// The bad lines shipped as raw bodies; the 10 MiB line in pieces of at most file_log's
	// max_log_size.
	var sawUTF8, sawTruncated, sawHuge bool
	for _, b := range bodies {
		sawUTF8 = sawUTF8 || strings.HasSuffix(b, " not utf-8")
		sawTruncated = sawTruncated || b == `{"record": {"message": "truncated`
		sawHuge = sawHuge || (len(b) >= 1<<20 && strings.Trim(b, "x") == "")
	}
	require.True(t, sawUTF8, "the invalid UTF-8 line did not arrive")
	require.True(t, sawTruncated, "the truncated JSON line did not arrive as raw body")
	require.True(t, sawHuge, "the 10 MiB line did not arrive")

	require.NoError(t, agent.Stop(20*time.Second))
}
