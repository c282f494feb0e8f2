// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"math"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/expo"
)

// State layout. Output series and members (input series) live in two chunked slabs indexed by
// uint32 (index 0 is "none"), found through slab.Index keyed by the identity hash. Members of
// one output series form an intrusive singly-linked list, so a gauge can be re-aggregated over
// its members; the stale sweep unlinks members while walking their series' lists. A member is
// kept at 48 bytes (it is what max_members multiplies), a series at 72; histogram/summary/
// min-max-last gauge state lives outside them (series.ext, store.memberExts).

type kind uint8

const (
	kGauge kind = iota
	kCumSum
	kDeltaSum
	kCumHist
	kDeltaHist
	kCumExp
	kDeltaExp
	kSummary
)

// stateful kinds track members across batches.
func (k kind) stateful() bool {
	switch k {
	case kGauge, kCumSum, kCumHist, kCumExp, kSummary:
		return true
	}
	return false
}

const (
	fLive       uint8 = 1 << iota
	fInt              // value bits hold an int64 (all contributions so far were ints)
	fOverflow         // the overflow series of its metric stream
	fDirty            // gauge min/max (or a saturated gauge sum) must be recomputed from the members
	fMono             // monotonic cumulative sum
	fUnbooked         // a restored regular series of no project yet: projectBook books it at its next point
	fUnobserved       // a restored member the top-offender insight has not seen: observed at its next point
	fPrune            // a series the running stale sweep unlinks members from
)

type aggKind uint8

const (
	aggSum aggKind = iota
	aggMax
	aggMin
	aggLast
)

func toAgg(g GaugeAggregation) aggKind {
	switch g {
	case GaugeMax:
		return aggMax
	case GaugeMin:
		return aggMin
	case GaugeLast:
		return aggLast
	}
	return aggSum
}

// series is one output series.
type series struct {
	hash     uint64
	start    uint64 // output start time (first seen), stable across exports
	total    uint64 // cumulative sum total or gauge sum; int64 or float64 bits (fInt)
	emitted  uint64 // timestamp of the last output point (stateful kinds; see stampMonotonic)
	ext      *seriesExt
	lastSeen int64
	share    uint32 // index into store.shares (its metric and producer)
	head     uint32 // first member
	members  uint32
	epoch    uint32 // batch in which it was last emitted
	touched  uint32 // index into batch.touched when epoch is current
	flags    uint8
	kind     kind
	agg      aggKind
}

// seriesExt holds the state that only some kinds need.
type seriesExt struct {
	gval      float64 // min/max/last gauge value
	gts       uint64  // last gauge timestamp
	bounds    []float64
	counts    []uint64
	count     uint64
	sum       float64
	min, max  float64
	hasMinMax bool
	exp       *expo.State
}

// member is one input series contributing to an output series. Its 48 bytes are most of the
// guard's memory (BenchmarkMemberBytes): the last-seen time is a tick (whole seconds, see
// tickOf), the histogram state of a member is kept by member index in store.memberExts, and
// the list of its series' members is singly linked.
type member struct {
	hash     uint64
	start    uint64
	ts       uint64
	val      uint64 // int64 or float64 bits (fInt)
	series   uint32
	next     uint32
	lastSeen tick
	flags    uint8
	nStrip   uint8 // labels stripped from this member's points (telemetry without a rescan)
	nRewrite uint8 // values rewritten in this member's points
}

// tick is a time in whole seconds modulo 2^32 (a member's last-seen time). Ticks are
// compared by serial-number arithmetic (tickBefore), exact for times less than 68 years
// apart; the sweep keeps a member up to a second beyond stale_after.
type tick uint32

// tickOf returns the tick of a unix time in nanoseconds.
func tickOf(ns int64) tick {
	sec := ns / 1e9
	if ns%1e9 < 0 {
		sec-- // floor, for times before 1970 (fake clocks)
	}
	return tick(uint32(sec))
}

// tickBefore reports whether a is earlier than b.
func tickBefore(a, b tick) bool { return int32(a-b) < 0 }

// unixNano returns the unix time in nanoseconds of t, the tick of a time within 68 years of
// ref (unix nanoseconds).
func (t tick) unixNano(ref int64) int64 {
	refSec := ref / 1e9
	if ref%1e9 < 0 {
		refSec--
	}
	return (refSec + int64(int32(t-tick(uint32(refSec))))) * 1e9
}

type memberExt struct {
	counts []uint64 // histogram buckets mapped to the series' bounds
	count  uint64
	sum    float64
	layout uint64 // the source bucket layout of counts (see mapBuckets)
	exp    *expo.State
}

// metricState is the series-budget bookkeeping of one metric name.
type metricState struct {
	nameHash uint64
	regular  int // regular output series (count against the budget)
	overflow int // overflow series (one per producer stream)
	limit    int
}

// share is the member bookkeeping of one metric name and producer (the keep-label values,
// normally one service): its members are bounded by max_members_per_metric, so one service's
// exploding label cannot starve another service's new series of the same metric. Every member
// of an output series has the series' keep-label values, so a series belongs to one share.
type share struct {
	key     uint64 // combine(metric name hash, keep-label identity)
	metric  uint32 // index into store.metricStates
	series  int32  // output series holding this entry alive
	members int32
}

// num is a number that is an int64 until a double joins it, or until an int64 result would
// wrap: then it continues as a double. A double result beyond the float range saturates at
// ±MaxFloat64 (inputs are finite: NaN and infinities are dropped before they get here).
func numAdd(bits uint64, isInt bool, d uint64, dInt bool) (uint64, bool) {
	if isInt && dInt {
		a, b := int64(bits), int64(d)
		if r := a + b; (r > a) == (b > 0) {
			return uint64(r), true
		}
	}
	return math.Float64bits(satF(numF(bits, isInt) + numF(d, dInt))), false
}

func numSub(bits uint64, isInt bool, d uint64, dInt bool) (uint64, bool) {
	if isInt && dInt {
		a, b := int64(bits), int64(d)
		if r := a - b; (r < a) == (b > 0) {
			return uint64(r), true
		}
	}
	return math.Float64bits(satF(numF(bits, isInt) - numF(d, dInt))), false
}

// satF clamps an overflowed double to ±MaxFloat64.
func satF(x float64) float64 {
	switch {
	case x > math.MaxFloat64:
		return math.MaxFloat64
	case x < -math.MaxFloat64:
		return -math.MaxFloat64
	}
	return x
}

// saturated reports whether a double number sits at the edge of the float range.
func saturated(bits uint64, isInt bool) bool {
	return !isInt && math.Abs(math.Float64frombits(bits)) == math.MaxFloat64
}

// satAddU adds two counts, saturating at MaxUint64 instead of wrapping.
func satAddU(a, b uint64) uint64 {
	if r := a + b; r >= a {
		return r
	}
	return math.MaxUint64
}

func numF(bits uint64, isInt bool) float64 {
	if isInt {
		return float64(int64(bits))
	}
	return math.Float64frombits(bits)
}

func numLess(a uint64, aInt bool, b uint64, bInt bool) bool {
	if aInt && bInt {
		return int64(a) < int64(b)
	}
	return numF(a, aInt) < numF(b, bInt)
}
