// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
pkg: github.com/airi-otel/otelcol-airi/processor/cardinalityguard
BenchmarkCardinality/guard_strip/series=10000-2         	    1000	    600000 ns/op	       500.0 cpu_ns/point	   1700000 points/s	  64 allocs/op
BenchmarkCardinality/guard_strip/series=10000-2         	    1000	    620000 ns/op	       520.0 cpu_ns/point	   1650000 points/s	  64 allocs/op
BenchmarkCardinality/guard_strip/series=10000-2         	    1000	    580000 ns/op	       480.0 cpu_ns/point	   1750000 points/s	  64 allocs/op
BenchmarkCardinality/transform_delete_key/series=10000-2	    2000	    300000 ns/op	       250.0 cpu_ns/point	   3300000 points/s	3005 allocs/op
BenchmarkCardinality/transform_delete_key/series=10000-2	    2000	    310000 ns/op	       250.0 cpu_ns/point	   3200000 points/s	3005 allocs/op
pkg: github.com/airi-otel/otelcol-airi/processor/trackingid
BenchmarkTraces/distinct/tracking_id-2 	 100	 9000 ns/op
BenchmarkTraces/distinct/ottl_transform-2 	 100	 27000 ns/op
BenchmarkTraces/grouped10/tracking_id-2 	 100	 8000 ns/op
BenchmarkTraces/grouped10/ottl_transform-2 	 100	 24000 ns/op
--- FAIL: BenchmarkBroken
ok  	github.com/airi-otel/otelcol-airi/processor/trackingid	3.1s
`

func TestParseGroupsVariantsAndMedians(t *testing.T) {
	groups, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	require.Len(t, groups, 3)
	g := groups[0]
	require.Equal(t, "BenchmarkCardinality/series=10000", g.name)
	require.Len(t, g.variants, 2)
	require.Equal(t, "guard_strip", g.variants[0].name)
	require.Equal(t, 500.0, median(g.variants[0].samples["cpu_ns/point"]))
	require.Equal(t, 305000.0, median(g.variants[1].samples["ns/op"]))
	require.Equal(t, "BenchmarkTraces/distinct", groups[1].name)
	require.Equal(t, "BenchmarkTraces/grouped10", groups[2].name)
}

func TestRenderRatiosAgainstContribBaseline(t *testing.T) {
	groups, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	var b strings.Builder
	render(&b, groups)
	out := b.String()
	// ratio on the CPU unit when there is one: 500/250
	require.Contains(t, out, "vs transform_delete_key (cpu_ns/point)")
	require.Contains(t, out, "2.00x (slower, n=3)")
	// ns/op otherwise: 9000/27000
	require.Contains(t, out, "0.33x (faster, n=1)")
	require.Contains(t, out, "±")
}

func TestTrimProcsAndSplit(t *testing.T) {
	require.Equal(t, "BenchmarkX/a", trimProcs("BenchmarkX/a-16"))
	require.Equal(t, "BenchmarkX/top-k", trimProcs("BenchmarkX/top-k"))
	g, v := split("BenchmarkMetrics/airi_normalize_relabel")
	require.Equal(t, "BenchmarkMetrics", g)
	require.Equal(t, "airi_normalize_relabel", v)
	g, v = split("BenchmarkSolo")
	require.Equal(t, "BenchmarkSolo", g)
	require.Empty(t, v)
}

func TestTargetsNameEachWithItsFigureAndVerdict(t *testing.T) {
	const in = `pkg: github.com/airi-otel/otelcol-airi/processor/airinormalize
BenchmarkTraces/airi_normalize-2 	 100	 1 ns/op	 100 cpu-ns/item
BenchmarkTraces/airi_normalize-2 	 100	 1 ns/op	 120 cpu-ns/item
BenchmarkTraces/transform_ottl-2 	 100	 1 ns/op	 600 cpu-ns/item
BenchmarkTraces/transform_ottl-2 	 100	 1 ns/op	 400 cpu-ns/item
BenchmarkMetrics/airi_normalize-2 	 100	 1 ns/op	 4 allocs/item
pkg: github.com/airi-otel/otelcol-airi/processor/cardinalityguard
BenchmarkCardinality/guard_strip/series=1000000-2 	 10	 1 ns/op	 300 cpu_ns/point
BenchmarkCardinality/transform_delete_key/series=1000000-2 	 10	 1 ns/op	 200 cpu_ns/point
`
	groups, err := parse(strings.NewReader(in))
	require.NoError(t, err)
	var b strings.Builder
	targets(&b, groups)
	out := b.String()
	// medians 500 ÷ 110; range 400÷120 … 600÷100
	require.Contains(t, out, "| airi_normalize traces: OTTL's cpu-ns per item ÷ ours ≥ 5 | 4.55× (3.33–6.00) | **missed** |")
	require.Contains(t, out, "| airi_normalize: allocations per fresh metric point ≤ 1 | 4.00 | **missed** |")
	require.Contains(t, out, "| cardinality_guard strip (series=1000000): cpu_ns ÷ delete_key's ≤ 1 | 1.50× (1.50–1.50) | **missed** |")
	require.NotContains(t, out, "logs", "a target whose benchmarks are missing is left out")
	require.NotContains(t, out, "tracking_id")

	b.Reset()
	targets(&b, nil)
	require.Empty(t, b.String())
}
