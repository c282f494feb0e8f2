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
//	go test -run '^$' -bench . -count 5 ./processor/... | go run ./cmd/benchtable
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
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
