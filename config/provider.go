// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

// Package config holds the configurations otelcol-airi ships and a confmap provider that serves
// them from inside the binary, so `otelcol-airi --config airi:local` runs with no file on disk
// (the image, a bare VM, a quick try). `${env:...}` references inside them are expanded by the
// collector's resolver exactly as for a file.
package config // import "github.com/airi-otel/otelcol-airi/config"

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// Scheme is the URI scheme of the embedded configurations: airi:<name>.
const Scheme = "airi"

//go:embed *.yaml
var files embed.FS

// Names lists the embedded configurations, the names that follow "airi:".
func Names() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		// Unreachable: the FS is compiled in and always has its root.
		panic(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Get returns the raw YAML of one embedded configuration.
func Get(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no embedded configuration %q; known: %s", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// NewFactory returns the factory of the "airi:" confmap provider.
func NewFactory() confmap.ProviderFactory {
	return confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider { return provider{} })
}

type provider struct{}

func (provider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	name, ok := strings.CutPrefix(uri, Scheme+":")
	if !ok {
		return nil, fmt.Errorf("%q uri is not supported by the %q provider", uri, Scheme)
	}
	b, err := Get(name)
	if err != nil {
		return nil, err
	}
	return confmap.NewRetrievedFromYAML(b)
}

func (provider) Scheme() string { return Scheme }

func (provider) Shutdown(context.Context) error { return nil }
