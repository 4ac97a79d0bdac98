#!/usr/bin/env bash
# The whole test suite: formatting, lints (host and wasm32), unit, integration and browser tests.
# Installs what it needs first (scripts/setup.sh --for test). Screenshots land in test-output/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
# A one-off build gains nothing from incremental state, which would take gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

scripts/setup.sh --for test

step "cargo fmt --check"
cargo fmt --all --check
step "clippy (host)"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "clippy (wasm32)"
cargo clippy --locked -p lifeguard-frontend -p lifeguard-shared --target wasm32-unknown-unknown \
  --all-targets -- -D warnings
step "trunk build --release (the frontend the browser tests open)"
trunk build --release
step "tests"
export LIFEGUARD_TEST_DIST="$REPO_ROOT/dist"
export LIFEGUARD_TEST_OUTPUT="$REPO_ROOT/test-output"
cargo test --locked --workspace
step "all checks passed"
