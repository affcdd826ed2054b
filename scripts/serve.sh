#!/usr/bin/env bash
# Install CloudFolio into .venv (first run only; with the training extra, torch pinned to the CPU
# wheel, so the embedded default can train and search) and run `cloudfolio serve` on the embedded
# default: one process, local storage under ./.cloudfolio, the sample portfolio (users yungryce,
# octocat). Extra arguments go to `cloudfolio serve` (e.g. --port 9000).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
ensure_venv "train"
cd "$CLOUDFOLIO_ROOT"
exec "$VENV/bin/cloudfolio" serve "$@"
