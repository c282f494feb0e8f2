// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func projectConfig() *Config {
	cfg := testConfig()
	cfg.MaxSeriesPerProject = 6
	cfg.Projects = map[string]ProjectOverride{"paid": {MaxSeries: 40}}
	cfg.StaleAfter = time.Minute
	return cfg
}

func projectSeries(g *guard, name string) int {
	if i, ok := g.projects.idx[name]; ok {
		return g.projects.states[i].regular
	}
	return 0
}

// TestCheckpointKeepsProjectBudgets: a project at its budget stays at its budget after a
// restore, and the restored guard decides exactly as one that never stopped — new series of
// the full project overflow, restored series free their project's slot when forgotten.
func TestCheckpointKeepsProjectBudgets(t *testing.T) {
	t.Parallel()
	cfg := projectConfig()
	whole, wclk := newTestGuard(t, cfg)
	first := map[string]int{"free-a": 10, "free-b": 2, "paid": 10}
	run(t, whole, projectBatch(10, first))
	require.Equal(t, 6, projectSeries(whole, "free-a"), "free-a is at its budget")
	data := whole.encodeCheckpoint(nil, wclk.now().UnixNano())

	g, clk := restoredAt(t, cfg, data, wclk.t)
	require.NotNil(t, g.projects, "the restored guard keeps its per-project budgets")
	require.Equal(t, 6, projectSeries(g, "free-a"), "free-a is still at its budget")
	require.Equal(t, 4, projectSeries(g, "free-b"))
	require.Equal(t, 20, projectSeries(g, "paid"))
	require.Equal(t, 40, g.projects.states[g.projects.idx["paid"]].limit)
	checkProjectBooks(t, g)

	// new routes for every project: free-a gets none, free-b fills its budget, as in whole
	more := map[string]int{"free-a": 20, "free-b": 5, "paid": 12}
	want := flatten(t, run(t, whole, projectBatch(20, more)))
	got := flatten(t, run(t, g, projectBatch(20, more)))
	require.Equal(t, keysOf(want), keysOf(got), "the restored guard decides as the one that never stopped")
	require.Equal(t, 6, projectSeries(g, "free-a"), "free-a stays at its budget")
	require.Equal(t, 6, projectSeries(g, "free-b"))
	checkProjectBooks(t, g)

	// free-a goes quiet: its restored series are forgotten and free its budget
	for _, c := range []*fakeClock{clk, wclk} {
		c.advance(2 * time.Minute)
	}
	quiet := map[string]int{"free-b": 5, "paid": 12}
	run(t, g, projectBatch(30, quiet))
	run(t, whole, projectBatch(30, quiet))
	_, tracked := g.projects.idx["free-a"]
	require.False(t, tracked, "free-a's restored series released its budget")
	checkProjectBooks(t, g)
	for _, c := range []*fakeClock{clk, wclk} {
		c.advance(10 * time.Second)
	}
	back := map[string]int{"free-a": 3, "free-b": 5, "paid": 12}
	want = flatten(t, run(t, whole, projectBatch(40, back)))
	got = flatten(t, run(t, g, projectBatch(40, back)))
	require.Equal(t, keysOf(want), keysOf(got))
	require.Equal(t, 6, projectSeries(g, "free-a"), "free-a has its whole budget again")
	checkProjectBooks(t, g)
}

// TestCheckpointProjectBudgetsNewConfig: restored under a changed configuration, the projects
// keep their restored series counts and take the new configuration's budgets.
func TestCheckpointProjectBudgetsNewConfig(t *testing.T) {
	t.Parallel()
	cfg := projectConfig()
	old, oclk := newTestGuard(t, cfg)
	run(t, old, projectBatch(10, map[string]int{"free-a": 10, "free-b": 2, "paid": 10}))
	data := old.encodeCheckpoint(nil, oclk.now().UnixNano())

	// smaller default, free-b raised by an override, paid's override gone
	cfg2 := projectConfig()
	cfg2.MaxSeriesPerProject = 4
	cfg2.Projects = map[string]ProjectOverride{"free-b": {MaxSeries: 10}}
	g, _ := restoredAt(t, cfg2, data, oclk.t)
	p := g.projects
	for name, want := range map[string][2]int{"free-a": {6, 4}, "free-b": {4, 10}, "paid": {20, 4}} {
		st := p.states[p.idx[name]]
		require.Equal(t, want, [2]int{st.regular, st.limit}, "project %s: restored series, new budget", name)
	}
	out := flatten(t, run(t, g, projectBatch(20, map[string]int{"free-a": 12, "free-b": 8, "paid": 12})))
	regular := map[string]int{}
	for _, pt := range out {
		if containsAttr(pt.attrs, "otel.metric.overflow=true") {
			continue
		}
		for _, pr := range []string{"free-a", "free-b", "paid"} {
			if containsAttr(pt.attrs, "project="+pr) {
				regular[pr]++
			}
		}
	}
	// over their new budget, free-a and paid keep their restored series and get no new one;
	// free-b grows to its new budget
	require.Equal(t, map[string]int{"free-a": 6, "free-b": 10, "paid": 20}, regular)
	require.Equal(t, 10, projectSeries(g, "free-b"))

	// budgets switched off: no per-project bookkeeping is restored
	cfg3 := projectConfig()
	cfg3.MaxSeriesPerProject, cfg3.Projects = 0, nil
	off, _ := restoredAt(t, cfg3, data, oclk.t)
	require.Nil(t, off.projects)
	require.Equal(t, old.liveSeries, off.liveSeries)
}

// TestCheckpointProjectBudgetsSwitchedOn: budgets switched on at a restart, over a checkpoint
// written without them: the checkpoint does not know the restored series' projects, so each is
// booked to its project at its next point — a project already over its new budget stays there
// and gets no new series, instead of a fresh budget on top of what it holds.
func TestCheckpointProjectBudgetsSwitchedOn(t *testing.T) {
	t.Parallel()
	cfg := projectConfig()
	cfg.MaxSeriesPerProject, cfg.Projects = 0, nil
	old, oclk := newTestGuard(t, cfg)
	run(t, old, projectBatch(10, map[string]int{"free-a": 10, "free-b": 2}))
	require.Nil(t, old.projects)
	data := old.encodeCheckpoint(nil, oclk.now().UnixNano())

	g, clk := restoredAt(t, projectConfig(), data, oclk.t)
	require.Empty(t, g.projects.idx, "no project known before the restored series' next points")
	checkProjectCounts(t, g)
	clk.advance(10 * time.Second)
	out := flatten(t, run(t, g, projectBatch(20, map[string]int{"free-a": 12, "free-b": 4})))
	var regular, overflowed int
	for _, pt := range out {
		if !containsAttr(pt.attrs, "project=free-a") {
			continue
		}
		if containsAttr(pt.attrs, "otel.metric.overflow=true") {
			overflowed++
		} else {
			regular++
		}
	}
	require.Equal(t, 20, regular, "free-a keeps its 20 restored series and gets none of its 4 new ones")
	require.Equal(t, 2, overflowed, "its new routes fold into the overflow series of its two metrics")
	require.Equal(t, 20, projectSeries(g, "free-a"))
	require.Equal(t, 6, projectSeries(g, "free-b"), "4 restored, 2 new up to the budget")
	checkProjectCounts(t, g)

	// once booked, the restored series free their project's slots when forgotten
	clk.advance(2 * time.Minute)
	run(t, g, projectBatch(30, map[string]int{"free-b": 4}))
	clk.advance(2 * time.Minute)
	run(t, g, projectBatch(40, map[string]int{"free-b": 4}))
	_, tracked := g.projects.idx["free-a"]
	require.False(t, tracked)
	checkProjectBooks(t, g)
}

// TestCheckpointSameInReportMode: mode report keeps exactly the state enforce mode keeps (it
// runs the guard on a copy of the batch), so their checkpoints are byte for byte the same —
// per-project books included — and a guard switched between the modes at a restart
// continues from the other mode's state.
func TestCheckpointSameInReportMode(t *testing.T) {
	t.Parallel()
	cfg := ckptConfig()
	enforce, eclk := newTestGuard(t, cfg)
	rcfg := ckptConfig()
	rcfg.Mode = ModeReport
	report, rclk := newTestGuard(t, rcfg)
	report.h.seed = enforce.h.seed
	s1, s2 := newCkptStream(5, 30), newCkptStream(5, 30)
	for i := range int64(10) {
		for _, c := range []*fakeClock{eclk, rclk} {
			c.t = time.Unix(1_700_000_000+10*i, 0)
		}
		run(t, enforce, s1.step(i))
		runReport(t, report, s2.step(i))
	}
	require.NotNil(t, report.projects)
	require.NotEmpty(t, report.projects.bySeries)
	now := eclk.now().UnixNano()
	require.Equal(t, enforce.encodeCheckpoint(nil, now), report.encodeCheckpoint(nil, now))
}
