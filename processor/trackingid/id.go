// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid // import "github.com/airi-otel/otelcol-airi/processor/trackingid"

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The derivation below is a public contract (README "Deriving a trace ID"): applications
// re-implement it to compute the tracking ID of their own request IDs. Change it only with a
// new option, never in place.

// hashStackSize is the longest request ID hashed without a heap copy.
const hashStackSize = 128

// rawID is a request-ID value in its string form, surrounding whitespace trimmed. Integers
// (and integral doubles, which is what JSON parsers make of integers) are kept as numbers and
// formatted in decimal only when needed, so finding a numeric ID does not allocate.
type rawID struct {
	s     string
	n     int64
	isNum bool
}

// appendTo appends the string form of r to dst.
func (r rawID) appendTo(dst []byte) []byte {
	if r.isNum {
		return strconv.AppendInt(dst, r.n, 10)
	}
	return append(dst, r.s...)
}

// String returns the string form of r (this allocates for numbers).
func (r rawID) String() string {
	if r.isNum {
		return strconv.FormatInt(r.n, 10)
	}
	return r.s
}

// equalsHex reports whether r is exactly the given lower-case hex trace ID.
func (r rawID) equalsHex(h string) bool {
	return !r.isNum && r.s == h
}

// equalsHexFold reports whether r is the given lower-case hex trace ID ignoring ASCII case.
func (r rawID) equalsHexFold(h string) bool {
	if r.isNum || len(r.s) != len(h) {
		return false
	}
	for i := 0; i < len(h); i++ {
		if lowerASCII(r.s[i]) != h[i] {
			return false
		}
	}
	return true
}

// extractRawID turns an attribute or body value into a request ID. ok is false for values
// that cannot be one: empty or whitespace-only strings, non-integral or huge doubles, bools,
// bytes, maps, empty slices, null, and the all-zero hex and UUID forms.
func extractRawID(v pcommon.Value) (rawID, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := strings.TrimSpace(v.Str())
		if s == "" || isZeroForm(s) {
			return rawID{}, false
		}
		return rawID{s: s}, true
	case pcommon.ValueTypeInt:
		return rawID{n: v.Int(), isNum: true}, true
	case pcommon.ValueTypeDouble:
		d := v.Double()
		// 2^53: beyond it a double no longer holds every integer, so its decimal form is
		// not the one the application wrote.
		if d != math.Trunc(d) || math.Abs(d) > 1<<53 {
			return rawID{}, false
		}
		return rawID{n: int64(d), isNum: true}, true
	case pcommon.ValueTypeSlice:
		// OTel HTTP semconv records a header as a list of its values; the first one counts.
		sl := v.Slice()
		if sl.Len() == 0 {
			return rawID{}, false
		}
		first := sl.At(0)
		if first.Type() == pcommon.ValueTypeSlice {
			return rawID{}, false
		}
		return extractRawID(first)
	default:
		return rawID{}, false
	}
}

// deriveTraceID maps a valid request ID to a trace ID:
//   - 32 hex digits (any case): the digits themselves;
//   - a UUID 8-4-4-4-12 with dashes (any case): its 32 hex digits;
//   - anything else: the first 16 bytes of SHA-256 over its UTF-8 bytes.
//
// ok is false when the result would be the all-zero (invalid) trace ID.
func deriveTraceID(r rawID) (pcommon.TraceID, bool) {
	var buf [hashStackSize]byte
	var b []byte
	if r.isNum || len(r.s) <= len(buf) {
		b = r.appendTo(buf[:0])
	} else {
		b = []byte(r.s)
	}
	var id pcommon.TraceID
	switch {
	case len(b) == 32 && decodeHex(id[:], b):
	case len(b) == 36 && isUUIDDashes(b) && decodeUUID(id[:], b):
	default:
		sum := sha256.Sum256(b)
		copy(id[:], sum[:16])
	}
	if id.IsEmpty() {
		return pcommon.TraceID{}, false
	}
	return id, true
}

// isZeroForm reports whether s is the all-zero trace ID in its hex or UUID form; such a value
// can never become a trace ID.
func isZeroForm(s string) bool {
	switch len(s) {
	case 32:
		return strings.Count(s, "0") == 32
	case 36:
		return s == "00000000-0000-0000-0000-000000000000"
	}
	return false
}

func isUUIDDashes(b []byte) bool {
	return b[8] == '-' && b[13] == '-' && b[18] == '-' && b[23] == '-'
}

// decodeUUID decodes the 32 hex digits of an 8-4-4-4-12 UUID into dst (16 bytes).
func decodeUUID(dst, b []byte) bool {
	var digits [32]byte
	n := 0
	for i, c := range b {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		digits[n] = c
		n++
	}
	return decodeHex(dst, digits[:])
}

// decodeHex decodes 32 hex digits of either case into dst (16 bytes); on false dst holds
// garbage, which deriveTraceID then overwrites.
func decodeHex(dst, src []byte) bool {
	n, err := hex.Decode(dst, src)
	return err == nil && n == 16
}

// encodeTraceID writes the lower-case 32-hex form of id into dst. encoding/hex replaced a
// hand-written eight-digits-per-step encoder that did not pay for itself: 19 vs 13 ns per ID in
// isolation (BenchmarkHexEncode has both), and on BenchmarkTraces/distinct, a new ID every span,
// 184 vs 191 cpu-ns per span, inside the ±10 % noise (medians of 5 interleaved runs).
func encodeTraceID(dst *[32]byte, id pcommon.TraceID) {
	hex.Encode(dst[:], id[:])
}

// hexChunkIDs is how many hex strings share one backing array: few enough that a single
// string kept long after its batch (say by a tail-sampling stage) pins at most 512 bytes.
const hexChunkIDs = 16

// batchCache serves one batch. It remembers the last trace ID's hex string and the last
// derivation (spans and logs of one trace or request arrive together, so a hit saves the
// string and a SHA-256), and it carves the hex strings out of shared 512-byte chunks instead of
// allocating each one. It holds one entry of each kind and the current chunk, so it is
// bounded by design; it must not outlive the batch's processing.
type batchCache struct {
	hexID pcommon.TraceID
	hex   string
	chunk []byte
	// left, when the caller sets it, bounds how many more hex strings the current span or
	// log slice can still need; a new chunk is cut to it, so a batch's last chunk is no
	// larger than the batch needs.
	left     int
	rawValid bool
	raw      rawID
	derived  pcommon.TraceID
}

// hexOf returns the lower-case 32-hex string of id.
func (c *batchCache) hexOf(id pcommon.TraceID) string {
	if c.hex != "" && c.hexID == id {
		return c.hex
	}
	if len(c.chunk) < 32 {
		n := hexChunkIDs
		if c.left > 0 && c.left < n {
			n = c.left
		}
		c.chunk = make([]byte, 32*n)
	}
	dst := (*[32]byte)(c.chunk[:32])
	encodeTraceID(dst, id)
	// The 32 bytes are never written again (the chunk is only ever cut further along), so
	// the string is immutable as Go requires; the chunk lives as long as any string in it.
	c.hexID, c.hex = id, unsafe.String(&dst[0], 32)
	c.chunk = c.chunk[32:]
	return c.hex
}

// derive is deriveTraceID with a one-entry memo.
func (c *batchCache) derive(r rawID) (pcommon.TraceID, bool) {
	if c.rawValid && c.raw == r {
		return c.derived, true
	}
	id, ok := deriveTraceID(r)
	if ok {
		c.rawValid, c.raw, c.derived = true, r, id
	}
	return id, ok
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// keyMatcher finds a key's priority in a fixed list of ASCII-case-insensitive keys without
// allocating: candidates are bucketed by length, so most attribute keys are rejected by one
// slice index, and a same-length key by its first and last byte. It pays for itself over a
// plain map of lower-cased keys behind the same length mask: on BenchmarkTraces (7 attributes
// a span, 2–3 of them of a candidate length) the map cost 15–25 ns more per span (207 vs 191
// cpu-ns distinct, 167 vs 144 grouped10; medians of 5 interleaved runs), about the whole
// cost of the scan; per key, BenchmarkKeyLookup has 8 vs 15 ns.
type keyMatcher struct {
	byLen   [][]matchKey
	lenMask uint64 // bit l set when some key has length l < 64
	n       int
}

// lenBit is the bit of a key of length l in a length mask; 0 for l >= 64, which a mask
// therefore never rules out.
func lenBit(l int) uint64 {
	if l >= 64 {
		return 0
	}
	return 1 << uint(l)
}

// maybeLen reports whether a key of length l may be one whose lenBit is in mask.
func maybeLen(mask uint64, l int) bool {
	return l >= 64 || mask&(1<<uint(l)) != 0
}

type matchKey struct {
	lower string
	prio  int
}

// newKeyMatcher builds a matcher over keys in priority order; a key repeated (ignoring case)
// keeps its first priority.
func newKeyMatcher(keys []string) *keyMatcher {
	m := &keyMatcher{}
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		lk := asciiLower(k)
		if _, dup := seen[lk]; dup || lk == "" {
			continue
		}
		seen[lk] = struct{}{}
		for len(m.byLen) <= len(lk) {
			m.byLen = append(m.byLen, nil)
		}
		m.byLen[len(lk)] = append(m.byLen[len(lk)], matchKey{lower: lk, prio: m.n})
		m.lenMask |= lenBit(len(lk))
		m.n++
	}
	return m
}

// match returns the priority of k (0 is highest) or -1.
func (m *keyMatcher) match(k string) int {
	if !maybeLen(m.lenMask, len(k)) {
		return -1 // most keys: one bit test, inlined into the caller
	}
	return m.matchLen(k)
}

func (m *keyMatcher) matchLen(k string) int {
	if len(k) >= len(m.byLen) || len(m.byLen[len(k)]) == 0 {
		return -1
	}
	return matchBucket(m.byLen[len(k)], k)
}

// matchBucket finds k among the same-length keys of one bucket. The keys are distinct and
// lower-case, so at most one equals k ignoring case. The folded last and first bytes reject
// almost every other key of the same length (url.path against trace_id, an HTTP header form
// against another) before any full compare; then the exact compare (the usual spelling) or a
// case-insensitive one decides.
func matchBucket(bucket []matchKey, k string) int {
	first, last := lowerASCII(k[0]), lowerASCII(k[len(k)-1])
	for i := range bucket {
		c := &bucket[i]
		if c.lower[len(k)-1] != last || c.lower[0] != first {
			continue
		}
		if c.lower == k || equalFoldLower(k, c.lower) {
			return c.prio
		}
	}
	return -1
}

// equalFoldLower compares s with the already lower-cased t of the same length, folding ASCII.
func equalFoldLower(s, t string) bool {
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != t[i] {
			return false
		}
	}
	return true
}

// headerForms returns the HTTP-semconv attribute keys under which instrumentations record a
// header named like key: http.{request,response}.header.<key>, with '-' and with '_'.
func headerForms(keys []string) []string {
	var out []string
	for _, dir := range []string{"http.request.header.", "http.response.header."} {
		for _, k := range keys {
			lk := asciiLower(k)
			out = append(out,
				dir+lk,
				dir+strings.ReplaceAll(lk, "-", "_"),
				dir+strings.ReplaceAll(lk, "_", "-"))
		}
	}
	return out
}
