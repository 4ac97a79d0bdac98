# Sourced by the other scripts: where the tools that scripts/setup.sh installs are found.
# shellcheck shell=bash
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
export PATH="$REPO_ROOT/.tools/binaryen/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Trunk must never reach for the network: no update check, no tool downloads (Trunk.toml: offline).
export TRUNK_SKIP_VERSION_CHECK=true
export RUSTUP_AUTO_INSTALL=0
