#!/usr/bin/env bash
# Install what the side-by-side benchmark needs (the virtual environment with the load-test extra,
# RabbitMQ, wrk) and run `python -m loadtest.bench`. Extra arguments go to it (e.g. --record,
# --only e2e,router). Takes about 15 minutes on 2 cores; prints the tables and the goals met or not.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
ensure_venv "train,test,loadtest"
ensure_rabbitmq || { log "RabbitMQ is needed for the benchmark"; exit 3; }
ensure_wrk || log "continuing without wrk: the router rows will say 'Not measured'"
cd "$CLOUDFOLIO_ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$VENV/bin/python" -m loadtest.bench "$@"
