// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package harness runs real processes for the distribution and end-to-end tests: the ocb-built
// collector binary and, later, the real backends. Everything binds to 127.0.0.1, and every
// process it starts is stopped by its PID when the test ends, passing or failing.
package harness // import "github.com/airi-otel/otelcol-airi/internal/harness"

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RepoRoot returns the directory holding the module's go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "builder-config.yaml")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "builder-config.yaml not found above the test directory")
		dir = parent
	}
}

var buildOnce sync.Once

// CollectorBinary returns the path of bin/otelcol-airi, running `make build` first (once per test
// binary). make rebuilds only when an input changed, so this is quick when `make test` already
// built it; AIRI_BINARY points at another binary instead.
func CollectorBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AIRI_BINARY"); p != "" {
		return p
	}
	root := RepoRoot(t)
	var buildErr error
	var out []byte
	buildOnce.Do(func() {
		cmd := exec.Command("make", "--no-print-directory", "build")
		cmd.Dir = root
		out, buildErr = cmd.CombinedOutput()
	})
	require.NoError(t, buildErr, "make build:\n%s", out)
	bin := filepath.Join(root, "bin", "otelcol-airi")
	require.FileExists(t, bin)
	return bin
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It is picked below
// Linux's ephemeral range (32768-60999), where the kernel picks the source ports of outgoing
// connections, so a backend's client connections cannot take a port another server is about to
// bind; and it is never handed out twice by one test binary.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatal("no free port found in 127.0.0.1:20000-31999")
	return 0
}

// FreeAddr returns "127.0.0.1:<free port>".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// SyncBuffer is an io.Writer safe to read while a process writes to it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Process is a started child process with its combined output captured.
type Process struct {
	Cmd    *exec.Cmd
	Output *SyncBuffer
	done   chan struct{}
	err    error
}

// Start runs bin with args and env (added to the test's environment). The process is killed by
// its PID at the end of the test if it is still running, and its output is logged when the
// test failed. It is also killed if the test binary itself dies (a test timeout, a panic).
func Start(t testing.TB, bin string, args []string, env map[string]string) *Process {
	t.Helper()
	return StartIn(t, "", bin, args, env)
}

// StartIn is Start with the process's working directory set to dir ("" = the test's).
func StartIn(t testing.TB, dir, bin string, args []string, env map[string]string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = dieWithParent()
	require.NoError(t, cmd.Start())
	p := &Process{Cmd: cmd, Output: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s (pid %d):\n%s", filepath.Base(bin), cmd.Process.Pid, out.String())
		}
	})
	return p
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to end; exited is false when it is still running,
// err is its exit error (nil for exit 0).
func (p *Process) Wait(timeout time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(timeout):
		return false, nil
	}
}

// Kill sends SIGKILL to the process's PID and waits for it to end.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGTERM to the process's PID and waits up to timeout for it to exit.
func (p *Process) Stop(timeout time.Duration) error {
	if p.Exited() {
		return p.err
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	exited, err := p.Wait(timeout)
	if !exited {
		return fmt.Errorf("pid %d still running %s after SIGTERM", p.Cmd.Process.Pid, timeout)
	}
	return err
}

// WaitHTTP polls url until it answers with wantStatus, the process exits, or timeout passes.
func WaitHTTP(ctx context.Context, p *Process, url string, wantStatus int, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if p != nil && p.Exited() {
			return fmt.Errorf("process exited before %s was ready: %v", url, p.err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == wantStatus {
				return nil
			}
			last = fmt.Errorf("%s answered %d", url, resp.StatusCode)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.Join(fmt.Errorf("%s not ready after %s", url, timeout), last)
}

// Get fetches url and returns its body; a status other than 200 is an error carrying the body.
func Get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), err
}

// Eventually retries check every interval until it returns nil or timeout passes, then fails the
// test with the last error.
func Eventually(t testing.TB, timeout, interval time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			require.NoError(t, err, "still failing after %s", timeout)
		}
		time.Sleep(interval)
	}
}

// SumSeries adds the values of every series of one metric in Prometheus text format whose label
// set contains every one of labels (each written as in the text, e.g. `exporter="otlp_http/loki"`).
func SumSeries(body, name string, labels ...string) float64 {
	var total float64
lines:
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			total += v
		}
	}
	return total
}

// DerivedTraceID is tracking_id's documented derivation of a trace ID from a request ID that is
// neither 32 hex digits nor a UUID (processor/trackingid/README.md): the first 16 bytes of the
// SHA-256 of the value. Tests hold the processor to this public contract, written out on its own.
func DerivedTraceID(requestID string) [16]byte {
	sum := sha256.Sum256([]byte(requestID))
	return [16]byte(sum[:16])
}
