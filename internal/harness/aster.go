// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package harness

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
)

// ServeAster serves a /metrics endpoint like seed 003's aster server, with the Prometheus Go
// client: the counter aster_http_requests_total{method, status} holding counts (keys are
// "METHOD STATUS", e.g. "GET 2xx"). It returns the endpoint's 127.0.0.1 address; the server
// stops when the test ends.
func ServeAster(t testing.TB, counts map[[2]string]float64) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aster_http_requests_total", Help: "HTTP requests.",
	}, []string{"method", "status"})
	reg.MustRegister(requests)
	for k, v := range counts {
		requests.WithLabelValues(k[0], k[1]).Add(v)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}
