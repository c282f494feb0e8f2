// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package requestjoin // import "github.com/airi-otel/otelcol-airi/extension/requestjoin"

import (
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Joiner is what the request_join extension offers the tracking_id processor.
type Joiner interface {
	// Remember records that the request reqID runs in trace (and span). preferred marks the
	// request's server or root span: it keeps its place against later non-preferred spans of
	// the same trace.
	Remember(reqID string, trace pcommon.TraceID, span pcommon.SpanID, preferred bool)
	// Lookup returns the trace and span remembered for reqID, if any and not expired.
	Lookup(reqID string) (pcommon.TraceID, pcommon.SpanID, bool)
}

// maxKeyLen bounds a remembered request ID. Real request IDs are a UUID or a few dozen
// characters; a longer value is not remembered (and so never joined), which keeps the store's
// memory at max_entries × a few hundred bytes whatever a producer sends.
const maxKeyLen = 256

type entry struct {
	key        string
	trace      pcommon.TraceID
	span       pcommon.SpanID
	preferred  bool
	expires    int64 // unix nanoseconds
	prev, next *entry
}

// store is a request ID → (trace ID, span ID) map bounded by time and entries. Its entries sit
// in a list ordered by last write (newest at the head), which with one TTL for all is also the
// order of expiry: expired entries are dropped from the tail on each write, and when the store
// is full the tail (the least recently written entry) goes. Lookups do not reorder the list,
// so the hot read path takes only the lock and a map access.
type store struct {
	mu         sync.Mutex
	m          map[string]*entry
	head, tail *entry
	ttl        int64
	max        int
	now        func() time.Time
	evicted    func(n int64) // counts entries dropped because the store was full
}

func newStore(ttl time.Duration, maxEntries int, evicted func(int64)) *store {
	return &store{
		m:       make(map[string]*entry),
		ttl:     int64(ttl),
		max:     maxEntries,
		now:     time.Now,
		evicted: evicted,
	}
}

func (s *store) Remember(reqID string, trace pcommon.TraceID, span pcommon.SpanID, preferred bool) {
	if reqID == "" || len(reqID) > maxKeyLen || trace.IsEmpty() {
		return
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if e, ok := s.m[reqID]; ok {
		// A span of the same trace that is not the server/root span must not move the join
		// away from it; any span of a new trace (a reused request ID) takes over.
		if e.trace != trace || preferred || !e.preferred {
			e.trace, e.span, e.preferred = trace, span, preferred
		}
		e.expires = now + s.ttl
		s.unlink(e)
		s.pushFront(e)
		return
	}
	if len(s.m) >= s.max {
		s.remove(s.tail)
		s.evicted(1)
	}
	// The key is copied: reqID may point into a batch's attribute storage, which the store
	// must not keep alive.
	e := &entry{key: strings.Clone(reqID), trace: trace, span: span, preferred: preferred, expires: now + s.ttl}
	s.m[e.key] = e
	s.pushFront(e)
}

func (s *store) Lookup(reqID string) (pcommon.TraceID, pcommon.SpanID, bool) {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[reqID]
	if !ok || e.expires <= now {
		return pcommon.TraceID{}, pcommon.SpanID{}, false
	}
	return e.trace, e.span, true
}

// Len returns the number of entries held, expired ones not yet dropped included.
func (s *store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *store) expire(now int64) {
	for s.tail != nil && s.tail.expires <= now {
		s.remove(s.tail)
	}
}

func (s *store) remove(e *entry) {
	s.unlink(e)
	delete(s.m, e.key)
}

func (s *store) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *store) pushFront(e *entry) {
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}
