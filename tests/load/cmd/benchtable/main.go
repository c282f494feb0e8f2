// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Command benchtable reads `go test -bench` output and prints, per benchmark, our processor's
// variants side by side with the OTTL / contrib variant measured in the same run: the median
// of each unit over -count runs, its spread, and the ratio to the contrib baseline. benchstat
// compares runs (files); this compares sub-benchmarks of one run.
//
// A benchmark name's variant is its last '/' component without '=' (airi_normalize,
// transform_ottl, guard_strip/series=10000 → guard_strip); the baseline of a group is its
// first variant whose name contains "ottl", "transform" or "contrib".
//
// After the tables it prints issue 18's `make bench` targets, each with its figure and whether
// it is met (targets): a target whose benchmarks are not in the input is left out.
//
//	go test -run '^$' -bench . -count 5 ./processor/... | go run ./cmd/benchtable
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	groups, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(groups) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results on stdin")
		os.Exit(1)
	}
	render(os.Stdout, groups)
	targets(os.Stdout, groups)
}

// group is one benchmark with its variants, in order of first appearance.
type group struct {
	pkg, name string
	variants  []*variant
}

type variant struct {
	name    string
	samples map[string][]float64 // unit → values
	units   []string
}

func parse(r io.Reader) ([]*group, error) {
	var groups []*group
	byKey := map[string]*group{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark name printed alone (verbose) or a failure line
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		gname, vname := split(trimProcs(f[0]))
		key := pkg + " " + gname
		g := byKey[key]
		if g == nil {
			g = &group{pkg: pkg, name: gname}
			byKey[key] = g
			groups = append(groups, g)
		}
		var v *variant
		for _, x := range g.variants {
			if x.name == vname {
				v = x
			}
		}
		if v == nil {
			v = &variant{name: vname, samples: map[string][]float64{}}
			g.variants = append(g.variants, v)
		}
		for i := 2; i+1 < len(f); i += 2 {
			val, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", line, err)
			}
			unit := f[i+1]
			if _, ok := v.samples[unit]; !ok {
				v.units = append(v.units, unit)
			}
			v.samples[unit] = append(v.samples[unit], val)
		}
	}
	return groups, sc.Err()
}

// trimProcs drops the -GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

// split separates the variant (last component without '=') from the rest of the name.
func split(name string) (groupName, variantName string) {
	parts := strings.Split(name, "/")
	for i := len(parts) - 1; i > 0; i-- {
		if !strings.Contains(parts[i], "=") {
			v := parts[i]
			rest := append(append([]string{}, parts[:i]...), parts[i+1:]...)
			return strings.Join(rest, "/"), v
		}
	}
	return name, ""
}

func isBaseline(v string) bool {
	return strings.Contains(v, "ottl") || strings.Contains(v, "transform") || strings.Contains(v, "contrib")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread is the half-range around the median in percent, benchstat's "±" in spirit.
func spread(xs []float64) float64 {
	m := median(xs)
	if m == 0 || len(xs) < 2 {
		return 0
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return (hi - lo) / 2 / m * 100
}

// lowerIsBetter is false for throughput units.
func lowerIsBetter(unit string) bool { return !strings.HasSuffix(unit, "/s") }

func render(w io.Writer, groups []*group) {
	pkg := ""
	for _, g := range groups {
		if g.pkg != pkg {
			pkg = g.pkg
			fmt.Fprintf(w, "\n%s\n", pkg)
		}
		var units []string
		seen := map[string]bool{}
		for _, v := range g.variants {
			for _, u := range v.units {
				if !seen[u] {
					seen[u] = true
					units = append(units, u)
				}
			}
		}
		var base *variant
		for _, v := range g.variants {
			if isBaseline(v.name) {
				base = v
				break
			}
		}
		// the ratio is taken on the first CPU unit if the benchmark reports one, else sec/op
		ratioUnit := "ns/op"
		for _, u := range units {
			if strings.HasPrefix(u, "cpu") {
				ratioUnit = u
				break
			}
		}
		fmt.Fprintf(w, "  %s\n", g.name)
		header := fmt.Sprintf("    %-36s", "variant")
		for _, u := range units {
			header += fmt.Sprintf(" %20s", u)
		}
		if base != nil {
			header += fmt.Sprintf("  %s", "vs "+base.name+" ("+ratioUnit+")")
		}
		fmt.Fprintln(w, header)
		for _, v := range g.variants {
			row := fmt.Sprintf("    %-36s", v.name)
			for _, u := range units {
				xs := v.samples[u]
				if len(xs) == 0 {
					row += fmt.Sprintf(" %20s", "—")
					continue
				}
				row += fmt.Sprintf(" %20s", fmt.Sprintf("%s ±%2.0f%%", human(median(xs)), spread(xs)))
			}
			if base != nil && v != base && len(v.samples[ratioUnit]) > 0 && len(base.samples[ratioUnit]) > 0 {
				r := median(v.samples[ratioUnit]) / median(base.samples[ratioUnit])
				better := r < 1
				if !lowerIsBetter(ratioUnit) {
					better = r > 1
				}
				verdict := "slower"
				if better {
					verdict = "faster"
				}
				row += fmt.Sprintf("  %.2fx (%s, n=%d)", r, verdict, len(v.samples[ratioUnit]))
			}
			fmt.Fprintln(w, row)
		}
	}
}

func human(x float64) string {
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.2fG", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	default:
		return fmt.Sprintf("%.3g", x)
	}
}

// samples returns the values of one unit of one variant: the group is matched by the end of
// its package path and its name.
func samples(groups []*group, pkgSuffix, name, variantName, unit string) []float64 {
	for _, g := range groups {
		if g.name == name && strings.HasSuffix(g.pkg, pkgSuffix) {
			return g.samples(variantName, unit)
		}
	}
	return nil
}

// samples returns the values of one unit of one of g's variants.
func (g *group) samples(variantName, unit string) []float64 {
	for _, v := range g.variants {
		if v.name == variantName {
			return v.samples[unit]
		}
	}
	return nil
}

// ratio is median(a)/median(b) and the widest range the samples allow: min(a)/max(b) to
// max(a)/min(b). `go test -count` runs a variant's samples back to back, not interleaved with
// the other's, so no per-round pairing exists to take the ratio of.
type ratio struct{ med, lo, hi float64 }

func ratioOf(a, b []float64) (ratio, bool) {
	if len(a) == 0 || len(b) == 0 {
		return ratio{}, false
	}
	amin, amax := slices.Min(a), slices.Max(a)
	bmin, bmax := slices.Min(b), slices.Max(b)
	if bmin <= 0 || amin <= 0 {
		return ratio{}, false
	}
	return ratio{median(a) / median(b), amin / bmax, amax / bmin}, true
}

func (r ratio) String() string { return fmt.Sprintf("%.2f× (%.2f–%.2f)", r.med, r.lo, r.hi) }

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

// targets prints issue 18's benchmark targets as a Markdown table: airi_normalize ≥ 5× fewer
// CPU ns per item than its OTTL equivalent on every signal and ≤ 1 allocation per fresh metric
// point; tracking_id on spans within 1.3× of the bare pdata write of the ID (floor_putstr);
// cardinality_guard's strip path no costlier than the plain delete_key transform at every
// series count, and its state ≤ 64 B per tracked input series.
func targets(w io.Writer, groups []*group) {
	var rows []string
	add := func(target, figure string, met bool) {
		rows = append(rows, fmt.Sprintf("| %s | %s | %s |", target, figure, verdict(met)))
	}
	for _, sig := range []string{"Traces", "Logs", "Metrics"} {
		name := "Benchmark" + sig
		if r, ok := ratioOf(samples(groups, "/airinormalize", name, "transform_ottl", "cpu-ns/item"),
			samples(groups, "/airinormalize", name, "airi_normalize", "cpu-ns/item")); ok {
			add("airi_normalize "+strings.ToLower(sig)+": OTTL's cpu-ns per item ÷ ours ≥ 5", r.String(), r.med >= 5)
		}
	}
	if a := samples(groups, "/airinormalize", "BenchmarkMetrics", "airi_normalize", "allocs/item"); len(a) > 0 {
		fig := fmt.Sprintf("%.2f", median(a))
		if f := samples(groups, "/airinormalize", "BenchmarkMetrics", "floor_putlabels", "allocs/item"); len(f) > 0 {
			fig += fmt.Sprintf(" (pdata's floor for the same labels, floor_putlabels: %.2f)", median(f))
		}
		add("airi_normalize: allocations per fresh metric point ≤ 1", fig, median(a) <= 1)
	}
	for _, shape := range []string{"distinct", "grouped10"} {
		name := "BenchmarkTraces/" + shape
		if r, ok := ratioOf(samples(groups, "/trackingid", name, "tracking_id", "cpu-ns/span"),
			samples(groups, "/trackingid", name, "floor_putstr", "cpu-ns/span")); ok {
			fig := r.String()
			if f, ok := ratioOf(samples(groups, "/trackingid", name, "floor_same_output_chunked", "cpu-ns/span"),
				samples(groups, "/trackingid", name, "floor_putstr", "cpu-ns/span")); ok {
				fig += fmt.Sprintf("; writing exactly its output, searching nothing: %.2f×", f.med)
			}
			add("tracking_id spans ("+shape+"): cpu-ns ÷ floor_putstr's ≤ 1.3", fig, r.med <= 1.3)
		}
	}
	for _, g := range groups {
		if !strings.HasSuffix(g.pkg, "/cardinalityguard") || !strings.HasPrefix(g.name, "BenchmarkCardinality/") {
			continue
		}
		if r, ok := ratioOf(g.samples("guard_strip", "cpu_ns/point"), g.samples("transform_delete_key", "cpu_ns/point")); ok {
			size := strings.TrimPrefix(g.name, "BenchmarkCardinality/")
			add("cardinality_guard strip ("+size+"): cpu_ns ÷ delete_key's ≤ 1", r.String(), r.med <= 1)
		}
	}
	if b := samples(groups, "/cardinalityguard", "BenchmarkMemberBytes", "guard_strip", "B/member"); len(b) > 0 {
		add("cardinality_guard state ≤ 64 B per input series (benchmark heap; the collector's: `make load`, TestGuardMemory)",
			fmt.Sprintf("%.1f B", median(b)), median(b) <= 64)
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\nIssue 18's `make bench` targets (median; range min÷max … max÷min of the samples)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | figure | |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, r := range rows {
		fmt.Fprintln(w, r)
	}
}
