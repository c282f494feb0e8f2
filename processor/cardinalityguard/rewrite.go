// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

// Byte-scan rewriters for ID-shaped label values. They never use regexp: every function is
// a single left-to-right pass that copies into dst only once a rewrite happened, so the
// common "nothing to rewrite" case costs one scan and no allocation.

const truncMarker = "[truncated]"

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isEmailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isEmailDomain(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// uuidAt reports whether s[i:] starts with a canonical 8-4-4-4-12 UUID.
func uuidAt(s string, i int) bool {
	if len(s)-i < 36 {
		return false
	}
	for k := 0; k < 36; k++ {
		c := s[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// emailAt returns the end of an e-mail address starting at i (i must be at a token
// boundary), or -1.
func emailAt(s string, i int) int {
	j := i
	for j < len(s) && isEmailLocal(s[j]) {
		j++
	}
	if j == i || j >= len(s) || s[j] != '@' {
		return -1
	}
	d := j + 1
	k := d
	dot := false
	for k < len(s) && isEmailDomain(s[k]) {
		if s[k] == '.' && k > d {
			dot = true
		}
		k++
	}
	for k > d && s[k-1] == '.' { // a trailing dot ends the sentence, not the domain
		k--
	}
	if !dot || k == d || (k < len(s) && s[k-1] == '.') {
		return -1
	}
	// require the dot inside the trimmed domain
	for x := d + 1; x < k-1; x++ {
		if s[x] == '.' {
			return k
		}
	}
	return -1
}

// appendRewriteIDs replaces UUIDs ({uuid}), e-mail addresses ({email}), hex runs of 16+
// characters ({hex}) and digit runs of 6+ ({num}) in s. It returns dst (with the rewritten
// value appended) and whether anything changed; when nothing changed dst is returned as is.
func appendRewriteIDs(dst []byte, s string) ([]byte, bool) {
	if len(s) < 6 {
		return dst, false
	}
	base := len(dst)
	changed := false
	last := 0 // s[last:i] not yet copied (only meaningful once changed)
	emit := func(i, end int, ph string) {
		if !changed {
			changed = true
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, ph...)
		last = end
	}
	i := 0
	for i < len(s) {
		c := s[i]
		boundary := i == 0 || !isAlnum(s[i-1])
		if boundary && isAlnum(c) {
			if uuidAt(s, i) && (i+36 == len(s) || !isAlnum(s[i+36])) {
				emit(i, i+36, "{uuid}")
				i += 36
				continue
			}
			// alnum run
			j := i
			allHex := true
			for j < len(s) && isAlnum(s[j]) {
				if !isHex(s[j]) {
					allHex = false
				}
				j++
			}
			if j < len(s) && (s[j] == '@' || s[j] == '.' || s[j] == '_' || s[j] == '+' || s[j] == '%' || s[j] == '-') {
				if e := emailAt(s, i); e > 0 {
					emit(i, e, "{email}")
					i = e
					continue
				}
			}
			if allHex && j-i >= 16 {
				emit(i, j, "{hex}")
				i = j
				continue
			}
		}
		if isDigit(c) && (i == 0 || !isDigit(s[i-1])) {
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j-i >= 6 {
				emit(i, j, "{num}")
				i = j
				continue
			}
			i = j
			continue
		}
		i++
	}
	if !changed {
		return dst[:base], false
	}
	dst = append(dst, s[last:]...)
	return dst, true
}

// idSegment reports whether one URL path segment looks like an identifier: numeric, a
// UUID, hex of 8+ characters containing a digit, an e-mail address, or a long (16+) token
// mixing letters and digits. Version segments such as v1, v2beta1 and template segments
// ({id}, :id) are kept.
func idSegment(seg string) bool {
	n := len(seg)
	if n == 0 {
		return false
	}
	if seg[0] == '{' || seg[0] == ':' {
		return false
	}
	digits, letters, hex, other := 0, 0, 0, 0
	for i := 0; i < n; i++ {
		c := seg[i]
		switch {
		case isDigit(c):
			digits++
			hex++
		case isHex(c):
			letters++
			hex++
		case isAlnum(c):
			letters++
		default:
			other++
		}
	}
	if digits == n {
		return true
	}
	if n == 36 && uuidAt(seg, 0) {
		return true
	}
	if emailAt(seg, 0) == n {
		return true
	}
	if (seg[0] == 'v' || seg[0] == 'V') && n <= 12 && n > 1 && isDigit(seg[1]) {
		return false // v1, v2, v2beta1
	}
	if other == 0 && hex == n && n >= 8 && digits > 0 {
		return true
	}
	if n >= 16 && digits > 0 && letters > 0 {
		return true
	}
	// digit runs of 6+ inside a segment (order-123456) make it an id too
	run := 0
	for i := 0; i < n; i++ {
		if isDigit(seg[i]) {
			run++
			if run >= 6 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// appendPathTemplate rewrites a URL path segment-wise, replacing identifier segments with
// {id} and dropping a query string or fragment. Values not starting with '/' are not paths
// and are returned unchanged (changed=false).
func appendPathTemplate(dst []byte, s string) ([]byte, bool) {
	if len(s) == 0 || s[0] != '/' {
		return dst, false
	}
	base := len(dst)
	end := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] == '?' || s[i] == '#' {
			end = i
			break
		}
	}
	changed := end != len(s)
	start := 1
	for start <= end {
		j := start
		for j < end && s[j] != '/' {
			j++
		}
		if idSegment(s[start:j]) {
			changed = true
			break
		}
		start = j + 1
	}
	if !changed {
		return dst, false
	}
	dst = append(dst, '/')
	start = 1
	for start <= end {
		j := start
		for j < end && s[j] != '/' {
			j++
		}
		seg := s[start:j]
		if idSegment(seg) {
			dst = append(dst, "{id}"...)
		} else {
			dst = append(dst, seg...)
		}
		if j < end {
			dst = append(dst, '/')
		}
		start = j + 1
	}
	_ = base
	return dst, true
}

// truncateLen returns how many bytes of s to keep before the marker so that the result
// is at most max bytes and does not split a UTF-8 sequence.
func truncateLen(s string, limit int) int {
	n := limit - len(truncMarker)
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return n
}
