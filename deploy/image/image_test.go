// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package image

import (
	"debug/elf"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/airi-otel/otelcol-airi/config"
	"github.com/airi-otel/otelcol-airi/deploy/internal/deploytest"
	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// No Docker engine runs where the tests run, so these tests check what the image is made of:
// the binary the build stage produces, the config the final stage runs by default, the user,
// the ports and the environment.

func finalStage(t *testing.T, d deploytest.Dockerfile) deploytest.Stage {
	t.Helper()
	return d.Stages[len(d.Stages)-1]
}

func stage(t *testing.T, d deploytest.Dockerfile, name string) deploytest.Stage {
	t.Helper()
	for _, s := range d.Stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("Dockerfile has no stage %q", name)
	return deploytest.Stage{}
}

// copyInto finds the COPY of the final stage whose destination is dest and returns its flags
// and source.
func copyInto(t *testing.T, s deploytest.Stage, dest string) (flags map[string]string, src string) {
	t.Helper()
	for _, in := range s.Instructions {
		f := strings.Fields(in)
		if !strings.EqualFold(f[0], "COPY") || f[len(f)-1] != dest {
			continue
		}
		flags = map[string]string{}
		var rest []string
		for _, a := range f[1 : len(f)-1] {
			if k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") {
				flags[k] = v
			} else {
				rest = append(rest, a)
			}
		}
		require.Len(t, rest, 1, "COPY %s: one source", dest)
		return flags, rest[0]
	}
	t.Fatalf("the final stage copies nothing to %s", dest)
	return nil, ""
}

// TestBinaryIsTheOCBOutput: the build stage runs ocb on builder-config.yaml and the final stage
// copies exactly what ocb writes (dist.output_path/dist.name) to the ENTRYPOINT; the same ocb
// output (bin/otelcol-airi, a copy of _build/otelcol-airi) is static and stripped, as a scratch
// image needs.
func TestBinaryIsTheOCBOutput(t *testing.T) {
	d := deploytest.ReadDockerfile(t)
	root := harness.RepoRoot(t)

	var manifest struct {
		Dist struct {
			Name       string `yaml:"name"`
			OutputPath string `yaml:"output_path"`
		} `yaml:"dist"`
	}
	b, err := os.ReadFile(filepath.Join(root, "builder-config.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &manifest))
	ocbOut := filepath.Join(filepath.Clean(manifest.Dist.OutputPath), manifest.Dist.Name)

	build := stage(t, d, "build")
	joined := strings.Join(build.Instructions, "\n")
	require.Contains(t, joined, "go tool builder --config builder-config.yaml", "the build stage must run ocb (pinned in go.mod)")
	require.Len(t, d.Entrypoint, 1)
	_, src := copyInto(t, finalStage(t, d), d.Entrypoint[0])
	require.Regexp(t, regexp.MustCompile(`cp `+regexp.QuoteMeta(ocbOut)+` `+regexp.QuoteMeta(src)+`\b`), joined,
		"the final stage's %s must be ocb's %s", d.Entrypoint[0], ocbOut)
	require.Equal(t, "/"+manifest.Dist.Name, d.Entrypoint[0])

	f, err := elf.Open(harness.CollectorBinary(t))
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "bin/otelcol-airi is dynamically linked: it cannot run in scratch")
	}
	require.Nil(t, f.Section(".symtab"), "bin/otelcol-airi carries a symbol table: the image would be larger than needed")
	require.Equal(t, elf.EM_X86_64, f.Machine)
}

// TestDefaultConfigExistsAndValidates: CMD's --config path is filled from a file of the
// repository, which validates with the image's environment, and so does every embedded config
// (`docker run IMAGE --config airi:gateway`).
func TestDefaultConfigExistsAndValidates(t *testing.T) {
	d := deploytest.ReadDockerfile(t)
	root := harness.RepoRoot(t)
	require.Len(t, d.Cmd, 2)
	require.Equal(t, "--config", d.Cmd[0])
	flags, src := copyInto(t, finalStage(t, d), d.Cmd[1])
	require.Equal(t, "build", flags["from"])

	// The build stage puts a repository file at src: `cp <repo file> <src>`.
	m := regexp.MustCompile(`cp (\S+) ` + regexp.QuoteMeta(src) + `\b`).FindStringSubmatch(strings.Join(stage(t, d, "build").Instructions, "\n"))
	require.NotNil(t, m, "the build stage does not write %s", src)
	repoFile := filepath.Join(root, m[1])
	require.FileExists(t, repoFile)
	require.Equal(t, "config/local.yaml", m[1], "the image's default is the config that needs no backend")

	deploytest.Validate(t, repoFile, d.Env)
	for _, name := range config.Names() {
		deploytest.Validate(t, "airi:"+name, d.Env)
	}
}

func TestRunsAsNonRootWithWritableDataDir(t *testing.T) {
	d := deploytest.ReadDockerfile(t)
	uid, gid, ok := strings.Cut(d.User, ":")
	require.True(t, ok, "USER %q: give uid:gid", d.User)
	require.Regexp(t, `^[1-9][0-9]*$`, uid, "USER must be a numeric non-root uid (Kubernetes runAsNonRoot checks it)")
	require.Regexp(t, `^[1-9][0-9]*$`, gid)
	require.True(t, strings.HasPrefix(finalStage(t, d).From, "scratch"), "the final stage is scratch")

	// The directories the configs write to exist and belong to that user.
	for _, v := range []string{"AIRI_STORAGE_DIR", "AIRI_DATA_DIR"} {
		dir := d.Env[v]
		require.NotEmpty(t, dir, "ENV %s", v)
		flags, _ := copyInto(t, finalStage(t, d), dir)
		require.Equal(t, d.User, os.Expand(flags["chown"], func(k string) string {
			return map[string]string{"USER_UID": uid, "USER_GID": gid}[k]
		}), "%s=%s must be owned by %s", v, dir, d.User)
	}
	_, src := copyInto(t, finalStage(t, d), "/etc/ssl/certs/ca-certificates.crt")
	require.NotEmpty(t, src, "CA certificates for TLS to Grafana Cloud and other backends")
}

// TestExposedPortsAreWhereConfigsListen: EXPOSE lists exactly the ports the shipped configs
// listen on beyond loopback with the image's environment, and every ENV is documented.
func TestExposedPortsAreWhereConfigsListen(t *testing.T) {
	d := deploytest.ReadDockerfile(t)
	example := deploytest.EnvExample(t)
	for k := range d.Env {
		require.True(t, example[k], "ENV %s is not in config/.env.example", k)
	}
	ports := map[int]bool{}
	for _, name := range config.Names() {
		for _, p := range deploytest.ReachablePorts(deploytest.Listeners(t, name, d.Env)) {
			ports[p] = true
		}
	}
	var want []int
	for p := range ports {
		want = append(want, p)
	}
	sort.Ints(want)
	require.Equal(t, want, d.Expose)
}

// TestEnvFileKeepsTheImagesSettings: `docker run --env-file config/.env.example` must not undo
// the image's own ENV (its 0.0.0.0 listeners and /var/lib/otelcol-airi), so the example file
// leaves every variable the image sets commented out; an env file's value would win.
func TestEnvFileKeepsTheImagesSettings(t *testing.T) {
	d := deploytest.ReadDockerfile(t)
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "config", ".env.example"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z_][A-Za-z0-9_]*)=`).FindAllSubmatch(b, -1) {
		_, inImage := d.Env[string(m[1])]
		require.False(t, inImage, "config/.env.example sets %s, which the image sets too: docker run --env-file would override the image", m[1])
	}
}
