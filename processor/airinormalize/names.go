// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"

import (
	"strings"
	"sync"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

var (
	// promMetricNamer is the namer the Prometheus exporters use with translation_strategy
	// UnderscoreEscapingWithSuffixes; we apply it once here so the exporters can run
	// UnderscoreEscapingWithoutSuffixes and add nothing.
	promMetricNamer = otlptranslator.MetricNamer{WithMetricSuffixes: true}
	// promLabelNamer matches the remote-write translator's default (collapsed underscores, a
	// leading "_" becomes "key_"). Its output is also a fixed point of the prometheus exporter's
	// namer, so neither exporter changes a key we wrote.
	promLabelNamer = otlptranslator.LabelNamer{UnderscoreLabelSanitization: true} //nolint:staticcheck // same setting as the remote-write translator at contrib v0.159.0
)

// probeName is the stand-in metric name used to ask otlptranslator which suffix a unit and type
// produce. It is a single token that no unit maps to.
const probeName = "airinormalizeprobe"

// promKind is the Prometheus metric family type an OTLP metric becomes; two metrics of
// different kinds must never share an output name.
type promKind uint8

const (
	kindNone promKind = iota
	kindCounter
	kindGauge
	kindUpDown // a non-monotonic sum: a Prometheus gauge, but a distinct series to the exporters
	kindHistogram
	kindExponentialHistogram
	kindSummary
)

func (k promKind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindGauge:
		return "gauge"
	case kindUpDown:
		return "non-monotonic sum"
	case kindHistogram:
		return "histogram"
	case kindExponentialHistogram:
		return "exponential histogram"
	case kindSummary:
		return "summary"
	default:
		return "none"
	}
}

// translatorType maps a metric to otlptranslator's type the way the Prometheus exporters do
// (prometheusremotewrite.TranslatorMetricFromOtelMetric): a non-monotonic sum is a
// "non-monotonic counter", which gets neither _total nor _ratio.
func translatorType(m pmetric.Metric) (otlptranslator.MetricType, promKind) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return otlptranslator.MetricTypeGauge, kindGauge
	case pmetric.MetricTypeSum:
		if m.Sum().IsMonotonic() {
			return otlptranslator.MetricTypeMonotonicCounter, kindCounter
		}
		return otlptranslator.MetricTypeNonMonotonicCounter, kindUpDown
	case pmetric.MetricTypeHistogram:
		return otlptranslator.MetricTypeHistogram, kindHistogram
	case pmetric.MetricTypeExponentialHistogram:
		return otlptranslator.MetricTypeExponentialHistogram, kindExponentialHistogram
	case pmetric.MetricTypeSummary:
		return otlptranslator.MetricTypeSummary, kindSummary
	default:
		return otlptranslator.MetricTypeUnknown, kindNone
	}
}

// buildPromName returns the final Prometheus name of a metric. It is otlptranslator's name,
// except that a name otlptranslator could itself have produced for this unit and type is
// returned unchanged: otlptranslator appends a multi-token unit suffix such as "minor_unit" or
// "per_second" again on every pass, and running the processor twice must change nothing.
func buildPromName(name, unit string, typ otlptranslator.MetricType) (string, bool) {
	build := func(n string) (string, error) {
		return promMetricNamer.Build(otlptranslator.Metric{Name: n, Unit: unit, Type: typ})
	}
	full, err := build(name)
	if err != nil {
		return name, false
	}
	if full == name {
		return name, true
	}
	// How many "_"-separated parts can otlptranslator append for this unit and type? Learnt
	// by naming a probe metric, so no rule is re-implemented here.
	probe, err := build(probeName)
	if err != nil || !strings.HasPrefix(probe, probeName) || probe == probeName {
		return full, true
	}
	parts := strings.Count(probe[len(probeName):], "_")
	// The name is final if naming it with its last 1..parts parts cut off (or naming the empty
	// name, for a name that is nothing but a suffix) gives back exactly this name.
	cut := len(name)
	for range parts {
		i := strings.LastIndexByte(name[:cut], '_')
		if i < 0 {
			break
		}
		cut = i
		if again, err := build(name[:cut]); err == nil && again == name {
			return name, true
		}
	}
	if again, err := build(""); err == nil && again == name {
		return name, true
	}
	return full, true
}

// reservedLabel reports whether k is a label name Prometheus or the exporters give a meaning of
// their own: the exposition writes le (histogram buckets) and quantile (summaries) itself,
// __name__ is the metric name, job and instance are the scrape target's, and the exporters add
// otel_scope_name, otel_scope_version, otel_scope_schema_url and otel_scope_<scope attribute>.
// A data point carrying one breaks the scrape (a duplicate le makes Prometheus reject the whole
// target) or is dropped by the exporter, so the key is renamed the way Prometheus renames a
// scrape conflict: exported_<key>.
func reservedLabel(k string) bool {
	switch k {
	case "le", "quantile", "job", "instance", "__name__":
		return true
	}
	return strings.HasPrefix(k, scopeLabelPrefix)
}

// scopeLabelPrefix starts the labels the exporters write from the instrumentation scope.
const scopeLabelPrefix = "otel_scope_"

// exportedPrefix is what Prometheus puts in front of a label name that conflicts with its own.
const exportedPrefix = "exported_"

// labelReason says why a key was replaced rather than only escaped.
type labelReason uint8

const (
	labelEscaped  labelReason = iota // ordinary Prometheus escaping (dots to underscores, ...)
	labelReserved                    // a reserved name, renamed exported_<key>
	labelInvalid                     // no valid name could be derived (empty, only underscores)
	numLabelReasons
)

// invalidLabelName replaces a key from which no valid label name can be derived (the empty key,
// a key of only underscores). It is what otlptranslator makes of "_" or of a key with nothing but
// punctuation or non-ASCII letters, so all such keys meet under one name (values joined).
const invalidLabelName = "key_"

// promLabelKey returns the final label name of attribute key k and why it differs from k.
func promLabelKey(k string) (string, labelReason) {
	out, err := promLabelNamer.Build(k)
	reason := labelEscaped
	if err != nil {
		out, reason = invalidLabelName, labelInvalid
	}
	if reservedLabel(out) || strings.HasPrefix(out, "__") {
		// "exported___name__" collapses to "exported_name_": the namer's output is the fixed
		// point both exporters leave alone.
		if again, err := promLabelNamer.Build(exportedPrefix + out); err == nil {
			out = again
		}
		reason = labelReserved
	}
	return out, reason
}

// isPromLabelName reports, with a byte scan, whether promLabelKey leaves k unchanged: an ASCII
// letter first, then letters, digits and single underscores, and not a reserved name. Keys it
// rejects go to the namer (through the cache); TestIsPromLabelNameAgreesWithNamer and the fuzz
// test hold the two together.
func isPromLabelName(k string) bool {
	if k == "" || reservedLabel(k) {
		return false
	}
	c := k[0]
	if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
		return false
	}
	prevUnderscore := false
	for i := 1; i < len(k); i++ {
		c = k[i]
		switch {
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'):
			prevUnderscore = false
		case c == '_':
			if prevUnderscore {
				return false
			}
			prevUnderscore = true
		default:
			return false
		}
	}
	return true
}

type nameKey struct {
	name string
	unit string
	typ  otlptranslator.MetricType
}

type nameResult struct {
	out string
	ok  bool
}

// labelResult is a cached label-key translation.
type labelResult struct {
	out    string
	reason labelReason
}

// nameTable holds the processor's naming state. Every map is bounded by max; past the bound,
// names are still translated correctly (just not cached) and collisions are still caught within
// a batch (see claim).
type nameTable struct {
	max int

	mu        sync.RWMutex
	names     map[nameKey]nameResult
	labels    map[string]labelResult
	kinds     map[string]owner
	logged    map[string]struct{}
	fullNoted bool
}

func newNameTable(maxEntries int) *nameTable {
	return &nameTable{
		max:    maxEntries,
		names:  make(map[nameKey]nameResult),
		labels: make(map[string]labelResult),
		kinds:  make(map[string]owner),
		logged: make(map[string]struct{}),
	}
}

// metricName returns the final Prometheus name for a metric name, unit and type; ok is false
// when otlptranslator cannot name it (an empty name, say), in which case the name is left alone.
func (t *nameTable) metricName(name, unit string, typ otlptranslator.MetricType) (string, bool) {
	key := nameKey{name: name, unit: unit, typ: typ}
	t.mu.RLock()
	r, hit := t.names[key]
	t.mu.RUnlock()
	if hit {
		return r.out, r.ok
	}
	out, ok := buildPromName(name, unit, typ)
	t.mu.Lock()
	if len(t.names) < t.max {
		// Clone what the long-lived maps keep, so they never pin a batch's memory.
		key.name, key.unit = strings.Clone(name), strings.Clone(unit)
		if out == name {
			out = key.name
		}
		t.names[key] = nameResult{out: out, ok: ok}
	}
	t.mu.Unlock()
	return out, ok
}

// labelKey returns the final Prometheus label name of an attribute key (see promLabelKey).
func (t *nameTable) labelKey(k string) labelResult {
	if isPromLabelName(k) {
		return labelResult{out: k}
	}
	t.mu.RLock()
	r, hit := t.labels[k]
	t.mu.RUnlock()
	if hit {
		return r
	}
	out, reason := promLabelKey(k)
	t.mu.Lock()
	if len(t.labels) < t.max {
		if out == k {
			out = strings.Clone(k)
		}
		t.labels[strings.Clone(k)] = labelResult{out: out, reason: reason}
	}
	t.mu.Unlock()
	return labelResult{out: out, reason: reason}
}

// seriesRole is the part a series name plays in its metric family's exposition.
type seriesRole uint8

const (
	roleFamily  seriesRole = iota // the family name itself (a counter's x_total, a gauge's x)
	roleBucket                    // x_bucket
	roleCount                     // x_count
	roleSum                       // x_sum
	roleCreated                   // x_created (OpenMetrics)
)

var roleSuffix = [...]string{roleFamily: "", roleBucket: "_bucket", roleCount: "_count", roleSum: "_sum", roleCreated: "_created"}

// familyRoles are the series names a family of each kind puts in the exposition: a gauge named
// <histogram>_count would replace the histogram's count series, so every one of them is claimed.
var familyRoles = [...][]seriesRole{
	kindCounter:              {roleFamily, roleCreated},
	kindGauge:                {roleFamily},
	kindUpDown:               {roleFamily},
	kindHistogram:            {roleFamily, roleBucket, roleCount, roleSum, roleCreated},
	kindExponentialHistogram: {roleFamily, roleBucket, roleCount, roleSum, roleCreated},
	kindSummary:              {roleFamily, roleCount, roleSum, roleCreated},
}

// owner is the family that claimed a series name: its kind and the role the name plays in it.
// Given the series name, the pair identifies the family.
type owner struct {
	kind promKind
	role seriesRole
}

// seriesName writes the name of role r of family name (kind k) into buf.
func seriesName(buf []byte, name string, k promKind, r seriesRole) []byte {
	if r == roleFamily {
		return append(buf, name...)
	}
	base := name
	if k == kindCounter {
		base = strings.TrimSuffix(name, "_total")
	}
	return append(append(buf, base...), roleSuffix[r]...)
}

// claim records that the family name of kind k uses its series names, and reports the kind of
// a family that already owns one of them (k itself when none does). The first family seen owns
// its names for the life of the processor. When the table is full, new names are owned only for
// the rest of the current batch (local).
func (t *nameTable) claim(name string, k promKind, local *map[string]owner) (ownerKind promKind, full bool) {
	var arr [128]byte
	roles := familyRoles[k]
	t.mu.RLock()
	missing := false
	for _, r := range roles {
		b := seriesName(arr[:0], name, k, r)
		o, hit := t.kinds[string(b)]
		if hit && o != (owner{k, r}) {
			t.mu.RUnlock()
			return o.kind, false
		}
		missing = missing || !hit
	}
	t.mu.RUnlock()
	if !missing {
		return k, false
	}

	t.mu.Lock()
	for _, r := range roles {
		b := seriesName(arr[:0], name, k, r)
		if o, hit := t.kinds[string(b)]; hit && o != (owner{k, r}) {
			t.mu.Unlock()
			return o.kind, false
		}
	}
	if len(t.kinds)+len(roles) <= t.max {
		for _, r := range roles {
			b := seriesName(arr[:0], name, k, r)
			if _, hit := t.kinds[string(b)]; !hit {
				t.kinds[string(b)] = owner{k, r}
			}
		}
		t.mu.Unlock()
		return k, false
	}
	noteFull := !t.fullNoted
	t.fullNoted = true
	t.mu.Unlock()

	if *local == nil {
		*local = make(map[string]owner)
	}
	for _, r := range roles {
		b := seriesName(arr[:0], name, k, r)
		if o, hit := (*local)[string(b)]; hit && o != (owner{k, r}) {
			return o.kind, noteFull
		}
	}
	for _, r := range roles {
		(*local)[string(seriesName(arr[:0], name, k, r))] = owner{k, r}
	}
	return k, noteFull
}

// firstLog reports whether a collision on name has not been logged yet (bounded like the rest).
func (t *nameTable) firstLog(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, done := t.logged[name]; done || len(t.logged) >= t.max {
		return false
	}
	t.logged[strings.Clone(name)] = struct{}{}
	return true
}

// scratch is the per-call working memory of one processing call: it is never shared between
// goroutines and costs nothing until used.
type scratch struct {
	memo   keyMemo
	tmp    pcommon.Value
	hasTmp bool
}

// value returns a reusable holder for one attribute value while its key is renamed.
func (sc *scratch) value() pcommon.Value {
	if !sc.hasTmp {
		sc.tmp, sc.hasTmp = pcommon.NewValueEmpty(), true
	}
	return sc.tmp
}

// keyMemo remembers the last few key translations of one call, so the labels of data point
// after data point are translated without touching the shared, locked table.
type keyMemo struct {
	next int
	used [16]bool
	in   [16]string
	out  [16]labelResult
}

func (km *keyMemo) lookup(t *nameTable, k string) labelResult {
	for i := range km.in {
		if km.used[i] && km.in[i] == k {
			return km.out[i]
		}
	}
	out := t.labelKey(k)
	km.in[km.next], km.out[km.next], km.used[km.next] = k, out, true
	km.next = (km.next + 1) % len(km.in)
	return out
}

// escapeLabelKeys renames every attribute key to its final Prometheus form and counts, by
// reason, the keys that were reserved or invalid. Keys that already are in that form (the common
// case) cost one byte scan and nothing else. In the same walk it repairs values that are not
// valid UTF-8 and returns how many it repaired (the final keys are ASCII).
func (t *nameTable) escapeLabelKeys(m pcommon.Map, sc *scratch, replaced *[numLabelReasons]int64) int64 {
	var buf [8]string
	todo := buf[:0]
	var repaired int64
	for k, v := range m.All() {
		if v.Type() != pcommon.ValueTypeStr || !validUTF8(v.Str()) { // valid strings: no call
			repaired += repairValue(v, sc)
		}
		if !isPromLabelName(k) {
			todo = append(todo, k)
		}
	}
	for _, k := range todo {
		r := sc.memo.lookup(t, k)
		replaced[r.reason]++
		if r.out != k {
			mergeKey(m, k, r.out, sc)
		}
	}
	return repaired
}

// mergeKey moves the value under key from to key to. When to already holds a value the two
// are joined with ";" in the lexical order of their keys, as the remote-write translator does
// when two attributes escape to one label, so nothing is lost.
func mergeKey(m pcommon.Map, from, to string, sc *scratch) {
	v, ok := m.Get(from)
	if !ok {
		return
	}
	if existing, clash := m.Get(to); clash {
		a, b := v.AsString(), existing.AsString()
		joined := b + ";" + a
		if from < to {
			joined = a + ";" + b
		}
		m.Remove(from)
		m.PutStr(to, joined)
		return
	}
	moveValue(m, v, from, to, sc)
}

// moveKey moves the value under from to the new key to and removes from. The value is parked
// in the scratch holder while from's slot is freed, so the new key reuses that slot: no
// allocation and no growth of the map.
func moveKey(m pcommon.Map, from, to string, sc *scratch) {
	if v, ok := m.Get(from); ok {
		moveValue(m, v, from, to, sc)
	}
}

// moveValue is moveKey for v, the value m.Get(from) just returned.
func moveValue(m pcommon.Map, v pcommon.Value, from, to string, sc *scratch) {
	tmp := sc.value()
	v.MoveTo(tmp)
	m.Remove(from)
	tmp.MoveTo(m.PutEmpty(to))
}
