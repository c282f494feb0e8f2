// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/testbed/testbed"
	"github.com/shirou/gopsutil/v4/process"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	// repoRoot and agentExe are absolute: TestMain changes into the results work directory.
	repoRoot string
	agentExe string

	perfResults        = &testbed.PerformanceResults{}
	correctnessResults = &testbed.CorrectnessResults{}

	// scenarioDuration is TESTCASE_DURATION (the testbed's variable; 15s by default).
	scenarioDuration time.Duration

	measuredMu sync.Mutex
	measured   []measurement
)

// TestMain resolves the binary, moves into AIRI_LOAD_WORKDIR (default results/tmp/go-test;
// the testbed writes to ./results from there), and writes SUMMARY.md next to the testbed's
// TESTRESULTS.md and benchmarks.json.
func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		log.Fatal(err)
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	agentExe = os.Getenv("AIRI_BINARY")
	if agentExe == "" {
		agentExe = filepath.Join(repoRoot, "bin", "otelcol-airi")
	}
	if agentExe, err = filepath.Abs(agentExe); err != nil {
		log.Fatal(err)
	}
	if _, err := os.Stat(agentExe); err != nil {
		log.Fatalf("the load tests drive the built distribution; run `make build` first: %v", err)
	}
	if d := os.Getenv("TESTCASE_DURATION"); d != "" {
		if scenarioDuration, err = time.ParseDuration(d); err != nil {
			log.Fatalf("TESTCASE_DURATION: %v", err)
		}
	} else {
		scenarioDuration = 15 * time.Second
	}
	// Never ./results itself: that holds the committed results, which `make load` copies in.
	dir := os.Getenv("AIRI_LOAD_WORKDIR")
	if dir == "" {
		dir = filepath.Join("results", "tmp", "go-test")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		log.Fatal(err)
	}
	if err := testbed.Start(perfResults); err != nil {
		log.Fatal(err)
	}
	correctnessResults.Init(mustAbs("results"))
	code := m.Run()
	testbed.SaveResults(perfResults)
	correctnessResults.Save()
	if err := writeSummary(filepath.Join("results", "SUMMARY.md")); err != nil {
		log.Printf("SUMMARY.md: %v", err)
		code = 1
	}
	os.Exit(code)
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		log.Fatal(err)
	}
	return a
}

// measurement is one scenario's steady-state figures, taken by this harness (not the
// testbed's since-process-start averages): CPU over the load window after a warm-up, RSS
// sampled every 200 ms over the same window.
type measurement struct {
	Name       string
	Signal     string
	Kind       string
	TargetRate int     // items/s asked of the load generator
	SentRate   float64 // items/s actually sent in the window
	CPUPercent float64 // % of one core
	HarnessCPU float64 // % of one core used by this test process (load generator, mock backend, checks)
	RAMAvgMiB  float64
	RAMMaxMiB  float64
	Sent       uint64
	Received   uint64 // items the mock backend counted
}

func record(m measurement) {
	measuredMu.Lock()
	defer measuredMu.Unlock()
	measured = append(measured, m)
}

// teeReceiver is the testbed's OTLP/gRPC receiver with checks in front of the mock backend:
// each batch that reaches the backend is handed to the scenario's inspectors first.
type teeReceiver struct {
	*testbed.BaseOTLPDataReceiver
	traces  func(ptrace.Traces)
	metrics func(pmetric.Metrics)
	logs    func(plog.Logs)
}

func newTeeReceiver(t testing.TB) *teeReceiver {
	return &teeReceiver{BaseOTLPDataReceiver: testbed.NewOTLPDataReceiver(freePort(t))}
}

func (r *teeReceiver) Start(tc consumer.Traces, mc consumer.Metrics, lc consumer.Logs) error {
	if r.traces != nil {
		next := tc
		tc, _ = consumer.NewTraces(func(ctx context.Context, td ptrace.Traces) error {
			r.traces(td)
			return next.ConsumeTraces(ctx, td)
		})
	}
	if r.metrics != nil {
		next := mc
		mc, _ = consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
			r.metrics(md)
			return next.ConsumeMetrics(ctx, md)
		})
	}
	if r.logs != nil {
		next := lc
		lc, _ = consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
			r.logs(ld)
			return next.ConsumeLogs(ctx, ld)
		})
	}
	return r.BaseOTLPDataReceiver.Start(tc, mc, lc)
}

func newSender(t testing.TB, signal string) testbed.DataSender {
	port := freePort(t)
	switch signal {
	case "traces":
		return testbed.NewOTLPTraceDataSender(testbed.DefaultHost, port)
	case "metrics":
		return testbed.NewOTLPMetricDataSender(testbed.DefaultHost, port)
	case "logs":
		return testbed.NewOTLPLogsDataSender(testbed.DefaultHost, port)
	}
	t.Fatalf("unknown signal %q", signal)
	return nil
}

// run describes one scenario.
type run struct {
	signal   string
	kind     string
	provider testbed.DataProvider
	opts     testbed.LoadOptions
	receiver *teeReceiver
	duration time.Duration
	env      map[string]string
	// abortCPU/abortRAM: the testbed's own watchdog (it stops the collector and only logs);
	// the scenario's real bounds are asserted by the caller with require.
	abortCPU uint32
	abortRAM uint32
	// delivered reports whether everything sent has arrived (default: sent == received items).
	delivered func(tc *testbed.TestCase) bool
	validator testbed.TestCaseValidator
	summary   testbed.TestResultsSummary
	recording bool
	// telemetryPort of the collector's own Prometheus metrics.
	telemetryPort int
	// batch overrides the batch processor's defaults.
	batch map[string]any
}

// result is what a finished run hands back for assertions.
type result struct {
	measurement
	tc        *testbed.TestCase
	delivered bool
	alive     bool // collector still running when the load stopped (no crash, no watchdog kill)
}

// execute runs one scenario: backend, collector, load for r.duration after a warm-up, then
// waits up to 30 s for delivery. It stops the test case (recording TESTRESULTS.md) before
// returning.
func execute(t *testing.T, r run) result {
	t.Helper()
	if r.receiver == nil {
		r.receiver = newTeeReceiver(t)
	}
	if r.duration == 0 {
		r.duration = scenarioDuration
	}
	if r.validator == nil {
		r.validator = &testbed.PerfTestValidator{}
	}
	if r.summary == nil {
		r.summary = perfResults
	}
	if r.abortCPU == 0 {
		r.abortCPU = 400 // never on 2 cores: we measure, the caller asserts
	}
	if r.abortRAM == 0 {
		r.abortRAM = 2048
	}
	if r.telemetryPort == 0 {
		r.telemetryPort = freePort(t)
	}
	sender := newSender(t, r.signal)
	resultDir := mustAbs(filepath.Join("results", t.Name()))
	require.NoError(t, os.MkdirAll(resultDir, 0o755))

	opts := []testbed.ChildProcessOption{testbed.WithAgentExePath(agentExe), testbed.WithEnvVar("GOMAXPROCS", "2")}
	for k, v := range r.env {
		opts = append(opts, testbed.WithEnvVar(k, v))
	}
	agent := testbed.NewChildProcessCollector(opts...)
	cleanup, err := agent.PrepareConfig(t, collectorConfig(t, sender, r.receiver, r.signal, r.kind, resultDir, r.telemetryPort, r.batch))
	require.NoError(t, err)
	t.Cleanup(cleanup)

	tc := testbed.NewTestCase(t, r.provider, sender, r.receiver, agent, r.validator, r.summary,
		testbed.WithResourceLimits(testbed.ResourceSpec{ExpectedMaxCPU: r.abortCPU, ExpectedMaxRAM: r.abortRAM, ResourceCheckPeriod: time.Second}))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			tc.Stop()
		}
	}
	t.Cleanup(stop)
	if r.recording {
		tc.EnableRecording()
	}
	tc.StartBackend()
	tc.StartAgent()

	// The testbed creates its process monitor in a goroutine started by StartAgent.
	var proc *process.Process
	require.Eventually(t, func() bool { proc = agent.GetProcessMon(); return proc != nil }, 10*time.Second, 10*time.Millisecond,
		"collector process monitor never started (did the collector fail to start? see %s/agent.log)", resultDir)

	tc.StartLoad(r.opts)
	require.True(t, tc.WaitFor(func() bool { return tc.LoadGenerator.DataItemsSent() > 0 }, "load generator started"),
		"nothing was sent (see %s/agent.log)", resultDir)

	warmup := min(r.duration/4, 2*time.Second)
	tc.Sleep(warmup)
	cpu0, err := proc.Times()
	require.NoError(t, err)
	self0 := selfCPU()
	sent0, t0 := tc.LoadGenerator.DataItemsSent(), time.Now()
	rss := startRSSSampler(proc)
	tc.Sleep(r.duration)
	cpu1, err := proc.Times()
	require.NoError(t, err, "collector gone during the run (see %s/agent.log)", resultDir)
	sent1, t1 := tc.LoadGenerator.DataItemsSent(), time.Now()
	self1 := selfCPU()
	ramAvg, ramMax := rss.stop()
	tc.StopLoad()
	alive, _ := proc.IsRunning()

	delivered := r.delivered
	if delivered == nil {
		delivered = func(tc *testbed.TestCase) bool {
			return tc.LoadGenerator.DataItemsSent() == tc.MockBackend.DataItemsReceived()
		}
	}
	ok := tc.WaitForN(func() bool { return delivered(tc) }, 30*time.Second, "all data delivered")

	res := result{
		measurement: measurement{
			Name:       t.Name(),
			Signal:     r.signal,
			Kind:       r.kind,
			TargetRate: r.opts.DataItemsPerSecond,
			SentRate:   float64(sent1-sent0) / t1.Sub(t0).Seconds(),
			CPUPercent: (cpu1.User + cpu1.System - cpu0.User - cpu0.System) / t1.Sub(t0).Seconds() * 100,
			HarnessCPU: (self1 - self0).Seconds() / t1.Sub(t0).Seconds() * 100,
			RAMAvgMiB:  ramAvg,
			RAMMaxMiB:  ramMax,
			Sent:       tc.LoadGenerator.DataItemsSent(),
			Received:   tc.MockBackend.DataItemsReceived(),
		},
		tc:        tc,
		delivered: ok,
		alive:     alive,
	}
	t.Logf("%s: %s %s at %d items/s (sent %.0f/s): CPU %.1f%% (harness %.0f%%) RAM avg %.0f max %.0f MiB, sent %d received %d delivered=%v",
		t.Name(), r.kind, r.signal, r.opts.DataItemsPerSecond, res.SentRate, res.CPUPercent, res.HarnessCPU, ramAvg, ramMax, res.Sent, res.Received, ok)
	return res
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type rssSampler struct {
	done       chan struct{}
	wg         sync.WaitGroup
	sum, max   atomic.Uint64
	samples    atomic.Uint64
	proc       *process.Process
	stopResult [2]float64
}

func startRSSSampler(proc *process.Process) *rssSampler {
	s := &rssSampler{done: make(chan struct{}), proc: proc}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if mi, err := proc.MemoryInfo(); err == nil {
				s.sum.Add(mi.RSS)
				s.samples.Add(1)
				if mi.RSS > s.max.Load() {
					s.max.Store(mi.RSS)
				}
			}
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop returns the average and maximum RSS in MiB.
func (s *rssSampler) stop() (avg, maxMiB float64) {
	close(s.done)
	s.wg.Wait()
	n := s.samples.Load()
	if n == 0 {
		return 0, 0
	}
	return float64(s.sum.Load()) / float64(n) / (1 << 20), float64(s.max.Load()) / (1 << 20)
}

// requireHealthy is what every scenario asserts, because the testbed only logs a crashed
// collector or a resource breach.
func requireHealthy(t *testing.T, res result) {
	t.Helper()
	require.True(t, res.alive, "the collector died or was stopped by the testbed watchdog (see results/%s/agent.log)", t.Name())
	require.NotZero(t, res.Sent, "nothing was sent")
	require.Zero(t, res.tc.LoadGenerator.PermanentErrors(), "the collector refused data permanently")
}

// writeSummary writes the side-by-side table of every measured scenario with the ratios
// airi/bare and airi/ottl for scenarios of one signal measured in this run.
func writeSummary(path string) error {
	measuredMu.Lock()
	defer measuredMu.Unlock()
	if len(measured) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# otelcol-airi load results\n\nGenerated %s by `go test` in tests/load (TESTCASE_DURATION=%s per scenario); "+
		"GOMAXPROCS=2 for the collector; load generator and mock backend run on the same machine.\n"+
		"CPU is %% of one core over the load window after a warm-up; RAM is RSS sampled every 200 ms over the same window.\n"+
		"Metrics items are data points (1 item = 1 point here, unlike the testbed's perf provider's 7).\n\n",
		time.Now().UTC().Format(time.RFC3339), scenarioDuration)
	b.WriteString("| scenario | signal | pipeline | target items/s | sent items/s | CPU % | harness CPU % | RAM avg MiB | RAM max MiB | sent | received |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range measured {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.0f | %.1f | %.0f | %.0f | %.0f | %d | %d |\n",
			m.Name, m.Signal, m.Kind, m.TargetRate, m.SentRate, m.CPUPercent, m.HarnessCPU, m.RAMAvgMiB, m.RAMMaxMiB, m.Sent, m.Received)
	}
	ratios := ratioTable()
	if ratios != "" {
		b.WriteString("\n## Same-run ratios (TestCompare)\n\n")
		b.WriteString(ratios)
	}
	if len(stepBest) > 0 {
		b.WriteString("\n## Highest zero-loss rate through airi (TestStepUp)\n\n| signal | items/s |\n|---|---:|\n")
		for _, s := range []string{"traces", "metrics", "logs"} {
			if v, ok := stepBest[s]; ok {
				fmt.Fprintf(&b, "| %s | %d |\n", s, v)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// ratioTable compares the TestCompare runs of each signal: CPU airi/bare (target ≤ 1.3),
// airi/ottl (target < 1), RAM airi − bare (target ≤ 40 MiB). CPU ratios are taken per item
// actually sent (CPU % per 10k items/s), since a pipeline that pushes back on the synchronous
// load generator sends less than the target rate.
func ratioTable() string {
	type runs struct{ cpu, perItem, ram, sent []float64 }
	bySignal := map[string]map[string]*runs{}
	rate := map[string]int{}
	for _, m := range measured {
		if !strings.HasPrefix(m.Name, "TestCompare/") || m.SentRate <= 0 {
			continue
		}
		if bySignal[m.Signal] == nil {
			bySignal[m.Signal] = map[string]*runs{}
		}
		r := bySignal[m.Signal][m.Kind]
		if r == nil {
			r = &runs{}
			bySignal[m.Signal][m.Kind] = r
		}
		r.cpu = append(r.cpu, m.CPUPercent)
		r.perItem = append(r.perItem, m.CPUPercent/m.SentRate)
		r.ram = append(r.ram, m.RAMAvgMiB)
		r.sent = append(r.sent, m.SentRate)
		rate[m.Signal] = m.TargetRate
	}
	signals := make([]string, 0, len(bySignal))
	for s := range bySignal {
		signals = append(signals, s)
	}
	sort.Strings(signals)
	var b strings.Builder
	b.WriteString("Medians over the rounds of each pipeline (n = rounds).\n\n")
	b.WriteString("| signal | target items/s | n | sent items/s bare / airi / ottl | CPU % bare / airi / ottl | airi/bare CPU per item (≤ 1.3) | airi/ottl CPU per item (< 1) | RAM avg MiB bare / airi / ottl | airi − bare RAM (≤ 40 MiB) |\n")
	b.WriteString("|---|---:|---:|---|---|---:|---:|---|---:|\n")
	for _, s := range signals {
		k := bySignal[s]
		bare, airi, ottl := k[kindBare], k[kindAiri], k[kindOTTL]
		if bare == nil || airi == nil || ottl == nil {
			continue
		}
		mark := func(ok bool) string {
			if ok {
				return "met"
			}
			return "**missed**"
		}
		rb := median(airi.perItem) / median(bare.perItem)
		ro := median(airi.perItem) / median(ottl.perItem)
		dr := median(airi.ram) - median(bare.ram)
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f / %.0f / %.0f | %.1f / %.1f / %.1f | %.2f %s | %.2f %s | %.0f / %.0f / %.0f | %+.0f %s |\n",
			s, rate[s], min(len(bare.cpu), len(airi.cpu), len(ottl.cpu)),
			median(bare.sent), median(airi.sent), median(ottl.sent),
			median(bare.cpu), median(airi.cpu), median(ottl.cpu),
			rb, mark(rb <= 1.3), ro, mark(ro < 1),
			median(bare.ram), median(airi.ram), median(ottl.ram), dr, mark(dr <= 40))
	}
	return b.String()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
