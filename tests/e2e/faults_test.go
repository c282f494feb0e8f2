// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// outage is how long a backend stays down under load.
const outage = 30 * time.Second

// TestBackendOutageLosesNothing stops Loki, then Mimir, for 30 s each under steady load through
// config/gateway.yaml, and restarts them: every log record and metric point the gateway
// acknowledged arrives, held meanwhile by the persistent sending queue (Loki) and the
// remote-write WAL (Mimir).
func TestBackendOutageLosesNothing(t *testing.T) {
	loki, mimir := newBackend(t, lokiKind), newBackend(t, mimirKind)
	startAll(t, loki, mimir)
	gateway := newGateway(t, nil, loki, mimir, nil)
	gateway.Start()

	res := serviceResource(loadService, "outage-0")
	logs := newLogLoad(t, gateway.OTLPHTTP(), loki, res, 10)
	metrics := newMetricLoad(t, gateway.OTLPGRPC(), mimir, res)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	loadCtx, stopLoad := context.WithCancel(ctx)
	logs.run(loadCtx, 100*time.Millisecond)
	metrics.run(loadCtx, 200*time.Millisecond)

	time.Sleep(5 * time.Second)
	loki.Stop()
	time.Sleep(outage)
	// The outage was real: the Loki exporter's persistent queue holds what Loki could not take.
	queuedLogs, err := gateway.Telemetry(ctx, "otelcol_exporter_queue_size", `exporter="otlp_http/loki"`)
	require.NoError(t, err)
	loki.Start()
	time.Sleep(5 * time.Second)

	walWrites := func() float64 {
		n, err := gateway.Telemetry(ctx, "otelcol_exporter_prometheusremotewrite_wal_writes")
		require.NoError(t, err)
		return n
	}
	mimir.Stop()
	writes0 := walWrites()
	time.Sleep(outage)
	// The remote-write WAL took what Mimir could not. (Its sent_batches counter counts attempts,
	// failed ones too, so it says nothing here.)
	walled := walWrites() - writes0
	mimir.Start()
	time.Sleep(5 * time.Second)
	stopLoad()
	logs.wait()
	metrics.wait()

	require.Positive(t, queuedLogs, "nothing queued for Loki during its outage")
	require.Positive(t, walled, "nothing was written to the remote-write WAL during Mimir's outage")
	t.Logf("%s: %v log records queued at the end of Loki's outage; %v remote-write requests into the WAL during Mimir's", t.Name(), queuedLogs, walled)
	logs.requireNothingLost(t, ctx, 3*time.Minute)
	metrics.requireNothingLost(t, ctx, 3*time.Minute)
	gateway.RequireRunning("the test")
}

// TestCollectorKilledLosesNothing kills config/gateway.yaml with SIGKILL under load on all three
// signals — while Loki and Mimir are down, so the persistent queue and the WAL hold data, and
// while spans sit in the Jaeger exporter's batch — and restarts it on the same storage
// directory: every item acknowledged before the kill arrives after the restart.
func TestCollectorKilledLosesNothing(t *testing.T) {
	jaeger, loki, mimir := newBackend(t, jaegerKind), newBackend(t, lokiKind), newBackend(t, mimirKind)
	startAll(t, jaeger, loki, mimir)
	gateway := newGateway(t, jaeger, loki, mimir, nil)
	gateway.Start()

	res := serviceResource(loadService, "sigkill-0")
	loads := []*steadyLoad{
		newTraceLoad(t, gateway.OTLPGRPC(), jaeger, res),
		newLogLoad(t, gateway.OTLPHTTP(), loki, res, 10),
		newMetricLoad(t, gateway.OTLPGRPC(), mimir, res),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	loadCtx, stopLoad := context.WithCancel(ctx)
	for _, l := range loads {
		l.run(loadCtx, 100*time.Millisecond)
	}

	time.Sleep(3 * time.Second)
	loki.Stop()
	mimir.Stop()
	time.Sleep(10 * time.Second)
	queued, err := gateway.Telemetry(ctx, "otelcol_exporter_queue_size")
	require.NoError(t, err)
	gateway.Kill()
	t.Logf("gateway killed with %v items in its exporter queues", queued)

	loki.Start()
	mimir.Start()
	gateway.Start() // same AIRI_STORAGE_DIR: the queues and the WAL of the killed process
	time.Sleep(5 * time.Second)
	stopLoad()
	for _, l := range loads {
		l.wait()
	}

	require.Positive(t, queued, "nothing was queued when the gateway was killed")
	for _, l := range loads {
		l.requireNothingLost(t, ctx, 3*time.Minute)
	}
	gateway.RequireRunning("the test")
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// TestOverloadIsRefusedThenRecovers drives config/gateway.yaml (memory_limiter at
// AIRI_MEMORY_LIMIT_MIB) with more large log requests than it can hold: it refuses with a
// retryable status instead of growing, its resident memory stays under the limit, and it
// accepts again once the load drops.
func TestOverloadIsRefusedThenRecovers(t *testing.T) {
	loki := newBackend(t, lokiKind)
	startAll(t, loki)
	gateway := newGateway(t, nil, loki, nil, map[string]string{
		"AIRI_MEMORY_LIMIT_MIB": fmt.Sprint(overloadLimitMiB),
		// As deploy/kubernetes sets it: the Go runtime's soft limit at 80 % of the limiter's.
		"GOMEMLIMIT":     fmt.Sprintf("%dMiB", overloadLimitMiB*8/10),
		"AIRI_LOG_LEVEL": "warn",
	})
	gateway.Start()
	idle, err := gateway.proc.Memory()
	require.NoError(t, err)

	conn := dialOTLP(t, gateway.OTLPGRPC())
	client := plogotlp.NewGRPCClient(conn)
	big := bigLogs(2000, 2048) // ~4 MiB of OTLP per request

	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	var peak, peakAnon, fileAtPeak int64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	overloadCtx, stopOverload := context.WithTimeout(ctx, 20*time.Second)
	defer stopOverload()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for overloadCtx.Err() == nil {
				reqCtx, cancel := context.WithTimeout(overloadCtx, 10*time.Second)
				_, err := client.Export(reqCtx, plogotlp.NewExportRequestFromLogs(big))
				cancel()
				if overloadCtx.Err() != nil {
					return
				}
				mu.Lock()
				codesSeen[status.Code(err)]++
				mu.Unlock()
			}
		}()
	}
	for overloadCtx.Err() == nil {
		m, err := gateway.proc.Memory()
		require.NoError(t, err, "gateway died under overload:\n%s", gateway.proc.Output.String())
		peak = m.PeakRSS // VmHWM: the high-water mark so far
		if m.Anon > peakAnon {
			peakAnon, fileAtPeak = m.Anon, m.File
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	gateway.RequireRunning("the overload")

	t.Logf("overload: limit %d MiB, idle RSS %s (anon %s), peak RSS %s, peak anon %s (file-backed then %s); responses by gRPC code: %v",
		overloadLimitMiB, mib(idle.RSS), mib(idle.Anon), mib(peak), mib(peakAnon), mib(fileAtPeak), codesSeen)
	require.Positive(t, codesSeen[codes.Unavailable], "the gateway never refused: %v", codesSeen)
	for code, n := range codesSeen {
		// Unavailable is the OTLP spec's retryable refusal; a client deadline may pass while the
		// gateway is saturated. Anything else (a permanent error) would make clients drop data.
		require.Contains(t, []codes.Code{codes.OK, codes.Unavailable, codes.DeadlineExceeded}, code,
			"%d responses with %s", n, code)
	}
	// The memory_limiter governs the Go heap: the process's anonymous memory stays under its
	// limit. The rest of the RSS is file-backed — the mapped binary and the file_storage
	// database's mmap — page cache the kernel reclaims under pressure (README: sizing).
	require.Less(t, peakAnon, int64(overloadLimitMiB)<<20, "peak anonymous RSS %s over the %d MiB limit", mib(peakAnon), overloadLimitMiB)

	// Everything acknowledged during the overload is exported to Loki.
	accepted := float64(codesSeen[codes.OK] * big.LogRecordCount())
	harness.Eventually(t, 2*time.Minute, time.Second, func() error {
		sent, err := gateway.Telemetry(ctx, "otelcol_exporter_sent_log_records")
		if err == nil && sent < accepted {
			err = fmt.Errorf("the Loki exporter sent %v of the %v log records acknowledged under overload", sent, accepted)
		}
		return err
	})
	requests := 0
	for _, n := range codesSeen {
		requests += n
	}
	t.Logf("%s: overload: sent %d requests, acknowledged %d (%v log records), refused %d, all acknowledged exported to Loki",
		t.Name(), requests, codesSeen[codes.OK], accepted, codesSeen[codes.Unavailable])

	// Load drops: ordinary requests are accepted again, and what is accepted arrives.
	harness.Eventually(t, time.Minute, time.Second, func() error {
		_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(bigLogs(1, 10)))
		return err
	})
	logs := newLogLoad(t, gateway.OTLPHTTP(), loki, serviceResource(loadService, "overload-0"), 10)
	recoverCtx, stopRecover := context.WithTimeout(ctx, 5*time.Second)
	defer stopRecover()
	logs.run(recoverCtx, 100*time.Millisecond)
	<-recoverCtx.Done()
	logs.wait()
	logs.requireNothingLost(t, ctx, 2*time.Minute)
}

// overloadLimitMiB is the memory_limiter limit of the overload test.
const overloadLimitMiB = 400

// bigLogs is one request of n log records with bodies of size bytes.
func bigLogs(n, size int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e-overload")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	body := strings.Repeat("x", size)
	for i := range n {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr(fmt.Sprintf("%d %s", i, body))
	}
	return ld
}

func dialOTLP(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
