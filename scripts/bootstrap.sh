#!/usr/bin/env bash
# Shared set-up, sourced by serve.sh and test.sh: a project-local virtual environment (.venv) with
# CloudFolio installed. Idempotent and fast when nothing changed: it reinstalls only when
# pyproject.toml or the requested extras change.
#
#   ensure_venv            base install (router, workers, storage, sources)
#   ensure_venv train,test also the training and test extras; torch is pinned to the 2.13.0 CPU wheel
#                          first so no resolver ever pulls a multi-GB CUDA build
#   ensure_azurite         Azurite (npm package) into .tools/, for the Blob backend tests
#   ensure_checkov         checkov into its own venv (.tools/iac-venv), for the Bicep scan
#   ensure_schemathesis    schemathesis into its own venv (.tools/schemathesis-venv), for the API fuzz test
#   ensure_rabbitmq        RabbitMQ on 127.0.0.1:5672 (started, or installed with apt as root)
#   ensure_prometheus, ensure_redis, ensure_chromium
#                          Debian's prometheus, redis-server and chromium (apt as root); tests start them

CLOUDFOLIO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$CLOUDFOLIO_ROOT/.venv"
TORCH_VERSION="2.13.0"
AZURITE_VERSION="3.37.0"

log() { printf '[setup] %s\n' "$*" >&2; }

ensure_venv() {
    local extras="${1:-}"
    local python="${PYTHON:-python3}"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtual environment in .venv"
        "$python" -m venv "$VENV"
    fi
    local want
    want="$(cat "$CLOUDFOLIO_ROOT/pyproject.toml" | sha256sum | cut -c1-16):$extras"
    local stamp="$VENV/.cloudfolio-install"
    if [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
        return 0
    fi
    log "installing CloudFolio${extras:+ with extras [$extras]} (first run takes a minute or two)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    if [[ "$extras" == *train* ]]; then
        "$VENV/bin/python" -m pip install -q "torch==$TORCH_VERSION"
    fi
    local target="$CLOUDFOLIO_ROOT"
    [ -n "$extras" ] && target="$CLOUDFOLIO_ROOT[$extras]"
    "$VENV/bin/python" -m pip install -q -e "$target"
    echo "$want" >> "$stamp"
}

# apt_install WHAT "PACKAGES" WHO: install Debian packages when root, or say which tests cannot run.
apt_install() {
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        log "installing $1 with apt-get"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $2 >/dev/null
    else
        log "$1 is missing and cannot be installed here (not root); $3 will not run"
        return 1
    fi
}

ensure_node() {
    command -v npm >/dev/null 2>&1 && return 0
    apt_install "Node.js and npm" "nodejs npm" "Blob tests"
}

ensure_prometheus() {
    # a real Prometheus server for the rollout plan's metric provider tests (the test starts it itself)
    command -v prometheus >/dev/null 2>&1 && return 0
    apt_install Prometheus prometheus "the Prometheus provider tests"
}

ensure_redis() {
    # a real redis-server for the shared GitHub budget's tests (each test session starts its own)
    command -v redis-server >/dev/null 2>&1 && return 0
    apt_install Redis redis-server "the shared GitHub budget tests"
}

ensure_wrk() {
    # wrk, a C load generator, for the benchmarks' router rows (a Python client saturates first)
    command -v wrk >/dev/null 2>&1 && return 0
    apt_install wrk wrk "the benchmark's router rows"
}

ensure_chromium() {
    # Debian's Chromium for the browser tests (Playwright drives it; no browser is ever downloaded)
    [ -x /usr/bin/chromium ] && return 0
    apt_install Chromium chromium "the browser tests"
}

ensure_azurite() {
    local tools="$CLOUDFOLIO_ROOT/.tools"
    if [ -x "$tools/node_modules/.bin/azurite-blob" ]; then
        return 0
    fi
    ensure_node || return 1
    log "installing Azurite $AZURITE_VERSION into .tools/ (npm)"
    mkdir -p "$tools"
    [ -f "$tools/package.json" ] || echo '{"name": "cloudfolio-test-tools", "private": true}' > "$tools/package.json"
    (cd "$tools" && npm install --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >/dev/null)
}

ensure_checkov() {
    # checkov in its own virtual environment: it downgrades packages pytest needs
    local iac="$CLOUDFOLIO_ROOT/.tools/iac-venv"
    if [ -x "$iac/bin/checkov" ]; then
        return 0
    fi
    log "installing checkov into .tools/iac-venv"
    "${PYTHON:-python3}" -m venv "$iac"
    "$iac/bin/python" -m pip install -q "checkov>=3.2,<4"
}

ensure_schemathesis() {
    # schemathesis in its own virtual environment: its pins stay out of the project's
    local st="$CLOUDFOLIO_ROOT/.tools/schemathesis-venv"
    if [ -x "$st/bin/st" ]; then
        return 0
    fi
    log "installing schemathesis into .tools/schemathesis-venv"
    "${PYTHON:-python3}" -m venv "$st"
    "$st/bin/python" -m pip install -q "schemathesis>=4.3,<5"
}

rabbitmq_up() { rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

ensure_rabbitmq() {
    # RabbitMQ on 127.0.0.1:5672 (guest/guest, loopback only), for the queue pipeline tests.
    if rabbitmq_up; then
        return 0
    fi
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
            log "installing RabbitMQ with apt-get"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
        else
            log "RabbitMQ is missing and cannot be installed here (not root); queue tests will not run"
            return 1
        fi
    fi
    log "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do
        rabbitmq_up && return 0
        sleep 1
    done
    log "RabbitMQ did not answer within 60 s"
    return 1
}
