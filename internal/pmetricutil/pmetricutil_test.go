// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package pmetricutil

import (
	"testing"

	"github.com/stretchr/testify/require"
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
