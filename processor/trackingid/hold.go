// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package trackingid // import "github.com/airi-otel/otelcol-airi/processor/trackingid"

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
)

// heldRecord is one log record held for a join: a copy with its resource and scope, the
// request ID it waits for, and when it stops waiting.
type heldRecord struct {
	ld       plog.Logs
	reqID    string
	deadline time.Time
}

// holder keeps context-less log records whose request ID the join store does not know yet,
// for at most join_hold and join_hold_max_records, and forwards them to the next consumer once
// their request ID is known (joined) or their time is up (derived).
type holder struct {
	p      *trackingProcessor
	next   consumer.Logs
	logger *zap.Logger
	hold   time.Duration
	max    int

	mu   sync.Mutex
	recs []heldRecord

	stop chan struct{}
	done chan struct{}
}

func newHolder(p *trackingProcessor, next consumer.Logs, logger *zap.Logger) *holder {
	return &holder{p: p, next: next, logger: logger, hold: p.cfg.JoinHold, max: p.cfg.JoinHoldMaxRecords}
}

// tryHold copies the record (with its resource and scope) into the hold; false when full.
func (h *holder) tryHold(rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord, reqID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recs) >= h.max {
		return false
	}
	ld := plog.NewLogs()
	nrl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().CopyTo(nrl.Resource())
	nrl.SetSchemaUrl(rl.SchemaUrl())
	nsl := nrl.ScopeLogs().AppendEmpty()
	sl.Scope().CopyTo(nsl.Scope())
	nsl.SetSchemaUrl(sl.SchemaUrl())
	lr.CopyTo(nsl.LogRecords().AppendEmpty())
	// The request ID may point into the incoming batch; the copy must not keep it alive.
	h.recs = append(h.recs, heldRecord{ld: ld, reqID: strings.Clone(reqID), deadline: time.Now().Add(h.hold)})
	return true
}

func (h *holder) start() {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	interval := min(max(h.hold/10, 10*time.Millisecond), 100*time.Millisecond)
	go func() {
		defer close(h.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.release(false)
			}
		}
	}()
}

// shutdown stops the ticker and forwards everything still held (derived unless known now).
func (h *holder) shutdown() {
	if h.stop != nil {
		close(h.stop)
		<-h.done
		h.stop = nil
	}
	h.release(true)
}

// release forwards the held records whose request ID is now known or whose time is up (all
// of them when all is true).
func (h *holder) release(all bool) {
	h.mu.Lock()
	if len(h.recs) == 0 { // the common tick: nothing held, nothing to build
		h.mu.Unlock()
		return
	}
	now := time.Now()
	out := plog.NewLogs()
	var c counts
	var cache batchCache
	s := newScan(h.p.cfg.LogAttribute, h.p.cfg.OriginalAttribute, h.p.logKeys)
	kept := h.recs[:0]
	for _, r := range h.recs {
		if !all && now.Before(r.deadline) {
			if _, _, known := h.p.join.Lookup(r.reqID); !known {
				kept = append(kept, r)
				continue
			}
		}
		h.p.processLog(r.ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0), &s, &cache, &c, false)
		r.ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	clear(h.recs[len(kept):])
	h.recs = kept
	h.mu.Unlock()
	if out.LogRecordCount() == 0 {
		return
	}
	ctx := context.Background()
	h.p.record(ctx, c, attrLogs)
	if err := h.next.ConsumeLogs(ctx, out); err != nil {
		h.logger.Warn("tracking_id: forwarding held log records failed", zap.Int("records", out.LogRecordCount()), zap.Error(err))
	}
}
