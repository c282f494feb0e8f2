// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// projectBatch: per project and service, one counter over `routes` routes, each point 1.
func projectBatch(t int64, routes map[string]int) pmetric.Metrics {
	in := newBuilder()
	for _, p := range []string{"free-a", "free-b", "paid"} {
		for r := range routes[p] {
			for _, metric := range []string{"reqs_total", "errs_total"} {
				in.sum("pod-"+p, metric, false, attrs("environment", "prod", "project", p, "service", "svc-"+p,
					"route", fmt.Sprint("/r", r)), 1, t, 1)
			}
		}
	}
	return in.md
}

func TestProjectBudgets(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxSeriesPerProject = 6
	cfg.Projects = map[string]ProjectOverride{"paid": {MaxSeries: 40}}
	cfg.StaleAfter = time.Minute
	g, clk := newTestGuard(t, cfg)

	routes := map[string]int{"free-a": 10, "free-b": 2, "paid": 10}
	out := flatten(t, run(t, g, projectBatch(10, routes)))
	perProject := map[string]int{}
	overflow := map[string]float64{}
	var total float64
	for _, p := range out {
		total += p.value
		if containsAttr(p.attrs, "otel.metric.overflow=true") {
			require.Contains(t, p.attrs, "environment=prod")
			require.Contains(t, p.attrs, "service=svc-")
			for _, pr := range []string{"free-a", "free-b", "paid"} {
				if containsAttr(p.attrs, "project="+pr) {
					overflow[pr] += p.value
				}
			}
			continue
		}
		for _, pr := range []string{"free-a", "free-b", "paid"} {
			if containsAttr(p.attrs, "project="+pr) {
				perProject[pr]++
			}
		}
	}
	// free-a wanted 20 series over two metrics and got its 6 (the first six of reqs_total, in
	// arrival order); the other 4 of reqs_total and all 10 of errs_total fold into the two
	// metrics' overflow series of free-a's producer
	require.Equal(t, map[string]int{"free-a": 6, "free-b": 4, "paid": 20}, perProject)
	require.Equal(t, map[string]float64{"free-a": 14}, overflow, "free-a's 14 other series fold, counts kept")
	require.Equal(t, float64(2*(10+2+10)), total, "nothing lost, nothing doubled")
	require.Equal(t, 6, g.projects.states[g.projects.idx["free-a"]].regular)
	checkProjectBooks(t, g)

	// the same stream into a fresh guard decides the same (deterministic, first come first served)
	g2, _ := newTestGuard(t, cfg)
	out2 := flatten(t, run(t, g2, projectBatch(10, routes)))
	require.Equal(t, keysOf(out), keysOf(out2))

	// free-a goes quiet: after stale_after its series are forgotten and its budget is free again
	clk.advance(2 * time.Minute)
	run(t, g, projectBatch(20, map[string]int{"free-b": 2, "paid": 10}))
	clk.advance(2 * time.Minute)
	run(t, g, projectBatch(30, map[string]int{"free-b": 2, "paid": 10}))
	_, tracked := g.projects.idx["free-a"]
	require.False(t, tracked, "a project with no series is forgotten")
	require.Empty(t, projectRows(g.projects, "free-a"))
	require.Len(t, g.projects.bySeries, 4+20)
	checkProjectBooks(t, g)
	require.Equal(t, []projectUsage{{name: "paid", series: 20, limit: 40}, {name: "free-b", series: 4, limit: 6}}, g.projects.topProjects(5))
}

// TestProjectOverrideZeroMeansDefault: `projects: {x: {max_series: 0}}` is documented as
// "use max_series_per_project", not as "no limit".
func TestProjectOverrideZeroMeansDefault(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxSeriesPerProject = 6
	cfg.Projects = map[string]ProjectOverride{"free-a": {MaxSeries: 0}, "paid": {MaxSeries: 8}}
	g, _ := newTestGuard(t, cfg)
	run(t, g, projectBatch(10, map[string]int{"free-a": 10, "paid": 10}))
	p := g.projects
	require.Equal(t, 6, p.states[p.idx["free-a"]].regular, "an override of 0 keeps the default budget")
	require.Equal(t, 6, p.states[p.idx["free-a"]].limit)
	require.Equal(t, 8, p.states[p.idx["paid"]].regular)
}

func projectRows(p *projectBudgets, name string) []uint32 {
	var out []uint32
	for si, i := range p.bySeries {
		if p.states[i].name == name {
			out = append(out, si)
		}
	}
	return out
}

func containsAttr(attrs, kv string) bool {
	for _, a := range splitAttrs(attrs) {
		if a == kv {
			return true
		}
	}
	return false
}

func splitAttrs(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func keysOf(m map[string]outPoint) map[string]float64 {
	out := map[string]float64{}
	for k, p := range m {
		out[k] = p.value
	}
	return out
}

func TestProjectBudgetConfig(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxSeriesPerProject = -1
	cfg.Projects = map[string]ProjectOverride{"x": {MaxSeries: -2}}
	cfg.KeepLabels = []string{"service"}
	err := cfg.Validate()
	require.ErrorContains(t, err, "max_series_per_project: must be >= 0 (0 = no limit), got -1")
	require.ErrorContains(t, err, "projects::x::max_series: must be >= 0")
	require.ErrorContains(t, err, `max_series_per_project: budgets by project need "project" in keep_labels`)
}

// checkProjectBooks recounts the per-project budgets from the guard's series (see
// checkProjectCounts) and checks every project is within its budget.
func checkProjectBooks(t testing.TB, g *guard) {
	t.Helper()
	checkProjectCounts(t, g)
	if p := g.projects; p != nil {
		for name, i := range p.idx {
			if st := p.states[i]; st.limit > 0 {
				require.LessOrEqual(t, st.regular, st.limit, "project %q within its budget", name)
			}
		}
	}
}

// checkProjectCounts recounts the per-project budgets from the guard's series: every live
// regular series belongs to exactly one tracked project, each project's count is the number
// of its series, and the free list holds only cleared entries — but for the restored series
// flagged unbooked (checkpoint_projects.go). (A project restored over a lowered budget holds
// more than it.)
func checkProjectCounts(t testing.TB, g *guard) {
	t.Helper()
	p := g.projects
	if p == nil {
		return
	}
	recount := map[uint32]int{}
	unbooked := 0
	for si := 1; si < g.series.Len(); si++ {
		s := g.series.At(uint32(si))
		if s.flags&fLive == 0 || s.flags&fOverflow != 0 {
			_, booked := p.bySeries[uint32(si)]
			require.False(t, booked, "series %d is no regular series but is booked to a project", si)
			continue
		}
		i, ok := p.bySeries[uint32(si)]
		if s.flags&fUnbooked != 0 {
			require.False(t, ok, "series %d is booked and flagged unbooked", si)
			unbooked++
			continue
		}
		require.True(t, ok, "regular series %d is booked to no project", si)
		recount[i]++
	}
	require.Len(t, p.bySeries, g.regularTotal-unbooked)
	for name, i := range p.idx {
		st := p.states[i]
		require.Equal(t, name, st.name)
		require.Equal(t, recount[i], st.regular, "series of project %q", name)
		delete(recount, i)
	}
	require.Empty(t, recount, "series booked to a project that is no longer tracked")
	for _, i := range p.free {
		require.Equal(t, projectState{}, p.states[i])
	}
}
