// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

const (
	ourModule    = "github.com/airi-otel/otelcol-airi"
	corePrefix   = "go.opentelemetry.io/collector/"
	contribPfx   = "github.com/open-telemetry/opentelemetry-collector-contrib/"
	builderTool  = "go.opentelemetry.io/collector/cmd/builder"
	mdatagenTool = "go.opentelemetry.io/collector/cmd/mdatagen"
)

type manifest struct {
	Dist struct {
		Name       string `yaml:"name"`
		OutputPath string `yaml:"output_path"`
	} `yaml:"dist"`
	Receivers  []component `yaml:"receivers"`
	Processors []component `yaml:"processors"`
	Exporters  []component `yaml:"exporters"`
	Connectors []component `yaml:"connectors"`
	Extensions []component `yaml:"extensions"`
	Providers  []component `yaml:"providers"`
	Replaces   []string    `yaml:"replaces"`
}

type component struct {
	GoMod  string `yaml:"gomod"`
	Import string `yaml:"import"`
}

func (m manifest) all() []component {
	var all []component
	for _, list := range [][]component{m.Receivers, m.Processors, m.Exporters, m.Connectors, m.Extensions, m.Providers} {
		all = append(all, list...)
	}
	return all
}

// TestBuilderConfigAgreesWithGoMod fails when builder-config.yaml and go.mod drift apart: ocb
// would then build the distribution against other collector versions than our processors and
// tests compile against.
func TestBuilderConfigAgreesWithGoMod(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "builder-config.yaml"))
	require.NoError(t, err)
	var m manifest
	require.NoError(t, yaml.Unmarshal(raw, &m))
	gomodRaw, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	gm, err := modfile.Parse("go.mod", gomodRaw, nil)
	require.NoError(t, err)

	required := map[string]string{}
	for _, r := range gm.Require {
		required[r.Mod.Path] = r.Mod.Version
	}

	var problems []string
	// The version lines of the manifest: core v0.x, core stable v1.x, contrib.
	coreUnstable, coreStable, contrib := map[string]bool{}, map[string]bool{}, map[string]bool{}
	ourListed := false
	for _, c := range m.all() {
		mod, ver, ok := strings.Cut(c.GoMod, " ")
		if !ok || !semver.IsValid(ver) {
			problems = append(problems, "builder-config.yaml: gomod "+c.GoMod+" has no valid version")
			continue
		}
		switch {
		case mod == ourModule:
			ourListed = true
			continue
		case strings.HasPrefix(mod, contribPfx):
			contrib[ver] = true
		case strings.HasPrefix(mod, corePrefix) && semver.Major(ver) == "v0":
			coreUnstable[ver] = true
		case strings.HasPrefix(mod, corePrefix):
			coreStable[ver] = true
		}
		if goVer, inGoMod := required[mod]; inGoMod && goVer != ver {
			problems = append(problems, "builder-config.yaml has "+mod+" "+ver+" but go.mod requires "+goVer)
		}
	}
	for name, set := range map[string]map[string]bool{"core v0.x": coreUnstable, "core v1.x": coreStable, "contrib": contrib} {
		if len(set) != 1 {
			problems = append(problems, "builder-config.yaml: "+name+" components use "+strings.Join(keys(set), ", ")+"; they must share one version")
		}
	}
	if ourListed && !containsReplace(m.Replaces, ourModule+" => ../") {
		problems = append(problems, "builder-config.yaml lists "+ourModule+" but has no replace "+ourModule+" => ../")
	}

	// go.mod: ocb and mdatagen are the core release, and no collector module strays from the
	// manifest's version lines (a stray one means `go get` pulled another release in).
	for _, tool := range []string{builderTool, mdatagenTool} {
		if v := required[tool]; !coreUnstable[v] {
			problems = append(problems, "go.mod: tool "+tool+" is at "+v+", manifest core is "+strings.Join(keys(coreUnstable), ","))
		}
	}
	for mod, ver := range required {
		switch {
		case strings.HasPrefix(mod, contribPfx) && !contrib[ver]:
			problems = append(problems, "go.mod: "+mod+" "+ver+" is not the manifest's contrib version "+strings.Join(keys(contrib), ","))
		case strings.HasPrefix(mod, corePrefix) && !coreUnstable[ver] && !coreStable[ver]:
			problems = append(problems, "go.mod: "+mod+" "+ver+" is not one of the manifest's core versions "+strings.Join(append(keys(coreUnstable), keys(coreStable)...), ","))
		}
	}
	sort.Strings(problems)
	require.Empty(t, problems, "builder-config.yaml and go.mod disagree:\n%s", strings.Join(problems, "\n"))
}

func containsReplace(replaces []string, want string) bool {
	for _, r := range replaces {
		if strings.Join(strings.Fields(r), " ") == want {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
