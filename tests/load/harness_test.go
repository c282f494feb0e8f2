// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"context"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/testbed/testbed"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
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
// testbed's since-process-start averages) over the load window after a warm-up: the
// collector's own CPU time (utime+stime from /proc/PID/stat), RSS sampled every 200 ms and the
// Go heap as the collector reports it (otelcol_process_runtime_heap_alloc_bytes) every second.
type measurement struct {
	Name       string
	Signal     string
	Kind       string
	Round      int
	TargetRate int     // items/s asked of the load generator
	SentRate   float64 // items/s actually sent in the window
	CPUSeconds float64 // collector CPU seconds in the window
	CPUPerM    float64 // collector CPU seconds per million items sent in the window
	CPUPercent float64 // % of one core
	HarnessCPU float64 // % of one core used by this test process (load generator, mock backend, checks)
	RAMAvgMiB  float64
	RAMMaxMiB  float64
	HeapAvgMiB float64
	HeapMaxMiB float64
	Sent       uint64
	Received   uint64 // items the mock backend counted
}

func record(m measurement) {
	measuredMu.Lock()
	defer measuredMu.Unlock()
	measured = append(measured, m)
}

// teeReceiver stands where config/gateway.yaml's backend for the signal would be — the
// testbed's OTLP/gRPC receiver as Jaeger, its OTLP/HTTP receiver as Loki, prwReceiver as Mimir
// — with checks in front of the mock backend: each batch that reaches the backend is handed to
// the scenario's inspectors first.
type teeReceiver struct {
	testbed.DataReceiver
	port    int
	prw     *prwReceiver // metrics only
	traces  func(ptrace.Traces)
	metrics func(pmetric.Metrics)
	logs    func(plog.Logs)
}

func newTeeReceiver(t testing.TB, signal string) *teeReceiver {
	r := &teeReceiver{port: freePort(t)}
	switch signal {
	case "traces":
		r.DataReceiver = testbed.NewOTLPDataReceiver(r.port)
	case "logs":
		r.DataReceiver = testbed.NewOTLPHTTPDataReceiver(r.port)
	case "metrics":
		r.prw = newPRWReceiver(r.port)
		r.DataReceiver = r.prw
	default:
		t.Fatalf("unknown signal %q", signal)
	}
	return r
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
	return r.DataReceiver.Start(tc, mc, lc)
}

func newSender(t testing.TB, signal string, port int) testbed.DataSender {
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
	round    int
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
	// until, if set, ends the load window early, as soon as it holds (r.duration is then the
	// longest the window may last).
	until func() bool
	// afterLoad runs after the delivery wait (delivered or not), with the collector still running.
	afterLoad func(c collectorPorts)
}

// collectorPorts are where a running scenario's collector answers on 127.0.0.1.
type collectorPorts struct {
	telemetry, pprof int
	resultDir        string
}

// result is what a finished run hands back for assertions.
type result struct {
	measurement
	tc        *testbed.TestCase
	delivered bool
	alive     bool // collector still running when the load stopped (no crash, no watchdog kill)
}

// execute runs one scenario: backend, collector (config/gateway.yaml as gatewayConfig derives
// it), load for r.duration after a warm-up, then waits up to 30 s for delivery. It stops the
// test case (recording TESTRESULTS.md) before returning.
func execute(t *testing.T, r run) result {
	t.Helper()
	if r.receiver == nil {
		r.receiver = newTeeReceiver(t, r.signal)
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
	senderPort := freePort(t)
	sender := newSender(t, r.signal, senderPort)
	resultDir := mustAbs(filepath.Join("results", t.Name()))
	require.NoError(t, os.RemoveAll(resultDir)) // a fresh file_storage directory
	require.NoError(t, os.MkdirAll(resultDir, 0o755))
	ports := collectorPorts{telemetry: freePort(t), pprof: freePort(t), resultDir: resultDir}

	opts := []testbed.ChildProcessOption{testbed.WithAgentExePath(agentExe), testbed.WithEnvVar("GOMAXPROCS", "2")}
	env := gatewayEnv(t, senderPort, r.receiver.port, ports.telemetry, ports.pprof, filepath.Join(resultDir, "storage"))
	maps.Copy(env, r.env)
	for k, v := range env {
		opts = append(opts, testbed.WithEnvVar(k, v))
	}
	agent := testbed.NewChildProcessCollector(opts...)
	cleanup, err := agent.PrepareConfig(t, gatewayConfig(t, r.signal, r.kind))
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
	cpu0, err := procCPUSeconds(proc.Pid)
	require.NoError(t, err)
	self0 := selfCPU()
	sent0, t0 := tc.LoadGenerator.DataItemsSent(), time.Now()
	mem := startMemSampler(proc, ports.telemetry)
	prof := startCPUProfile(t, ports, r.duration)
	if r.until != nil {
		tc.WaitForN(r.until, r.duration, "load window's end condition")
	} else {
		tc.Sleep(r.duration)
	}
	cpu1, err := procCPUSeconds(proc.Pid)
	require.NoError(t, err, "collector gone during the run (see %s/agent.log)", resultDir)
	sent1, t1 := tc.LoadGenerator.DataItemsSent(), time.Now()
	self1 := selfCPU()
	mm := mem.stop()
	prof()
	tc.StopLoad()
	alive, _ := proc.IsRunning()

	delivered := r.delivered
	if delivered == nil {
		delivered = func(tc *testbed.TestCase) bool {
			return tc.LoadGenerator.DataItemsSent() == tc.MockBackend.DataItemsReceived()
		}
	}
	ok := tc.WaitForN(func() bool { return delivered(tc) }, 30*time.Second, "all data delivered")
	if alive && r.afterLoad != nil {
		r.afterLoad(ports)
	}

	window := t1.Sub(t0).Seconds()
	res := result{
		measurement: measurement{
			Name:       t.Name(),
			Signal:     r.signal,
			Kind:       r.kind,
			Round:      r.round,
			TargetRate: r.opts.DataItemsPerSecond,
			SentRate:   float64(sent1-sent0) / window,
			CPUSeconds: cpu1 - cpu0,
			CPUPercent: (cpu1 - cpu0) / window * 100,
			HarnessCPU: (self1 - self0).Seconds() / window * 100,
			RAMAvgMiB:  mm.rssAvg,
			RAMMaxMiB:  mm.rssMax,
			HeapAvgMiB: mm.heapAvg,
			HeapMaxMiB: mm.heapMax,
			Sent:       tc.LoadGenerator.DataItemsSent(),
			Received:   tc.MockBackend.DataItemsReceived(),
		},
		tc:        tc,
		delivered: ok,
		alive:     alive,
	}
	if sent1 > sent0 {
		res.CPUPerM = res.CPUSeconds / float64(sent1-sent0) * 1e6
	}
	if r.receiver.prw != nil {
		require.NoError(t, r.receiver.prw.Err(), "remote-write receiver")
	}
	t.Logf("%s: %s %s at %d items/s (sent %.0f/s): CPU %.2f s per 1M items (%.1f%%, harness %.0f%%) RSS avg %.0f max %.0f MiB, heap avg %.0f max %.0f MiB, sent %d received %d delivered=%v",
		t.Name(), r.kind, r.signal, r.opts.DataItemsPerSecond, res.SentRate, res.CPUPerM, res.CPUPercent, res.HarnessCPU,
		mm.rssAvg, mm.rssMax, mm.heapAvg, mm.heapMax, res.Sent, res.Received, ok)
	return res
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux architecture
// Go supports (the kernel's ABI fixes it, whatever CONFIG_HZ is).
const clockTicks = 100

// procCPUSeconds is utime+stime of a process from /proc/PID/stat, in seconds.
func procCPUSeconds(pid int32) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// comm (field 2) is in parentheses and may contain spaces: fields count from after it.
	rest := string(raw)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after comm", pid, len(f))
	}
	// utime and stime are fields 14 and 15 of the line, 12 and 13 after comm
	utime, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat utime: %w", pid, err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat stime: %w", pid, err)
	}
	return float64(utime+stime) / clockTicks, nil
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memSampler samples the collector's RSS every 200 ms and its Go heap
// (otelcol_process_runtime_heap_alloc_bytes, which the collector refreshes at most once a
// second) every second.
type memSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	rss  []float64
	heap []float64
}

type memFigures struct{ rssAvg, rssMax, heapAvg, heapMax float64 }

func startMemSampler(proc *process.Process, telemetryPort int) *memSampler {
	s := &memSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			if mi, err := proc.MemoryInfo(); err == nil {
				s.rss = append(s.rss, float64(mi.RSS))
			}
			if i%5 == 0 {
				if h, err := scrapeGauge(telemetryPort, heapMetric); err == nil {
					s.heap = append(s.heap, h)
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

func (s *memSampler) stop() memFigures {
	close(s.done)
	s.wg.Wait()
	avgMax := func(xs []float64) (avg, mx float64) {
		for _, x := range xs {
			avg += x
			mx = max(mx, x)
		}
		if len(xs) > 0 {
			avg /= float64(len(xs))
		}
		return avg / (1 << 20), mx / (1 << 20)
	}
	var f memFigures
	f.rssAvg, f.rssMax = avgMax(s.rss)
	f.heapAvg, f.heapMax = avgMax(s.heap)
	return f
}

const heapMetric = "otelcol_process_runtime_heap_alloc_bytes"

// scrapeGauge reads one unlabelled gauge (or the sum of a metric's series) from the
// collector's own Prometheus endpoint.
func scrapeGauge(port int, name string) (float64, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	mf, ok := families[name]
	if !ok {
		return 0, fmt.Errorf("%s not exposed", name)
	}
	var v float64
	for _, m := range mf.GetMetric() {
		switch {
		case m.GetGauge() != nil:
			v += m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			v += m.GetCounter().GetValue()
		}
	}
	return v, nil
}

// requireHealthy is what every scenario asserts, because the testbed only logs a crashed
// collector or a resource breach.
func requireHealthy(t *testing.T, res result) {
	t.Helper()
	require.True(t, res.alive, "the collector died or was stopped by the testbed watchdog (see results/%s/agent.log)", t.Name())
	require.NotZero(t, res.Sent, "nothing was sent")
	require.Zero(t, res.tc.LoadGenerator.PermanentErrors(), "the collector refused data permanently")
}

// startCPUProfile, with AIRI_LOAD_CPUPROFILE=1, takes a CPU profile of the collector over the
// load window through the gateway's pprof extension and saves it as cpu.pprof in the scenario's
// result directory (`go tool pprof -top bin/otelcol-airi …/cpu.pprof`). The returned function
// waits for it. Off by default: profiling costs the collector a few percent of CPU.
func startCPUProfile(t *testing.T, c collectorPorts, window time.Duration) (wait func()) {
	if os.Getenv("AIRI_LOAD_CPUPROFILE") != "1" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", c.pprof, max(1, int(window.Seconds())))
		resp, err := http.Get(url)
		if err != nil {
			t.Logf("cpu profile: %v", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(c.resultDir, "cpu.pprof"))
		if err != nil {
			t.Logf("cpu profile: %v", err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err != nil {
			t.Logf("cpu profile: %v", err)
		}
	}()
	return func() { <-done }
}
