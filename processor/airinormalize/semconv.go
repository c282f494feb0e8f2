// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"

import (
	"net"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Resource keys the processor reads and keeps in step.
const (
	attrDeploymentEnvironmentName = "deployment.environment.name"
	attrDeploymentEnvironment     = "deployment.environment"
	attrServiceNamespace          = "service.namespace"
	attrServiceName               = "service.name"
)

// Old and stable HTTP semantic-convention keys.
const (
	oldHTTPTarget = "http.target"
	oldHTTPHost   = "http.host"

	attrURLPath       = "url.path"
	attrURLQuery      = "url.query"
	attrServerAddress = "server.address"
	attrServerPort    = "server.port"
)

type keyRename struct{ from, to string }

// httpRenames are the one-to-one key upgrades, applied in this order after http.target and
// http.host (which split into two keys). When several old keys map to one stable key, the
// first present wins and the others are removed: http.host, then net.peer.name, then
// net.host.name for server.address; http.host's port, then net.peer.port, then net.host.port for
// server.port.
var httpRenames = []keyRename{
	{"http.method", "http.request.method"},
	{"http.status_code", "http.response.status_code"},
	{"http.url", "url.full"},
	{"http.scheme", "url.scheme"},
	{"http.user_agent", "user_agent.original"},
	{"http.flavor", "network.protocol.version"},
	{"http.client_ip", "client.address"},
	{"net.peer.name", attrServerAddress},
	{"net.peer.port", attrServerPort},
	{"net.host.name", attrServerAddress},
	{"net.host.port", attrServerPort},
}

// oldHTTPKeys is the set of old HTTP keys one scan over a map found: bit 0 http.target, bit 1
// http.host, bit 2+i httpRenames[i]. dupOldKeys marks a key seen more than once (a map decoded
// from the wire may hold a key twice).
type oldHTTPKeys uint16

const dupOldKeys oldHTTPKeys = 1 << 15

// note adds k to the set when it is an old HTTP key.
func (s *oldHTTPKeys) note(k string) {
	i := oldHTTPKeyIndex(k)
	if i < 0 {
		return
	}
	bit := oldHTTPKeys(1) << i
	if *s&bit != 0 {
		*s |= dupOldKeys
	}
	*s |= bit
}

// isOldHTTPKey reports whether k is an old HTTP key.
func isOldHTTPKey(k string) bool { return oldHTTPKeyIndex(k) >= 0 }

// oldHTTPKeyIndex is the cheap test run over every key of every item: k's bit in oldHTTPKeys,
// or -1.
func oldHTTPKeyIndex(k string) int {
	if len(k) < 8 || (k[:5] != "http." && k[:4] != "net.") {
		return -1
	}
	// A switch, not a loop over httpRenames: the compiler turns it into a search by length and
	// content. TestOldHTTPKeysFitTheSet checks the indexes against httpRenames.
	switch k {
	case oldHTTPTarget:
		return 0
	case oldHTTPHost:
		return 1
	case "http.method":
		return 2
	case "http.status_code":
		return 3
	case "http.url":
		return 4
	case "http.scheme":
		return 5
	case "http.user_agent":
		return 6
	case "http.flavor":
		return 7
	case "http.client_ip":
		return 8
	case "net.peer.name":
		return 9
	case "net.peer.port":
		return 10
	case "net.host.name":
		return 11
	case "net.host.port":
		return 12
	}
	return -1
}

// upgradeHTTPAttrs maps old HTTP keys in m to the stable ones. A stable key already present
// wins; the old key is removed either way. It reports whether anything changed.
func upgradeHTTPAttrs(m pcommon.Map, sc *scratch) bool {
	var keys oldHTTPKeys
	for k := range m.All() {
		keys.note(k)
	}
	if keys == 0 {
		return false
	}
	applyHTTPUpgrade(m, keys, sc)
	return true
}

// applyHTTPUpgrade is upgradeHTTPAttrs for a map whose old HTTP keys one scan found: only
// those are looked up, and a key found once is not looked up again after it moved.
func applyHTTPUpgrade(m pcommon.Map, keys oldHTTPKeys, sc *scratch) {
	once := keys&dupOldKeys == 0
	if keys&1 != 0 {
		for v, ok := m.Get(oldHTTPTarget); ok; v, ok = m.Get(oldHTTPTarget) {
			target := v.AsString()
			m.Remove(oldHTTPTarget)
			path, query, hasQuery := strings.Cut(target, "?")
			putStrIfAbsent(m, attrURLPath, path)
			if hasQuery && query != "" {
				putStrIfAbsent(m, attrURLQuery, query)
			}
			if once {
				break
			}
		}
	}
	if keys&2 != 0 {
		for v, ok := m.Get(oldHTTPHost); ok; v, ok = m.Get(oldHTTPHost) {
			hostport := v.AsString()
			m.Remove(oldHTTPHost)
			host, port := splitHostPort(hostport)
			if host != "" {
				putStrIfAbsent(m, attrServerAddress, host)
			}
			if port >= 0 {
				if _, exists := m.Get(attrServerPort); !exists {
					m.PutInt(attrServerPort, int64(port))
				}
			}
			if once {
				break
			}
		}
	}
	for i, r := range httpRenames {
		if keys&(4<<i) == 0 {
			continue
		}
		for v, ok := m.Get(r.from); ok; v, ok = m.Get(r.from) {
			renameUnlessPresent(m, v, r.from, r.to, sc)
			if once {
				break
			}
		}
	}
}

// renameUnlessPresent moves v, the value m.Get(from) just returned, to key to, unless to is
// already there (then it wins and v is dropped), and removes from either way: moveValue with
// one lookup of to instead of two.
func renameUnlessPresent(m pcommon.Map, v pcommon.Value, from, to string, sc *scratch) {
	tmp := sc.value()
	v.MoveTo(tmp)
	m.Remove(from)
	if dst, exists := m.GetOrPutEmpty(to); !exists {
		tmp.MoveTo(dst)
	}
}

func putStrIfAbsent(m pcommon.Map, k, v string) {
	if _, exists := m.Get(k); !exists {
		m.PutStr(k, v)
	}
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "[v6]"; port is -1 when absent or
// not a number.
func splitHostPort(s string) (host string, port int) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return h, -1
		}
		return h, n
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), -1
}

// Old HTTP duration histograms and their stable replacements.
var durationRenames = map[string]string{
	"http.server.duration": "http.server.request.duration",
	"http.client.duration": "http.client.request.duration",
}

type durationUpgrade uint8

const (
	durationNone        durationUpgrade = iota
	durationRescaled                    // histogram in ms, now in s
	durationRenamed                     // histogram already in s, renamed only
	durationNotRescaled                 // exponential histogram in ms, left alone
)

// upgradeDurationMetric turns an old millisecond HTTP duration histogram into the stable one in
// seconds: bounds, sum, min, max and exemplar values divided by 1000, counts unchanged.
//
// An exponential histogram cannot be rescaled by 1000 without re-bucketing (its bucket
// boundaries are powers of 2^(2^-scale), and 1000 is not a power of two), which would smear
// counts across buckets; it keeps its old name and unit and is counted instead.
func upgradeDurationMetric(m pmetric.Metric) durationUpgrade {
	to, ok := durationRenames[m.Name()]
	if !ok {
		return durationNone
	}
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		switch m.Unit() {
		case "ms":
			rescaleHistogram(m.Histogram(), 1000)
			m.SetName(to)
			m.SetUnit("s")
			return durationRescaled
		case "s":
			m.SetName(to)
			return durationRenamed
		}
	case pmetric.MetricTypeExponentialHistogram:
		if m.Unit() == "ms" {
			return durationNotRescaled
		}
		if m.Unit() == "s" {
			m.SetName(to)
			return durationRenamed
		}
	}
	return durationNone
}

// rescaleHistogram divides (rather than multiplies by 0.001) so 5 ms becomes exactly 0.005.
func rescaleHistogram(h pmetric.Histogram, div float64) {
	dps := h.DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		bounds := dp.ExplicitBounds()
		for j := 0; j < bounds.Len(); j++ {
			bounds.SetAt(j, bounds.At(j)/div)
		}
		if dp.HasSum() {
			dp.SetSum(dp.Sum() / div)
		}
		if dp.HasMin() {
			dp.SetMin(dp.Min() / div)
		}
		if dp.HasMax() {
			dp.SetMax(dp.Max() / div)
		}
		exs := dp.Exemplars()
		for j := 0; j < exs.Len(); j++ {
			ex := exs.At(j)
			switch ex.ValueType() {
			case pmetric.ExemplarValueTypeDouble:
				ex.SetDoubleValue(ex.DoubleValue() / div)
			case pmetric.ExemplarValueTypeInt:
				ex.SetDoubleValue(float64(ex.IntValue()) / div)
			}
		}
	}
}
