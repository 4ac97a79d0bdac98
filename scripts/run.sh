#!/usr/bin/env bash
# Builds and starts the console on http://127.0.0.1:8080 with its embedded defaults: a sandbox
# PostgreSQL that lifeguard starts itself, and the demo auth service on it as target `demo`.
# Extra arguments go to `lifeguard serve`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
trunk build --release
# The demo auth service (installed by setup.sh) starts beside the sandbox as target `demo`.
if [ -x .tools/auth-service/bin/python ]; then
  export LIFEGUARD_SANDBOX__DEMO__PYTHON="$REPO_ROOT/.tools/auth-service/bin/python"
  export LIFEGUARD_SANDBOX__DEMO__APP_DIR="$REPO_ROOT/examples/auth-service"
fi
exec cargo run --release --locked -p lifeguard -- serve "$@"
