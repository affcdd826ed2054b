#!/usr/bin/env bash
# Install everything the tests need (idempotent), start nothing by hand, run lint, the import contracts
# and the suite.
# Integration tests start their own servers (Azurite, the GitHub test server) on free loopback ports.
# Extra arguments go to pytest (e.g. -k storage, -x).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
ensure_venv "train,test,loadtest"
ensure_azurite || log "continuing without Azurite: Blob tests will skip locally and fail under CI=true"
ensure_rabbitmq || log "continuing without RabbitMQ: queue tests will skip locally and fail under CI=true"
ensure_checkov || log "continuing without checkov: the Bicep scan will skip locally and fail under CI=true"
ensure_schemathesis || log "continuing without schemathesis: the API fuzz test will skip locally and fail under CI=true"
ensure_prometheus || log "continuing without Prometheus: its provider tests will skip locally and fail under CI=true"
ensure_redis || log "continuing without redis-server: the shared GitHub budget tests will skip locally and fail under CI=true"
ensure_chromium || log "continuing without Chromium: the browser tests will skip locally and fail under CI=true"
cd "$CLOUDFOLIO_ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
log "ruff"
"$VENV/bin/ruff" check .
log "import-linter (the dependency direction; contracts in pyproject.toml)"
"$VENV/bin/lint-imports"
log "pytest"
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    # pytest's exit 5: nothing was collected. That is never a pass for this project.
    log "pytest collected no tests; failing"
    exit 1
fi
exit "$status"
