// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/zeebo/xxh3"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Identity hashing. An attribute set hashes to the SUM of a 64-bit hash of each
// key/value pair (XXH3 with a random 64-bit seed; values in their string form), so it does
// not depend on attribute order and needs no sorting or allocation. Sets, resources, scopes
// and metrics are combined with a bijective mixer. The seed is a plain number, unlike
// hash/maphash's (measured: +3-10 % CPU per point in BenchmarkCardinality guard_strip/keep),
// so a checkpoint keeps it and a restarted guard hashes as before.
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

// hasher hashes without allocating; the seed is fixed for the life of the state it keys
// (a restored checkpoint brings its own).
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
