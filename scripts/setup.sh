#!/usr/bin/env bash
# Installs what lifeguard needs to build, run and test — only what is missing, only from the package
# registries (crates.io, npm, PyPI, Debian apt). Safe to run again: a second run changes nothing.
#
#   scripts/setup.sh             everything the console needs to build and run
#   scripts/setup.sh --for test  that, plus Chromium and chromedriver for the browser tests
#   scripts/setup.sh --for bench that, plus wrk (the HTTP engine's reference)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

purpose=run
if [ "${1:-}" = "--for" ]; then purpose="${2:?--for needs run, test or bench}"; fi

TOOLCHAIN=1.95.0
TRUNK_VERSION=0.22.1
BINARYEN_VERSION=132.0.0
ECHARTS_VERSION=5.6.0

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "apt-get install ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# 1. The Rust toolchain pinned in rust-toolchain.toml, with the wasm target.
if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
  if rustc +stable --version 2>/dev/null | grep -q "^rustc $TOOLCHAIN "; then
    step "naming the installed stable toolchain $TOOLCHAIN"
    rustup target add --toolchain stable wasm32-unknown-unknown
    rustup toolchain link "$TOOLCHAIN" "$(rustc +stable --print sysroot)"
  else
    echo "Rust $TOOLCHAIN is not installed and cannot be downloaded here." >&2
    exit 1
  fi
fi
if ! rustup target list --toolchain "$TOOLCHAIN" --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add --toolchain "$TOOLCHAIN" wasm32-unknown-unknown
fi

# 2. PostgreSQL server binaries for the sandbox target (and pgbench for the benchmarks).
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && [ -z "${LIFEGUARD_PG_BIN:-}" ]; then
  apt_install postgresql
fi

# 3. Node/npm for binaryen and ECharts: the machines ship NodeSource's; Debian's only where missing.
if ! command -v npm >/dev/null; then apt_install nodejs npm; fi

# 4. Trunk, which builds the frontend.
if ! trunk --version 2>/dev/null | grep -q "^trunk $TRUNK_VERSION$"; then
  step "cargo install trunk $TRUNK_VERSION (takes about 15 minutes on 2 cores)"
  cargo +"$TOOLCHAIN" install trunk --version "$TRUNK_VERSION" --locked --ignore-rust-version
fi

# 5. wasm-bindgen-cli at exactly the version in Cargo.lock (and Trunk.toml must agree).
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! grep -q "^wasm_bindgen = \"$bindgen_version\"" Trunk.toml; then
  echo "Trunk.toml's [tools] wasm_bindgen must be $bindgen_version, the version in Cargo.lock." >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "^wasm-bindgen $bindgen_version$"; then
  step "cargo install wasm-bindgen-cli $bindgen_version"
  # Without --locked: its lockfile pins a crate version the registry no longer serves.
  cargo +"$TOOLCHAIN" install wasm-bindgen-cli --version "$bindgen_version"
fi

# 6. wasm-opt from npm's binaryen (Debian's binaryen 108 produces wasm that fails at run time).
if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  step "npm install binaryen@$BINARYEN_VERSION"
  npm install --silent --no-audit --no-fund --prefix .tools/binaryen "binaryen@$BINARYEN_VERSION"
fi

# 7. ECharts from the npm registry, where Trunk copies it into dist/ (never from a CDN).
echarts=frontend/vendor/echarts.min.js
if [ ! -s "$echarts" ] || [ "$(cat frontend/vendor/ECHARTS_VERSION 2>/dev/null)" != "$ECHARTS_VERSION" ]; then
  step "npm pack echarts@$ECHARTS_VERSION"
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "echarts@$ECHARTS_VERSION" >/dev/null && tar -xzf "echarts-$ECHARTS_VERSION.tgz")
  mkdir -p frontend/vendor
  cp "$work/package/dist/echarts.min.js" "$echarts"
  echo "$ECHARTS_VERSION" > frontend/vendor/ECHARTS_VERSION
  rm -rf "$work"
fi

# 8. Chromium and chromedriver for the browser tests (and the console_render bench), wrk for the
#    http_vs_wrk bench.
if [ "$purpose" = test ] || [ "$purpose" = bench ]; then apt_install chromium chromium-driver; fi
if [ "$purpose" = bench ]; then apt_install wrk; fi

# 9. The demo auth service (examples/auth-service: FastAPI + SQLAlchemy, the incident's stack) in a
#    virtual environment of its own, from PyPI at the pinned versions; reinstalled when they change.
demo_venv=.tools/auth-service
demo_requirements=examples/auth-service/requirements.txt
if ! cmp -s "$demo_requirements" "$demo_venv/installed-requirements.txt" 2>/dev/null; then
  if ! command -v python3 >/dev/null; then apt_install python3; fi
  if ! python3 -m venv --help >/dev/null 2>&1; then apt_install python3-venv; fi
  step "python3 -m venv $demo_venv; pip install -r $demo_requirements"
  rm -rf "$demo_venv"
  python3 -m venv "$demo_venv"
  "$demo_venv/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
    -r "$demo_requirements"
  cp "$demo_requirements" "$demo_venv/installed-requirements.txt"
fi

# 10. Every crate, so that Trunk's offline cargo build finds them.
cargo fetch --locked >/dev/null
step "set-up complete ($purpose)"
