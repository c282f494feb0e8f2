// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/airi-otel/otelcol-airi/processor/cardinalityguard/internal/metadata"
)

// Keys in the guard's storage client: the hash seed its identities are keyed with, and the
// last checkpoint (checkpoint.go).
const (
	storageSeedKey  = "seed"
	storageStateKey = "state"
)

// checkpointer keeps the guard's state in a storage extension: restored at Start, written every
// checkpoint_interval by a background ticker and at Shutdown.
type checkpointer struct {
	g      *guard
	self   component.ID
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder
	client storage.Client
	stop   chan struct{}
	done   chan struct{}
	buf    []byte
}

func (c *checkpointer) count(ctx context.Context, result string) {
	if c.tel != nil {
		c.tel.ProcessorCardinalityGuardCheckpoints.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("result", result))))
	}
}

// start opens the storage client, takes over the stored hash seed (storing this guard's own when
// there is none) and restores the stored state. A checkpoint that cannot be used is logged,
// counted and ignored: the guard starts empty, as without storage. A storage extension that is
// missing or unusable fails the start.
func (c *checkpointer) start(ctx context.Context, host component.Host, id component.ID) error {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return fmt.Errorf("storage: extension %q not found", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("storage: extension %q is not a storage extension", id)
	}
	client, err := se.GetClient(ctx, component.KindProcessor, c.self, "")
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	c.client = client
	seed, err := client.Get(ctx, storageSeedKey)
	if err != nil {
		return fmt.Errorf("storage: reading the hash seed: %w", err)
	}
	if len(seed) == 8 {
		c.g.mu.Lock()
		c.g.h.seed = binary.LittleEndian.Uint64(seed)
		c.g.mu.Unlock()
	} else {
		if seed != nil {
			c.logger.Warn("cardinality_guard: ignoring a malformed hash seed in storage", zap.Int("bytes", len(seed)))
		}
		if err := client.Set(ctx, storageSeedKey, binary.LittleEndian.AppendUint64(nil, c.g.h.seed)); err != nil {
			return fmt.Errorf("storage: writing the hash seed: %w", err)
		}
	}
	state, err := client.Get(ctx, storageStateKey)
	switch {
	case err != nil:
		c.logger.Warn("cardinality_guard: cannot read the checkpoint; starting empty", zap.Error(err))
		c.count(ctx, "failed")
	case state != nil:
		start := time.Now()
		if err := c.g.restore(state); err != nil {
			c.logger.Warn("cardinality_guard: ignoring the checkpoint in storage; starting empty", zap.Error(err), zap.Int("bytes", len(state)))
			c.count(ctx, "refused")
		} else {
			c.logger.Info("cardinality_guard: state restored from storage", zap.Int("series", c.g.liveSeries),
				zap.Int("members", c.g.liveMembers), zap.Int("bytes", len(state)), zap.Duration("took", time.Since(start)))
			c.count(ctx, "restored")
		}
	}
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.loop(c.g.cfg.CheckpointInterval)
	return nil
}

func (c *checkpointer) loop(interval time.Duration) {
	defer close(c.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			c.save(context.Background())
		}
	}
}

func (c *checkpointer) save(ctx context.Context) {
	c.buf = c.g.checkpoint(c.buf[:0])
	if err := c.client.Set(ctx, storageStateKey, c.buf); err != nil {
		c.logger.Warn("cardinality_guard: checkpoint not written", zap.Error(err))
		c.count(ctx, "failed")
		return
	}
	c.count(ctx, "saved")
}

// shutdown stops the ticker, writes the last checkpoint and closes the client; safe without a
// start.
func (c *checkpointer) shutdown(ctx context.Context) error {
	if c.client == nil {
		return nil
	}
	close(c.stop)
	<-c.done
	c.save(ctx)
	err := c.client.Close(ctx)
	c.client = nil
	return err
}
