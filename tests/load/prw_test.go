// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/open-telemetry/opentelemetry-collector-contrib/testbed/testbed"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// prwReceiver stands in for Mimir behind the gateway's prometheus_remote_write exporter (the
// testbed has no remote-write receiver): it decodes each push with Prometheus' own prompb
// types and hands every sample of the load metrics to the mock backend as one data point of a
// monotonic cumulative sum (name and labels as Prometheus stores them), so the mock backend
// counts samples, and the checks see what Mimir would store. The exporter's target_info series
// (resource attributes, one per resource per push) is not load data and is not passed on.
type prwReceiver struct {
	port   int
	srv    *http.Server
	wg     sync.WaitGroup
	failed atomic.Uint64 // pushes that could not be decoded or were refused by the backend
	mu     sync.Mutex
	first  error
}

var _ testbed.DataReceiver = (*prwReceiver)(nil)

func newPRWReceiver(port int) *prwReceiver { return &prwReceiver{port: port} }

func (r *prwReceiver) Start(_ consumer.Traces, mc consumer.Metrics, _ consumer.Logs) error {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
	if err != nil {
		return err
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := r.push(req, mc); err != nil {
			r.fail(err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 10 * time.Second}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = r.srv.Serve(l)
	}()
	return nil
}

func (r *prwReceiver) fail(err error) {
	if r.failed.Add(1) == 1 {
		r.mu.Lock()
		r.first = err
		r.mu.Unlock()
	}
}

// Err is the first push that failed, with the count of failed pushes.
func (r *prwReceiver) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		return nil
	}
	return fmt.Errorf("%d remote-write pushes failed, first: %w", r.failed.Load(), r.first)
}

func (r *prwReceiver) push(req *http.Request, mc consumer.Metrics) error {
	compressed, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		return fmt.Errorf("snappy: %w", err)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return fmt.Errorf("prompb.WriteRequest: %w", err)
	}
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	byName := map[string]pmetric.NumberDataPointSlice{}
	for _, ts := range wr.Timeseries {
		name := ""
		for _, l := range ts.Labels {
			if l.Name == "__name__" {
				name = l.Value
			}
		}
		if name == "" {
			return errors.New("series without __name__")
		}
		if name == "target_info" {
			continue
		}
		dps, ok := byName[name]
		if !ok {
			m := sm.Metrics().AppendEmpty()
			m.SetName(name)
			sum := m.SetEmptySum()
			sum.SetIsMonotonic(true)
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dps = sum.DataPoints()
			byName[name] = dps
		}
		for _, s := range ts.Samples {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(pcommon.Timestamp(s.Timestamp * int64(time.Millisecond)))
			dp.SetIntValue(int64(s.Value))
			for _, l := range ts.Labels {
				if l.Name != "__name__" {
					dp.Attributes().PutStr(l.Name, l.Value)
				}
			}
		}
	}
	if md.DataPointCount() == 0 {
		return nil
	}
	return mc.ConsumeMetrics(req.Context(), md)
}

func (r *prwReceiver) Stop() error {
	if r.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	r.wg.Wait()
	return err
}

// GenConfigYAMLStr is the exporter this receiver expects (the scenarios use config/gateway.yaml's
// own, pointed here by MIMIR_REMOTE_WRITE_URL).
func (r *prwReceiver) GenConfigYAMLStr() string {
	return fmt.Sprintf(`
  prometheus_remote_write:
    endpoint: "http://127.0.0.1:%d/api/v1/push"`, r.port)
}

func (*prwReceiver) ProtocolName() string { return "prometheus_remote_write" }
