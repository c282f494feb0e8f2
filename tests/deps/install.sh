#!/usr/bin/env bash
# Installs what the tests run for real and a fresh machine lacks: Debian packages listed in
# tests/deps/apt.txt and npm packages in tests/deps/package.json. Idempotent and quick when
# everything is present. npm packages go to $AIRI_CACHE/node (outside the repository); tests find
# them through harness.NodeModules() / AIRI_NODE_MODULES.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${AIRI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-airi}"

mapfile -t pkgs < <(grep -vE '^\s*(#|$)' "$here/apt.txt" | awk '{print $1}')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: apt-get install ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if grep -q '"[^"]*": *"[^"]*[0-9]' <(sed -n '/"dependencies"/,/}/p' "$here/package.json"); then
  node_dir="$cache/node"
  mkdir -p "$node_dir"
  if ! cmp -s "$here/package.json" "$node_dir/package.json" || [ ! -d "$node_dir/node_modules" ]; then
    cp "$here/package.json" "$node_dir/package.json"
    [ -f "$here/package-lock.json" ] && cp "$here/package-lock.json" "$node_dir/package-lock.json"
    echo "test-deps: npm install in $node_dir"
    (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
echo "test-deps: ok"
