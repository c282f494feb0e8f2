// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"

import (
	"context"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/airi-otel/otelcol-airi/processor/airinormalize/internal/metadata"
)

// Indexes of the three required labels.
const (
	idxEnvironment = iota
	idxProject
	idxService
	numLabels
)

var labelAttrNames = [numLabels]string{"environment", "project", "service"}

const (
	signalTraces = iota
	signalMetrics
	signalLogs
	numSignals
)

var signalNames = [numSignals]string{"traces", "metrics", "logs"}

// normalizer is the state shared by the processing functions of one processor instance.
type normalizer struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	names     *nameTable

	labelKeys [numLabels]string
	configVal [numLabels]string
	// resourceSources are the resource keys each label's value is read from, in order.
	resourceSources [numLabels][]string

	// The option slices are built once and passed with "...", so recording allocates nothing.
	signalOpts  [numSignals][]metric.AddOption
	labelOpts   [numSignals][numLabels][]metric.AddOption
	keyOpts     [numLabelReasons][]metric.AddOption
	droppedOpts [numDropReasons][]metric.AddOption
}

func newNormalizer(set processor.Settings, cfg *Config) (*normalizer, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &normalizer{
		cfg:       cfg,
		logger:    set.Logger,
		telemetry: tb,
		names:     newNameTable(cfg.MaxTrackedNames),
		labelKeys: [numLabels]string{cfg.LabelNames.Environment, cfg.LabelNames.Project, cfg.LabelNames.Service},
		configVal: [numLabels]string{cfg.Environment, cfg.Project, cfg.Service},
	}
	p.resourceSources = [numLabels][]string{
		{attrDeploymentEnvironmentName, attrDeploymentEnvironment, cfg.LabelNames.Environment},
		{attrServiceNamespace, cfg.LabelNames.Project},
		{attrServiceName, cfg.LabelNames.Service},
	}
	for s := range numSignals {
		sig := attribute.String("signal", signalNames[s])
		p.signalOpts[s] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(sig))}
		for l := range numLabels {
			p.labelOpts[s][l] = []metric.AddOption{
				metric.WithAttributeSet(attribute.NewSet(sig, attribute.String("label", labelAttrNames[l]))),
			}
		}
	}
	for r, name := range map[labelReason]string{labelReserved: "reserved", labelInvalid: "invalid"} {
		p.keyOpts[r] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", name)))}
	}
	for r := range numDropReasons {
		p.droppedOpts[r] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", dropReasonNames[r])))}
	}
	return p, nil
}

func (p *normalizer) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

// labelValues are the values of the three labels for one resource.
type labelValues struct {
	vals       [numLabels]string
	defaulted  [numLabels]bool
	invalidEnv bool
}

// batchStats collects counts during one call; they are recorded once at the end.
type batchStats struct {
	items           int64
	defaults        [numLabels]int64
	invalidEnv      int64
	renamed         int64
	collisions      int64
	collisionPoints int64
	rescaled        int64
	notRescaled     int64
	labelsReplaced  [numLabelReasons]int64
	dropped         [numDropReasons]int64
	utf8Repaired    int64
}

// Reasons a metric's data points are dropped (the reason attribute of dropped_points).
const (
	dropInvalidName = iota
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"invalid_name"}

// addResource adds the per-resource events, weighted by the resource's number of items.
func (st *batchStats) addResource(lv *labelValues, items int64) {
	st.items += items
	for l := range numLabels {
		if lv.defaulted[l] {
			st.defaults[l] += items
		}
	}
	if lv.invalidEnv {
		st.invalidEnv += items
	}
}

func (p *normalizer) record(ctx context.Context, signal int, st *batchStats) {
	tb := p.telemetry
	if st.items > 0 {
		tb.ProcessorAiriNormalizeItemsLabelled.Add(ctx, st.items, p.signalOpts[signal]...)
	}
	for l := range numLabels {
		if st.defaults[l] > 0 {
			tb.ProcessorAiriNormalizeDefaultsApplied.Add(ctx, st.defaults[l], p.labelOpts[signal][l]...)
		}
	}
	if st.invalidEnv > 0 {
		tb.ProcessorAiriNormalizeInvalidEnvironment.Add(ctx, st.invalidEnv, p.signalOpts[signal]...)
	}
	if st.utf8Repaired > 0 {
		tb.ProcessorAiriNormalizeInvalidUtf8Repaired.Add(ctx, st.utf8Repaired, p.signalOpts[signal]...)
	}
	if st.renamed > 0 {
		tb.ProcessorAiriNormalizeMetricsRenamed.Add(ctx, st.renamed)
	}
	if st.collisions > 0 {
		tb.ProcessorAiriNormalizeNameCollisions.Add(ctx, st.collisions)
	}
	if st.collisionPoints > 0 {
		tb.ProcessorAiriNormalizeCollisionPointsDropped.Add(ctx, st.collisionPoints)
	}
	if st.rescaled > 0 {
		tb.ProcessorAiriNormalizeHistogramsRescaled.Add(ctx, st.rescaled)
	}
	if st.notRescaled > 0 {
		tb.ProcessorAiriNormalizeHistogramsNotRescaled.Add(ctx, st.notRescaled)
	}
	for _, r := range []labelReason{labelReserved, labelInvalid} {
		if st.labelsReplaced[r] > 0 {
			tb.ProcessorAiriNormalizeLabelKeysReplaced.Add(ctx, st.labelsReplaced[r], p.keyOpts[r]...)
		}
	}
	for r := range numDropReasons {
		if st.dropped[r] > 0 {
			tb.ProcessorAiriNormalizeDroppedPoints.Add(ctx, st.dropped[r], p.droppedOpts[r]...)
		}
	}
}

// resolve works out the three label values of one resource, once per resource, and keeps the
// resource's semantic-convention keys in step with them. writeLabels also writes the labels
// themselves as resource attributes (spans and logs).
func (p *normalizer) resolve(res pcommon.Map, writeLabels bool, sc *scratch) labelValues {
	if p.cfg.SemconvUpgrade {
		if _, ok := res.Get(attrDeploymentEnvironment); ok {
			if _, stable := res.Get(attrDeploymentEnvironmentName); stable {
				res.Remove(attrDeploymentEnvironment)
			} else {
				moveKey(res, attrDeploymentEnvironment, attrDeploymentEnvironmentName, sc)
			}
		}
	}

	var lv labelValues
	for l := range numLabels {
		fromData := firstValue(res, p.resourceSources[l])
		cfgVal := p.configVal[l]
		switch {
		case cfgVal != "" && (p.cfg.Override || fromData == ""):
			lv.vals[l] = cfgVal
		case fromData != "":
			lv.vals[l] = fromData
			if l == idxEnvironment && !slices.Contains(p.cfg.AllowedEnvironments, fromData) {
				lv.invalidEnv = true
				if p.cfg.InvalidEnvironment == InvalidEnvironmentReplaceWithDefault {
					lv.vals[l] = p.cfg.DefaultValue
					if cfgVal != "" {
						lv.vals[l] = cfgVal
					}
				}
			}
		default:
			lv.vals[l] = p.cfg.DefaultValue
			lv.defaulted[l] = true
		}
	}

	setStr(res, attrDeploymentEnvironmentName, lv.vals[idxEnvironment])
	if _, ok := res.Get(attrDeploymentEnvironment); ok {
		setStr(res, attrDeploymentEnvironment, lv.vals[idxEnvironment])
	}
	setStr(res, attrServiceNamespace, lv.vals[idxProject])
	setStr(res, attrServiceName, lv.vals[idxService])
	for l := range numLabels {
		if writeLabels {
			setStr(res, p.labelKeys[l], lv.vals[l])
		} else if _, ok := res.Get(p.labelKeys[l]); ok {
			setStr(res, p.labelKeys[l], lv.vals[l])
		}
	}
	return lv
}

// firstValue returns the first non-empty value among keys.
func firstValue(m pcommon.Map, keys []string) string {
	for _, k := range keys {
		v, ok := m.Get(k)
		if !ok {
			continue
		}
		var s string
		if v.Type() == pcommon.ValueTypeStr {
			s = v.Str()
		} else {
			s = v.AsString()
		}
		if s != "" {
			return s
		}
	}
	return ""
}

// setStr sets k to v unless it already holds exactly that string, so an item that already
// carries the right labels costs no allocation.
func setStr(m pcommon.Map, k, v string) {
	if cur, ok := m.Get(k); ok {
		if cur.Type() != pcommon.ValueTypeStr || cur.Str() != v {
			cur.SetStr(v)
		}
		return
	}
	m.PutStr(k, v)
}

// putLabels writes the three labels into attribute map m, growing it at most once.
func (p *normalizer) putLabels(m pcommon.Map, lv *labelValues) {
	var missing [numLabels]bool // the three keys are distinct (Validate)
	n := 0
	for l := range numLabels {
		cur, ok := m.Get(p.labelKeys[l])
		if !ok {
			missing[l] = true
			n++
			continue
		}
		if cur.Type() != pcommon.ValueTypeStr || cur.Str() != lv.vals[l] {
			cur.SetStr(lv.vals[l])
		}
	}
	if n == 0 {
		return
	}
	m.EnsureCapacity(m.Len() + n)
	for l := range numLabels {
		if missing[l] {
			m.PutStr(p.labelKeys[l], lv.vals[l])
		}
	}
}
