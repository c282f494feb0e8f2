// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readEnvFile reads an env file the way `docker run --env-file` and
// `kubectl create configmap --from-env-file` do: leading whitespace is dropped, blank lines and
// lines starting with # are skipped, and everything after the first = is the value, verbatim
// (no quote removal, no inline comments). A line without = (docker and kubectl would copy the
// variable from their own environment) is an error here: the example file must say every value.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s:%d: %q has no =", path, n, line)
		require.Regexp(t, envKey, key, "%s:%d: not a variable name", path, n)
		env[key] = value
	}
	require.NoError(t, sc.Err())
	return env
}

// shellEnv sources path the way the README shows (`set -a; . file; set +a`) in /bin/sh and
// returns the variables it set.
func shellEnv(t *testing.T, path string, keys map[string]string) map[string]string {
	t.Helper()
	p := harness.Start(t, "/usr/bin/env", []string{"-i", "/bin/sh", "-c", `set -a; . "$1"; set +a; exec env -0`, "sh", path}, nil)
	exited, err := p.Wait(30 * time.Second)
	require.True(t, exited)
	require.NoError(t, err, p.Output.String())
	env := map[string]string{}
	for _, kv := range strings.Split(p.Output.String(), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, want := keys[k]; want {
				env[k] = v
			}
		}
	}
	return env
}

// TestEnvExampleOneFormatForEveryTool: config/.env.example means the same to docker's
// --env-file (and kubectl's --from-env-file, which reads it alike) as to a shell, and every
// shipped config validates in the real binary with it, read either way.
func TestEnvExampleOneFormatForEveryTool(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	path := filepath.Join(root, "config", ".env.example")
	docker := readEnvFile(t, path)
	require.Contains(t, docker, "AIRI_SCRAPE_TARGETS")

	// Same variables, same values: no inline comment, quote or space that one tool strips and
	// the other keeps.
	require.Equal(t, docker, shellEnv(t, path, docker), "a shell reads config/.env.example differently from docker --env-file")

	bin := harness.CollectorBinary(t)
	configs, err := filepath.Glob(filepath.Join(root, "config", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, configs, 4)
	for _, cfg := range configs {
		t.Run(filepath.Base(cfg)+"/env-file", func(t *testing.T) {
			t.Parallel()
			p := harness.Start(t, bin, []string{"validate", "--config", cfg}, docker)
			exited, err := p.Wait(60 * time.Second)
			require.True(t, exited)
			require.NoError(t, err, "validate %s with docker's reading of .env.example:\n%s", cfg, p.Output.String())
		})
		t.Run(filepath.Base(cfg)+"/shell", func(t *testing.T) {
			t.Parallel()
			p := harness.Start(t, "/bin/sh", []string{"-c", `set -a; . "$1"; set +a; exec "$2" validate --config "$3"`, "sh", path, bin, cfg}, nil)
			exited, err := p.Wait(60 * time.Second)
			require.True(t, exited)
			require.NoError(t, err, "validate %s after sourcing .env.example:\n%s", cfg, p.Output.String())
		})
	}
}
