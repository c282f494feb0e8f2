// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
)

// TestCompressionBombsAndDeepNestingAreRefused sends config/gateway.yaml (and, for the deep
// nesting, config/agent.yaml in front of it) hostile OTLP (issue 17):
// compression bombs — a few hundred KiB on the wire that inflate to 256 MiB — over OTLP/HTTP
// (gzip, deflate) and OTLP/gRPC (gzip), and log records whose body and attribute are nested
// as deep as a request within the limit allows. Each bomb is refused with a client error once
// the inflated size passes the receiver's limit (HTTP max_request_body_size and gRPC
// max_recv_msg_size_mib, 8 MiB each), the deep records are answered without a crash (an 18 MiB
// request of nested arrays, allowed by the upstream 20 MiB default, overflowed the stack in
// pdata's unmarshal and killed the process: the reason for the 8 MiB limit, which a deep
// request just over it must meet), and ordinary logs sent afterwards all arrive.
func TestCompressionBombsAndDeepNestingAreRefused(t *testing.T) {
	loki := newBackend(t, lokiKind)
	startAll(t, loki)
	gateway := newGateway(t, nil, loki, nil, nil)
	// The agent, the tier services send to, with the same limit; it forwards to the gateway.
	agent := newAgent(t, gateway, nil)
	gateway.Start()
	agent.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// 256 MiB of zeros, and a valid OTLP request whose one log body is 64 MiB.
	zeros := make([]byte, 256<<20)
	big := plog.NewLogs()
	big.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(strings.Repeat("a", 64<<20))
	bigProto, err := plogotlp.NewExportRequestFromLogs(big).MarshalProto()
	require.NoError(t, err)
	for _, tc := range []struct {
		name, encoding string
		raw            []byte
	}{
		{"gzip zeros", "gzip", zeros},
		{"deflate zeros", "deflate", zeros},
		{"gzip 64 MiB log body", "gzip", bigProto},
	} {
		var wire bytes.Buffer
		var w io.WriteCloser
		if tc.encoding == "gzip" {
			w, err = gzip.NewWriterLevel(&wire, gzip.BestCompression)
		} else {
			w, err = zlib.NewWriterLevel(&wire, zlib.BestCompression)
		}
		require.NoError(t, err)
		_, err = w.Write(tc.raw)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		code := postOTLP(t, ctx, gateway, "/v1/logs", tc.encoding, wire.Bytes())
		t.Logf("bomb %-22s %7d bytes on the wire, %3d MiB inflated: HTTP %d", tc.name, wire.Len(), len(tc.raw)>>20, code)
		require.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, code, tc.name)
		gateway.RequireRunning(tc.name)
	}

	// The same 64 MiB body over gRPC with gzip: refused by the receiver's message limit.
	conn := dialOTLP(t, gateway.OTLPGRPC())
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(big), grpc.UseCompressor(grpcgzip.Name))
	t.Logf("bomb gRPC gzip 64 MiB log body: %v", status.Code(err))
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	gateway.RequireRunning("the gRPC bomb")

	// The deepest nesting a request within the receiver's limit can carry, in a body and in an
	// attribute, as protobuf (arrays; maps, one more message per level) and as JSON: accepted or
	// refused, no crash. (The hand-written request is what pdata reads: three levels, checked.)
	check := plogotlp.NewExportRequest()
	require.NoError(t, check.UnmarshalProto(deepLogRequest("body", "kvlist", 3)))
	v := check.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body()
	for range 3 {
		require.Equal(t, "Map", v.Type().String())
		v, _ = v.Map().Get("")
	}
	require.Equal(t, "x", v.Str())
	for _, c := range []*Collector{gateway, agent} {
		for _, where := range []string{"body", "attribute"} {
			for _, shape := range []string{"array", "kvlist", "json"} {
				var body []byte
				var depth int
				if shape == "json" {
					depth = (otlpBodyLimit - 512) / 28 // per level: {"arrayValue":{"values":[ ]}}
					body = deepLogJSON(where, depth)
				} else {
					perLevel := map[string]int{"array": 2, "kvlist": 3}[shape] * 5 // tag + a length of ≤ 4 bytes per message
					depth = (otlpBodyLimit - 512) / perLevel
					body = deepLogRequest(where, shape, depth)
				}
				require.LessOrEqual(t, len(body), otlpBodyLimit)
				code := postOTLPAs(t, ctx, c, "/v1/logs", shape == "json", body)
				t.Logf("%s: log %s nested %d levels deep (%s, %d KiB): HTTP %d", c, where, depth, shape, len(body)>>10, code)
				require.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, code, "%s %s", where, shape)
				c.RequireRunning("a deep " + where + " (" + shape + ")")
			}
		}
	}

	// Just over the limit: refused before it is parsed (the limit is in force).
	over := deepLogRequest("body", "array", otlpBodyLimit/9)
	require.Greater(t, len(over), otlpBodyLimit)
	for _, c := range []*Collector{gateway, agent} {
		require.Equal(t, http.StatusBadRequest, postOTLP(t, ctx, c, "/v1/logs", "", over), "%s", c)
		c.RequireRunning("a deep body over the limit")
	}

	// Ordinary logs afterwards all arrive, sent to the agent: through both tiers.
	logs := newLogLoad(t, agent.OTLPHTTP(), loki, serviceResource(loadService, "bombs-0"), 10)
	goodCtx, stop := context.WithTimeout(ctx, 3*time.Second)
	defer stop()
	logs.run(goodCtx, 100*time.Millisecond)
	<-goodCtx.Done()
	logs.wait()
	logs.requireNothingLost(t, ctx, 2*time.Minute, 0)
	gateway.RequireRunning("the test")
	agent.RequireRunning("the test")
}

// otlpBodyLimit is the shipped configs' OTLP/HTTP max_request_body_size (after decompression).
const otlpBodyLimit = 8 << 20

// postOTLP posts an OTLP/HTTP protobuf body (with Content-Encoding, if any) and returns the
// status code.
func postOTLP(t *testing.T, ctx context.Context, c *Collector, path, encoding string, body []byte) int {
	t.Helper()
	return postOTLPWith(t, ctx, c, path, "application/x-protobuf", encoding, body)
}

// postOTLPAs posts an OTLP/HTTP body as JSON or protobuf.
func postOTLPAs(t *testing.T, ctx context.Context, c *Collector, path string, json bool, body []byte) int {
	t.Helper()
	if json {
		return postOTLPWith(t, ctx, c, path, "application/json", "", body)
	}
	return postOTLP(t, ctx, c, path, "", body)
}

func postOTLPWith(t *testing.T, ctx context.Context, c *Collector, path, contentType, encoding string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.OTLPHTTP()+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// deepLogRequest is an ExportLogsServiceRequest, written as protobuf by hand (pdata's own
// marshaller recurses once per level), of one log record whose body — or whose attribute
// "deep" — nests depth levels down to the string "x": an array holding an array … (shape
// "array") or a map holding a map … (shape "kvlist", one more message per level).
func deepLogRequest(where, shape string, depth int) []byte {
	field := func(num int, payload []byte) []byte {
		return append(binary.AppendUvarint([]byte{byte(num<<3 | 2)}, uint64(len(payload))), payload...)
	}
	// The fields that wrap one level, innermost first: ArrayValue.values (1) in
	// AnyValue.array_value (5); or KeyValue.value (2, key left empty) in KeyValueList.values (1)
	// in AnyValue.kvlist_value (6).
	wrap := []int{1, 5}
	if shape == "kvlist" {
		wrap = []int{2, 1, 6}
	}
	// Lengths inside out, headers written outside in.
	inner := field(1, []byte("x")) // AnyValue.string_value
	lens := []int{len(inner)}
	var tags []byte
	for range depth {
		for _, num := range wrap {
			l := lens[len(lens)-1]
			lens = append(lens, 1+len(binary.AppendUvarint(nil, uint64(l)))+l)
			tags = append(tags, byte(num<<3|2))
		}
	}
	value := make([]byte, 0, lens[len(lens)-1])
	for i := len(lens) - 1; i >= 1; i-- {
		value = binary.AppendUvarint(append(value, tags[i-1]), uint64(lens[i-1]))
	}
	value = append(value, inner...)
	var record []byte
	if where == "body" {
		record = field(5, value) // LogRecord.body
	} else {
		record = field(6, append(field(1, []byte("deep")), field(2, value)...)) // LogRecord.attributes: KeyValue{key, value}
	}
	resource := field(1, field(1, append(field(1, []byte("service.name")), field(2, field(1, []byte("e2e-deep")))...))) // Resource.attributes
	scopeLogs := field(2, field(2, record))                                                                             // ScopeLogs.log_records
	return field(1, append(resource, scopeLogs...))                                                                     // ExportLogsServiceRequest.resource_logs
}

// deepLogJSON is the same as OTLP/JSON, nested arrays only.
func deepLogJSON(where string, depth int) []byte {
	value := strings.Repeat(`{"arrayValue":{"values":[`, depth) + `{"stringValue":"x"}` + strings.Repeat(`]}}`, depth)
	record := `"body":` + value
	if where != "body" {
		record = `"attributes":[{"key":"deep","value":` + value + `}]`
	}
	return []byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"e2e-deep"}}]},"scopeLogs":[{"logRecords":[{` + record + `}]}]}]}`)
}
