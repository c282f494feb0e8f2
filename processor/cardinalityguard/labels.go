// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/zeebo/xxh3"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Identity hashing. An attribute set hashes to the SUM of a 64-bit hash of each
// key/value pair (xxh3 with a random 64-bit seed, kept in a checkpoint so that a restored
// state finds its series again; values in their
// string form), so it does not depend on attribute order and needs no sorting or
// allocation. Sets, resources, scopes and metrics are combined with a bijective mixer.
// Two different input series share a 64-bit key with probability about n²/2^65 (2.7e-8 at
// one million series); a collision merges the two series' state (documented in README).

type keyClass uint8

const (
	clsPlain   keyClass = iota // kept as is
	clsStrip                   // removed (strip_labels)
	clsKeep                    // required label: kept, never rewritten or limited
	clsPath                    // URL path templating (then ID rewriting when not a path)
	clsRewrite                 // ID rewriting
)

const overflowKey = "otel.metric.overflow"

// overflowSalt separates the overflow series' key space from the regular series'.
const overflowSalt = 0x6f766572666c6f77

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// combine mixes x into the base key a; for a fixed a it is a bijection of x.
func combine(a, x uint64) uint64 { return fmix64(a ^ (x * 0x9E3779B97F4A7C15)) }

// hasher hashes without allocating; the seed is fixed for the life of the state (a restored
// checkpoint brings its own).
type hasher struct {
	seed uint64
	buf  []byte
}

func newHasher() hasher { return hasher{seed: rand.Uint64()} }

// pairStr hashes one key with the string form of its value.
func (h *hasher) pairStr(k string, v string) uint64 {
	hk := xxh3.HashStringSeed(k, h.seed)
	hv := xxh3.HashStringSeed(v, h.seed)
	return fmix64(hk ^ ((hv + 0x9E3779B97F4A7C15) * 0xbf58476d1ce4e5b9))
}

func (h *hasher) str(parts ...string) uint64 {
	b := h.buf[:0]
	for _, p := range parts {
		b = append(b, p...)
		b = append(b, 0)
	}
	h.buf = b
	return xxh3.HashSeed(b, h.seed)
}

// attrs hashes a resource or scope attribute set (not on the per-point path).
func (h *hasher) attrs(m pcommon.Map) uint64 {
	var sum uint64
	for k, v := range m.All() {
		sum += h.pairStr(k, v.AsString())
	}
	return sum
}

// labelRules is the compiled label configuration.
type labelRules struct {
	classes     map[string]keyClass
	rewriteAll  bool
	maxValueLen int
	maxLabels   int
}

func newLabelRules(cfg *Config) *labelRules {
	r := &labelRules{
		classes:     map[string]keyClass{},
		maxValueLen: cfg.MaxLabelValueLength,
		maxLabels:   cfg.MaxLabelsPerSeries,
	}
	for _, k := range cfg.RewriteLabels {
		if k == RewriteAll {
			r.rewriteAll = true
			continue
		}
		r.classes[k] = clsRewrite
	}
	for _, k := range cfg.PathLabels {
		r.classes[k] = clsPath
	}
	for _, k := range cfg.StripLabels {
		r.classes[k] = clsStrip
	}
	for _, k := range cfg.KeepLabels {
		r.classes[k] = clsKeep
	}
	r.classes[overflowKey] = clsKeep
	return r
}

func (r *labelRules) class(k string, extra map[string]struct{}) keyClass {
	c, ok := r.classes[k]
	if len(extra) > 0 && c != clsKeep {
		if _, s := extra[k]; s {
			return clsStrip
		}
	}
	if ok {
		return c
	}
	if r.rewriteAll {
		return clsRewrite
	}
	return clsPlain
}

// attrEnt is one label that survives stripping, with the hash of its output form.
type attrEnt struct {
	key  string
	h    uint64
	keep bool
}

// scanResult is the outcome of one attribute scan.
type scanResult struct {
	outSum    uint64 // identity of the output series (after strip, rewrite and limits)
	keepSum   uint64 // identity of the keep_labels subset (overflow series)
	stripped  int
	rewritten int
	overflow  bool   // the point carries otel.metric.overflow
	markerH   uint64 // hash of its otel.metric.overflow label (part of keepSum)
	inSum     uint64 // identity of the attributes as received (= memberSum), for the insight
}

// pointScan is one point's labels as the guard outputs them: what is left after strip and
// rewrite (ents; selectEnts then drops duplicates and applies the labels-per-series limit) and
// its identities. ents is backed by the guard's reused buffer, valid until the next scan.
type pointScan struct {
	ents []attrEnt
	scanResult
	done bool // the point was scanned
}

// keepSumNoMarker is the keep-label identity without an incoming overflow marker, so that
// incoming and own overflow points of one stream share one overflow series.
func (r *scanResult) keepSumNoMarker() uint64 { return r.keepSum - r.markerH }

// transform computes the output form of one string label value into dst. It returns the
// new bytes and whether the value changed.
func (r *labelRules) transform(dst []byte, cls keyClass, s string) ([]byte, bool) {
	changed := false
	switch cls {
	case clsPath:
		var ok bool
		dst, ok = appendPathTemplate(dst[:0], s)
		if ok {
			changed = true
		} else {
			dst, changed = appendRewriteIDs(dst[:0], s)
		}
	case clsRewrite:
		dst, changed = appendRewriteIDs(dst[:0], s)
	}
	if r.maxValueLen > 0 {
		cur := s
		if changed {
			cur = unsafeString(dst)
		}
		if len(cur) > r.maxValueLen {
			n := truncateLen(cur, r.maxValueLen)
			if changed {
				dst = append(dst[:n], truncMarker...)
			} else {
				dst = append(append(dst[:0], s[:n]...), truncMarker...)
			}
			changed = true
		}
	}
	return dst, changed
}

// sortEnts orders labels for the labels-per-series limit: keep_labels first, then by key.
func sortEnts(ents []attrEnt) {
	slices.SortFunc(ents, func(a, b attrEnt) int {
		if a.keep != b.keep {
			if a.keep {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
}

// strForm returns the string form of an attribute value, exactly as Value.AsString
// renders it (which is what reaches Prometheus), without allocating for strings, ints
// and bools. The result may alias g.sbuf and is valid until the next call.
func (g *guard) strForm(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		g.sbuf = strconv.AppendInt(g.sbuf[:0], v.Int(), 10)
		return unsafeString(g.sbuf)
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return "true"
		}
		return "false"
	case pcommon.ValueTypeEmpty:
		return ""
	}
	return v.AsString()
}

// scan classifies and hashes the attributes of one data point. Identity uses each
// value's string form: values that differ only in type are one series in the backend, so
// they are one series here too.
func (g *guard) scan(c *mctx, attrs pcommon.Map) pointScan {
	r := g.rules
	var res scanResult
	ents := g.ents[:0]
	for k, v := range attrs.All() {
		sv := v.Str() // inlined for the common non-empty string; "" for every other type
		if sv == "" {
			sv = g.strForm(v)
		}
		oh := g.h.pairStr(k, sv)
		res.inSum += oh
		cls := r.class(k, c.rules.extraStrip)
		if cls == clsStrip {
			res.stripped++
			continue
		}
		if cls != clsKeep || r.maxValueLen > 0 {
			tcls := cls
			if tcls == clsKeep {
				tcls = clsPlain
			}
			var changed bool
			g.vbuf, changed = r.transform(g.vbuf, tcls, sv)
			if changed {
				res.rewritten++
				oh = g.h.pairStr(k, unsafeString(g.vbuf))
			}
		}
		ents = append(ents, attrEnt{key: k, h: oh, keep: cls == clsKeep})
		if k == overflowKey {
			res.overflow = true
		}
	}
	g.ents = ents // keep the grown buffer for the next scan
	return pointScan{ents: ents, scanResult: res, done: true}
}

// memberSum is the identity of a point's attributes as received (order-independent).
func (g *guard) memberSum(attrs pcommon.Map) uint64 {
	var sum uint64
	for k, v := range attrs.All() {
		// strForm's call skipped for the common non-empty string (Str is "" for other types):
		// every attribute of every point is hashed here (guard_strip: 12% fewer of the guard's own
		// instructions, callgrind)
		sv := v.Str()
		if sv == "" {
			sv = g.strForm(v)
		}
		sum += g.h.pairStr(k, sv)
	}
	return sum
}

// selectEnts reduces ps.ents to the output labels: the first of duplicate keys wins (as
// Map.Get does), then the labels-per-series limit keeps keep_labels first and the rest in
// ascending key order. It returns how many labels the limit dropped. Idempotent.
func (g *guard) selectEnts(ps *pointScan) int {
	ents := ps.ents
	n := 0
	for i := range ents {
		dup := false
		for j := 0; j < n; j++ {
			if ents[j].key == ents[i].key {
				dup = true
				break
			}
		}
		if !dup {
			ents[n] = ents[i]
			n++
		}
	}
	ents = ents[:n]
	dropped := 0
	if m := g.rules.maxLabels; m > 0 && len(ents) > m {
		sortEnts(ents)
		dropped = len(ents) - m
		ents = ents[:m]
	}
	ps.ents = ents
	return dropped
}

// outSums computes the output-series and keep-label identities of the scanned point.
func (g *guard) outSums(ps *pointScan) {
	ps.stripped += g.selectEnts(ps)
	ps.outSum, ps.keepSum, ps.markerH = 0, 0, 0
	for _, e := range ps.ents {
		ps.outSum += e.h
		if e.keep {
			ps.keepSum += e.h
		}
		if e.key == overflowKey {
			ps.markerH = e.h
		}
	}
}

// buildAttrs writes the output attributes of a series from the scanned point (ps.ents
// must still describe src). The input attributes are moved, not copied (the processor
// declares MutatesData), then the stripped, duplicate and over-limit labels are removed
// and rewritten values replaced.
func (g *guard) buildAttrs(c *mctx, dst, src pcommon.Map, overflow bool, ps *pointScan) {
	r := g.rules
	g.selectEnts(ps)
	src.MoveTo(dst)
	if !overflow && ps.rewritten == 0 && len(ps.ents) == dst.Len() {
		return // nothing stripped, rewritten, duplicated or limited
	}
	seen := g.seen[:0]
	dst.RemoveIf(func(k string, _ pcommon.Value) bool {
		for _, s := range seen {
			if s == k {
				return true // a later duplicate: the first one wins, as in Map.Get
			}
		}
		for _, e := range ps.ents {
			if e.key == k {
				if overflow && !e.keep {
					return true
				}
				seen = append(seen, k)
				return false
			}
		}
		return true // stripped or over the labels-per-series limit
	})
	g.seen = seen[:0]
	if ps.rewritten > 0 {
		for k, v := range dst.All() {
			cls := r.class(k, c.rules.extraStrip)
			if cls == clsKeep {
				cls = clsPlain
			}
			var changed bool
			g.vbuf, changed = r.transform(g.vbuf, cls, g.strForm(v))
			if changed {
				v.SetStr(string(g.vbuf))
			}
		}
	}
	if overflow {
		dst.PutStr(overflowKey, "true")
	}
}
