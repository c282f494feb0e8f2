// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package insight

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func testSettings() Settings {
	return Settings{TopN: 3, MaxLabels: 4, ServiceKey: "service", ProjectKey: "project", EnvironmentKey: "environment",
		Skip: []string{"service", "project", "environment"}}
}

func point(kv ...any) pcommon.Map {
	m := pcommon.NewMap()
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			m.PutStr(kv[i].(string), v)
		case int:
			m.PutInt(kv[i].(string), int64(v))
		}
	}
	return m
}

// counts answers from a fixed table, as the guard's shares would.
func counts(tab map[uint64][2]int) Counts {
	return func(k uint64) (int, int, bool) {
		c, ok := tab[k]
		return c[0], c[1], ok
	}
}

func TestRankingExactSmall(t *testing.T) {
	tr := New(testSettings())
	// stream 1: http duration from llm-gateway, customer_id takes 5 values, method 2
	for i := range 5 {
		tr.Observe(1, "http_server_request_duration_seconds", point("service", "llm-gateway", "project", "p1", "environment", "prod",
			"customer_id", fmt.Sprint("c", i), "method", []string{"GET", "POST"}[i%2]))
	}
	// stream 2: one label with 3 values; stream 3: no labels beyond the producer's
	for i := range 3 {
		tr.Observe(2, "jobs_total", point("service", "worker", "project", "p2", "status", i))
	}
	tr.Observe(3, "up", point("service", "worker", "project", "p2"))

	rep := tr.Report(counts(map[uint64][2]int{1: {5, 5}, 2: {3, 9}, 3: {1, 1}}))
	require.Len(t, rep.ByOutput, 3)
	require.Equal(t, Stream{"http_server_request_duration_seconds", "llm-gateway", "p1", "prod"}, rep.ByOutput[0].Stream)
	require.Equal(t, []Label{{Key: "customer_id", Values: 5, Added: 5}, {Key: "method", Values: 2, Added: 2}}, rep.ByOutput[0].Labels)
	require.Equal(t, "jobs_total", rep.ByOutput[1].Metric)
	require.Equal(t, []Label{{Key: "status", Values: 3, Added: 3}}, rep.ByOutput[1].Labels)
	require.Equal(t, "up", rep.ByOutput[2].Metric)
	require.Empty(t, rep.ByOutput[2].Labels)
	// by input the worker's counter leads
	require.Equal(t, "jobs_total", rep.ByInput[0].Metric)
	require.Equal(t, 9, rep.ByInput[0].Inputs)
	require.Len(t, rep.Union(), 3)

	// Added covers one interval: two new customer_id values, nothing else
	for i := 5; i < 7; i++ {
		tr.Observe(1, "http_server_request_duration_seconds", point("service", "llm-gateway", "project", "p1", "customer_id", fmt.Sprint("c", i), "method", "GET"))
	}
	rep = tr.Report(counts(map[uint64][2]int{1: {7, 7}, 2: {3, 9}}))
	require.Equal(t, []Label{{Key: "customer_id", Values: 7, Added: 2}, {Key: "method", Values: 2, Added: 0}}, rep.ByOutput[0].Labels)
	// the stream the guard forgot is gone from the tracker too
	require.Equal(t, 2, tr.Streams())
	require.Len(t, rep.ByOutput, 2)
}

func TestRankingBoundedAndDeterministic(t *testing.T) {
	set := testSettings()
	tr := New(set)
	tab := map[uint64][2]int{}
	for k := uint64(1); k <= 50; k++ {
		for l := range 10 {
			tr.Observe(k, fmt.Sprintf("m%02d", k%7), point("service", fmt.Sprint("s", k), fmt.Sprint("l", l), "v"))
		}
		tab[k] = [2]int{int(k % 5), int(k % 3)}
	}
	rep := tr.Report(counts(tab))
	require.Len(t, rep.ByOutput, set.TopN)
	require.Len(t, rep.ByInput, set.TopN)
	require.LessOrEqual(t, len(rep.Union()), 2*set.TopN)
	for _, o := range rep.Union() {
		require.Len(t, o.Labels, set.MaxLabels, "labels tracked per stream are bounded")
		require.Equal(t, 10-set.MaxLabels, o.UntrackedLabels)
	}
	// rankings: by count descending, then by stream names
	for i := 1; i < len(rep.ByOutput); i++ {
		a, b := rep.ByOutput[i-1], rep.ByOutput[i]
		require.True(t, a.Series > b.Series || (a.Series == b.Series && compareStreams(a.Stream, b.Stream) < 0))
	}
	require.Equal(t, 4, rep.ByOutput[0].Series)
	require.Equal(t, 2, rep.ByInput[0].Inputs)
	// the same input gives the same ranking
	rep2 := New(set)
	for k := uint64(50); k >= 1; k-- {
		for l := range 10 {
			rep2.Observe(k, fmt.Sprintf("m%02d", k%7), point("service", fmt.Sprint("s", k), fmt.Sprint("l", l), "v"))
		}
	}
	r2 := rep2.Report(counts(tab))
	for i := range rep.ByOutput {
		require.Equal(t, rep.ByOutput[i].Stream, r2.ByOutput[i].Stream)
		require.Equal(t, rep.ByInput[i].Stream, r2.ByInput[i].Stream)
	}
}

// TestEstimateWithinStatedError checks the HyperLogLog estimates against exact counts over
// a range of cardinalities: every estimate within 4 standard errors (a failure by chance has a
// probability below 1e-4 per estimate), and the mean error near the stated one.
func TestEstimateWithinStatedError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var sumSq float64
	var n int
	for _, card := range []int{100, 1_000, 5_000, 20_000, 50_000} {
		for trial := range 3 {
			tr := New(testSettings())
			m := pcommon.NewMap()
			v := m.PutEmpty("customer_id")
			for i := range card {
				v.SetStr(fmt.Sprintf("cust-%d-%d-%d", trial, i, rng.Uint64()))
				tr.Observe(1, "m", m)
				if i%3 == 0 { // repeats change nothing
					tr.Observe(1, "m", m)
				}
			}
			est := tr.Report(counts(map[uint64][2]int{1: {1, 1}})).ByOutput[0].Labels[0].Values
			rel := (float64(est) - float64(card)) / float64(card)
			require.LessOrEqual(t, math.Abs(rel), 4*StdError, "cardinality %d: estimate %d", card, est)
			if card <= 100 {
				require.Equal(t, uint64(card), est, "small cardinalities are exact (sparse form)")
			}
			if card >= 5_000 {
				sumSq += rel * rel
				n++
			}
		}
	}
	rms := math.Sqrt(sumSq / float64(n))
	require.Less(t, rms, 2*StdError, "root mean square error %.4f", rms)
}

// TestStreamsBounded: a flood of stream keys (a million metric names) never grows the tracker
// past MaxStreams; a report keeps the half with the most series, so a stream that explodes
// after the flood is tracked, ranked and named from the next interval on.
func TestStreamsBounded(t *testing.T) {
	set := testSettings()
	set.MaxStreams = 64
	tr := New(set)
	tab := map[uint64][2]int{}
	for k := uint64(1); k <= 1000; k++ {
		tr.Observe(k, fmt.Sprint("flood_", k), point("service", "x", "id", int(k)))
		tab[k] = [2]int{1, 1}
		require.LessOrEqual(t, tr.Streams(), set.MaxStreams)
	}
	tab[7] = [2]int{50, 50} // one flood stream is big: it must survive the eviction
	rep := tr.Report(counts(tab))
	require.Equal(t, 1000-64, rep.UntrackedStreams)
	require.Equal(t, set.MaxStreams/2, tr.Streams())
	require.Equal(t, "flood_7", rep.ByOutput[0].Metric)

	// the label that explodes now: its stream gets a slot freed by the report
	const boom = uint64(5000)
	for i := range 60 {
		tr.Observe(boom, "http_server_request_duration_seconds", point("service", "llm-gateway", "customer_id", fmt.Sprint("c", i)))
	}
	tab[boom] = [2]int{1, 60}
	rep = tr.Report(counts(tab))
	require.Zero(t, rep.UntrackedStreams)
	require.Equal(t, "http_server_request_duration_seconds", rep.ByInput[0].Metric)
	require.Equal(t, []Label{{Key: "customer_id", Values: 60, Added: 60}}, rep.ByInput[0].Labels)
	require.Equal(t, "flood_7", rep.ByInput[1].Metric, "the big stream kept its slot")
}

// TestAddedOnlyFromFedSketches: a report estimates only the sketches fed since the previous
// one; the others keep their value and add nothing, over several quiet intervals.
func TestAddedOnlyFromFedSketches(t *testing.T) {
	tr := New(testSettings())
	for i := range 30 {
		tr.Observe(1, "a", point("user", fmt.Sprint("u", i), "method", "GET"))
		tr.Observe(2, "b", point("user", fmt.Sprint("u", i)))
	}
	tab := map[uint64][2]int{1: {2, 2}, 2: {1, 1}}
	rep := tr.Report(counts(tab))
	require.Equal(t, []Label{{Key: "user", Values: 30, Added: 30}, {Key: "method", Values: 1, Added: 1}}, rep.ByOutput[0].Labels)
	for i := range 3 {
		tr.Observe(2, "b", point("user", fmt.Sprint("u-new-", i)))
		rep = tr.Report(counts(tab))
		require.Equal(t, []Label{{Key: "user", Values: 30, Added: 0}, {Key: "method", Values: 1, Added: 0}}, rep.ByOutput[0].Labels)
		require.Equal(t, uint64(1), rep.ByOutput[1].Labels[0].Added, "the fed stream adds what it got")
	}
}

// TestLongKeysNotTracked: a label key past MaxKeyLen is counted, not sketched.
func TestLongKeysNotTracked(t *testing.T) {
	tr := New(testSettings())
	long := strings.Repeat("k", MaxKeyLen+1)
	tr.Observe(1, "m", point(long, "v", strings.Repeat("k", MaxKeyLen), "w"))
	rep := tr.Report(counts(map[uint64][2]int{1: {1, 1}}))
	require.Equal(t, []Label{{Key: strings.Repeat("k", MaxKeyLen), Values: 1, Added: 1}}, rep.ByOutput[0].Labels)
	require.Equal(t, 1, rep.ByOutput[0].UntrackedLabels)
}
