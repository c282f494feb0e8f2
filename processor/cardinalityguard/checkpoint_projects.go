// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The per-project budgets in a checkpoint: after the producer shares, the names of the
// projects that hold regular series (count, then each as length and bytes; none when no
// budget is set), and in every series record the ordinal of its project (0: none — an
// overflow series, or budgets off). The counts per project are rebuilt from the series, so
// they cannot disagree with them; the budgets are the current configuration's (adopt).

// appendProjectNames writes the names of the projects with series, densely numbered from 1,
// and returns the ordinal of every project state (nil when there are no budgets).
func (p *projectBudgets) appendProjectNames(b []byte) ([]uint32, []byte) {
	if p == nil {
		return nil, binary.AppendUvarint(b, 0)
	}
	ord, n := renumber(len(p.states), func(i int) bool { return p.states[i].regular > 0 })
	b = binary.AppendUvarint(b, uint64(n))
	for i := 1; i < len(p.states); i++ {
		if ord[i] != 0 {
			b = binary.AppendUvarint(b, uint64(len(p.states[i].name)))
			b = append(b, p.states[i].name...)
		}
	}
	return ord, b
}

// projectOrdinal is the checkpoint ordinal of series si's project (0: none).
func (p *projectBudgets) projectOrdinal(ord []uint32, si uint32) uint64 {
	if p == nil {
		return 0
	}
	i, ok := p.bySeries[si]
	if !ok {
		return 0
	}
	return uint64(ord[i])
}

// projectNames reads the project names into bookkeeping without budgets (nil: none).
func (d *decoder) projectNames() *projectBudgets {
	n := d.count(1, "projects")
	if n == 0 {
		return nil
	}
	p := &projectBudgets{idx: make(map[string]uint32, n), states: make([]projectState, 1, n+1), bySeries: map[uint32]uint32{}}
	for range n {
		name := string(d.bytes(d.count(1, "project name")))
		if d.err != nil {
			return nil
		}
		if _, dup := p.idx[name]; dup {
			d.fail("project %q duplicated", name)
			return nil
		}
		p.states = append(p.states, projectState{name: name})
		p.idx[name] = uint32(len(p.states) - 1)
	}
	return p
}

// bookRestored books the restored series si (its record's flags) to project ordinal pj.
func (d *decoder) bookRestored(p *projectBudgets, si uint32, flags uint8, pj uint64) {
	if pj == 0 || d.err != nil {
		return
	}
	if p == nil || pj >= uint64(len(p.states)) || flags&fOverflow != 0 {
		d.fail("series %d: project %d", si, pj)
		return
	}
	p.states[pj].regular++
	p.bySeries[si] = uint32(pj)
}

// checkProjects fails a project without series (the writer keeps none).
func (d *decoder) checkProjects(p *projectBudgets) {
	if p == nil {
		return
	}
	for i := 1; d.err == nil && i < len(p.states); i++ {
		if p.states[i].regular == 0 {
			d.fail("project %q without series", p.states[i].name)
		}
	}
}

// adopt returns the restored bookkeeping books under p's budgets (the current configuration,
// which may differ from the checkpoint's): the projects keep their restored series counts
// and take the current limits, so a project over a lowered budget creates no new series
// until enough of its series are forgotten. With budgets off now, nothing is kept.
func (p *projectBudgets) adopt(books *projectBudgets) *projectBudgets {
	if p == nil || books == nil {
		return p
	}
	p.idx, p.states, p.free, p.bySeries = books.idx, books.states, books.free, books.bySeries
	for i := 1; i < len(p.states); i++ {
		p.states[i].limit = p.limitOf(p.states[i].name)
	}
	return p
}

// markUnbooked flags the restored regular series that belong to no project while budgets
// are on (the checkpoint was written with budgets off): the checkpoint does not know their
// project, their next point does (projectBook), so they count against it from then on
// instead of never.
func (st *store) markUnbooked() {
	for i := uint32(1); int(i) < st.series.Len(); i++ {
		s := st.series.At(i)
		s.flags &^= fUnbooked
		if st.projects == nil || s.flags&(fLive|fOverflow) != fLive {
			continue
		}
		if _, ok := st.projects.bySeries[i]; !ok {
			s.flags |= fUnbooked
		}
	}
}

// projectBook books the restored regular series si to the project of its point. It may take
// its project over budget, as a lowered budget does: the series exists already.
func (g *guard) projectBook(si uint32, attrs pcommon.Map) {
	g.series.At(si).flags &^= fUnbooked
	p := g.projects
	if p == nil {
		return
	}
	i := g.projectOf(attrs)
	p.states[i].regular++
	p.bySeries[si] = i
}
