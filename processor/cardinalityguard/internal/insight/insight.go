// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package insight ranks the metric streams a cardinality guard tracks — the top offenders by
// output and by input series — and estimates, per stream and label key, how many distinct
// values the stream's input series carried, with bounded memory (HyperLogLog).
package insight // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/insight"

import (
	"cmp"
	"hash/maphash"
	"slices"

	"github.com/axiomhq/hyperloglog"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Precision is the HyperLogLog precision of every label sketch: 2^10 registers, a dense
// sketch of 1 KiB, a relative standard error of 1.04/sqrt(1024) = 3.25%. A sketch stays in the
// library's sparse form, which is exact in practice and far smaller, until it holds about
// 2^10 distinct values.
const Precision = 10

// MaxKeyLen is the longest label key sketched (Mimir's default max_label_name_length): a
// longer one is counted in Offender.UntrackedLabels, so crafted keys cannot make the tracked
// names large.
const MaxKeyLen = 1024

// StdError is the relative standard error of a distinct-value estimate above the sparse range.
const StdError = 0.0325

// Settings bounds and names what a Tracker records.
type Settings struct {
	// TopN is how many streams each ranking keeps.
	TopN int
	// MaxLabels is how many label keys are tracked per stream (the first ones seen); later
	// keys are counted in Offender.UntrackedLabels.
	MaxLabels int
	// ServiceKey, ProjectKey and EnvironmentKey name the labels whose values identify a
	// stream's producer.
	ServiceKey, ProjectKey, EnvironmentKey string
	// Skip lists label keys that are not sketched (the producer labels, constant per stream).
	Skip []string
	// MaxStreams bounds the streams tracked (0: no bound). A new stream past it is not
	// tracked (counted in Report.UntrackedStreams); every report keeps at most MaxStreams/2,
	// the ones with the most series, so a stream that explodes later finds room at the next
	// report while a flood of metric names cannot grow the tracker past MaxStreams.
	MaxStreams int
}

// Stream names one metric of one producer.
type Stream struct {
	Metric, Service, Project, Environment string
}

// Label is the distinct-value estimate of one label key of a stream.
type Label struct {
	Key string
	// Values estimates the distinct values among the stream's input series since the stream
	// appeared (exact while small, else within StdError).
	Values uint64
	// Added is how much Values grew since the previous report.
	Added uint64
}

// Offender is one ranked stream.
type Offender struct {
	Stream
	// Series is the stream's active output series (including its overflow series).
	Series int
	// Inputs is the stream's tracked input series (members); 0 for delta metrics, which keep none.
	Inputs int
	// Labels are the tracked label keys, most distinct values first.
	Labels []Label
	// UntrackedLabels counts label values not sketched because the stream already tracked
	// MaxLabels keys (one per untracked key of each new input series).
	UntrackedLabels int
}

// Report is one ranking. ByOutput and ByInput share their Offender values.
type Report struct {
	ByOutput, ByInput []*Offender
	// UntrackedStreams counts the new streams not tracked since the previous report because
	// MaxStreams were tracked.
	UntrackedStreams int
	// Forgotten counts the streams this report dropped (gone from the guard, or past
	// MaxStreams/2).
	Forgotten int
}

// Counts returns the live output and input series of a stream key, or ok=false once the
// guard has forgotten the stream.
type Counts func(key uint64) (series, inputs int, ok bool)

type sketch struct {
	key string
	hll *hyperloglog.Sketch
	// est is the estimate at the last report, added its growth in the interval before it.
	est, added uint64
	// dirty: a value was inserted since the last report. A clean sketch's estimate cannot
	// have changed, so a report estimates only the sketches fed since the previous one.
	dirty bool
	// recent holds the last hashes inserted, direct-mapped: a repeated value (a method, a
	// status code) skips the sketch, whose sparse form re-merges its list on every tenth
	// insert even of a value it holds.
	recent [4]uint64
}

type stream struct {
	Stream
	labels    []sketch
	untracked int
}

// Tracker holds one entry per stream. It is not safe for concurrent use: the guard calls it
// under its own lock.
type Tracker struct {
	set       Settings
	skip      map[string]struct{}
	seed      maphash.Seed
	streams   map[uint64]*stream
	untracked int // new streams refused since the last report (MaxStreams)
}

// New returns an empty tracker.
func New(set Settings) *Tracker {
	t := &Tracker{set: set, skip: map[string]struct{}{}, seed: maphash.MakeSeed(), streams: map[uint64]*stream{}}
	for _, k := range set.Skip {
		t.skip[k] = struct{}{}
	}
	return t
}

// Streams is the number of streams tracked.
func (t *Tracker) Streams() int { return len(t.streams) }

// Observe records a new input series of stream key: its labels as received. It is called
// only when a series is first seen, never per data point.
func (t *Tracker) Observe(key uint64, metric string, attrs pcommon.Map) {
	s, ok := t.streams[key]
	if !ok {
		if t.set.MaxStreams > 0 && len(t.streams) >= t.set.MaxStreams {
			t.untracked++
			return
		}
		s = &stream{Stream: Stream{Metric: metric}}
		if v, ok := attrs.Get(t.set.ServiceKey); ok {
			s.Service = v.AsString()
		}
		if v, ok := attrs.Get(t.set.ProjectKey); ok {
			s.Project = v.AsString()
		}
		if v, ok := attrs.Get(t.set.EnvironmentKey); ok {
			s.Environment = v.AsString()
		}
		t.streams[key] = s
	}
	for k, v := range attrs.All() {
		if _, skip := t.skip[k]; skip {
			continue
		}
		if len(k) > MaxKeyLen {
			s.untracked++
			continue
		}
		sk := s.label(k, t.set.MaxLabels)
		if sk == nil {
			continue
		}
		h := maphash.String(t.seed, v.AsString())
		if slot := &sk.recent[h&3]; *slot != h {
			*slot = h
			sk.hll.InsertHash(h)
			sk.dirty = true
		}
	}
}

// label returns the sketch of key, creating it while fewer than limit are tracked.
func (s *stream) label(key string, limit int) *sketch {
	for i := range s.labels {
		if s.labels[i].key == key {
			return &s.labels[i]
		}
	}
	if len(s.labels) >= limit {
		s.untracked++
		return nil
	}
	hll, err := hyperloglog.NewSketch(Precision, true)
	if err != nil {
		panic(err) // Precision is a valid constant
	}
	s.labels = append(s.labels, sketch{key: key, hll: hll})
	return &s.labels[len(s.labels)-1]
}

// Report ranks the live streams and forgets the ones counts no longer knows. Added covers one
// report interval for every stream, ranked or not: the sketches fed since the previous report
// are estimated (the others cannot have changed), then only the ranked streams are built.
func (t *Tracker) Report(counts Counts) Report {
	all := make([]ranked, 0, len(t.streams))
	forgotten := 0
	for key, s := range t.streams {
		series, inputs, ok := counts(key)
		if !ok {
			delete(t.streams, key)
			forgotten++
			continue
		}
		for i := range s.labels {
			sk := &s.labels[i]
			if sk.dirty {
				est := sk.hll.Estimate()
				sk.added, sk.est, sk.dirty = est-min(est, sk.est), est, false
			} else {
				sk.added = 0
			}
		}
		all = append(all, ranked{key: key, s: s, series: series, inputs: inputs})
	}
	built := map[uint64]*Offender{}
	offender := func(r ranked) *Offender {
		if o, ok := built[r.key]; ok {
			return o
		}
		o := &Offender{Stream: r.s.Stream, Series: r.series, Inputs: r.inputs, UntrackedLabels: r.s.untracked}
		o.Labels = make([]Label, len(r.s.labels))
		for i, sk := range r.s.labels {
			o.Labels[i] = Label{Key: sk.key, Values: sk.est, Added: sk.added}
		}
		slices.SortFunc(o.Labels, func(a, b Label) int {
			if c := cmp.Compare(b.Values, a.Values); c != 0 {
				return c
			}
			return cmp.Compare(a.Key, b.Key)
		})
		built[r.key] = o
		return o
	}
	rep := Report{UntrackedStreams: t.untracked}
	for _, r := range top(all, t.set.TopN, func(r ranked) int { return r.series }) {
		rep.ByOutput = append(rep.ByOutput, offender(r))
	}
	for _, r := range top(all, t.set.TopN, func(r ranked) int { return r.inputs }) {
		rep.ByInput = append(rep.ByInput, offender(r))
	}
	t.untracked = 0
	if keep := t.set.MaxStreams / 2; t.set.MaxStreams > 0 && len(all) > keep {
		// make room: keep the half with the most series, forget the rest (ties by name)
		for _, r := range top(all, len(all), func(r ranked) int { return r.series + r.inputs + 1 })[keep:] {
			delete(t.streams, r.key)
			forgotten++
		}
	}
	rep.Forgotten = forgotten
	return rep
}

// ranked is one live stream and its counts, before the ranking picks the top ones.
type ranked struct {
	key            uint64
	s              *stream
	series, inputs int
}

// top returns the n streams with the largest positive by, ties in stream order. It keeps the
// best n in a sorted slice as it goes, O(streams × log n) for the usual n much smaller than
// the streams, instead of sorting every stream.
func top(all []ranked, n int, by func(ranked) int) []ranked {
	less := func(a, b ranked) int { // a ranks before b: < 0
		if c := cmp.Compare(by(b), by(a)); c != 0 {
			return c
		}
		if c := compareStreams(a.s.Stream, b.s.Stream); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key) // streams that differ only in other keep labels
	}
	if n >= len(all) {
		// every stream (a report making room): one sort, not an insertion per stream, which
		// is quadratic in the streams
		out := make([]ranked, 0, len(all))
		for _, r := range all {
			if by(r) > 0 {
				out = append(out, r)
			}
		}
		slices.SortFunc(out, less)
		return out[:len(out):len(out)]
	}
	out := make([]ranked, 0, n+1)
	for _, r := range all {
		if by(r) <= 0 || (len(out) == n && less(r, out[n-1]) >= 0) {
			continue
		}
		i, _ := slices.BinarySearchFunc(out, r, less)
		out = slices.Insert(out, i, r)
		if len(out) > n {
			out = out[:n]
		}
	}
	return out[:len(out):len(out)]
}

func compareStreams(a, b Stream) int {
	if c := cmp.Compare(a.Metric, b.Metric); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Service, b.Service); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Project, b.Project); c != 0 {
		return c
	}
	return cmp.Compare(a.Environment, b.Environment)
}

// Union returns the offenders of both rankings, each once, in output-ranking order then
// input-ranking order.
func (r Report) Union() []*Offender {
	out := append([]*Offender(nil), r.ByOutput...)
	for _, o := range r.ByInput {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}
