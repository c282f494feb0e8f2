// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Targets of issue 18, at the high rates.
const (
	targetAiriOverBare  = 1.15 // CPU per item airi/bare
	targetAddedVersOTTL = 0.40 // CPU airi adds over bare / CPU ottl adds over bare
)

// writeSummary writes SUMMARY.md: every measured scenario, then the same-run comparison of
// TestCompare, the step-up's highest zero-loss rates and the guard's memory per member.
func writeSummary(path string) error {
	measuredMu.Lock()
	defer measuredMu.Unlock()
	if len(measured) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# otelcol-airi load results\n\nGenerated %s by `go test` in tests/load (TESTCASE_DURATION=%s per scenario). "+
		"Every scenario runs config/gateway.yaml (its exporters' sending_queue batching and file_storage, the remote-write "+
		"queue and WAL for metrics) pointed at the testbed; bare / airi / ottl differ only in the processors. "+
		"GOMAXPROCS=2 for the collector; the load generator and mock backend share the machine.\n\n"+
		"CPU is the collector's own utime+stime (/proc/PID/stat) over the load window after a warm-up, per million items "+
		"sent in the window; RSS sampled every 200 ms and the Go heap (`%s`) every second over the same window. "+
		"Metrics items are data points.\n\n",
		time.Now().UTC().Format(time.RFC3339), scenarioDuration, heapMetric)

	if cmp := compareTable(); cmp != "" {
		b.WriteString("## Same-run comparison (TestCompare)\n\n" + cmp)
	}
	if step := stepTable(); step != "" {
		b.WriteString("\n## Highest zero-loss rate (TestStepUp)\n\n" + step)
	}
	if g := guardTable(); g != "" {
		b.WriteString("\n## Guard memory per active input series (TestGuardMemory)\n\n" + g)
	}

	b.WriteString("\n## Every scenario\n\n")
	b.WriteString("| scenario | pipeline | target items/s | sent items/s | CPU s / 1M items | CPU % | harness CPU % | RSS avg / max MiB | heap avg / max MiB | sent | received |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|\n")
	for _, m := range measured {
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %.2f | %.1f | %.0f | %.0f / %.0f | %.0f / %.0f | %d | %d |\n",
			m.Name, m.Kind, m.TargetRate, m.SentRate, m.CPUPerM, m.CPUPercent, m.HarnessCPU, m.RAMAvgMiB, m.RAMMaxMiB,
			m.HeapAvgMiB, m.HeapMaxMiB, m.Sent, m.Received)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// spread is "median (min–max)".
func spread(xs []float64, format string) string {
	if len(xs) == 0 {
		return "–"
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", median(xs), slices.Min(xs), slices.Max(xs))
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// compareTable: per signal and rate, the CPU per item of each pipeline and the per-round
// ratios (rounds are interleaved, so a round's three runs saw about the same machine; the
// ratio of one round is less noisy than the ratio of medians taken at different times).
func compareTable() string {
	type key struct {
		signal string
		rate   int
	}
	type runs map[string]map[int]measurement // kind → round → run
	groups := map[key]runs{}
	var keys []key
	for _, m := range measured {
		if !strings.HasPrefix(m.Name, "TestCompare/") || m.CPUPerM <= 0 {
			continue
		}
		k := key{m.Signal, m.TargetRate}
		if groups[k] == nil {
			groups[k] = runs{}
			keys = append(keys, k)
		}
		if groups[k][m.Kind] == nil {
			groups[k][m.Kind] = map[int]measurement{}
		}
		groups[k][m.Kind][m.Round] = m
	}
	if len(keys) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Median (min–max) over interleaved rounds; a round runs bare, airi and ottl back to back (in rotating order). " +
		"Ratios are taken per round, then summarised.\n\n")
	b.WriteString("| signal | target items/s | rounds | CPU s / 1M items bare | airi | ottl | airi/bare (≤ 1.15) | airi's added CPU / ottl's (≤ 0.40) | RSS avg MiB bare / airi / ottl | heap avg MiB bare / airi / ottl |\n")
	b.WriteString("|---|---:|---:|---|---|---|---|---|---|---|\n")
	for _, k := range keys {
		g := groups[k]
		var cpu = map[string][]float64{}
		var rss = map[string][]float64{}
		var heap = map[string][]float64{}
		for _, kind := range []string{kindBare, kindAiri, kindOTTL} {
			for _, m := range g[kind] {
				cpu[kind] = append(cpu[kind], m.CPUPerM)
				rss[kind] = append(rss[kind], m.RAMAvgMiB)
				heap[kind] = append(heap[kind], m.HeapAvgMiB)
			}
		}
		var ratio, added []float64
		for round, a := range g[kindAiri] {
			bare, ok := g[kindBare][round]
			if !ok {
				continue
			}
			ratio = append(ratio, a.CPUPerM/bare.CPUPerM)
			if o, ok := g[kindOTTL][round]; ok && o.CPUPerM > bare.CPUPerM {
				added = append(added, (a.CPUPerM-bare.CPUPerM)/(o.CPUPerM-bare.CPUPerM))
			}
		}
		ratioCell, addedCell := spread(ratio, "%.2f"), spread(added, "%.2f")
		if len(ratio) > 0 {
			ratioCell += " " + mark(median(ratio) <= targetAiriOverBare)
		}
		if len(added) > 0 {
			addedCell += " " + mark(median(added) <= targetAddedVersOTTL)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f |\n",
			k.signal, k.rate, len(ratio), spread(cpu[kindBare], "%.2f"), spread(cpu[kindAiri], "%.2f"), spread(cpu[kindOTTL], "%.2f"),
			ratioCell, addedCell,
			median(rss[kindBare]), median(rss[kindAiri]), median(rss[kindOTTL]),
			median(heap[kindBare]), median(heap[kindAiri]), median(heap[kindOTTL]))
	}
	return b.String()
}

func stepTable() string {
	if len(stepBest) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("The last step at which everything sent arrived within 30 s, nothing was refused and the load generator " +
		"kept ≥ 95 % of the rate; a lower bound where the load generator (same machine) runs out of CPU first.\n\n")
	b.WriteString("| signal | bare items/s | airi items/s | airi/bare |\n|---|---:|---:|---:|\n")
	for _, s := range []string{"traces", "metrics", "logs"} {
		bare, airi := stepBest[s+"/"+kindBare], stepBest[s+"/"+kindAiri]
		if bare == 0 && airi == 0 {
			continue
		}
		cell := func(v int) string {
			if v == 0 {
				return "first step not clean"
			}
			return fmt.Sprint(v)
		}
		ratio := "–"
		if bare > 0 && airi > 0 {
			ratio = fmt.Sprintf("%.2f", float64(airi)/float64(bare))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s, cell(bare), cell(airi), ratio)
	}
	return b.String()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
