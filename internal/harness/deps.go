// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

package harness // import "github.com/airi-otel/otelcol-airi/internal/harness"

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// DebianPython is the interpreter that sees the Debian Python packages tests/deps/apt.txt
// installs (python3-loguru, …); a pyenv or venv python3 earlier on PATH does not.
const DebianPython = "/usr/bin/python3"

// NodeModules returns the node_modules folder tests/deps/install.sh (`make test-deps`) fills from
// tests/deps/package.json: AIRI_NODE_MODULES, else $XDG_CACHE_HOME/otelcol-airi/node/node_modules.
// It fails the test, naming the fix, when the folder is missing.
func NodeModules(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("AIRI_NODE_MODULES")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			require.NoError(t, err)
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, "otelcol-airi", "node", "node_modules")
	}
	require.DirExists(t, dir, "npm test packages missing: run `make test-deps`")
	return dir
}

// RequireDebianPythonModule fails the test, naming the fix, unless Debian's python3 imports
// module (installed from tests/deps/apt.txt by `make test-deps`).
func RequireDebianPythonModule(t testing.TB, module string) {
	t.Helper()
	out, err := exec.Command(DebianPython, "-c", "import "+module).CombinedOutput()
	require.NoError(t, err, "%s cannot import %s (run `make test-deps`): %s", DebianPython, module, out)
}
