// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package requestjoin

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func tid(b byte) pcommon.TraceID { return pcommon.TraceID{b, 1} }
func sid(b byte) pcommon.SpanID  { return pcommon.SpanID{b, 2} }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestStore(ttl time.Duration, max int) (*store, *clock, *int64) {
	var evicted int64
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := newStore(ttl, max, func(n int64) { evicted += n })
	s.now = c.now
	return s, c, &evicted
}

func TestRememberLookup(t *testing.T) {
	s, _, _ := newTestStore(time.Minute, 10)
	s.Remember("req-1", tid(1), sid(1), false)
	tr, sp, ok := s.Lookup("req-1")
	require.True(t, ok)
	assert.Equal(t, tid(1), tr)
	assert.Equal(t, sid(1), sp)
	_, _, ok = s.Lookup("req-2")
	assert.False(t, ok)
	// Empty request IDs and all-zero trace IDs are never remembered.
	s.Remember("", tid(1), sid(1), true)
	s.Remember("req-3", pcommon.TraceID{}, sid(1), true)
	assert.Equal(t, 1, s.Len())
}

func TestPreferredSpanKeepsItsPlace(t *testing.T) {
	s, _, _ := newTestStore(time.Minute, 10)
	s.Remember("req", tid(1), sid(1), true)  // the server span
	s.Remember("req", tid(1), sid(2), false) // a client span of the same request, later
	_, sp, _ := s.Lookup("req")
	assert.Equal(t, sid(1), sp, "a child span must not move the join away from the server span")
	s.Remember("req", tid(1), sid(3), false)
	s.Remember("req", tid(2), sid(4), false) // the request ID reused by a new trace
	tr, sp, _ := s.Lookup("req")
	assert.Equal(t, tid(2), tr)
	assert.Equal(t, sid(4), sp)
	s.Remember("req", tid(2), sid(5), true)
	_, sp, _ = s.Lookup("req")
	assert.Equal(t, sid(5), sp, "the server span replaces a child span")
}

func TestTTL(t *testing.T) {
	s, c, evicted := newTestStore(time.Minute, 10)
	s.Remember("a", tid(1), sid(1), false)
	c.t = c.t.Add(30 * time.Second)
	s.Remember("b", tid(2), sid(2), false)
	c.t = c.t.Add(31 * time.Second)
	_, _, ok := s.Lookup("a")
	assert.False(t, ok, "a is older than the TTL")
	_, _, ok = s.Lookup("b")
	assert.True(t, ok)
	s.Remember("c", tid(3), sid(3), false) // a write drops the expired tail
	assert.Equal(t, 2, s.Len())
	assert.Zero(t, *evicted, "expiry is not eviction")
	// Rewriting refreshes the TTL.
	c.t = c.t.Add(20 * time.Second)
	s.Remember("b", tid(2), sid(2), false)
	c.t = c.t.Add(50 * time.Second)
	_, _, ok = s.Lookup("b")
	assert.True(t, ok)
}

func TestFullEvictsLeastRecentlyWritten(t *testing.T) {
	s, _, evicted := newTestStore(time.Hour, 3)
	for i := range 3 {
		s.Remember(fmt.Sprint(i), tid(byte(i+1)), sid(1), false)
	}
	s.Remember("0", tid(1), sid(1), false) // 1 is now the least recently written
	s.Remember("3", tid(4), sid(1), false)
	assert.Equal(t, 3, s.Len())
	assert.Equal(t, int64(1), *evicted)
	_, _, ok := s.Lookup("1")
	assert.False(t, ok)
	for _, k := range []string{"0", "2", "3"} {
		_, _, ok := s.Lookup(k)
		assert.True(t, ok, k)
	}
}

func TestKeyIsCopied(t *testing.T) {
	s, _, _ := newTestStore(time.Hour, 3)
	b := []byte("req-42")
	s.Remember(string(b), tid(1), sid(1), false)
	for e := s.head; e != nil; e = e.next {
		assert.Equal(t, "req-42", e.key)
	}
}

func TestConcurrent(t *testing.T) {
	s, _, _ := newTestStore(time.Hour, 500)
	s.now = time.Now
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := fmt.Sprintf("req-%d", (g*7919+i)%1000)
				if i%2 == 0 {
					s.Remember(k, tid(byte(g+1)), sid(byte(i)), i%3 == 0)
				} else {
					s.Lookup(k)
				}
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, s.Len(), 500)
	assertListMatchesMap(t, s)
}

func assertListMatchesMap(t *testing.T, s *store) {
	t.Helper()
	n := 0
	var prev *entry
	for e := s.head; e != nil; e = e.next {
		require.Same(t, prev, e.prev)
		require.Same(t, e, s.m[e.key])
		prev = e
		n++
	}
	require.Same(t, prev, s.tail)
	require.Equal(t, len(s.m), n)
}

func FuzzStore(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 200, 4, 5, 130, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		s, c, evicted := newTestStore(time.Minute, 4)
		for i, op := range ops {
			k := fmt.Sprint(op % 8)
			switch {
			case op >= 192:
				c.t = c.t.Add(time.Duration(op-191) * time.Second)
			case op >= 128:
				s.Lookup(k)
			default:
				s.Remember(k, tid(byte(i+1)), sid(op), op%2 == 0)
				tr, _, ok := s.Lookup(k)
				require.True(t, ok)
				require.False(t, tr.IsEmpty())
			}
			require.LessOrEqual(t, s.Len(), 4)
		}
		require.GreaterOrEqual(t, *evicted, int64(0))
		assertListMatchesMap(t, s)
	})
}

func BenchmarkRemember(b *testing.B) {
	s := newStore(10*time.Minute, 100_000, func(int64) {})
	keys := make([]string, 200_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("req-%016x", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Remember(keys[i%len(keys)], tid(1), sid(1), true)
	}
}

// BenchmarkMemoryPerEntry reports the heap one remembered request holds (B/entry), for the
// request-ID shapes of the seeds: a UUID (36 bytes) and a short "req-" ID.
func BenchmarkMemoryPerEntry(b *testing.B) {
	for _, shape := range []struct{ name, format string }{
		{"uuid", "4bf92f35-77b3-4da6-a3ce-%012x"},
		{"req16", "req-%012x"},
	} {
		b.Run(shape.name, func(b *testing.B) {
			const n = 100_000
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf(shape.format, i)
			}
			var perEntry float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := newStore(10*time.Minute, n, func(int64) {})
				for i, k := range keys {
					s.Remember(k, tid(byte(i)), sid(1), true)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}

// A hostile producer's huge request IDs must not grow the store past max_entries × a few
// hundred bytes: an ID longer than maxKeyLen is not remembered.
func TestOversizeRequestIDIsNotRemembered(t *testing.T) {
	s, _, _ := newTestStore(time.Minute, 10)
	long := strings.Repeat("r", maxKeyLen+1)
	s.Remember(long, tid(1), sid(1), true)
	_, _, ok := s.Lookup(long)
	assert.False(t, ok)
	assert.Equal(t, 0, s.Len())
	atLimit := strings.Repeat("r", maxKeyLen)
	s.Remember(atLimit, tid(2), sid(2), true)
	_, _, ok = s.Lookup(atLimit)
	assert.True(t, ok)
}
