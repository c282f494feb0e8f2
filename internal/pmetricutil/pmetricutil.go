// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package pmetricutil holds small pmetric helpers shared by our processors: the one place that
// switches on a metric's type to reach its data points, so the processors and their tests do not
// each copy a five-way loop.
package pmetricutil // import "github.com/airi-otel/otelcol-airi/internal/pmetricutil"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// DataPointCount returns the number of data points of one metric, whatever its type.
func DataPointCount(m pmetric.Metric) int {
	if dps, ok := NumberDataPoints(m); ok {
		return dps.Len()
	}
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// NumberDataPoints returns the points of a gauge or a sum; ok is false for every other type.
func NumberDataPoints(m pmetric.Metric) (pmetric.NumberDataPointSlice, bool) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints(), true
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints(), true
	}
	return pmetric.NumberDataPointSlice{}, false
}

// PointFuncs holds one callback per data-point kind; Walk calls the one of a metric's kind for
// each of its points, in order, with the point's index. A nil callback skips that kind.
type PointFuncs struct {
	Number       func(i int, dp pmetric.NumberDataPoint) // gauges and sums
	Histogram    func(i int, dp pmetric.HistogramDataPoint)
	ExpHistogram func(i int, dp pmetric.ExponentialHistogramDataPoint)
	Summary      func(i int, dp pmetric.SummaryDataPoint)
}

// Walk visits every data point of m and returns how many m has (0 for a metric without a type),
// whether or not a callback was set for its kind.
func (f PointFuncs) Walk(m pmetric.Metric) int {
	if dps, ok := NumberDataPoints(m); ok {
		if f.Number != nil {
			for i := 0; i < dps.Len(); i++ {
				f.Number(i, dps.At(i))
			}
		}
		return dps.Len()
	}
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		if f.Histogram != nil {
			for i := 0; i < dps.Len(); i++ {
				f.Histogram(i, dps.At(i))
			}
		}
		return dps.Len()
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		if f.ExpHistogram != nil {
			for i := 0; i < dps.Len(); i++ {
				f.ExpHistogram(i, dps.At(i))
			}
		}
		return dps.Len()
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		if f.Summary != nil {
			for i := 0; i < dps.Len(); i++ {
				f.Summary(i, dps.At(i))
			}
		}
		return dps.Len()
	}
	return 0
}

// Point is what the five data-point kinds share, read without switching on the kind. Summaries
// carry no exemplars: HasExemplars is false for them and Exemplars must not be used.
type Point struct {
	Attributes     pcommon.Map
	Exemplars      pmetric.ExemplarSlice
	HasExemplars   bool
	StartTimestamp pcommon.Timestamp
	Timestamp      pcommon.Timestamp
}

// EachPoint calls f with the shared part of every data point of m, in order, and returns how
// many points m has.
func EachPoint(m pmetric.Metric, f func(i int, p Point)) int {
	return PointFuncs{
		Number: func(i int, dp pmetric.NumberDataPoint) {
			f(i, Point{dp.Attributes(), dp.Exemplars(), true, dp.StartTimestamp(), dp.Timestamp()})
		},
		Histogram: func(i int, dp pmetric.HistogramDataPoint) {
			f(i, Point{dp.Attributes(), dp.Exemplars(), true, dp.StartTimestamp(), dp.Timestamp()})
		},
		ExpHistogram: func(i int, dp pmetric.ExponentialHistogramDataPoint) {
			f(i, Point{dp.Attributes(), dp.Exemplars(), true, dp.StartTimestamp(), dp.Timestamp()})
		},
		Summary: func(i int, dp pmetric.SummaryDataPoint) {
			f(i, Point{Attributes: dp.Attributes(), StartTimestamp: dp.StartTimestamp(), Timestamp: dp.Timestamp()})
		},
	}.Walk(m)
}

// EachAttributes calls f with the attributes of every data point of m and returns how many
// points m has.
func EachAttributes(m pmetric.Metric, f func(pcommon.Map)) int {
	return PointFuncs{
		Number:       func(_ int, dp pmetric.NumberDataPoint) { f(dp.Attributes()) },
		Histogram:    func(_ int, dp pmetric.HistogramDataPoint) { f(dp.Attributes()) },
		ExpHistogram: func(_ int, dp pmetric.ExponentialHistogramDataPoint) { f(dp.Attributes()) },
		Summary:      func(_ int, dp pmetric.SummaryDataPoint) { f(dp.Attributes()) },
	}.Walk(m)
}
