// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// pmember is one simulated input series (a cumulative counter and a cumulative histogram
// with the same labels).
type pmember struct {
	res, route, user string
	start, lastTs    int64
	hstart           int64 // start of the histogram, exponential histogram and summary
	gaugeV           int64
	scale            int32
	offset           int32
	exp              [6]uint64
	expZero          uint64
	value            int64     // current counter value (may not be emitted yet)
	lastEmitted      int64     // last emitted counter value in the current life
	closedLives      int64     // sum of the last emitted values of finished lives
	hist             [4]uint64 // current histogram buckets
	histEmitted      uint64    // last emitted histogram count in the current life
	histClosed       uint64
	expEmitted       uint64
	expClosed        uint64
	sinceEmit        int
	retired          bool
	emitted          bool
}

// backend accumulates what a Prometheus-like backend would count from the output: per
// identity, the increase over time with resets (start change or drop) counted from zero.
type backend struct {
	lastStart map[string]uint64
	last      map[string]float64
	counted   float64
}

func newBackend() *backend {
	return &backend{lastStart: map[string]uint64{}, last: map[string]float64{}}
}

func (b *backend) observe(t *testing.T, p outPoint) {
	id := p.id()
	prev, seen := b.last[id]
	switch {
	case !seen || uint64(p.start) != b.lastStart[id]:
		b.counted += p.value
	case p.value < prev:
		t.Fatalf("merged monotonic counter went backwards with an unchanged start time: %s %v -> %v", id, prev, p.value)
	default:
		b.counted += p.value - prev
	}
	b.last[id], b.lastStart[id] = p.value, uint64(p.start)
}

func TestPropertyConservation(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			runProperty(t, seed, 120)
		})
	}
}

func runProperty(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	cfg := testConfig()
	cfg.MaxSeriesPerMetric = 5
	cfg.StaleAfter = time.Minute
	if seed%3 == 0 {
		cfg.MaxSeriesTotal = 8
	}
	if seed%4 == 1 { // per-project budgets (projects.go): pod-2's project gets less
		cfg.MaxSeriesPerProject = 12
		cfg.Projects = map[string]ProjectOverride{"p-pod-2": {MaxSeries: 7}}
	}
	projectFull := false
	g, clk := newTestGuard(t, cfg)

	routes := []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h", "/i"}
	resources := []string{"pod-1", "pod-2"}
	bounds := []float64{1, 2, 5}
	var members []*pmember
	newMember := func(now int64) {
		route := routes[rng.IntN(len(routes))]
		if rng.IntN(3) == 0 {
			route = fmt.Sprintf("/once-%d", len(members)) // a series of its own that will go away
		}
		members = append(members, &pmember{
			res:    resources[rng.IntN(len(resources))],
			route:  route,
			user:   fmt.Sprintf("u%d", len(members)),
			start:  now,
			hstart: now,
			scale:  int32(rng.IntN(4)),
			offset: int32(rng.IntN(5)) - 2,
		})
	}
	for i := 0; i < 20; i++ {
		newMember(1)
	}
	counter, histo, expo, summ := newBackend(), newBackend(), newBackend(), newBackend()
	var gaugeOut float64
	var deltaIn, deltaOut int64
	var history []pmetric.Metrics

	check := func(out pmetric.Metrics) {
		pts := flatten(t, out) // fails on a duplicate identity
		perStream := map[string]int{}
		for _, p := range pts {
			perStream[p.resource+"|"+p.metric]++
			switch p.metric {
			case "reqs_total":
				counter.observe(t, p)
			case "latency", "eh":
				if p.metric == "eh" {
					expo.observe(t, p)
				} else {
					histo.observe(t, p)
				}
				var n uint64
				for _, c := range p.buckets {
					n += c
				}
				require.Equal(t, uint64(p.value), n, "bucket counts add up to count")
			case "tokens_total":
				deltaOut += int64(p.value)
			case "rpc":
				summ.observe(t, p)
			case "inflight":
				gaugeOut += p.value
			}
		}
		for k, n := range perStream {
			require.LessOrEqual(t, n, cfg.MaxSeriesPerMetric+1, "output series of %s", k)
		}
		for i := 1; i < len(g.metricStates); i++ {
			require.LessOrEqual(t, g.metricStates[i].regular, cfg.MaxSeriesPerMetric)
		}
		if cfg.MaxSeriesTotal > 0 {
			require.LessOrEqual(t, g.regularTotal, cfg.MaxSeriesTotal)
		}
		checkProjectBooks(t, g)
		if p := g.projects; p != nil {
			for _, i := range p.idx {
				projectFull = projectFull || p.states[i].regular == p.states[i].limit
			}
		}
	}

	for step := 0; step < steps; step++ {
		clk.advance(10 * time.Second)
		now := int64(10 * (step + 1))
		if rng.IntN(4) == 0 {
			newMember(now)
		}
		restart := step == steps/2 // the whole member set restarts
		in := newBuilder()
		for _, m := range members {
			if m.retired {
				continue
			}
			if rng.IntN(60) == 0 || (m.route[1] == 'o' && rng.IntN(12) == 0) {
				m.retired = true // silent forever: will be evicted, its counts must stay
				continue
			}
			m.value += int64(rng.IntN(5))
			m.hist[rng.IntN(4)] += uint64(rng.IntN(3))
			m.exp[rng.IntN(6)] += uint64(rng.IntN(3))
			m.expZero += uint64(rng.IntN(2))
			m.gaugeV = int64(rng.IntN(20))
			forceEmit := false
			if restart || rng.IntN(25) == 0 {
				m.closedLives += m.lastEmitted
				m.histClosed += m.histEmitted
				m.expClosed += m.expEmitted
				m.lastEmitted, m.histEmitted, m.expEmitted = 0, 0, 0
				m.start, m.hstart = now, now
				m.value = int64(rng.IntN(3))
				m.hist = [4]uint64{uint64(rng.IntN(2)), 0, 0, 0}
				m.exp, m.expZero = [6]uint64{}, 0
			} else if m.lastEmitted > 1 && rng.IntN(30) == 0 {
				// drop without a start change: must be seen right away to be a reset
				m.closedLives += m.lastEmitted
				m.value = int64(rng.IntN(int(m.lastEmitted))) // below the last value the guard saw
				m.lastEmitted = 0
				forceEmit = true
				m.histClosed += m.histEmitted
				m.histEmitted = 0
				m.expClosed += m.expEmitted
				m.expEmitted = 0
				m.hstart = now // the histograms restart with a new start time
				m.hist = [4]uint64{}
				m.exp, m.expZero = [6]uint64{}, 0
			}
			m.sinceEmit++
			if !forceEmit && m.sinceEmit < 3 && rng.IntN(10) < 4 {
				continue // silent this step, but never long enough to go stale
			}
			m.sinceEmit = 0
			a := attrs("route", m.route, "user_id", m.user, "environment", "prod", "project", "p-"+m.res)
			in.sum(m.res, "reqs_total", false, a, m.start, now, m.value)
			var cnt uint64
			for _, c := range m.hist {
				cnt += c
			}
			in.hist(m.res, "latency", false, a, m.hstart, now, bounds, m.hist[:], float64(cnt))
			m.lastEmitted, m.histEmitted, m.lastTs, m.emitted = m.value, cnt, now, true
			in.gauge(m.res, "inflight", a, now, float64(m.gaugeV))
			m.expEmitted = in.expHist(m.res, "eh", a, m.hstart, now, m.scale, m.offset, m.exp[:], m.expZero)
			in.summary(m.res, "rpc", a, m.hstart, now, cnt)
			d := int64(rng.IntN(10))
			deltaIn += d
			in.sum(m.res, "tokens_total", true, a, now-10, now, d)
		}
		kept := pmetric.NewMetrics() // the guard moves attributes out of its input (MutatesData)
		in.md.CopyTo(kept)
		history = append(history, kept)
		out := run(t, g, in.md)
		check(out)
		// an out-of-order batch: an older export is delivered again (retry, reordering)
		if len(history) > 2 && rng.IntN(5) == 0 {
			old := history[len(history)-2-rng.IntN(2)]
			replay := pmetric.NewMetrics()
			old.CopyTo(replay)
			// the delta points of a replay are new data as far as any processor can tell
			for i := 0; i < replay.ResourceMetrics().Len(); i++ {
				sms := replay.ResourceMetrics().At(i).ScopeMetrics()
				for j := 0; j < sms.Len(); j++ {
					sms.At(j).Metrics().RemoveIf(func(m pmetric.Metric) bool { return m.Name() == "tokens_total" })
				}
			}
			check(run(t, g, replay))
		}
	}
	// flush: every live member reports three times 35s apart, so the retired members are
	// evicted and the last export holds every live gauge series
	for f := 0; f < 3; f++ {
		clk.advance(35 * time.Second)
		now := int64(10*steps + 35*(f+1))
		in := newBuilder()
		for _, m := range members {
			if !m.retired {
				in.gauge(m.res, "inflight", attrs("route", m.route, "user_id", m.user, "environment", "prod", "project", "p-"+m.res), now, float64(m.gaugeV))
			}
		}
		gaugeOut = 0
		check(run(t, g, in.md))
	}
	var wantGauge int64
	for _, m := range members {
		if !m.retired {
			wantGauge += m.gaugeV
		}
	}
	require.Equal(t, float64(wantGauge), gaugeOut, "gauge sum = sum of the live members' latest values")

	var want, wantHist int64
	for _, m := range members {
		want += m.closedLives + m.lastEmitted
		wantHist += int64(m.histClosed + m.histEmitted)
	}
	require.Equal(t, float64(want), counter.counted, "counter: no count lost or doubled")
	require.Equal(t, float64(wantHist), histo.counted, "histogram count: no observation lost or doubled")
	require.Equal(t, float64(wantHist), summ.counted, "summary count: no observation lost or doubled")
	var wantExp int64
	for _, m := range members {
		wantExp += int64(m.expClosed + m.expEmitted)
	}
	require.Equal(t, float64(wantExp), expo.counted, "exponential histogram count: no observation lost or doubled")
	require.Equal(t, deltaIn, deltaOut, "delta sums conserve the total exactly")
	// the scenarios the invariants are about did happen
	require.Positive(t, totalsOf(g).overflow, "some points overflowed")
	require.Positive(t, totalsOf(g).evicted, "some series were evicted")
	require.Positive(t, totalsOf(g).dropped[dropOutOfOrder], "some out-of-order points were ignored")
	require.Positive(t, totalsOf(g).stripped, "labels were stripped")
	if g.projects != nil {
		require.True(t, projectFull, "a project reached its series budget")
	}
}
