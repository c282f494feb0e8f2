// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Strings that are not valid UTF-8 (OTLP requires it, but neither the protobuf nor the JSON
// decoder of the receiver checks) would reach the exporters raw: the file exporter writes the
// bytes into its JSON lines, which JSON readers then reject. airi_normalize is the first of our
// processors on every pipeline, so it repairs them here, once: each invalid sequence becomes
// U+FFFD (strings.ToValidUTF8), counted. A valid string is only scanned, never copied.

// validUTF8 is utf8.ValidString with its short all-ASCII case (nearly every key and value)
// made cheaper: eight bytes at a time, then a plain byte loop for the tail, with
// utf8.ValidString called only from the first word holding a non-ASCII byte. On
// BenchmarkTraces it took airi_normalize from ~150 to ~135 cpu-ns per span (medians of
// alternating runs), most of it from the tail loop.
func validUTF8(s string) bool {
	for len(s) >= 8 {
		if (uint64(s[0])|uint64(s[1])<<8|uint64(s[2])<<16|uint64(s[3])<<24|
			uint64(s[4])<<32|uint64(s[5])<<40|uint64(s[6])<<48|uint64(s[7])<<56)&0x8080808080808080 != 0 {
			return utf8.ValidString(s)
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// repairStr returns s with its invalid UTF-8 replaced, and whether it had any.
func repairStr(s string) (string, bool) {
	if validUTF8(s) {
		return s, false
	}
	return strings.ToValidUTF8(s, "\uFFFD"), true
}

// repairValue repairs a string value, or every string inside a map or slice value.
func repairValue(v pcommon.Value, sc *scratch) int64 {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if s, bad := repairStr(v.Str()); bad {
			v.SetStr(s)
			return 1
		}
	case pcommon.ValueTypeMap:
		return repairMap(v.Map(), sc)
	case pcommon.ValueTypeSlice:
		var n int64
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			n += repairValue(sl.At(i), sc)
		}
		return n
	}
	return 0
}

// repairMap repairs every key and value of m. A repaired key that already exists keeps the
// existing value (the invalid one is dropped, like a duplicate key).
func repairMap(m pcommon.Map, sc *scratch) int64 {
	n, _ := repairAttrs(m, sc, false)
	return n
}

// repairAttrs is repairMap that also reports, in the same pass, which old HTTP keys m holds
// (findOld): spans and logs need one walk over their attributes, not two.
func repairAttrs(m pcommon.Map, sc *scratch, findOld bool) (int64, oldHTTPKeys) {
	var n int64
	badKeys := false
	var old oldHTTPKeys
	for k, v := range m.All() {
		if v.Type() != pcommon.ValueTypeStr || !validUTF8(v.Str()) { // valid strings: no call
			n += repairValue(v, sc)
		}
		if !validUTF8(k) {
			badKeys = true
		} else if findOld {
			old.note(k)
		}
	}
	if badKeys {
		var keys []string
		for k := range m.All() {
			if !utf8.ValidString(k) {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			to, _ := repairStr(k)
			if _, exists := m.Get(to); exists {
				m.Remove(k)
			} else {
				moveKey(m, k, to, sc)
			}
			n++
		}
	}
	return n, old
}

// repairScope repairs the scope's name, version and attributes.
func repairScope(s pcommon.InstrumentationScope, sc *scratch) int64 {
	n := repairMap(s.Attributes(), sc)
	if v, bad := repairStr(s.Name()); bad {
		s.SetName(v)
		n++
	}
	if v, bad := repairStr(s.Version()); bad {
		s.SetVersion(v)
		n++
	}
	return n
}

// repairSpan repairs a span's name, status message, attributes and its events' and links',
// and applies the HTTP semantic-convention upgrade to its attributes when upgrade is set.
func repairSpan(sp ptrace.Span, sc *scratch, upgrade bool) int64 {
	n, old := repairAttrs(sp.Attributes(), sc, upgrade)
	if old != 0 {
		applyHTTPUpgrade(sp.Attributes(), old, sc)
	}
	if v, bad := repairStr(sp.Name()); bad {
		sp.SetName(v)
		n++
	}
	if v, bad := repairStr(sp.Status().Message()); bad {
		sp.Status().SetMessage(v)
		n++
	}
	evs := sp.Events()
	for i := 0; i < evs.Len(); i++ {
		ev := evs.At(i)
		n += repairMap(ev.Attributes(), sc)
		if v, bad := repairStr(ev.Name()); bad {
			ev.SetName(v)
			n++
		}
	}
	links := sp.Links()
	for i := 0; i < links.Len(); i++ {
		n += repairMap(links.At(i).Attributes(), sc)
	}
	return n
}

// repairLog repairs a log record's attributes, body and event name, and applies the HTTP
// semantic-convention upgrade to its attributes when upgrade is set.
func repairLog(lr plog.LogRecord, sc *scratch, upgrade bool) int64 {
	n, old := repairAttrs(lr.Attributes(), sc, upgrade)
	if old != 0 {
		applyHTTPUpgrade(lr.Attributes(), old, sc)
	}
	n += repairValue(lr.Body(), sc)
	if v, bad := repairStr(lr.EventName()); bad {
		lr.SetEventName(v)
		n++
	}
	return n
}

// repairMetric repairs a metric's name, description and unit (its points' attributes are
// repaired with the labels, in pointAttrs).
func repairMetric(m pmetric.Metric) int64 {
	var n int64
	if v, bad := repairStr(m.Name()); bad {
		m.SetName(v)
		n++
	}
	if v, bad := repairStr(m.Description()); bad {
		m.SetDescription(v)
		n++
	}
	if v, bad := repairStr(m.Unit()); bad {
		m.SetUnit(v)
		n++
	}
	return n
}
