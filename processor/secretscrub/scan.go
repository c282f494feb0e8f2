// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package secretscrub // import "github.com/airi-otel/otelcol-airi/processor/secretscrub"

import (
	"encoding/base64"
	"math"
	"math/bits"
	"regexp"
	"strings"
)

// mask is what a secret becomes; what is kept in front of it (a scheme, a key prefix, a
// parameter name) keeps the value readable.
const mask = "****"

// builtinKeys are the keys whose whole value is a secret (normalized: lower case, `-` as `_`).
var builtinKeys = []string{
	"authorization", "proxy_authorization", "cookie", "set_cookie", "x_api_key", "api_key",
	"apikey", "password", "passwd", "secret", "client_secret", "token", "access_token",
	"refresh_token", "private_key", "id_token", "x_auth_token", "aws_secret_access_key",
	"secret_key",
}

// paramOnlyKeys are secret only as a URL query / `k=v` parameter name, where they name a
// signature or key; as attribute keys they are too common (a cache `key`) to mask.
var paramOnlyKeys = []string{
	"key", "sig", "signature", "pwd", "auth", "auth_token", "session_token",
	"x_amz_signature", "x_amz_credential", "x_amz_security_token",
}

// alwaysAllowedKeys are never scrubbed: request/trace identifiers that tracking_id and the
// backends join signals on. They are not secrets.
var alwaysAllowedKeys = []string{"tracking.id", "tracking_id", "tracking.id.original", "trace_id", "span_id"}

// authSchemes are kept in front of a masked credential (`Bearer ****`).
var authSchemes = []string{"bearer", "basic", "digest", "token", "negotiate", "apikey", "aws4_hmac_sha256"}

// prefixRule is a token prefix followed by at least minTail token characters.
type prefixRule struct {
	prefix  string
	rule    Rule
	idx     int // rule's index, set by compileRules
	minTail int
	// exactTail: the tail is exactly minTail upper-case letters/digits (AWS key IDs).
	exactTail bool
	// tailUnderscore allows `_` in the tail (GitHub fine-grained tokens), tailDash `-` and `_`.
	tailDash bool
	// tailDot allows `.` (Google OAuth access tokens).
	tailDot bool
}

// builtinPrefixes, longest first within one first byte so `sk-ant-` wins over `sk-`.
var builtinPrefixes = []prefixRule{
	{prefix: "sk_live_", rule: RuleStripe, minTail: 8},
	{prefix: "sk_test_", rule: RuleStripe, minTail: 8},
	{prefix: "rk_live_", rule: RuleStripe, minTail: 8},
	{prefix: "rk_test_", rule: RuleStripe, minTail: 8},
	{prefix: "whsec_", rule: RuleStripe, minTail: 8},
	{prefix: "sk-ant-", rule: RuleAnthropic, minTail: 20, tailDash: true},
	{prefix: "sk-proj-", rule: RuleOpenAI, minTail: 20, tailDash: true},
	{prefix: "sk-", rule: RuleOpenAI, minTail: 20, tailDash: true},
	{prefix: "AKIA", rule: RuleAWS, minTail: 16, exactTail: true},
	{prefix: "ASIA", rule: RuleAWS, minTail: 16, exactTail: true},
	{prefix: "AIza", rule: RuleGoogle, minTail: 30, tailDash: true},
	{prefix: "ya29.", rule: RuleGoogle, minTail: 20, tailDash: true, tailDot: true},
	{prefix: "github_pat_", rule: RuleGitHub, minTail: 22, tailDash: true},
	{prefix: "ghp_", rule: RuleGitHub, minTail: 30},
	{prefix: "gho_", rule: RuleGitHub, minTail: 30},
	{prefix: "ghu_", rule: RuleGitHub, minTail: 30},
	{prefix: "ghs_", rule: RuleGitHub, minTail: 30},
	{prefix: "ghr_", rule: RuleGitHub, minTail: 30},
}

// rules is the compiled configuration, shared read-only by every batch.
type rules struct {
	keys        keySet // secret attribute keys
	params      keySet // secret parameter names
	allowKeys   keySet
	allowValues map[string]struct{}
	prefixes    [256][]prefixRule // by first byte
	// starts[c|next<<8] is 1 when a secret may start at the pair c, next (for `=`, `:` and
	// `@`: sit on c): "e" is everywhere in text, "eyJ" is not, so the scan loop looks up eight
	// positions at a time without a branch and calls matchAt for few of them. 64 KiB, of which
	// text touches a few dozen cache lines.
	starts [1 << 16]uint8
	on     [numRules]bool
	// minLen is the length of the shortest string a byte-scan rule can match: shorter values
	// (methods, status codes, most metric labels) skip the scan.
	minLen int
	// special is keys' and allowKeys' filters in one (mayBeSpecial).
	special  keyFilter
	patterns []*regexp.Regexp
}

// normKey is the normalized form of k, made as keySet.has makes it for a lookup (ASCII only), so
// a configured key and the attribute key it names always normalize alike.
func normKey(k string) string {
	return string(lowerInto(make([]byte, len(k)), k))
}

func compileRules(cfg *Config) *rules {
	r := &rules{
		allowValues: map[string]struct{}{},
		minLen:      math.MaxInt,
	}
	for i := range r.on {
		r.on[i] = true
	}
	for _, d := range cfg.DisabledRules {
		r.on[ruleIndex(d)] = false
	}
	r.on[ruleIndex(RuleEmail)] = cfg.MaskEmails
	for _, k := range append(append([]string{}, builtinKeys...), cfg.ExtraKeys...) {
		r.keys.add(k)
		r.params.add(k)
	}
	for _, k := range paramOnlyKeys {
		r.params.add(k)
	}
	for _, k := range append(append([]string{}, alwaysAllowedKeys...), cfg.AllowKeys...) {
		r.allowKeys.add(k)
	}
	for _, v := range cfg.AllowValues {
		r.allowValues[v] = struct{}{}
	}
	add := func(p prefixRule) {
		p.idx = ruleIndex(p.rule)
		if !r.on[p.idx] {
			return
		}
		c := p.prefix[0]
		r.prefixes[c] = append(r.prefixes[c], p)
		r.arm(c, p.prefix[1])
		r.minLen = min(r.minLen, len(p.prefix)+p.minTail)
	}
	for _, p := range builtinPrefixes {
		add(p)
	}
	for _, p := range cfg.ExtraPrefixes {
		add(prefixRule{prefix: p, rule: RulePrefix, minTail: 8, tailDash: true})
	}
	// The shortest matches: "Bearer " + 8, "Basic " + 4 (a base64 "u:p"), header and payload of
	// 10 with two dots, 13 digits, "k=v" with the shortest parameter name, "://:p@", "a@b.cc".
	if r.on[idxBearer] || r.on[idxBasic] {
		for _, c := range []byte("Bb") {
			for _, n := range []byte("eEaA") {
				r.arm(c, n)
			}
		}
		if r.on[idxBearer] {
			r.minLen = min(r.minLen, 15)
		}
		if r.on[idxBasic] {
			r.minLen = min(r.minLen, 10)
		}
	}
	if r.on[idxJWT] {
		r.arm('e', 'y')
		r.minLen = min(r.minLen, 22)
	}
	if r.on[idxCard] {
		// A card's first group has 4 or 13 and more digits: a digit follows the first.
		for c := byte('2'); c <= '6'; c++ {
			for n := byte('0'); n <= '9'; n++ {
				r.arm(c, n)
			}
		}
		r.minLen = min(r.minLen, 13)
	}
	if r.on[idxQueryParam] {
		r.armAny('=')
		r.arm(':', '/') // URL user:password@
		r.minLen = min(r.minLen, r.params.minLen+2, 6)
	}
	if r.on[idxEmail] {
		r.armAny('@')
		r.minLen = min(r.minLen, 6)
	}
	for _, p := range cfg.ExtraPatterns {
		r.patterns = append(r.patterns, regexp.MustCompile(p)) // validated in Config.Validate
	}
	for c := range 256 {
		r.special.firsts[c] = r.keys.firsts[c] | r.allowKeys.firsts[c]
		r.special.lasts[c] = r.keys.lasts[c] | r.allowKeys.lasts[c]
	}
	return r
}

// arm makes the pair c, next start a scan.
func (r *rules) arm(c, next byte) { r.starts[pair(c, next)] = 1 }

// armAny makes c start a scan whatever follows it.
func (r *rules) armAny(c byte) {
	for n := range 256 {
		r.arm(c, byte(n))
	}
}

func pair(c, next byte) uint16 { return uint16(c) | uint16(next)<<8 }

// lowerInto writes the normalized form of s into buf (nil when s does not fit).
func lowerInto(buf []byte, s string) []byte {
	if len(s) > len(buf) {
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		}
		buf[i] = c
	}
	return buf[:len(s)]
}

// keySet is a set of normalized keys with a cheap pre-check (length, first and last byte) in
// front of the map: nearly every attribute key is not in the set, and the pre-check rejects
// most of them without hashing (about a third of the scrubber's time went to map lookups
// without it).
type keySet struct {
	m map[string]struct{}
	keyFilter
	minLen, maxLen int
}

// keyFilter: firsts[c] / lasts[c] has bit n set when some key starting / ending with byte c
// (either case, `-` for `_`) has length n (64 bytes or more: bit 63).
type keyFilter struct {
	firsts, lasts [256]uint64
}

func (ks *keySet) add(k string) {
	if ks.m == nil {
		ks.m = map[string]struct{}{}
	}
	n := normKey(k)
	ks.m[n] = struct{}{}
	ks.maxLen = max(ks.maxLen, len(n))
	if ks.minLen == 0 || len(n) < ks.minLen {
		ks.minLen = len(n)
	}
	bit := uint64(1) << min(len(n), 63)
	markBothCases(&ks.firsts, n[0], bit)
	markBothCases(&ks.lasts, n[len(n)-1], bit)
}

// markBothCases sets bit in set[c] and in the entry of every byte c stands for after lowerInto.
func markBothCases(set *[256]uint64, c byte, bit uint64) {
	set[c] |= bit
	switch {
	case c >= 'a' && c <= 'z':
		set[c-('a'-'A')] |= bit
	case c == '_':
		set['-'] |= bit
	}
}

// has looks s up, normalized, without allocating.
func (ks *keySet) has(s string) bool {
	if len(s) == 0 {
		return false
	}
	bit := uint64(1) << min(len(s), 63)
	if ks.firsts[s[0]]&bit == 0 || ks.lasts[s[len(s)-1]]&bit == 0 {
		return false
	}
	if len(s) > ks.maxLen {
		return false
	}
	var buf [64]byte
	dst := buf[:]
	if len(s) > len(buf) {
		dst = make([]byte, len(s)) // only for a configured key longer than 64 bytes
	}
	_, ok := ks.m[string(lowerInto(dst, s))]
	return ok
}

// mayMatch is false when neither k, nor its last dot-separated segment, nor what follows a
// metric header-label prefix can be in the set (what isSecretKey looks up), judged by the
// first and last byte of each such part that has a key's length: most attribute keys are
// rejected without being scanned for dots or hashed.
func (f *keyFilter) mayMatch(k string) bool {
	n := len(k)
	if n == 0 {
		return false
	}
	lens := f.lasts[k[n-1]]
	if lens>>63 != 0 {
		return true
	}
	// Every key length l <= n whose part k[n-l:] starts like a key of that length and is the
	// whole key, follows a dot or follows a header-label prefix.
	for lens &= uint64(1)<<uint(n+1) - 1; lens != 0; lens &= lens - 1 {
		l := bits.TrailingZeros64(lens)
		at := n - l
		if f.firsts[k[at]]>>l&1 != 0 && (at == 0 || k[at-1] == '.' ||
			at == len(requestHeaderLabel) || at == len(responseHeaderLabel)) {
			return true
		}
	}
	return false
}

// mayEndAt is false when no parameter name in the set can end at str[i-1] (matchParam's name,
// or its last dot-separated segment, after last), judged like mayMatch by the first and last
// byte of each part of a name's length and the byte before it (not a letter, digit or `_`),
// without scanning back for the name's start.
func (f *keyFilter) mayEndAt(str string, i, last int) bool {
	if i <= last {
		return false
	}
	lens := f.lasts[str[i-1]]
	if lens>>63 != 0 {
		return true
	}
	for lens &= uint64(1)<<uint(i-last+1) - 1; lens != 0; lens &= lens - 1 {
		l := bits.TrailingZeros64(lens)
		at := i - l
		if f.firsts[str[at]]>>l&1 != 0 && (at == last || !isAlnum(str[at-1]) && str[at-1] != '_') {
			return true
		}
	}
	return false
}

// lastSegment is what follows k's last dot, when that is short enough to be in ks ("" if not).
func (ks *keySet) lastSegment(k string) string {
	for i := len(k) - 1; i >= 0 && len(k)-1-i <= ks.maxLen; i-- {
		if k[i] == '.' {
			return k[i+1:]
		}
	}
	return ""
}

// mayBeSpecial is false for a key that is neither allowed nor secret, judged by
// keyFilter.mayMatch: one check instead of two for nearly every attribute key.
func (r *rules) mayBeSpecial(k string) bool { return r.special.mayMatch(k) }

// isAllowedKey: the whole key is on the allow-list.
func (r *rules) isAllowedKey(k string) bool { return r.allowKeys.has(k) }

// isSecretKey: the whole key or its last dot-separated segment is a secret key, so
// `http.request.header.authorization` and `db.password` match `authorization` / `password`.
func (r *rules) isSecretKey(k string) bool {
	return r.on[idxKey] && r.keys.mayMatch(k) && r.keys.hasKeyOrTail(k)
}

// hasKeyOrTail is isSecretKey's look-up without the pre-check.
func (ks *keySet) hasKeyOrTail(k string) bool {
	if ks.has(k) || dotTailIn(ks, k) {
		return true
	}
	// Metric labels after airi_normalize: http.request.header.x-api-key is
	// http_request_header_x_api_key.
	for _, p := range headerLabelPrefixes {
		if len(k) > len(p) && strings.EqualFold(k[:len(p)], p) {
			return ks.has(k[len(p):])
		}
	}
	return false
}

// scrubber is the scratch of one batch: the output buffer reused across values and the count
// of secrets per rule.
type scrubber struct {
	r     *rules
	buf   []byte
	tally [numRules]int64
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'z'
}

func isTokenChar(c byte, dash, dot bool) bool {
	return isAlnum(c) || (dash && (c == '-' || c == '_')) || (dot && c == '.')
}

// maskWhole is the key rule: the whole value goes, but an auth scheme or a known key prefix in
// front of it stays (`Bearer ****`, `sk_live_****`). An already masked value stays as it is.
func (s *scrubber) maskWhole(v string) (string, bool) {
	if v == "" || v == mask || s.isAllowedValue(v) {
		return v, false
	}
	keep := 0
	if sp := strings.IndexByte(v, ' '); sp > 0 && schemeSet.has(v[:sp]) {
		keep = sp + 1
	} else {
		for _, p := range s.r.prefixes[v[0]] {
			if strings.HasPrefix(v, p.prefix) {
				keep = len(p.prefix)
				break
			}
		}
	}
	if v[keep:] == mask {
		return v, false
	}
	s.tally[idxKey]++
	return v[:keep] + mask, true
}

// The metric-label forms of http.request.header.<key> / http.response.header.<key> after
// airi_normalize.
const (
	requestHeaderLabel  = "http_request_header_"
	responseHeaderLabel = "http_response_header_"
)

var headerLabelPrefixes = [...]string{requestHeaderLabel, responseHeaderLabel}

// isCookieKey: cookie / set-cookie, also as a header attribute (`http.request.header.cookie`)
// and as airi_normalize's metric label for one (`http_request_header_cookie`).
func isCookieKey(k string) bool {
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		k = k[i+1:]
	}
	for _, p := range headerLabelPrefixes {
		if len(k) > len(p) && strings.EqualFold(k[:len(p)], p) {
			k = k[len(p):]
			break
		}
	}
	return strings.EqualFold(k, "cookie") || strings.EqualFold(k, "set-cookie") || strings.EqualFold(k, "set_cookie")
}

// maskCookie masks every cookie value and keeps the names and attributes' names
// (`session=****; theme=****`), so one can still see which cookies a request carried. A value
// that is not `name=value` pairs is masked whole.
func (s *scrubber) maskCookie(v string) (string, bool) {
	if strings.IndexByte(v, '=') < 0 {
		return s.maskWhole(v)
	}
	out := s.buf[:0]
	changed := false
	for part := range strings.SplitSeq(v, ";") {
		if len(out) > 0 {
			out = append(out, ';')
		}
		eq := strings.IndexByte(part, '=')
		if eq < 0 || part[eq+1:] == "" || part[eq+1:] == mask {
			out = append(out, part...)
			continue
		}
		out = append(out, part[:eq+1]...)
		out = append(out, mask...)
		changed = true
	}
	s.buf = out
	if !changed {
		return v, false
	}
	s.tally[idxKey]++
	return string(out), true
}

var schemeSet = func() *keySet {
	ks := &keySet{}
	for _, s := range authSchemes {
		ks.add(s)
	}
	return ks
}()

func (s *scrubber) isAllowedValue(v string) bool {
	if len(s.r.allowValues) == 0 {
		return false
	}
	_, ok := s.r.allowValues[v]
	return ok
}

// match is one secret found in a string: s[start:keep] stays, s[keep:end] becomes mask.
type match struct {
	start, keep, end int
	rule             int // index in allRules
}

// scrubString returns str with every secret masked, and whether anything changed.
func (s *scrubber) scrubString(str string) (string, bool) {
	if str == "" || s.isAllowedValue(str) {
		return str, false
	}
	out := s.buf[:0]
	changed := false
	last := 0
	n := len(str)
	if n < s.r.minLen {
		n = 0 // too short for any match: no scan
	}
	t := &s.r.starts
	for base := 0; base+1 < n; base += 8 {
		var cand uint64
		if n >= 9 {
			// Bit j: a secret may start at str[base+j]. One 8-byte load and eight table look-ups
			// without a branch, written out here: a call would spill every live register at
			// each chunk (8 % more instructions per span in BenchmarkTraces). The last partial
			// chunk is the string's last 9 bytes, less what was scanned.
			at := min(base, n-9)
			b := str[at : at+9]
			w := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
				uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
			cand = (uint64(t[uint16(w)]) | uint64(t[uint16(w>>8)])<<1 | uint64(t[uint16(w>>16)])<<2 |
				uint64(t[uint16(w>>24)])<<3 | uint64(t[uint16(w>>32)])<<4 | uint64(t[uint16(w>>40)])<<5 |
				uint64(t[uint16(w>>48)])<<6 | uint64(t[uint16(w>>56)|uint16(b[8])<<8])<<7) >> (base - at)
		} else {
			for j := base; j+1 < n; j++ {
				cand |= uint64(t[pair(str[j], str[j+1])]) << (j - base)
			}
		}
		for ; cand != 0; cand &= cand - 1 {
			i := base + bits.TrailingZeros64(cand)
			// Only `=`, `:` and `@` start a match inside a word: no call for the rest there.
			if i < last || (i > 0 && isAlnum(str[i-1]) && !midWord[str[i]]) {
				continue
			}
			m, ok := s.matchAt(str, i, last)
			if !ok {
				continue
			}
			changed = true
			out = append(out, str[last:m.keep]...)
			out = append(out, mask...)
			last = m.end
			s.tally[m.rule]++
		}
	}
	res := str
	if changed {
		out = append(out, str[last:]...)
		res = string(out)
		s.buf = out
	}
	return s.maskPatterns(res, changed)
}

// maskPatterns runs the extra_patterns over what the byte scan left.
func (s *scrubber) maskPatterns(str string, changed bool) (string, bool) {
	for _, re := range s.r.patterns {
		if re.MatchString(str) {
			str = re.ReplaceAllString(str, mask)
			s.tally[idxPattern]++
			changed = true
		}
	}
	return str, changed
}

// midWord are the bytes whose rules match also after a letter or digit (matchAt's boundary).
var midWord = byteSet("=:@")

// matchAt tries every rule that the byte at i can start; last is the end of the previous
// match (a match never reaches back before it).
func (s *scrubber) matchAt(str string, i, last int) (match, bool) {
	c := str[i]
	boundary := i == 0 || !isAlnum(str[i-1])
	switch {
	case c == '=' || c == ':':
		if !s.r.on[idxQueryParam] {
			return match{}, false
		}
		if c == '=' {
			return s.matchParam(str, i, last)
		}
		return matchUserinfo(str, i)
	case c == '@':
		if !s.r.on[idxEmail] {
			return match{}, false
		}
		return matchEmail(str, i, last)
	}
	if !boundary {
		return match{}, false
	}
	if c >= '2' && c <= '6' && s.r.on[idxCard] {
		if i > 0 && (str[i-1] == '.' || str[i-1] == '-' || str[i-1] == '_') {
			return match{}, false
		}
		return matchCard(str, i)
	}
	if (c == 'B' || c == 'b') && (s.r.on[idxBearer] || s.r.on[idxBasic]) {
		if m, ok := s.matchAuth(str, i); ok {
			return m, true
		}
	}
	if c == 'e' && s.r.on[idxJWT] {
		if end, ok := matchJWT(str, i); ok {
			return match{start: i, keep: i + 3, end: end, rule: idxJWT}, true
		}
	}
	for _, p := range s.r.prefixes[c] {
		if !strings.HasPrefix(str[i:], p.prefix) {
			continue
		}
		j := i + len(p.prefix)
		k := j
		if p.exactTail {
			for k < len(str) && (isDigit(str[k]) || str[k] >= 'A' && str[k] <= 'Z') {
				k++
			}
			if k-j != p.minTail || (k < len(str) && isAlnum(str[k])) {
				continue
			}
		} else {
			for k < len(str) && isTokenChar(str[k], p.tailDash, p.tailDot) {
				k++
			}
			if k-j < p.minTail {
				continue
			}
		}
		return match{start: i, keep: j, end: k, rule: p.idx}, true
	}
	return match{}, false
}

// matchAuth: `Bearer <token>` / `Basic <base64 user:password>`, scheme case-insensitive.
func (s *scrubber) matchAuth(str string, i int) (match, bool) {
	var rule, n int
	switch {
	case len(str)-i > 7 && strings.EqualFold(str[i:i+6], "bearer") && str[i+6] == ' ':
		rule, n = idxBearer, 7
	case len(str)-i > 6 && strings.EqualFold(str[i:i+5], "basic") && str[i+5] == ' ':
		rule, n = idxBasic, 6
	default:
		return match{}, false
	}
	if !s.r.on[rule] {
		return match{}, false
	}
	j := i + n
	for j < len(str) && str[j] == ' ' {
		j++
	}
	k := j
	digits, other := 0, 0
	for k < len(str) && (isAlnum(str[k]) || strings.IndexByte("-._~+/", str[k]) >= 0) {
		if isDigit(str[k]) {
			digits++
		} else if !isAlnum(str[k]) {
			other++
		}
		k++
	}
	for k < len(str) && str[k] == '=' {
		k++
	}
	tok := str[j:k]
	if rule == idxBearer {
		// An opaque token has digits or punctuation; prose ("Bearer authentication") has not.
		if len(tok) < 8 || (digits == 0 && other == 0 && len(tok) < 24) {
			return match{}, false
		}
	} else if !isBasicCredential(tok) {
		return match{}, false
	}
	return match{start: i, keep: j, end: k, rule: rule}, true
}

// isBasicCredential: tok is base64 of `user:password` (printable, with a colon).
func isBasicCredential(tok string) bool {
	if len(tok) < 4 || len(tok) > 1024 {
		return false
	}
	raw := strings.TrimRight(tok, "=")
	var buf [768]byte
	n, err := base64.RawStdEncoding.Decode(buf[:], []byte(raw))
	if err != nil {
		return false
	}
	colon := false
	for _, b := range buf[:n] {
		if b < 0x20 || b == 0x7f {
			return false
		}
		if b == ':' {
			colon = true
		}
	}
	return colon
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// matchJWT: `eyJ<header>.<payload>.<signature>`, header and payload at least 10 characters.
func matchJWT(str string, i int) (int, bool) {
	if !strings.HasPrefix(str[i:], "eyJ") {
		return 0, false
	}
	k := i
	for seg := 0; seg < 3; seg++ {
		j := k
		for k < len(str) && isB64URL(str[k]) {
			k++
		}
		if seg < 2 {
			if k-j < 10 || k >= len(str) || str[k] != '.' {
				return 0, false
			}
			k++
		}
	}
	if k < len(str) && (isB64URL(str[k]) || str[k] == '.') {
		return 0, false
	}
	return k, true
}

// matchCard: 13 to 19 digits, plain or in groups of 4 (Amex 4-6-5, Diners 4-6-4) separated by
// one space or dash, starting with 2-6 (the card networks' IINs; nanosecond timestamps start
// with 1), standing alone and passing the Luhn check.
func matchCard(str string, i int) (match, bool) {
	// The first group has 4 digits (then a separator and a digit) or 13 and more: most
	// numbers in text end sooner.
	if len(str)-i < 13 || !isDigit(str[i+1]) || !isDigit(str[i+2]) || !isDigit(str[i+3]) ||
		!isDigit(str[i+4]) && !((str[i+4] == ' ' || str[i+4] == '-') && isDigit(str[i+5])) {
		return match{}, false
	}
	var groups [8]int
	ng, cur, digits := 0, 0, 0
	var sep byte
	j := i
	for j < len(str) {
		c := str[j]
		if isDigit(c) {
			digits++
			cur++
			j++
			if digits > 19 {
				break
			}
			continue
		}
		if (c == ' ' || c == '-') && cur > 0 && j+1 < len(str) && isDigit(str[j+1]) && (sep == 0 || c == sep) && ng < len(groups)-1 {
			sep = c
			groups[ng] = cur
			ng++
			cur = 0
			j++
			continue
		}
		break
	}
	groups[ng] = cur
	ng++
	if ng > 1 && !validGrouping(groups[:ng]) {
		// "4242424242424242 123": the card alone, then something else.
		ng, digits, j = 1, groups[0], i+groups[0]
	}
	if digits < 13 || digits > 19 {
		return match{}, false
	}
	if j < len(str) && (isAlnum(str[j]) || (str[j] == '.' && j+1 < len(str) && isDigit(str[j+1]))) {
		return match{}, false
	}
	if !luhn(str[i:j]) {
		return match{}, false
	}
	return match{start: i, keep: i, end: j, rule: idxCard}, true
}

func validGrouping(g []int) bool {
	if len(g) == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4) {
		return true
	}
	if len(g) < 4 {
		return false
	}
	for _, n := range g[:len(g)-1] {
		if n != 4 {
			return false
		}
	}
	return g[len(g)-1] >= 1 && g[len(g)-1] <= 4
}

// luhn checks the digits of s (separators skipped).
func luhn(s string) bool {
	sum, double := 0, false
	for k := len(s) - 1; k >= 0; k-- {
		c := s[k]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

var paramNameChar = byteSet("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-.")

// isParamEnd ends a parameter value: the next parameter, whitespace, quotes, brackets.
func isParamEnd(c byte) bool {
	switch c {
	case '&', ';', ',', ' ', '\t', '\r', '\n', '"', '\'', '#', '<', '>', '(', ')', '[', ']', '{', '}', '\\':
		return true
	}
	return false
}

// namesParam: the parameter name in front of the `=` at str[i] (after last, without leading
// `-` and `.`), or its last dot-separated segment, is in ks.
func (ks *keySet) namesParam(str string, i, last int) bool {
	n := i
	dot := false
	for n > last && paramNameChar[str[n-1]] {
		n--
		dot = dot || str[n] == '.'
	}
	for n < i && (str[n] == '-' || str[n] == '.') {
		n++
	}
	name := str[n:i]
	return ks.has(name) || dot && dotTailIn(ks, name)
}

// matchParam: `<secret name>=<value>` in a URL query, a form body, a command line
// (`--password=x`) or a log message; the value becomes `****`.
func (s *scrubber) matchParam(str string, i, last int) (match, bool) {
	if !s.r.params.mayEndAt(str, i, last) || !s.r.params.namesParam(str, i, last) {
		return match{}, false
	}
	k := i + 1
	for k < len(str) && !isParamEnd(str[k]) {
		k++
	}
	if k == i+1 || str[i+1:k] == mask || s.isAllowedValue(str[i+1:k]) {
		return match{}, false
	}
	return match{start: i + 1, keep: i + 1, end: k, rule: idxQueryParam}, true
}

func dotTailIn(set *keySet, name string) bool { return set.has(set.lastSegment(name)) }

// authorityEnd ends the authority of a URL (`scheme://user:password@host`).
var authorityEnd = byteSet("/?# \t\r\n\"'<>")

func byteSet(chars string) (set [256]bool) {
	for i := 0; i < len(chars); i++ {
		set[chars[i]] = true
	}
	return set
}

// matchUserinfo: the password of `scheme://user:password@host`.
func matchUserinfo(str string, i int) (match, bool) {
	if !strings.HasPrefix(str[i:], "://") {
		return match{}, false
	}
	a := i + 3
	if strings.IndexByte(str[a:], '@') < 0 {
		return match{}, false // most URLs: no user info
	}
	e := a
	at := -1
	for e < len(str) && !authorityEnd[str[e]] {
		if str[e] == '@' {
			at = e
		}
		e++
	}
	if at < 0 {
		return match{}, false
	}
	colon := strings.IndexByte(str[a:at], ':')
	if colon < 0 {
		return match{}, false
	}
	p := a + colon + 1
	if p == at || str[p:at] == mask {
		return match{}, false
	}
	return match{start: p, keep: p, end: at, rule: idxQueryParam}, true
}

func isEmailLocal(c byte) bool {
	return isAlnum(c) || strings.IndexByte("._%+-", c) >= 0
}

// matchEmail: `local@domain.tld` becomes `****@domain.tld`.
func matchEmail(str string, i, last int) (match, bool) {
	l := i
	for l > last && isEmailLocal(str[l-1]) {
		l--
	}
	if l == i {
		return match{}, false
	}
	d := i + 1
	dot, tld := -1, 0
	for d < len(str) && (isAlnum(str[d]) || str[d] == '.' || str[d] == '-') {
		if str[d] == '.' {
			dot, tld = d, 0
		} else {
			tld++
		}
		d++
	}
	if dot < 0 || tld < 2 || dot == i+1 {
		return match{}, false
	}
	return match{start: l, keep: l, end: i, rule: idxEmail}, true
}
