// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package airinormalize // import "github.com/airi-otel/otelcol-airi/processor/airinormalize"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog"
)

func (p *normalizer) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	var st batchStats
	var sc scratch
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		st.utf8Repaired += repairMap(rl.Resource().Attributes(), &sc)
		lv := p.resolve(rl.Resource().Attributes(), true, &sc)
		var records int64
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			st.utf8Repaired += repairScope(sls.At(j).Scope(), &sc)
			lrs := sls.At(j).LogRecords()
			records += int64(lrs.Len())
			for k := 0; k < lrs.Len(); k++ {
				st.utf8Repaired += repairLog(lrs.At(k), &sc, p.cfg.SemconvUpgrade)
			}
		}
		st.addResource(&lv, records)
	}
	p.record(ctx, signalLogs, &st)
	return ld, nil
}
