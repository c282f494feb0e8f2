// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The two benchmarks here keep, next to what the processor uses, the alternative it was weighed
// against, so the choice can be re-checked on new hardware or Go versions:
//
//	go test ./processor/trackingid/ -run '^$' -bench 'KeyLookup|HexEncode' -count 5
//
// The decision was taken on BenchmarkTraces, with the processor built each way (see the
// comments on keyMatcher and encodeTraceID).

// benchKeys are the attribute keys of the span and log benchmarks (benchmark_test.go): what a
// key lookup sees per record.
var benchKeys = []string{
	"http.request.method", "url.path", "http.response.status_code", "server.address",
	"user_agent.original", "network.protocol.version", "http.request.header.x_request_id",
	"logger", "tenant_id", "model", "latency_ms", "status_code", "trace_id", "traceId",
}

var sinkInt int

// plainMatcher is the plain alternative to keyMatcher: a map from lower-cased key to priority,
// behind the same length mask, looked up with the key lower-cased into a stack buffer.
type plainMatcher struct {
	prio    map[string]int
	lenMask uint64
}

func newPlainMatcher(keys []string) *plainMatcher {
	m := &plainMatcher{prio: make(map[string]int, len(keys))}
	for _, k := range keys {
		lk := asciiLower(k)
		if _, dup := m.prio[lk]; dup || lk == "" {
			continue
		}
		m.prio[lk] = len(m.prio)
		m.lenMask |= lenBit(len(lk))
	}
	return m
}

func (m *plainMatcher) match(k string) int {
	if !maybeLen(m.lenMask, len(k)) {
		return -1
	}
	var buf [64]byte
	if len(k) > len(buf) {
		if p, ok := m.prio[asciiLower(k)]; ok {
			return p
		}
		return -1
	}
	b := buf[:len(k)]
	for i := 0; i < len(k); i++ {
		b[i] = lowerASCII(k[i])
	}
	if p, ok := m.prio[string(b)]; ok { // a map index does not copy the []byte
		return p
	}
	return -1
}

func BenchmarkKeyLookup(b *testing.B) {
	cfg := createDefaultConfig().(*Config)
	keys := append([]string{cfg.SpanAttribute}, cfg.RequestIDKeys...)
	keys = append(keys, headerForms(cfg.RequestIDKeys)...)
	m, pm := newKeyMatcher(keys), newPlainMatcher(keys)
	for _, k := range append([]string{"X-Request-ID", "TRACEID"}, benchKeys...) {
		require.Equal(b, m.match(k) >= 0, pm.match(k) >= 0, k)
	}
	for _, v := range []struct {
		name  string
		match func(string) int
	}{{"keyMatcher", m.match}, {"plain_map", pm.match}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				for _, k := range benchKeys {
					sinkInt += v.match(k)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(benchKeys)), "ns/key")
		})
	}
}

// encodeTraceIDSWAR is the hand-written encoder encoding/hex replaced: eight digits per step,
// the nibbles of four bytes spread one per byte of a uint64, then each becomes '0'+n, plus
// 'a'-'0'-10 where n > 9.
func encodeTraceIDSWAR(dst *[32]byte, id pcommon.TraceID) {
	for i := 0; i < 4; i++ {
		v := uint64(binary.BigEndian.Uint32(id[4*i:]))
		v = (v | v<<16) & 0x0000ffff0000ffff
		v = (v | v<<8) & 0x00ff00ff00ff00ff
		v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f
		letters := (v + 0x0606060606060606) >> 4 & 0x0101010101010101
		binary.BigEndian.PutUint64(dst[8*i:], v+0x3030303030303030+letters*('a'-'0'-10))
	}
}

var sinkHex [32]byte

func BenchmarkHexEncode(b *testing.B) {
	ids := make([]pcommon.TraceID, 64)
	for i := range ids {
		ids[i] = traceIDFor(i)
		var x, y [32]byte
		encodeTraceID(&x, ids[i])
		encodeTraceIDSWAR(&y, ids[i])
		require.Equal(b, x, y)
	}
	for _, v := range []struct {
		name   string
		encode func(*[32]byte, pcommon.TraceID)
	}{{"encoding_hex", encodeTraceID}, {"swar", encodeTraceIDSWAR}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				for _, id := range ids {
					v.encode(&sinkHex, id)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/id")
		})
	}
}
