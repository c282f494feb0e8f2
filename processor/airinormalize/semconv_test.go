// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestOldHTTPKeysFitTheSet(t *testing.T) {
	t.Parallel()
	require.Less(t, 2+len(httpRenames), 15, "oldHTTPKeys has a bit per old key below dupOldKeys")
	for i, r := range httpRenames {
		require.Equal(t, 2+i, oldHTTPKeyIndex(r.from), r.from)
	}
	require.Equal(t, 0, oldHTTPKeyIndex(oldHTTPTarget))
	require.Equal(t, 1, oldHTTPKeyIndex(oldHTTPHost))
	require.Equal(t, -1, oldHTTPKeyIndex("http.request.method"))
}

// TestUpgradeDuplicateOldKeys: OTLP lets a key repeat (the receivers do not dedupe); every copy
// of an old key goes, and the first one seen becomes the stable key.
func TestUpgradeDuplicateOldKeys(t *testing.T) {
	t.Parallel()
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{
		"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"s",
		"attributes":[
			{"key":"http.method","value":{"stringValue":"GET"}},
			{"key":"http.target","value":{"stringValue":"/a?x=1"}},
			{"key":"http.method","value":{"stringValue":"POST"}},
			{"key":"http.target","value":{"stringValue":"/b"}},
			{"key":"http.status_code","value":{"intValue":"200"}}
		]}]}]}]}`))
	require.NoError(t, err)
	attrs := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
	require.Equal(t, 5, attrs.Len())
	_, keys := repairAttrs(attrs, &scratch{}, true)
	require.NotZero(t, keys&dupOldKeys, "the scan saw a key twice")
	applyHTTPUpgrade(attrs, keys, &scratch{})
	require.Equal(t, map[string]any{
		"http.request.method":       "GET",
		"url.path":                  "/a",
		"url.query":                 "x=1",
		"http.response.status_code": int64(200),
	}, attrs.AsRaw())
	require.Equal(t, 4, attrs.Len(), "no copy of an old key is left")
}

// TestUpgradeOnlyFoundKeysMatchesFullLookup: looking up only the old keys the scan found gives
// exactly (key order included) what looking up every old key, repeatedly, gives, on maps drawn
// from the old and stable HTTP keys, with repeats.
func TestUpgradeOnlyFoundKeysMatchesFullLookup(t *testing.T) {
	t.Parallel()
	pool := []string{oldHTTPTarget, oldHTTPHost, attrURLPath, attrURLQuery, attrServerAddress, attrServerPort, "http.route"}
	for _, r := range httpRenames {
		pool = append(pool, r.from, r.to)
	}
	everyKey := dupOldKeys | oldHTTPKeys(1)<<(2+len(httpRenames)) - 1
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		kvs := make([]string, 0, 8)
		for range 1 + rng.IntN(8) {
			kvs = append(kvs, fmt.Sprintf(`{"key":%q,"value":{"stringValue":"h%d.example:%d"}}`, pool[rng.IntN(len(pool))], rng.IntN(3), 80+rng.IntN(2)))
		}
		doc := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s","attributes":[` + strings.Join(kvs, ",") + `]}]}]}]}`
		a, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(doc))
		require.NoError(t, err)
		b, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(doc))
		require.NoError(t, err)
		got := a.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
		want := b.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
		if _, keys := repairAttrs(got, &scratch{}, true); keys != 0 {
			applyHTTPUpgrade(got, keys, &scratch{})
		}
		applyHTTPUpgrade(want, everyKey, &scratch{})
		var gotKeys, wantKeys []string
		for k, v := range got.All() {
			gotKeys = append(gotKeys, k+"="+v.AsString())
		}
		for k, v := range want.All() {
			wantKeys = append(wantKeys, k+"="+v.AsString())
		}
		require.Equal(t, wantKeys, gotKeys, doc)
	}
}
