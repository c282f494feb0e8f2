// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package deploytest holds what the deploy/ tests share: the repository's facts a deployment
// must agree with (the Dockerfile, config/.env.example, the embedded configs and the ports they
// listen on) and running `bin/otelcol-airi validate` with a deployment's environment.
package deploytest // import "github.com/airi-otel/otelcol-airi/deploy/internal/deploytest"

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/config"
	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// Version is dist.version of builder-config.yaml, the version the image is tagged with.
func Version(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "builder-config.yaml"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^  version: *(\S+)$`).FindSubmatch(b)
	require.NotNil(t, m, "builder-config.yaml has no dist version")
	return string(m[1])
}

// EnvExample returns the variables config/.env.example documents, set or commented out.
func EnvExample(t testing.TB) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "config", ".env.example"))
	require.NoError(t, err)
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^(?:# )?([A-Z][A-Z0-9_]*)=`).FindAllSubmatch(b, -1) {
		out[string(m[1])] = true
	}
	require.NotEmpty(t, out)
	return out
}

var envRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// ConfigEnv returns the variables an embedded config reads, with their defaults.
func ConfigEnv(t testing.TB, name string) map[string]string {
	t.Helper()
	b, err := config.Get(name)
	require.NoError(t, err)
	out := map[string]string{}
	for _, m := range envRef.FindAllSubmatch(b, -1) {
		out[string(m[1])] = string(m[2])
	}
	require.NotEmpty(t, out, name)
	return out
}

// Listener is one address a config listens on.
type Listener struct {
	// Var is the variable that sets it (AIRI_TELEMETRY_PORT for the telemetry endpoint).
	Var  string
	Host string
	Port int
}

// Loopback reports whether only the pod or host itself can reach the listener.
func (l Listener) Loopback() bool {
	ip := net.ParseIP(l.Host)
	return l.Host == "localhost" || (ip != nil && ip.IsLoopback())
}

// endpointVars are the variables holding a listening host:port in the shipped configs.
var endpointVars = []string{
	"AIRI_OTLP_GRPC_ENDPOINT", "AIRI_OTLP_HTTP_ENDPOINT", "AIRI_PROMETHEUS_ENDPOINT",
	"AIRI_HEALTH_ENDPOINT", "AIRI_PPROF_ENDPOINT", "AIRI_ZPAGES_ENDPOINT",
}

// Listeners returns where config name listens with env set (unset variables take the config's
// defaults). `$(VAR)` Kubernetes references must already be expanded.
func Listeners(t testing.TB, name string, env map[string]string) []Listener {
	t.Helper()
	reads := ConfigEnv(t, name)
	value := func(v string) (string, bool) {
		def, ok := reads[v]
		if !ok {
			return "", false
		}
		if e, set := env[v]; set {
			return e, true
		}
		return def, true
	}
	var out []Listener
	for _, v := range endpointVars {
		addr, ok := value(v)
		if !ok {
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		require.NoError(t, err, "%s=%q in %s", v, addr, name)
		p, err := strconv.Atoi(port)
		require.NoError(t, err, "%s=%q", v, addr)
		out = append(out, Listener{Var: v, Host: host, Port: p})
	}
	host, okH := value("AIRI_TELEMETRY_HOST")
	port, okP := value("AIRI_TELEMETRY_PORT")
	require.Equal(t, okH, okP, "%s reads only one of AIRI_TELEMETRY_HOST/PORT", name)
	if okP {
		p, err := strconv.Atoi(port)
		require.NoError(t, err, "AIRI_TELEMETRY_PORT=%q", port)
		out = append(out, Listener{Var: "AIRI_TELEMETRY_PORT", Host: host, Port: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}

// ReachablePorts are the ports of the listeners beyond loopback: what a container must declare.
func ReachablePorts(ls []Listener) []int {
	var out []int
	for _, l := range ls {
		if !l.Loopback() {
			out = append(out, l.Port)
		}
	}
	sort.Ints(out)
	return out
}

// Dockerfile is the final stage of the repository's Dockerfile, as far as the tests need it.
type Dockerfile struct {
	// Stages maps each stage's name ("" for the unnamed final one) to its instructions.
	Stages     []Stage
	User       string
	Env        map[string]string
	Expose     []int
	Entrypoint []string
	Cmd        []string
}

// Stage is one FROM ... of the Dockerfile with its instructions (continuations joined).
type Stage struct {
	From, Name   string
	Instructions []string
}

// ReadDockerfile parses the repository's Dockerfile.
func ReadDockerfile(t testing.TB) Dockerfile {
	t.Helper()
	f, err := os.Open(filepath.Join(harness.RepoRoot(t), "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	require.NoError(t, sc.Err())

	d := Dockerfile{Env: map[string]string{}}
	args := map[string]string{}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			fields := strings.Fields(rest)
			st := Stage{From: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.Name = fields[2]
			}
			d.Stages = append(d.Stages, st)
			d.User, d.Env, d.Expose, d.Entrypoint, d.Cmd = "", map[string]string{}, nil, nil, nil
			continue
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case "USER":
			d.User = os.Expand(rest, func(k string) string { return args[k] })
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "ENV %q: use KEY=value", kv)
				d.Env[k] = v
			}
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				require.NoError(t, err, "EXPOSE %s", p)
				d.Expose = append(d.Expose, n)
			}
		case "ENTRYPOINT":
			require.NoError(t, json.Unmarshal([]byte(rest), &d.Entrypoint), "ENTRYPOINT must be exec (JSON) form")
		case "CMD":
			require.NoError(t, json.Unmarshal([]byte(rest), &d.Cmd), "CMD must be exec (JSON) form")
		}
		st := &d.Stages[len(d.Stages)-1]
		st.Instructions = append(st.Instructions, l)
	}
	require.NotEmpty(t, d.Stages, "Dockerfile has no FROM")
	sort.Ints(d.Expose)
	return d
}

// Validate runs `bin/otelcol-airi validate --config <cfg>` with exactly env (plus PATH and
// HOME), so the host's own AIRI_* variables cannot make a deployment's config pass.
func Validate(t testing.TB, cfg string, env map[string]string) {
	t.Helper()
	cmd := exec.Command(harness.CollectorBinary(t), "validate", "--config", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "otelcol-airi validate --config %s with %v:\n%s", cfg, keys, out)
}

// ConfigArg checks that args select one embedded config and returns its name. Accepted forms:
// ["--config", "airi:NAME"] and ["--config=airi:NAME"].
func ConfigArg(args []string) (string, error) {
	var val string
	switch {
	case len(args) == 2 && args[0] == "--config":
		val = args[1]
	case len(args) == 1 && strings.HasPrefix(args[0], "--config="):
		val = strings.TrimPrefix(args[0], "--config=")
	default:
		return "", fmt.Errorf("args %q: want --config airi:<name>", args)
	}
	name, ok := strings.CutPrefix(val, config.Scheme+":")
	if !ok {
		return "", fmt.Errorf("args %q: want an embedded config airi:<name>", args)
	}
	for _, n := range config.Names() {
		if n == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("args %q: no embedded config %q (have %v)", args, name, config.Names())
}
