// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

func (p *normalizer) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	var st batchStats
	var sc scratch
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		st.utf8Repaired += repairMap(rs.Resource().Attributes(), &sc)
		lv := p.resolve(rs.Resource().Attributes(), true, &sc)
		var spans int64
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			st.utf8Repaired += repairScope(sss.At(j).Scope(), &sc)
			ss := sss.At(j).Spans()
			spans += int64(ss.Len())
			for k := 0; k < ss.Len(); k++ {
				st.utf8Repaired += repairSpan(ss.At(k), &sc, p.cfg.SemconvUpgrade)
			}
		}
		st.addResource(&lv, spans)
	}
	p.record(ctx, signalTraces, &st)
	return td, nil
}
