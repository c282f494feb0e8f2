#!/usr/bin/env bash
# Builds the real backends the end-to-end tests run against, once per pinned version, into a
# cache outside the repository, and prints the directory holding the binaries.
#
#   tests/e2e/backends/build.sh jaeger|prometheus|loki|mimir
#
# Cold: 3-8 minutes each on 2 cores. Warm: the cached binary is reused in milliseconds.
# The route is the one ../shared/BACKENDS.md found to work here: `go install MOD@VER` refuses
# these modules (their go.mod files carry replace directives), so the module's own main package
# is built from a writable copy of the module cache directory with GOWORK=off and -mod=mod.
# None of their source enters this repository.
set -euo pipefail

name=${1:?usage: build.sh jaeger|prometheus|loki|mimir}

# name -> module, version, label for the cache directory, binaries (./cmd/<bin>), prepare step.
prepare=:
case "$name" in
  jaeger)     mod=github.com/jaegertracing/jaeger;   ver=v1.76.0;  label=2.13.0; bins="jaeger" ;;
  prometheus) mod=github.com/prometheus/prometheus;  ver=v0.315.0; label=3.15.0; bins="prometheus promtool" ;;
  loki)       mod=github.com/grafana/loki/v3;        ver=v3.7.8;   label=3.7.8;  bins="loki"
              prepare="go mod edit -dropreplace github.com/grafana/loki/pkg/push" ;;
  mimir)      mod=github.com/grafana/mimir;          ver=v1.3.1-0.20260423142704-aced80d74930
              label=main-20260423; bins="mimir" ;;
  *) echo "build.sh: unknown backend '$name' (want jaeger, prometheus, loki or mimir)" >&2; exit 2 ;;
esac

cache=${AIRI_BACKENDS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-airi/backends}/$name-$label
mkdir -p "$cache"

have_all() { for b in $bins; do [ -x "$cache/bin/$b" ] || return 1; done; }
if have_all; then echo "$cache/bin"; exit 0; fi

# One builder per backend at a time, even when several test processes ask at once.
exec 9>"$cache/.lock"
flock 9
if have_all; then echo "$cache/bin"; exit 0; fi

export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
work=$(mktemp -d "${TMPDIR:-/tmp}/airi-backend-$name.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

start=$(date +%s)
echo "build.sh: building $name $label ($mod@$ver) into $cache (cold: minutes)" >&2
dir=$(cd "$work" && go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "build.sh: go mod download $mod@$ver gave no directory" >&2; exit 1; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
$prepare
mkdir -p "$cache/bin.tmp"
for b in $bins; do
  go build -trimpath -ldflags "-s -w" -o "$cache/bin.tmp/$b" "./cmd/$b" >&2
done
rm -rf "$cache/bin"
mv "$cache/bin.tmp" "$cache/bin"
echo "$mod@$ver" >"$cache/VERSION"
echo "build.sh: built $name in $(( $(date +%s) - start ))s" >&2
echo "$cache/bin"
