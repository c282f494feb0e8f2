// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/airi-otel/otelcol-airi/processor/cardinalityguard"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processorhelper"
)

// processReport is mode report: the guard runs exactly as in enforce mode on a copy of the
// batch — same state, same budgets, same telemetry — and the batch itself passes on
// unchanged. The copy is what enforce mode would have sent; it is dropped.
func (g *guard) processReport(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	shadow := pmetric.NewMetrics()
	md.CopyTo(shadow)
	if _, err := g.processMetrics(ctx, shadow); err != nil && !errors.Is(err, processorhelper.ErrSkipProcessingData) {
		return md, err
	}
	return md, nil
}
