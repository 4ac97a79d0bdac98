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
# ECharts and esbuild: pinned in frontend/echarts/package.json and its package-lock.json.

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

# 7. ECharts from the npm registry, only the parts the console uses (never from a CDN):
#    frontend/echarts/entry.js bundled by esbuild into frontend/vendor/echarts.min.js, which Trunk
#    copies into dist/. Both come from npm at the versions package-lock.json pins, installed in
#    .tools/echarts-build (esbuild's binary is its npm package for this platform). Rebuilt when the
#    entry, the lockfile or the options below change.
echarts_src=frontend/echarts
echarts_tools=.tools/echarts-build
echarts=frontend/vendor/echarts.min.js
esbuild_options=(--bundle --minify --format=iife --global-name=echarts --target=es2019 --charset=utf8
  '--define:process.env.NODE_ENV="production"' --log-level=warning)
echarts_build=$(cat "$echarts_src/entry.js" "$echarts_src/package.json" "$echarts_src/package-lock.json" \
  <(echo "${esbuild_options[*]}") | sha256sum | cut -d' ' -f1)
if [ ! -s "$echarts" ] || [ "$(cat frontend/vendor/ECHARTS_BUILD 2>/dev/null)" != "$echarts_build" ]; then
  if ! cmp -s "$echarts_src/package-lock.json" "$echarts_tools/package-lock.json" \
    || ! cmp -s "$echarts_src/package.json" "$echarts_tools/package.json" \
    || [ ! -x "$echarts_tools/node_modules/.bin/esbuild" ]; then
    step "npm ci in $echarts_tools (echarts and esbuild as $echarts_src/package-lock.json pins them)"
    mkdir -p "$echarts_tools"
    cp "$echarts_src/package.json" "$echarts_src/package-lock.json" "$echarts_tools/"
    (cd "$echarts_tools" && npm ci --silent --no-audit --no-fund)
  fi
  step "esbuild $echarts_src/entry.js -> $echarts"
  cp "$echarts_src/entry.js" "$echarts_tools/"
  mkdir -p frontend/vendor
  "$echarts_tools/node_modules/.bin/esbuild" "$echarts_tools/entry.js" "${esbuild_options[@]}" \
    --outfile="$echarts"
  rm -f frontend/vendor/ECHARTS_VERSION
  echo "$echarts_build" > frontend/vendor/ECHARTS_BUILD
fi

# 8. Chromium and chromedriver for the browser tests (and the console_render bench), wrk for the
#    http_vs_wrk bench.
if [ "$purpose" = test ] || [ "$purpose" = bench ]; then apt_install chromium chromium-driver; fi
if [ "$purpose" = bench ]; then apt_install wrk; fi
# axe-core from npm, which the browser tests inject into every view to check its accessibility;
# at the version tests/axe/package-lock.json pins, into .tools/axe.
axe_tools=.tools/axe
if [ "$purpose" = test ] && ! cmp -s tests/axe/package-lock.json "$axe_tools/package-lock.json"; then
  step "npm ci in $axe_tools (axe-core as tests/axe/package-lock.json pins it)"
  mkdir -p "$axe_tools"
  cp tests/axe/package.json tests/axe/package-lock.json "$axe_tools/"
  (cd "$axe_tools" && npm ci --silent --no-audit --no-fund)
fi

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
