// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/airi-otel/otelcol-airi/internal/harness"
)

// TestLokiConfigIsTheREADMEs: the Loki settings README.md tells a self-hosted Loki to use (so
// that environment, project and service become index labels) are, line for line, the ones the
// end-to-end Loki runs with, where TestAgentAndGatewayIntoEveryBackend checks the index labels.
func TestLokiConfigIsTheREADMEs(t *testing.T) {
	root := harness.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	section := regexp.MustCompile("(?s)## Logs in Loki\n.*?```yaml\n(limits_config:\n.*?)```").FindSubmatch(readme)
	require.NotNil(t, section, `README.md has no "Logs in Loki" section with a limits_config yaml block`)
	snippet := string(section[1])
	require.Contains(t, snippet, "action: index_label")
	require.Contains(t, snippet, "attributes: [environment, project, service]")

	loki, err := os.ReadFile(filepath.Join(root, "tests", "e2e", "backends", "loki.yaml"))
	require.NoError(t, err)
	require.True(t, strings.Contains(string(loki), "\n"+snippet),
		"tests/e2e/backends/loki.yaml does not contain README.md's Loki snippet verbatim:\n%s", snippet)
}
