// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A member's last-seen tick is whole seconds modulo 2^32: ordered across the wrap (in 2106)
// and before 1970, and written to checkpoints as the unix time it stands for.
func TestTicks(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 999_999_999).UnixNano()
	require.Equal(t, tick(1_700_000_000), tickOf(now))
	require.Equal(t, int64(1_700_000_000)*1e9, tickOf(now).unixNano(now))
	require.Equal(t, int64(1_699_999_000)*1e9, tickOf(now-1000*1e9).unixNano(now), "earlier than the reference")
	require.Equal(t, int64(1_700_000_005)*1e9, tickOf(now+5e9).unixNano(now), "later than the reference")
	require.True(t, tickBefore(tickOf(now-1e9), tickOf(now)))
	require.False(t, tickBefore(tickOf(now), tickOf(now)))
	require.False(t, tickBefore(tickOf(now), tickOf(now-1e9)))

	wrap := int64(math.MaxUint32) * 1e9 // the last second before the tick wraps to 0
	require.True(t, tickBefore(tickOf(wrap), tickOf(wrap+2e9)), "ordered across the wrap")
	require.Equal(t, wrap+2e9, tickOf(wrap+2e9).unixNano(wrap))
	require.Equal(t, wrap, tickOf(wrap).unixNano(wrap+2e9))

	require.Equal(t, tick(math.MaxUint32), tickOf(-1), "floor before 1970")
	require.Equal(t, int64(-1e9), tickOf(-1).unixNano(0))
	require.True(t, tickBefore(tickOf(-1), tickOf(0)))
	require.NotPanics(t, func() { tickOf(math.MinInt64).unixNano(math.MaxInt64) })
}

// warmMembers guesses a key's member by its 32-bit tag: two members whose keys share the tag
// get the same guess, which guessedMember confirms only for the key it belongs to, so the
// other key's lookup falls back to the index (as resolve does).
func TestGuessedMemberIsConfirmedByTheFullKey(t *testing.T) {
	t.Parallel()
	g, _ := newTestGuard(t, testConfig())
	ms := g.metricState(1, 10)
	si := g.newSeries(0xaaaa_0000_0000_0001, ms, 7, kCumSum, true, aggSum, false)
	keyA, keyB := uint64(0x1234_5678_0000_0001), uint64(0x1234_5678_0000_0002)
	a := g.newMember(keyA, si, 0)
	b := g.newMember(keyB, si, 0)
	guess := g.warmMembers([]uint64{keyA, keyB, 0x9999_0000_0000_0003}, nil)
	require.Equal(t, []uint32{a, a, 0}, guess, "the first slot with the tag; none for an absent tag")
	require.True(t, g.guessedMember(guess[0], keyA))
	require.False(t, g.guessedMember(guess[1], keyB), "another member of the same tag")
	require.False(t, g.guessedMember(guess[2], 0x9999_0000_0000_0003))
	mi, ok := g.findMember(keyB)
	require.True(t, ok)
	require.Equal(t, b, mi)
}
