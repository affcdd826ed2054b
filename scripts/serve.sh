#!/usr/bin/env bash
# Install CloudFolio into .venv (first run only) and run `cloudfolio serve` on the embedded default:
# one process, local storage under ./.cloudfolio, the sample portfolio (users yungryce, octocat).
# Extra arguments go to `cloudfolio serve` (e.g. --port 9000).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
ensure_venv
cd "$CLOUDFOLIO_ROOT"
exec "$VENV/bin/cloudfolio" serve "$@"
