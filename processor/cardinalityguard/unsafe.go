// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import "unsafe"

// unsafeString views b as a string without copying; only for immediate, read-only use
// while b is not modified.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
