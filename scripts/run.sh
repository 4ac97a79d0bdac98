#!/usr/bin/env bash
# Builds and starts the console on http://127.0.0.1:8080 with its embedded defaults: a sandbox
# PostgreSQL that lifeguard starts itself. Extra arguments go to `lifeguard serve`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
trunk build --release
exec cargo run --release --locked -p lifeguard -- serve "$@"
