// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package promcheck_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/airi-otel/otelcol-airi/internal/hostile"
	"github.com/airi-otel/otelcol-airi/internal/promcheck"
	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard"
)

// TestConcurrentSendersExactAtExporter: issue 12, defect 3 (cardinality_guard's output
// timestamps; here beside the exporter so the guard's own tests do not link it). Many senders race into one merged
// counter; the total a scrape of the real Prometheus exporter reads must be exact. Merged
// points used to carry the arriving point's time, so the exporter kept an older, smaller
// total (168-187 of 200 per worker in the report).
func TestConcurrentSendersExactAtExporter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	exp := promcheck.Start(t)
	f := cardinalityguard.NewFactory()
	p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), exp)
	require.NoError(t, err)
	require.NoError(t, p.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(ctx)) })

	const senders, points = 16, 100
	start := time.Now().Add(-time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for w := range senders {
		wg.Go(func() {
			for i := 1; i <= points; i++ {
				// the senders' clocks disagree, as different hosts' do
				now := time.Now().Add(-time.Duration(w) * 50 * time.Millisecond)
				md := hostile.Counter("svc", "conc_total", start, now, int64(i), "user_id", fmt.Sprintf("u%d", w), "route", "/a")
				if err := p.ConsumeMetrics(ctx, md); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	fams, err := exp.Scrape(ctx)
	require.NoError(t, err)
	v, ok := promcheck.Value(fams, "conc_total", map[string]string{"route": "/a"})
	require.True(t, ok, "one conc_total series in the exposition")
	require.Equal(t, float64(senders*points), v, "merged total read from the exporter")
}
