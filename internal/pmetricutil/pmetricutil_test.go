// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package pmetricutil

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestDataPointCount(t *testing.T) {
	t.Parallel()
	ms := pmetric.NewMetricSlice()
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	s := ms.AppendEmpty().SetEmptySum().DataPoints()
	s.AppendEmpty()
	s.AppendEmpty()
	h := ms.AppendEmpty().SetEmptyHistogram().DataPoints()
	for range 3 {
		h.AppendEmpty()
	}
	e := ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints()
	for range 4 {
		e.AppendEmpty()
	}
	q := ms.AppendEmpty().SetEmptySummary().DataPoints()
	for range 5 {
		q.AppendEmpty()
	}
	ms.AppendEmpty() // no type
	want := []int{1, 2, 3, 4, 5, 0}
	for i, w := range want {
		require.Equal(t, w, DataPointCount(ms.At(i)), "metric %d (%s)", i, ms.At(i).Type())
	}
}

// fiveKinds returns one metric of each type, each with n points whose attribute "k" is
// "<type>/<index>" and whose timestamps are the index, plus one metric without a type.
func fiveKinds(n int) pmetric.MetricSlice {
	ms := pmetric.NewMetricSlice()
	g := ms.AppendEmpty()
	g.SetName("g")
	s := ms.AppendEmpty()
	s.SetName("s")
	h := ms.AppendEmpty()
	h.SetName("h")
	e := ms.AppendEmpty()
	e.SetName("e")
	q := ms.AppendEmpty()
	q.SetName("q")
	gd, sd, hd, ed, qd := g.SetEmptyGauge().DataPoints(), s.SetEmptySum().DataPoints(),
		h.SetEmptyHistogram().DataPoints(), e.SetEmptyExponentialHistogram().DataPoints(), q.SetEmptySummary().DataPoints()
	for i := range n {
		set := func(name string, a pcommon.Map) { a.PutStr("k", name+"/"+strconv.Itoa(i)) }
		p := gd.AppendEmpty()
		set("Gauge", p.Attributes())
		p.SetTimestamp(pcommon.Timestamp(i))
		p = sd.AppendEmpty()
		set("Sum", p.Attributes())
		p.SetTimestamp(pcommon.Timestamp(i))
		hp := hd.AppendEmpty()
		set("Histogram", hp.Attributes())
		hp.SetTimestamp(pcommon.Timestamp(i))
		ep := ed.AppendEmpty()
		set("ExponentialHistogram", ep.Attributes())
		ep.SetTimestamp(pcommon.Timestamp(i))
		qp := qd.AppendEmpty()
		set("Summary", qp.Attributes())
		qp.SetTimestamp(pcommon.Timestamp(i))
	}
	ms.AppendEmpty() // no type
	return ms
}

func TestWalkCallsTheKindsCallbackInOrder(t *testing.T) {
	t.Parallel()
	ms := fiveKinds(3)
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		var got []string
		rec := func(kind string) func(int, pcommon.Map) {
			return func(idx int, a pcommon.Map) {
				v, _ := a.Get("k")
				got = append(got, kind+":"+strconv.Itoa(idx)+":"+v.Str())
			}
		}
		n := PointFuncs{
			Number:       func(i int, dp pmetric.NumberDataPoint) { rec("number")(i, dp.Attributes()) },
			Histogram:    func(i int, dp pmetric.HistogramDataPoint) { rec("histogram")(i, dp.Attributes()) },
			ExpHistogram: func(i int, dp pmetric.ExponentialHistogramDataPoint) { rec("exphist")(i, dp.Attributes()) },
			Summary:      func(i int, dp pmetric.SummaryDataPoint) { rec("summary")(i, dp.Attributes()) },
		}.Walk(m)
		require.Equal(t, DataPointCount(m), n, "metric %q", m.Name())
		if m.Type() == pmetric.MetricTypeEmpty {
			require.Empty(t, got)
			continue
		}
		kind := map[pmetric.MetricType]string{
			pmetric.MetricTypeGauge: "number", pmetric.MetricTypeSum: "number", pmetric.MetricTypeHistogram: "histogram",
			pmetric.MetricTypeExponentialHistogram: "exphist", pmetric.MetricTypeSummary: "summary",
		}[m.Type()]
		want := make([]string, 3)
		for j := range want {
			want[j] = kind + ":" + strconv.Itoa(j) + ":" + m.Type().String() + "/" + strconv.Itoa(j)
		}
		require.Equal(t, want, got, "metric %q", m.Name())
	}
}

func TestWalkSkipsNilCallbacksButCounts(t *testing.T) {
	t.Parallel()
	ms := fiveKinds(2)
	for i := 0; i < ms.Len(); i++ {
		require.Equal(t, DataPointCount(ms.At(i)), PointFuncs{}.Walk(ms.At(i)))
	}
}

func TestEachPointSharedPart(t *testing.T) {
	t.Parallel()
	ms := fiveKinds(2)
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		var seen int
		n := EachPoint(m, func(idx int, p Point) {
			v, _ := p.Attributes.Get("k")
			require.Equal(t, m.Type().String()+"/"+strconv.Itoa(idx), v.Str())
			require.Equal(t, pcommon.Timestamp(idx), p.Timestamp)
			require.Equal(t, m.Type() != pmetric.MetricTypeSummary, p.HasExemplars, "metric %q", m.Name())
			if p.HasExemplars {
				require.Equal(t, 0, p.Exemplars.Len())
			}
			seen++
		})
		require.Equal(t, DataPointCount(m), n)
		require.Equal(t, n, seen)
	}
}

func TestEachAttributesDoesNotAllocate(t *testing.T) {
	ms := fiveKinds(4)
	var total int
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < ms.Len(); i++ {
			total += EachAttributes(ms.At(i), func(a pcommon.Map) { total += a.Len() })
		}
	})
	require.Zero(t, allocs)
	require.Positive(t, total)
}
