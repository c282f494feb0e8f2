// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"cmp"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// projectLabel is the keep label whose value names a project (airi_normalize's name for it).
const projectLabel = "project"

// projectState is the series-budget bookkeeping of one project.
type projectState struct {
	name    string
	regular int // regular output series over all metrics of the project
	limit   int // 0: no limit
}

// projectBudgets shares the series budget out among projects: a new output series of a
// project that holds its budget goes to its metric's overflow series for its producer, which
// keeps project, service and environment (they are keep_labels). Like the other budgets it is
// first come, first served, so the same stream gives the same decisions.
type projectBudgets struct {
	def       int
	overrides map[string]int
	idx       map[string]uint32
	states    []projectState // index 0 unused
	free      []uint32
	bySeries  map[uint32]uint32 // regular output series -> its project
	cur       uint32            // project of the point being resolved
}

// newProjectBudgets returns nil when no project has a budget.
func newProjectBudgets(cfg *Config) *projectBudgets {
	if cfg.MaxSeriesPerProject == 0 && len(cfg.Projects) == 0 {
		return nil
	}
	p := &projectBudgets{def: cfg.MaxSeriesPerProject, overrides: map[string]int{}, idx: map[string]uint32{},
		states: make([]projectState, 1), bySeries: map[uint32]uint32{}}
	for name, o := range cfg.Projects {
		if o.MaxSeries > 0 { // 0 means max_series_per_project, as documented
			p.overrides[name] = o.MaxSeries
		}
	}
	return p
}

// projectHasRoom reports whether the project of a point that would create a new regular
// output series may have one more, and remembers the project for projectTake.
func (g *guard) projectHasRoom(attrs pcommon.Map) bool {
	p := g.projects
	if p == nil {
		return true
	}
	p.cur = g.projectOf(attrs)
	st := &p.states[p.cur]
	return st.limit == 0 || st.regular < st.limit
}

// projectOf returns (creating on first use) the state of the project of a point.
func (g *guard) projectOf(attrs pcommon.Map) uint32 {
	p := g.projects
	name := ""
	if v, ok := attrs.Get(projectLabel); ok {
		name = g.strForm(v)
	}
	i, ok := p.idx[name]
	if !ok {
		name = string([]byte(name)) // strForm may alias a scratch buffer
		if n := len(p.free); n > 0 {
			i, p.free = p.free[n-1], p.free[:n-1]
		} else {
			p.states = append(p.states, projectState{})
			i = uint32(len(p.states) - 1)
		}
		p.states[i] = projectState{name: name, limit: p.limitOf(name)}
		p.idx[name] = i
	}
	return i
}

// limitOf is the series budget of the project name.
func (p *projectBudgets) limitOf(name string) int {
	if limit, ok := p.overrides[name]; ok {
		return limit
	}
	return p.def
}

// projectTake counts the new regular series si against the project projectHasRoom saw.
func (g *guard) projectTake(si uint32) {
	p := g.projects
	if p == nil {
		return
	}
	p.states[p.cur].regular++
	p.bySeries[si] = p.cur
}

// projectRelease returns the slot of a forgotten regular series to its project.
func (g *store) projectRelease(si uint32) {
	p := g.projects
	if p == nil {
		return
	}
	i, ok := p.bySeries[si]
	if !ok {
		return // an overflow series
	}
	delete(p.bySeries, si)
	st := &p.states[i]
	if st.regular--; st.regular == 0 {
		delete(p.idx, st.name)
		*st = projectState{}
		p.free = append(p.free, i)
	}
}

// projectUsage is one project's regular series and budget, for the telemetry.
type projectUsage struct {
	name          string
	series, limit int
}

// topProjects returns the n projects with the most regular series (ties by name).
func (p *projectBudgets) topProjects(n int) []projectUsage {
	if p == nil {
		return nil
	}
	out := make([]projectUsage, 0, len(p.idx))
	for _, i := range p.idx {
		st := p.states[i]
		out = append(out, projectUsage{name: st.name, series: st.regular, limit: st.limit})
	}
	slices.SortFunc(out, func(a, b projectUsage) int {
		if c := cmp.Compare(b.series, a.series); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
