// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

//go:embed backends/*.yaml
var backendConfigs embed.FS

// backendKind is how one real backend is built, configured, started and found ready.
type backendKind struct {
	name  string
	ports []string // named ports, each a free 127.0.0.1 port
	// args are the command-line arguments, given the rendered config file and data directory.
	args func(config, dir string, ports map[string]int) []string
	// ready lists the paths (on the "http" port unless prefixed "port:") that must answer 200.
	ready []string
}

var (
	jaegerKind = backendKind{
		name:  "jaeger",
		ports: []string{"otlp_grpc", "otlp_http", "http", "grpc", "health"},
		args: func(config, _ string, _ map[string]int) []string {
			return []string{"--config", config}
		},
		ready: []string{"health:/status", "http:/api/services"},
	}
	prometheusKind = backendKind{
		name:  "prometheus",
		ports: []string{"http"},
		args: func(config, dir string, ports map[string]int) []string {
			return []string{
				"--config.file=" + config,
				"--storage.tsdb.path=" + filepath.Join(dir, "data"),
				"--web.listen-address=127.0.0.1:" + strconv.Itoa(ports["http"]),
				"--web.enable-lifecycle",
				// Exemplars scraped in OpenMetrics are dropped unless this is on.
				"--enable-feature=exemplar-storage",
			}
		},
		ready: []string{"http:/-/ready"},
	}
	lokiKind = backendKind{
		name:  "loki",
		ports: []string{"http", "grpc"},
		args: func(config, _ string, _ map[string]int) []string {
			return []string{"-config.file=" + config}
		},
		ready: []string{"http:/ready"},
	}
	mimirKind = backendKind{
		name:  "mimir",
		ports: []string{"http", "grpc", "memberlist"},
		args: func(config, _ string, _ map[string]int) []string {
			return []string{"-config.file=" + config}
		},
		ready: []string{"http:/ready"},
	}
)

var (
	binMu   sync.Mutex
	binDirs = map[string]string{}
)

// backendBinDir returns the directory holding the backend's binaries, building them with
// tests/e2e/backends/build.sh into the cache outside the repository when they are not there yet
// (cold: minutes; warm: milliseconds). `make e2e` and `make test` run the builds before the
// tests, so here it is normally warm.
func backendBinDir(t testing.TB, name string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if dir, ok := binDirs[name]; ok {
		return dir
	}
	cmd := exec.Command(filepath.Join(harness.RepoRoot(t), "tests", "e2e", "backends", "build.sh"), name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "building %s:\n%s", name, stderr.String())
	dir := strings.TrimSpace(string(out))
	binDirs[name] = dir
	return dir
}

// Backend is one real backend process on 127.0.0.1. Its data directory and ports survive Stop,
// so Start after Stop is a restart of the same instance.
type Backend struct {
	t     *testing.T
	kind  backendKind
	bin   string
	Dir   string
	Ports map[string]int
	// config data for the template, beside Ports and Dir.
	Targets, TelemetryTargets, RuleFiles []string
	proc                                 *harness.Process
}

func newBackend(t *testing.T, kind backendKind) *Backend {
	t.Helper()
	b := &Backend{
		t:     t,
		kind:  kind,
		bin:   filepath.Join(backendBinDir(t, kind.name), kind.name),
		Dir:   t.TempDir(),
		Ports: map[string]int{},
	}
	for _, p := range kind.ports {
		b.Ports[p] = harness.FreePort(t)
	}
	return b
}

// URL is http://127.0.0.1:<the named port>.
func (b *Backend) URL(port string) string {
	return "http://" + b.Addr(port)
}

// Addr is 127.0.0.1:<the named port>.
func (b *Backend) Addr(port string) string {
	p, ok := b.Ports[port]
	if !ok {
		panic(fmt.Sprintf("%s has no port %q", b.kind.name, port))
	}
	return "127.0.0.1:" + strconv.Itoa(p)
}

// start renders the config and starts the process; ready waits for it.
func (b *Backend) start() error {
	raw, err := backendConfigs.ReadFile("backends/" + b.kind.name + ".yaml")
	if err != nil {
		return err
	}
	tmpl, err := template.New(b.kind.name).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return err
	}
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, b); err != nil {
		return err
	}
	config := filepath.Join(b.Dir, "config.yaml")
	if err := os.WriteFile(config, cfg.Bytes(), 0o600); err != nil {
		return err
	}
	b.proc = harness.StartIn(b.t, b.Dir, b.bin, b.kind.args(config, b.Dir, b.Ports), nil)
	return b.ready(3 * time.Minute)
}

func (b *Backend) ready(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, r := range b.kind.ready {
		port, path, _ := strings.Cut(r, ":")
		if err := harness.WaitHTTP(ctx, b.proc, b.URL(port)+path, http.StatusOK, timeout); err != nil {
			return fmt.Errorf("%s: %w", b.kind.name, err)
		}
	}
	return nil
}

// Start starts (or restarts) the backend and waits until it is ready.
func (b *Backend) Start() {
	b.t.Helper()
	start := time.Now()
	require.NoError(b.t, b.start())
	b.t.Logf("%s ready in %s", b.kind.name, time.Since(start).Round(time.Millisecond))
}

// Stop stops the backend with SIGTERM (SIGKILL after a minute), keeping its data directory.
func (b *Backend) Stop() {
	b.t.Helper()
	if err := b.proc.Stop(time.Minute); err != nil {
		b.t.Logf("%s: %v; killing pid %d", b.kind.name, err, b.proc.Cmd.Process.Pid)
		b.proc.Kill()
	}
}

// startAll starts the backends side by side and waits for all of them.
func startAll(t *testing.T, bs ...*Backend) {
	t.Helper()
	start := time.Now()
	errs := make([]error, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.start()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d backends ready in %s", len(bs), time.Since(start).Round(time.Millisecond))
}
