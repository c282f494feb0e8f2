// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/insight"
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
)

// maxTrackedLabels bounds the label keys sketched per stream (metric and producer): with
// top_offenders N the ranking's telemetry has at most 2N streams × (2 + 2 × maxTrackedLabels)
// series. Mimir's default labels-per-series limit is 30; the first 16 keys a stream shows are
// the ones that matter in practice.
const maxTrackedLabels = 16

// maxTrackedStreams bounds the streams whose labels are sketched, so a flood of metric names
// cannot grow the insight past maxTrackedStreams × (at most 16 KiB of dense sketches + names):
// a few MB at the usual handful of sparse labels per stream, 74 MB in the worst case.
// Every ranking keeps the half with the most series (see insight.Settings.MaxStreams).
const maxTrackedStreams = 4096

// insightState ranks the guard's streams every report_interval and publishes the ranking.
type insightState struct {
	tr       *insight.Tracker
	interval int64
	last     int64
	logger   *zap.Logger

	// deltaSeen holds the input series of the delta points recorded lately, direct-mapped by
	// their identity (allocated at the first delta point): a delta series keeps no member, so
	// without it every point would be recorded again.
	deltaSeen []uint64

	mu       sync.Mutex // guards rep and projects, which the telemetry callbacks read
	rep      insight.Report
	projects []projectUsage
}

// newInsight returns nil when top_offenders is 0 (nothing tracked, nothing emitted).
func newInsight(cfg *Config) *insightState {
	if cfg.TopOffenders == 0 {
		return nil
	}
	return &insightState{
		tr: insight.New(insight.Settings{
			TopN: cfg.TopOffenders, MaxLabels: maxTrackedLabels,
			ServiceKey: "service", ProjectKey: "project", EnvironmentKey: "environment",
			Skip: cfg.KeepLabels, MaxStreams: maxTrackedStreams,
		}),
		interval: int64(cfg.ReportInterval),
		logger:   zap.NewNop(),
	}
}

// deltaSeenSize is the number of slots of insightState.deltaSeen (512 KiB): room for the delta
// series of a busy guard; past it, colliding series are recorded again (harmless: a sketch
// ignores a value it holds).
const deltaSeenSize = 1 << 16

// observeInput records the labels, as received, of a new input series of the stream
// (metric, producer) shareKey. Delta kinds keep no members: their points are recorded unless
// deltaSeen holds the input series (its identity comes from the scan resolve just did).
// resolve calls it only for a point that made a new member (stateful) or was scanned (delta).
func (g *guard) observeInput(c *mctx, shareKey uint64, attrs pcommon.Map, stateful bool, inSum uint64) {
	ins := g.ins
	if ins == nil {
		return
	}
	if !stateful {
		h := combine(c.base, inSum)
		if h == 0 {
			h = 1 // 0 marks an empty slot
		}
		if ins.deltaSeen == nil {
			ins.deltaSeen = make([]uint64, deltaSeenSize)
		}
		slot := &ins.deltaSeen[h&(deltaSeenSize-1)]
		if *slot == h {
			return
		}
		*slot = h
	}
	ins.tr.Observe(shareKey, c.in.Name(), attrs)
}

// observeRestored records the labels of a member restored from a checkpoint at its first point
// after the restore: the insight is not checkpointed, and a restored member is never new.
func (g *guard) observeRestored(c *mctx, s *series, attrs pcommon.Map) {
	if g.ins != nil {
		g.ins.tr.Observe(g.shares[s.share].key, c.in.Name(), attrs)
	}
}

// markUnobserved flags every live member of a restored state for observeRestored.
func (st *store) markUnobserved() {
	for i := uint32(1); int(i) < st.members.Len(); i++ {
		if m := st.members.At(i); m.flags&fLive != 0 {
			m.flags |= fUnobserved
		}
	}
}

// maybeRankOffenders ranks the streams once per report_interval (checked when data arrives
// and when the telemetry is collected, so a quiet guard's `added` falls to 0 instead of
// repeating its last interval's), logs the ranking and publishes it to the telemetry callbacks.
func (g *guard) maybeRankOffenders(now int64) {
	ins := g.ins
	if ins == nil {
		return
	}
	if ins.last == 0 {
		ins.last = now
		return
	}
	if now-ins.last < ins.interval {
		return
	}
	ins.last = now
	rep := ins.tr.Report(func(key uint64) (int, int, bool) {
		i, ok := g.shareIdx[key]
		if !ok {
			return 0, 0, false
		}
		return int(g.shares[i].series), int(g.shares[i].members), true
	})
	if rep.Forgotten > 0 {
		// a forgotten stream that comes back starts its sketches afresh: record its delta
		// series again
		clear(ins.deltaSeen)
	}
	projects := g.projects.topProjects(g.cfg.TopOffenders)
	ins.mu.Lock()
	ins.rep, ins.projects = rep, projects
	ins.mu.Unlock()
	if ins.tr.Streams() == 0 && rep.UntrackedStreams == 0 {
		return // an idle guard logs nothing
	}
	ins.logger.Info("Cardinality top offenders",
		zap.Duration("interval", time.Duration(ins.interval)),
		zap.Int("streams", ins.tr.Streams()),
		zap.Int("untracked_streams", rep.UntrackedStreams),
		zap.Array("by_output_series", offenders(rep.ByOutput)),
		zap.Array("by_input_series", offenders(rep.ByInput)),
		zap.Array("projects", zapcore.ArrayMarshalerFunc(func(ae zapcore.ArrayEncoder) error {
			for _, p := range projects {
				err := ae.AppendObject(zapcore.ObjectMarshalerFunc(func(oe zapcore.ObjectEncoder) error {
					oe.AddString("project", p.name)
					oe.AddInt("series", p.series)
					oe.AddInt("budget", p.limit)
					return nil
				}))
				if err != nil {
					return err
				}
			}
			return nil
		})))
}

// rankIfDue runs the ranking from a telemetry callback when report_interval has passed
// without data.
func (g *guard) rankIfDue() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.maybeRankOffenders(g.now().UnixNano())
}

// report returns the latest published ranking.
func (ins *insightState) report() insight.Report {
	ins.mu.Lock()
	defer ins.mu.Unlock()
	return ins.rep
}

// projectUsage returns the latest published per-project usage.
func (ins *insightState) projectUsage() []projectUsage {
	ins.mu.Lock()
	defer ins.mu.Unlock()
	return ins.projects
}

type offenders []*insight.Offender

func (os offenders) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, o := range os {
		if err := enc.AppendObject(offender{o}); err != nil {
			return err
		}
	}
	return nil
}

type offender struct{ *insight.Offender }

func (o offender) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("metric", o.Metric)
	enc.AddString("service", o.Service)
	enc.AddString("project", o.Project)
	enc.AddString("environment", o.Environment)
	enc.AddInt("output_series", o.Series)
	enc.AddInt("input_series", o.Inputs)
	if o.UntrackedLabels > 0 {
		enc.AddInt("untracked_label_values", o.UntrackedLabels)
	}
	return enc.AddArray("labels", zapcore.ArrayMarshalerFunc(func(ae zapcore.ArrayEncoder) error {
		for _, l := range o.Labels {
			err := ae.AppendObject(zapcore.ObjectMarshalerFunc(func(oe zapcore.ObjectEncoder) error {
				oe.AddString("label", l.Key)
				oe.AddUint64("distinct_values", l.Values)
				oe.AddUint64("added", l.Added)
				return nil
			}))
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// registerInsightTelemetry registers the callbacks that emit the latest ranking and the mode.
func registerInsightTelemetry(g *guard, tel *metadata.TelemetryBuilder) error {
	reportMode := int64(0)
	if g.cfg.Mode == ModeReport {
		reportMode = 1
	}
	if err := tel.RegisterProcessorCardinalityGuardReportModeCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(reportMode)
		return nil
	}); err != nil {
		return err
	}
	if g.ins == nil {
		return nil
	}
	streamAttrs := func(o *insight.Offender, extra attribute.KeyValue) metric.ObserveOption {
		return metric.WithAttributes(attribute.String("metric", o.Metric), attribute.String("service", o.Service),
			attribute.String("project", o.Project), attribute.String("environment", o.Environment), extra)
	}
	if err := tel.RegisterProcessorCardinalityGuardTopSeriesCallback(func(_ context.Context, ob metric.Int64Observer) error {
		g.rankIfDue() // the first callback of a collection; the others read what it published
		for _, o := range g.ins.report().Union() {
			ob.Observe(int64(o.Series), streamAttrs(o, attribute.String("series_kind", "output")))
			ob.Observe(int64(o.Inputs), streamAttrs(o, attribute.String("series_kind", "input")))
		}
		return nil
	}); err != nil {
		return err
	}
	// one row per label of every ranked stream, valued by field
	labelRows := func(field func(insight.Label) uint64) metric.Int64Callback {
		return func(_ context.Context, ob metric.Int64Observer) error {
			for _, o := range g.ins.report().Union() {
				for _, l := range o.Labels {
					ob.Observe(int64(field(l)), streamAttrs(o, attribute.String("label", l.Key)))
				}
			}
			return nil
		}
	}
	if err := tel.RegisterProcessorCardinalityGuardTopLabelValuesCallback(labelRows(func(l insight.Label) uint64 { return l.Values })); err != nil {
		return err
	}
	if err := tel.RegisterProcessorCardinalityGuardTopLabelValuesAddedCallback(labelRows(func(l insight.Label) uint64 { return l.Added })); err != nil {
		return err
	}
	if err := tel.RegisterProcessorCardinalityGuardProjectSeriesCallback(func(_ context.Context, ob metric.Int64Observer) error {
		for _, p := range g.ins.projectUsage() {
			ob.Observe(int64(p.series), metric.WithAttributes(attribute.String("project", p.name)))
		}
		return nil
	}); err != nil {
		return err
	}
	return tel.RegisterProcessorCardinalityGuardProjectBudgetCallback(func(_ context.Context, ob metric.Int64Observer) error {
		for _, p := range g.ins.projectUsage() {
			if p.limit > 0 {
				ob.Observe(int64(p.limit), metric.WithAttributes(attribute.String("project", p.name)))
			}
		}
		return nil
	})
}
