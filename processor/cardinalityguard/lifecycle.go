// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Lifecycle, as upstream's deltatocumulative processor does it: stale series are swept by a
// ticker started in Start and stopped in Shutdown, not inside a request, and the state's size
// is reported by asynchronous gauges read when the telemetry is collected.

// registerGauges makes the telemetry read the state's size when it is collected.
func (g *guard) registerGauges() error {
	if g.tel == nil {
		return nil
	}
	if err := g.tel.RegisterProcessorCardinalityGuardSeriesActiveCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(g.activeSeries.Load())
		return nil
	}); err != nil {
		return err
	}
	return g.tel.RegisterProcessorCardinalityGuardMembersActiveCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(g.activeMembers.Load())
		return nil
	})
}

// start starts the stale sweeps, every stale_after/4: a series is forgotten between
// stale_after and 1.25×stale_after after its last point.
func (g *guard) start(ctx context.Context, host component.Host) error {
	if g.stopSweeps != nil {
		return nil
	}
	if err := g.startCheckpoints(ctx, host); err != nil {
		return err
	}
	g.stopSweeps = make(chan struct{})
	tick := time.NewTicker(max(g.cfg.StaleAfter/4, time.Millisecond))
	g.sweepsDone.Add(1)
	go func() {
		defer g.sweepsDone.Done()
		defer tick.Stop()
		for {
			select {
			case <-g.stopSweeps:
				return
			case <-tick.C:
				g.sweepStale(context.Background())
			}
		}
	}()
	return nil
}

// shutdown stops the sweeps and writes the final checkpoint; safe without start.
func (g *guard) shutdown(ctx context.Context) error {
	if g.stopSweeps != nil {
		close(g.stopSweeps)
		g.sweepsDone.Wait()
		g.stopSweeps = nil
	}
	err := g.stopCheckpoints(ctx)
	if g.tel != nil {
		g.tel.Shutdown()
	}
	return err
}

// sweepStale forgets the members and series not seen for stale_after and returns how many
// series it forgot.
func (g *guard) sweepStale(ctx context.Context) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	evicted := g.sweep(g.now().UnixNano() - int64(g.cfg.StaleAfter))
	if g.tel != nil && evicted > 0 {
		g.tel.ProcessorCardinalityGuardEvictedSeries.Add(ctx, int64(evicted))
	}
	g.publishActive()
	return evicted
}

// publishActive updates what the state gauges report.
func (g *guard) publishActive() {
	g.activeSeries.Store(int64(g.liveSeries))
	g.activeMembers.Store(int64(g.liveMembers))
}
