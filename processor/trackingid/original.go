// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid // import "github.com/airi-otel/otelcol-airi/processor/trackingid"

// maxOriginalLen caps the value copied into original_attribute, like cardinality_guard's
// default max_label_value_length: a 10 MiB request ID must not add another 10 MiB to its
// record (the trace ID is still derived from the whole value).
const maxOriginalLen = 2048

const originalTruncMarker = "[truncated]"

// originalValue returns the string form of r for original_attribute, cut on a UTF-8
// boundary and ending in "[truncated]" (maxOriginalLen bytes in all) when longer.
func originalValue(r rawID) string {
	if r.isNum || len(r.s) <= maxOriginalLen {
		return r.String()
	}
	n := maxOriginalLen - len(originalTruncMarker)
	for n > 0 && r.s[n]&0xC0 == 0x80 {
		n--
	}
	return r.s[:n] + originalTruncMarker
}
