// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/airi-otel/otelcol-airi/internal/hostile"
)

// TestCheckpointOfHostileState: whatever state hostile input leaves (issue 12's points,
// histogram bounds out of order or NaN, extreme exponential scales and offsets), the guard
// restores its own checkpoint of it, series for series and member for member.
func TestCheckpointOfHostileState(t *testing.T) {
	cfg := ckptConfig()
	g, clk := newTestGuard(t, cfg)
	for _, c := range hostile.Cases("checkpoint", clk.now()) {
		run(t, g, c.Metrics)
	}
	for _, js := range []string{
		`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"3","bucketCounts":["1"],"explicitBounds":[1,2,"NaN"]},{"count":"1","bucketCounts":["1","0","0","0"],"explicitBounds":[3,2,1]}]}}]}]}]}`,
		`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h2","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"1","bucketCounts":["1","0","0","0"],"explicitBounds":[3,2,1]}]}}]}]}]}`,
		`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"e","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[{"scale":-100,"count":"1","positive":{"offset":-2147483648,"bucketCounts":["1"]}},{"scale":100,"count":"1","negative":{"offset":2147483647,"bucketCounts":["1","1"]}}]}}]}]}]}`,
	} {
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics([]byte(js))
		require.NoError(t, err)
		run(t, g, md)
	}
	require.Positive(t, g.liveSeries)
	data := g.encodeCheckpoint(nil, clk.now().UnixNano())
	r, _ := newTestGuard(t, cfg)
	r.now = clk.now
	r.restoreFrom(t.Context(), data, nil)
	require.Equal(t, g.liveSeries, r.liveSeries, "every series restored")
	require.Equal(t, g.liveMembers, r.liveMembers, "every member restored")
	require.Equal(t, g.regularTotal, r.regularTotal)
}

// TestCheckpointRestoredMembersReachTheInsight: the top-offender insight is not checkpointed and
// a restored member is never new, so each restored member is recorded at its first point after
// the restore: one batch later the restored guard tracks the streams the old one did.
func TestCheckpointRestoredMembersReachTheInsight(t *testing.T) {
	cfg := ckptConfig()
	require.Positive(t, cfg.TopOffenders)
	s := newCkptStream(3, 40)
	first, fclk := newTestGuard(t, cfg)
	runSteps(t, first, fclk, s, 0, 6)
	want := first.ins.tr.Streams()
	require.Positive(t, want)
	g, clk := restored(t, cfg, first.encodeCheckpoint(nil, fclk.now().UnixNano()), 6)
	require.Zero(t, g.ins.tr.Streams(), "the insight starts empty")
	runSteps(t, g, clk, s, 6, 7)
	require.Equal(t, want, g.ins.tr.Streams(), "every restored stream is tracked again")
}
